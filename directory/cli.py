"""The `directory` command: database, demo data, and the development server.

`directory run` (from Flask) serves; the rest are below. Each command says what it did.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date

import click
from flask import current_app
from flask.cli import FlaskGroup
from sqlalchemy import func, select

from directory.config import Config
from directory.registry.db import upgrade
from directory.registry.models import Activity
from directory.web.app import create_app
from directory.web.context import db_session


def _config() -> Config:
    return current_app.config["DIRECTORY"]


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def cli() -> None:
    """The CME activity directory."""


@cli.command("init-db")
def init_db() -> None:
    """Create the database, or migrate it to the newest schema."""
    upgrade(_config().database_url)
    click.echo(f"database ready: {_config().database_url}")


@cli.command("demo")
@click.option("--count", default=3000, show_default=True, help="Activities to generate.")
@click.option("--seed", default=2026, show_default=True, help="Same seed, same data.")
@click.option(
    "--today",
    "today_",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Date the demo data is built around (default: today).",
)
@click.option("--if-empty", is_flag=True, help="Do nothing when activities already exist.")
def demo(count: int, seed: int, today_: object, if_empty: bool) -> None:
    """Load seeded, realistic demo providers and activities."""
    from directory.demo import generate_into
    from directory.web.context import today

    session = db_session()
    existing = session.scalar(select(func.count()).select_from(Activity)) or 0
    if if_empty and existing:
        click.echo(f"{existing} activities already in the registry; no demo data added")
        return
    if existing:
        raise click.ClickException(
            f"the registry already holds {existing} activities; demo data goes into an empty "
            "database (use --if-empty to skip, or a new DATABASE_URL)"
        )
    around: date = today_.date() if today_ else today()  # type: ignore[attr-defined]
    engine = current_app.extensions["directory_engine"]
    stats = generate_into(engine, count=count, seed=seed, today=around, progress=True)
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(stats.by_status.items()))
    click.echo(
        f"loaded {stats.activities} activities ({statuses}) from {stats.providers} providers, "
        f"with {stats.moc_registrations} board registrations, around {around}"
    )


def _search_parts():  # type: ignore[no-untyped-def]
    from indexer import engine_from_config, index_key

    config = _config()
    return (
        current_app.extensions["directory_sessions"],
        engine_from_config(config),
        index_key(config),
    )


def _report_skipped(skipped: Mapping[int, str], shown: int = 20) -> None:
    """One line naming the activities that could not be indexed, and why (the rest were)."""
    if not skipped:
        return
    noun = "activity" if len(skipped) == 1 else "activities"
    named = ", ".join(f"{i} ({reason})" for i, reason in sorted(skipped.items())[:shown])
    more = f", and {len(skipped) - shown} more" if len(skipped) > shown else ""
    click.echo(f"skipped {len(skipped)} {noun} that could not be indexed: {named}{more}")


@contextmanager
def _engine_failure_as_message() -> Iterator[None]:
    """The engine failing (down, overloaded, disk full) as one line and exit status 1."""
    from indexer.engine import IndexingError, SearchUnavailable

    try:
        yield
    except (SearchUnavailable, IndexingError) as exc:
        raise click.ClickException(f"search index not updated: {exc}") from exc


@cli.command("index")
def index() -> None:
    """Rebuild the search index from the registry (searches keep working meanwhile)."""
    from directory.web.context import today
    from indexer.sync import full_reindex

    sessions, engine, key = _search_parts()
    with _engine_failure_as_message():
        stats = full_reindex(sessions, engine, key, today(), progress=True)
    click.echo(
        f"indexed {stats.documents} listed activities into {stats.index} in {stats.seconds:.1f} s"
    )
    _report_skipped(stats.skipped)


@cli.command("sync")
def sync() -> None:
    """Apply registry changes since the last sync (run it after imports, or every few minutes)."""
    from directory.web.context import today
    from indexer.sync import incremental_sync

    sessions, engine, key = _search_parts()
    with _engine_failure_as_message():
        stats = incremental_sync(sessions, engine, key, today(), progress=True)
    kind = "full reindex (no checkpoint yet)" if stats.full else "incremental sync"
    click.echo(
        f"{kind}: {stats.upserted} written, {stats.deleted} removed in {stats.seconds:.1f} s"
    )
    _report_skipped(stats.skipped)


@cli.command("setup")
@click.option("--demo-count", default=3000, show_default=True)
@click.pass_context
def setup(ctx: click.Context, demo_count: int) -> None:
    """Everything a fresh machine needs: schema, demo data if the registry is empty, the index."""
    ctx.invoke(init_db)
    ctx.invoke(demo, count=demo_count, seed=2026, today_=None, if_empty=True)
    ctx.invoke(sync)


@cli.group("api-key")
def api_key() -> None:
    """Providers' web service keys."""


@api_key.command("create")
@click.option("--provider", "provider_id", type=int, required=True, help="The provider's id.")
@click.option("--name", default="web service", show_default=True, help="What the key is for.")
def api_key_create(provider_id: int, name: str) -> None:
    """Make a key for a provider. It is shown once: only its hash is kept."""
    from directory.registry import api_keys
    from directory.registry.models import Provider

    session = db_session()
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise click.ClickException(f"no provider with id {provider_id}; see `directory providers`")
    issued = api_keys.issue(session, provider, name)
    session.commit()
    click.echo(f"API key for {provider.name} ({name}); store it now, it is not shown again:")
    click.echo(issued.key)


@api_key.command("list")
@click.option("--provider", "provider_id", type=int, default=None)
def api_key_list(provider_id: int | None) -> None:
    """Keys by prefix, provider, and whether revoked (never the keys themselves)."""
    from directory.registry.models import ApiKey

    query = select(ApiKey).order_by(ApiKey.id)
    if provider_id is not None:
        query = query.where(ApiKey.provider_id == provider_id)
    for key in db_session().scalars(query):
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        click.echo(f"{key.prefix}  provider {key.provider_id}  {key.name}  {state}")


@api_key.command("revoke")
@click.argument("prefix")
def api_key_revoke(prefix: str) -> None:
    """Revoke a key by its prefix (the part after 'cme_')."""
    from directory.registry import api_keys

    session = db_session()
    record = api_keys.revoke(session, prefix)
    if record is None:
        raise click.ClickException(f"no key with prefix {prefix}; see `directory api-key list`")
    session.commit()
    click.echo(f"revoked {prefix} (provider {record.provider_id})")


@cli.command("providers")
def providers() -> None:
    """Providers with their ids and accreditation."""
    from directory.registry.models import Provider

    for p in db_session().scalars(select(Provider).order_by(Provider.id)):
        click.echo(f"{p.id}  {p.name}  ({p.accreditation_status})")


@cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--provider", "provider_id", type=int, required=True)
@click.option("--dry-run", is_flag=True, help="Check the file, write nothing.")
def import_file(path: str, provider_id: int, dry_run: bool) -> None:
    """Import a provider's CSV, Excel, XML or JSON file: all of it, or nothing."""
    from pathlib import Path

    from directory.provider_data.batch import import_records
    from directory.provider_data.files import FileRejected, read_records
    from directory.registry.models import Provider
    from directory.web.context import today

    if db_session().get(Provider, provider_id) is None:
        raise click.ClickException(f"no provider with id {provider_id}; see `directory providers`")
    data = Path(path).read_bytes()
    try:
        report = import_records(
            current_app.extensions["directory_sessions"],
            provider_id,
            lambda: read_records(path, data),
            today(),
            source="cli",
            dry_run=dry_run,
        )
    except FileRejected as exc:
        raise click.ClickException(str(exc)) from exc
    for message in report.errors:
        click.echo(f"error: {message}", err=True)
    for message in report.warnings:
        click.echo(f"warning: {message}", err=True)
    if not report.ok:
        raise click.ClickException(f"{report.error_count} problems; nothing was saved")
    verb = "would create" if dry_run else "created"
    click.echo(
        f"{verb} {len(report.created)}, updated {len(report.updated)}, "
        f"unchanged {len(report.unchanged)}; {len(report.warnings)} warnings"
    )
    if report.written:
        click.echo("run `directory sync` to bring search up to date")


@cli.group("jobs")
def jobs_group() -> None:
    """Large uploads imported outside the request (see directory/web/jobs.py)."""


@jobs_group.command("run")
def jobs_run() -> None:
    """Run queued batch jobs, and any a dead worker left running, until none is left."""
    from directory.web import jobs

    ran = jobs.run_pending(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(f"ran {ran} batch job{'s' if ran != 1 else ''}")


def main() -> None:
    cli()
