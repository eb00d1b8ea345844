"""The `directory` command: database, demo data, and the development server.

`directory run` (from Flask) serves; the rest are below. Each command says what it did.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import Any

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import func, select

from directory.config import Config
from directory.registry.db import upgrade
from directory.registry.models import Activity
from directory.web.app import create_app
from directory.web.context import db_session


def _count(n: int, noun: str, plural: str | None = None) -> str:
    """ "1 problem", "2 problems", "1,200 activities" (with plural="activities")."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


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
    statuses = ", ".join(f"{n:,} {s}" for s, n in sorted(stats.by_status.items()))
    click.echo(
        f"loaded {_count(stats.activities, 'activity', 'activities')} ({statuses}) from "
        f"{_count(stats.providers, 'provider')}, with "
        f"{_count(stats.moc_registrations, 'board registration')}, around {around}"
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
    named = ", ".join(f"{i} ({reason})" for i, reason in sorted(skipped.items())[:shown])
    more = f", and {len(skipped) - shown} more" if len(skipped) > shown else ""
    noun = _count(len(skipped), "activity", "activities")
    click.echo(f"skipped {noun} that could not be indexed: {named}{more}")


@contextmanager
def _engine_failure_as_message() -> Iterator[None]:
    """The engine failing (down, overloaded, disk full) as one line and exit status 1."""
    from indexer.engine import IndexingError, SearchUnavailable

    try:
        yield
    except (SearchUnavailable, IndexingError) as exc:
        raise click.ClickException(f"search index not updated: {exc}") from exc


def _refresh_checks(sessions: Any) -> None:
    """Bring the providers' dashboards' checks up to date (`registry.standing`): activities
    written outside the web service (demo data, a rules change in a new release) are checked
    here, on the schedule that syncs the index, not on a provider's first look."""
    from directory.registry import standing

    started = time.perf_counter()
    try:
        with sessions() as session:
            checked = standing.refresh(session)
    except Exception as exc:  # the index matters more: it is updated all the same
        click.echo(f"providers' dashboard checks not updated ({type(exc).__name__}: {exc})")
        return
    if checked:
        noun = _count(checked, "activity", "activities")
        click.echo(
            f"checked {noun} for providers' dashboards in {time.perf_counter() - started:.1f} s"
        )


@cli.command("index")
def index() -> None:
    """Rebuild the search index from the registry (searches keep working meanwhile)."""
    from directory.web.context import today
    from indexer.sync import full_reindex

    sessions, engine, key = _search_parts()
    _refresh_checks(sessions)
    with _engine_failure_as_message():
        stats = full_reindex(sessions, engine, key, today(), progress=True, render_apart=True)
    click.echo(
        f"indexed {_count(stats.documents, 'listed activity', 'listed activities')} into "
        f"{stats.index} in {stats.seconds:.1f} s"
    )
    _report_skipped(stats.skipped)


@cli.command("sync")
def sync() -> None:
    """Apply registry changes since the last sync (run it after imports, or every few minutes)."""
    from directory.web.context import today
    from indexer.sync import incremental_sync

    sessions, engine, key = _search_parts()
    _refresh_checks(sessions)
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


# --- providers --------------------------------------------------------------------------------

_PROVIDER_OPTIONS = (
    ("name", "name"),
    ("provider_id", "accreditor_id"),
    ("status", "accreditation_status"),
    ("city", "city"),
    ("state", "state"),
    ("country", "country"),
    ("url", "url"),
    ("email", "contact_email"),
)


def _provider_options(required: bool) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The provider's fields as options; for `add`, name, provider id and status required."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        for flag, help_text, needed in reversed(
            (
                ("--name", "The provider's name.", True),
                ("--provider-id", "The accreditor's id for the provider, e.g. 0001234.", True),
                ("--status", "Accreditation status, e.g. Accreditation or Probation.", True),
                ("--city", "City.", False),
                ("--state", "State or province.", False),
                ("--country", "Two-letter country code (US, CA) or a name (USA, Canada).", False),
                ("--url", "Web site (http:// or https://).", False),
                ("--email", "Contact e-mail.", False),
            )
        ):
            command = click.option(
                flag, default=None, required=required and needed, help=help_text
            )(command)
        return command

    return decorate


def _given(options: Mapping[str, str | None]) -> dict[str, str]:
    """The options given, by Provider attribute ("" given to clear a value is kept)."""
    given = {}
    for option, attr in _PROVIDER_OPTIONS:
        value = options[option]
        if value is not None:
            given[attr] = value
    return given


def _checked(values: dict[str, str], current: Any = None) -> dict[str, Any]:
    """The options' values as they will be stored, or ClickException listing every problem.
    A new provider is judged whole; a change, by the fields it changes (what is stored and
    not changed stays as it is)."""
    from directory.provider_data import roster

    cleaned, problems = roster.clean_values(values)
    merged = {f.name: getattr(current, f.name, None) for f in roster.FIELDS} | cleaned
    problems = roster.entry_problems(merged, problems)
    if current is not None:
        given = {f.label for f in roster.FIELDS if f.name in values}
        problems = [p for p in problems if p.field in given]
    if problems:
        flags = {attr: opt.replace("_", "-") for opt, attr in _PROVIDER_OPTIONS}
        labels = {f.label: flags[f.name] for f in roster.FIELDS}
        raise click.ClickException(
            f"{_count(len(problems), 'problem')}; nothing was saved:\n"
            + "\n".join(f"  --{labels.get(p.field, p.field)}: {p.message}" for p in problems)
        )
    return cleaned


def _describe(p: Any) -> str:
    provider_id = p.accreditor_id or "no provider id"
    contact = p.contact_email or "no contact e-mail"
    return f"{p.id}  {p.name}  ({p.accreditation_status})  provider id {provider_id}  {contact}"


def _standing_note(before: str | None, after: str) -> str | None:
    """What a new provider's status, or a change of status, means for its listings."""
    from directory.registry.reference import reference

    good = reference().good_standing
    if (after in good) == (before in good if before is not None else True):
        return None
    if after in good:
        return "it is in good standing again: its listed activities return at the next `directory sync`"
    if before is None:
        return f"{after} is not in good standing: it may not register activities"
    return (
        f"{after} is not in good standing: it may not register or change activities, and its "
        "listings leave the directory at the next `directory sync`"
    )


@cli.group("providers", invoke_without_command=True)
@click.pass_context
@with_appcontext  # a group's own callback does not get the app context its commands get
def providers(ctx: click.Context) -> None:
    """Providers: with no command, each with its registry id, accreditation, the accreditor's
    provider id and its contact; `add`, `update` and `import` change them."""
    if ctx.invoked_subcommand is not None:
        return
    from directory.registry.models import Provider

    for p in db_session().scalars(select(Provider).order_by(Provider.id)):
        click.echo(_describe(p))


def _find_provider(session: Any, which: str) -> Any:
    """A provider by the accreditor's id or the registry's id ("id:12" or "pid:0001234" when a
    value could be either), or ClickException."""
    from directory.registry.models import Provider

    def by_accreditor(value: str) -> Any:
        return session.scalar(select(Provider).where(Provider.accreditor_id == value))

    def by_registry(value: str) -> Any:
        return session.get(Provider, int(value)) if value.isdigit() else None

    value = which.strip()
    if value.lower().startswith("id:"):
        found = by_registry(value[3:].strip())
    elif value.lower().startswith("pid:"):
        found = by_accreditor(value[4:].strip())
    else:
        accreditor, registry = by_accreditor(value), by_registry(value)
        if accreditor is not None and registry is not None and accreditor is not registry:
            raise click.ClickException(
                f"'{value}' is the registry id of {registry.name} and the provider id of "
                f"{accreditor.name}; write id:{value} for the first or pid:{value} for the second"
            )
        found = accreditor or registry
    if found is None:
        raise click.ClickException(
            f"no provider with registry id or provider id '{value}'; see `directory providers`"
        )
    return found


def _saved(session: Any, accreditor_id: str | None) -> None:
    """Commit, or ClickException if another change took the provider id meanwhile."""
    from sqlalchemy.exc import IntegrityError

    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise click.ClickException(
            f"provider id {accreditor_id} was given to another provider meanwhile; nothing "
            "was saved (see `directory providers`)"
        ) from exc


@providers.command("add")
@_provider_options(required=True)
def providers_add(**options: str | None) -> None:
    """Add a provider. Its provider id (the accreditor's) must be new: change an existing
    provider with `directory providers update`."""
    from directory.provider_data import roster
    from directory.registry.models import Provider

    session = db_session()
    values = _checked(_given(options))
    accreditor_id = values["accreditor_id"]
    taken = session.scalar(select(Provider).where(Provider.accreditor_id == accreditor_id))
    if taken is not None:
        raise click.ClickException(
            f"provider id {accreditor_id} is already {taken.name} (registry id {taken.id}); "
            f"to change it, use `directory providers update {accreditor_id}` with the options "
            "to change"
        )
    namesake = roster.unlinked_namesake(session, values["name"])
    if namesake is not None:
        raise click.ClickException(roster.namesake_problem(namesake, accreditor_id).message)
    provider = Provider(**{f.name: values.get(f.name) for f in roster.FIELDS})
    session.add(provider)
    _saved(session, accreditor_id)
    click.echo(f"added {_describe(provider)}")
    note = _standing_note(None, provider.accreditation_status)
    if note:
        click.echo(note)


@providers.command("update")
@click.argument("which", metavar="PROVIDER_ID_OR_ACCREDITOR_ID")
@_provider_options(required=False)
def providers_update(which: str, **options: str | None) -> None:
    """Change a provider, found by its registry id or the accreditor's provider id; only the
    options given change (give --city "" to clear a value)."""
    from directory.provider_data import roster
    from directory.registry.models import Provider

    given = _given(options)
    if not given:
        raise click.ClickException(
            "nothing to change: give at least one of "
            + ", ".join(f"--{o.replace('_', '-')}" for o, _ in _PROVIDER_OPTIONS)
        )
    session = db_session()
    provider = _find_provider(session, which)
    values = _checked(given, provider)
    new_id = values.get("accreditor_id")
    if "accreditor_id" in values and new_id != provider.accreditor_id:
        taken = session.scalar(select(Provider).where(Provider.accreditor_id == new_id))
        if taken is not None:
            raise click.ClickException(
                f"provider id {new_id} is already {taken.name} (registry id {taken.id}); "
                "nothing was saved"
            )
    before = {f.name: getattr(provider, f.name) for f in roster.FIELDS}
    changed = roster.apply_values(provider, values)
    if not changed:
        click.echo(f"unchanged: {_describe(provider)}")
        return
    _saved(session, provider.accreditor_id)
    shown = {f.label: f.name for f in roster.FIELDS}
    details = "; ".join(
        f"{label} {before[shown[label]] or '(none)'} -> {getattr(provider, shown[label]) or '(none)'}"
        for label in changed
    )
    click.echo(f"updated {provider.id} {provider.name}: {details}")
    if "accreditation status" in changed:
        note = _standing_note(before["accreditation_status"], provider.accreditation_status)
        if note:
            click.echo(note)
    click.echo("run `directory sync` to bring search up to date")


@providers.command("import")
@click.argument("path", metavar="ROSTER", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the roster, write nothing.")
def providers_import(path: str, dry_run: bool) -> None:
    """Import the accreditor's roster (CSV or .xlsx; columns Name, Provider ID, Accreditation
    Status, City, State, Country, Website, Contact Email): all of it, or nothing. Providers
    are matched by provider id: new ones are added, changed ones updated."""
    from pathlib import Path

    from directory.provider_data import roster

    data = Path(path).read_bytes()
    try:
        read = roster.read_roster(path, data)
    except roster.FileRejected as exc:
        raise click.ClickException(f"{Path(path).name}: {exc}; nothing was saved") from exc
    report = roster.import_roster(
        current_app.extensions["directory_sessions"], read, dry_run=dry_run
    )
    for message in report.errors:
        click.echo(f"error: {message}", err=True)
    for message in report.warnings:
        click.echo(f"check: {message}", err=True)
    if not report.ok:
        raise click.ClickException(f"{_count(report.error_count, 'problem')}; nothing was saved")
    counts = (len(report.created), len(report.updated), len(report.unchanged))
    if dry_run:
        click.echo(
            "dry run, nothing saved: would add {}, update {}, leave {} unchanged".format(*counts)
        )
        return
    click.echo("added {}, updated {}, unchanged {}".format(*counts))
    if report.created or report.updated:
        click.echo("run `directory sync` to bring search up to date")


# --- activities -------------------------------------------------------------------------------


def _import_summary(report: Any, dry_run: bool) -> str:
    """The counts of what an activity import did, each kind of message counted apart."""
    listed = [m for m in report.warnings if m.field != "more warnings"]
    incomplete = sum(1 for m in listed if m.severity == "incomplete")
    checks = len(listed) - incomplete
    hidden = report.warning_count - len(listed)
    parts = []
    if incomplete:
        saved = "would be saved" if dry_run else "saved"
        it = "it does" if incomplete == 1 else "they do"
        parts.append(
            f"{_count(incomplete, 'incomplete registration')} ({saved}, but {it} not count "
            "until completed)"
        )
    if checks:
        parts.append(_count(checks, "warning"))
    if hidden > 0:
        parts.append(f"{hidden:,} more not listed")
    return "; ".join(parts)


@cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--provider", "provider_id", type=int, required=True)
@click.option("--dry-run", is_flag=True, help="Check the file, write nothing.")
def import_file(path: str, provider_id: int, dry_run: bool) -> None:
    """Import a provider's CSV, Excel, XML or JSON file: all of it, or nothing."""
    from pathlib import Path

    from directory.provider_data.batch import import_records
    from directory.provider_data.files import FileRejected, read_records
    from directory.registry import rules
    from directory.registry.models import Provider
    from directory.web.context import today

    provider = db_session().get(Provider, provider_id)
    if provider is None:
        raise click.ClickException(f"no provider with id {provider_id}; see `directory providers`")
    refused = rules.registration_refused(provider)
    if refused is not None:
        raise click.ClickException(f"{refused}; nothing was saved")
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
    if getattr(report, "refused", False):  # the status changed while the command started
        raise click.ClickException(report.errors[0].message)
    for message in report.errors:
        click.echo(f"error: {message}", err=True)
    for message in report.warnings:
        prefix = "incomplete" if message.severity == "incomplete" else "check"
        click.echo(f"{prefix}: {message}", err=True)
    others = _import_summary(report, dry_run)
    if not report.ok:
        also = f" (and {others})" if others else ""
        raise click.ClickException(
            f"{_count(report.error_count, 'problem')}{also}; nothing was saved"
        )
    if dry_run:
        # A dry run stops after the check, so there are no counts of what would change.
        line = "dry run: no errors, nothing saved (run it without --dry-run to import)"
    else:
        line = (
            f"created {len(report.created)}, updated {len(report.updated)}, "
            f"unchanged {len(report.unchanged)}"
        )
    click.echo(f"{line}; {others}" if others else line)
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
    click.echo(f"ran {_count(ran, 'batch job')}")


def main() -> None:
    cli()
