"""Benchmark: a provider's own dashboard at 20,000 activities, its filtered list and its export.

    .venv/bin/python -m bench.dashboard [--count 100000] [--provider-activities 20000]
        [--rounds 30] [--export-rounds 5] [--public-rounds N] [--port 8731] [--markdown]
    POSTGRES_URL=$(scripts/postgres url) .venv/bin/python -m bench.dashboard   # and PostgreSQL
    .venv/bin/python -m bench.dashboard --report-only --markdown               # the saved table

A registry of `--count` demo activities is generated fresh into a temporary folder (and into a
database of its own on the PostgreSQL server of POSTGRES_URL, dropped at the end), then one
provider in good standing is given `--provider-activities` of them. Its standing is checked
once for every activity (`standing.refresh`, timed: the one-off cost of a deployment that
brings the checks), the embedded search index is built (for its public page), and the app is
served by gunicorn as in production, signed in with an API key of that provider.

Each round requests, one after the other, every product figure and its limits (the machines
are shared: only the ratio, the median of the rounds' ratios, means much; the absolute figures
are context):
- the dashboard `/providers/<id>/activities` (summary and first page) and its filtered page
  `?listed=no`, each against gunicorn serving the same bytes as a static file (what sending
  that page costs without the work), and against the in-process SQL behind it
  (`standing.summary` and `standing.page`, no HTTP, no template);
- the export of the not-listed activities, `.csv?listed=no` and `.xlsx?listed=no`, against the
  import layout's cells written as cheaply as the format allows (`rows.flat_row` of each
  activity read by a plain SELECT of the same ids, then `csv_format.write`, or openpyxl's
  write-only workbook of plain values: no standing queries, no reasons, no report columns, no
  HTTP) and against the same bytes as a static file (`--export-rounds` of them);
- the provider's public page `/providers/<id>` signed in, against its own bytes as a static
  file (`--public-rounds`, default `--rounds`): before the dashboard it listed every one of
  the provider's activities with its reasons (the issue measured 25.5 MB in 6.4 s in process
  at 20,000); now it shows the summary's two counts and links to the dashboard.

The export's floor must write what the export writes: its rows are checked once, before the
rounds, to begin with the floor's cells row for row (`floor_writes_the_same_rows`).

Results go to bench/results/dashboard-N.json; `--markdown` prints BENCHMARKS.md's table.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bench.ratios import percentile
from directory.config import Config
from directory.demo import generate_into
from directory.provider_data.batch import payload_of
from directory.provider_data.formats import csv_format, xlsx_format
from directory.provider_data.formats.rows import flat_row
from directory.provider_data.layout import flat_column_specs
from directory.registry import api_keys, standing
from directory.registry.db import make_engine, make_sessionmaker, upgrade
from directory.registry.models import Activity, Provider, with_children
from directory.registry.reference import reference

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
SEED = 2026
# The server's today (listings end at the directory's local midnight), so the generated dates
# stand to the server's clock as a live registry's do.
TODAY = datetime.now(ZoneInfo(Config().timezone)).date()
# The issue's goal for the dashboard: "well under a second and under 200 kB".
GOAL_MS = 1000.0
GOAL_BYTES = 200_000
# Ids per IN (...) list: under SQLite's and PostgreSQL's limits on bound parameters.
CHUNK = 500
IDENTITY = {"Accept-Encoding": "identity"}
DEFAULT_FIGURES = (
    "dashboard",
    "not_listed",
    "export_csv",
    "export_xlsx",
    "public",
)  # the static floor is never compressed either


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _chunks(ids: list[int], size: int = CHUNK) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# --- the registry ------------------------------------------------------------------------------


@dataclass
class Built:
    provider_id: int
    provider_name: str
    activities: int  # the provider's, after the move
    moved: int  # of them, taken from other providers
    generate_seconds: float
    refresh_checked: int
    refresh_seconds: float


def build(url: str, count: int, provider_activities: int, today: date = TODAY) -> Built:
    """Generate `count` demo activities into the (empty) registry at `url`, give one provider
    in good standing `provider_activities` of them, and check every activity's standing."""
    upgrade(url)
    engine = make_engine(url)
    started = time.perf_counter()
    generate_into(engine, count=count, seed=SEED, today=today, progress=sys.stderr.isatty())
    generated = time.perf_counter() - started
    sessions = make_sessionmaker(engine)
    good = reference().good_standing
    with sessions() as session:
        # The biggest provider in good standing, so that what is not listed is the
        # activities' own doing, not the provider's accreditation.
        provider_id, name, own = session.execute(
            select(Provider.id, Provider.name, func.count(Activity.id))
            .join(Activity, Activity.provider_id == Provider.id)
            .where(Provider.accreditation_status.in_(good))
            .group_by(Provider.id, Provider.name)
            .order_by(func.count(Activity.id).desc(), Provider.id)
            .limit(1)
        ).one()
        if own > provider_activities:
            raise SystemExit(f"the biggest provider already has {own:,} activities")
        others = session.scalars(
            select(Activity.id)
            .where(Activity.provider_id != provider_id)
            .order_by(Activity.id)
            .limit(provider_activities - own)
        ).all()
        if len(others) < provider_activities - own:
            raise SystemExit(f"--count {count:,} is too small for {provider_activities:,}")
        # The demo's provider activity ids embed the activity's own number, so they stay
        # unique within the provider: the registry's UNIQUE (provider_id,
        # provider_activity_id) would refuse this UPDATE otherwise.
        for chunk in _chunks(list(others)):
            session.execute(
                update(Activity).where(Activity.id.in_(chunk)).values(provider_id=provider_id)
            )
        session.commit()
        total = session.scalar(
            select(func.count()).select_from(Activity).where(Activity.provider_id == provider_id)
        )
        assert total == provider_activities, total
    with sessions() as session:
        started = time.perf_counter()
        checked = standing.refresh(session)
        refreshed = time.perf_counter() - started
    engine.dispose()
    return Built(
        provider_id=provider_id,
        provider_name=name,
        activities=provider_activities,
        moved=len(others),
        generate_seconds=generated,
        refresh_checked=checked,
        refresh_seconds=refreshed,
    )


def issue_key(sessions: sessionmaker[Session], provider_id: int) -> str:
    with sessions() as session:
        provider = session.get(Provider, provider_id)
        assert provider is not None
        issued = api_keys.issue(session, provider, "dashboard benchmark")
        session.commit()
        return issued.key


def build_index(url: str, data: Path, today: date = TODAY) -> int:
    """The embedded search index of the registry, for the provider's public page."""
    from indexer import engine_from_config, index_key
    from indexer.sync import full_reindex

    config = Config(database_url=url, data_dir=data)
    engine = make_engine(url)
    stats = full_reindex(
        make_sessionmaker(engine), engine_from_config(config), index_key(config), today
    )
    engine.dispose()
    return stats.documents


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A database of this run's own on the server of `admin_url`, dropped at the end."""
    name = f"bench_dashboard_{os.getpid()}"
    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- the server --------------------------------------------------------------------------------


def csrf_token(html: str) -> str:
    """The sign-in form's CSRF token, read from the page as a browser would send it."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if token is None:
        raise RuntimeError("no CSRF token on the sign-in form")
    return token.group(1)


def free_port(wanted: int) -> int:
    """`wanted` if nothing listens there, else any free port."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", wanted)) != 0:
            return wanted
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    say(f"port {wanted} is taken: serving on {port}")
    return port


@dataclass
class Server:
    """gunicorn serving the app as in production (README), on 127.0.0.1."""

    url: str  # DATABASE_URL
    data: Path
    static: Path
    port: int
    workers: int = 2
    threads: int = 4
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "DIRECTORY_DATA_DIR": str(self.data),
            "DIRECTORY_STATIC_DIR": str(self.static),
            "SEARCH_BACKEND": "embedded",
            "SYNC_AFTER_WRITE": "0",
        }
        env.pop("SECRET_KEY", None)  # the workers share the data folder's key
        return env

    def start(self) -> None:
        cmd = [
            str(BIN / "gunicorn"),
            "--workers", str(self.workers),
            "--worker-class", "gthread",
            "--threads", str(self.threads),
            "--bind", f"127.0.0.1:{self.port}",
            # The old signed-in page renders every activity: it may take longer than the
            # production timeout of 30 s on a busy machine, and must not be cut off here.
            "--timeout", "300",
            "--log-level", "warning",
            "directory.web:create_app()",
        ]  # fmt: skip
        self.process = subprocess.Popen(cmd, env=self.env(), cwd=ROOT)
        for _ in range(300):
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.base}/providers/sign-in", timeout=5).status_code == 200:
                    return
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer the sign-in page")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def signed_in(self, key: str) -> requests.Session:
        """A client signed in with `key` through the sign-in form, as a browser is."""
        client = requests.Session()
        client.headers.update(IDENTITY)
        form = client.get(f"{self.base}/providers/sign-in", timeout=30)
        form.raise_for_status()
        # Not followed: the redirect is to the public page, which is not measured here.
        answer = client.post(
            f"{self.base}/providers/sign-in",
            data={"key": key, "csrf_token": csrf_token(form.text)},
            allow_redirects=False,
            timeout=30,
        )
        if answer.status_code != 303:
            raise RuntimeError(f"sign-in answered {answer.status_code}")
        return client


# --- the figures -------------------------------------------------------------------------------


@dataclass
class Limit:
    name: str
    what: str
    call: Callable[[], Any]
    ms: list[float] = field(default_factory=list)


@dataclass
class Figure:
    name: str
    what: str
    path: str  # what the product side requests
    limits: list[Limit]
    rounds: int  # how many of the run's rounds include it
    bytes: int = 0
    rows: int | None = None
    fmt: str | None = None  # an export's
    # For an export: whether its floor wrote the same rows, with the same layout cells.
    same_rows: bool | None = None
    ms: list[float] = field(default_factory=list)
    product: Callable[[], Any] | None = None


def _ms(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def fetch(client: requests.Session, url: str) -> bytes:
    answer = client.get(url, timeout=300)
    if answer.status_code != 200:
        raise RuntimeError(f"{url}: HTTP {answer.status_code} {answer.content[:200]!r}")
    return answer.content


def table(data: bytes, fmt: str) -> list[list[Any]]:
    """A CSV file's or a workbook's first sheet's rows, the header first, empty rows left out."""
    if fmt == "csv":
        rows: list[list[Any]] = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        return [r for r in rows if any(cell.strip() for cell in r)]
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True)
    sheet = book.worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True) if any(v is not None for v in r)]
    book.close()
    return rows


def same_layout_cells(product: list[list[Any]], floor: list[list[Any]]) -> bool:
    """Whether the export's rows begin with the floor's cells, row for row: the floor writes
    the same activities in the same layout, without the report columns after them."""
    if len(product) != len(floor):
        return False
    width = len(floor[0])

    def cells(row: list[Any]) -> list[Any]:
        # A workbook without its size recorded reads back without a row's trailing empty cells.
        return row[:width] + [None] * (width - len(row))

    return all(cells(p) == cells(f) for p, f in zip(product, floor, strict=True))


SQL_PARTS = ("refresh", "summary", "page")


def sql_alone(
    sessions: sessionmaker[Session],
    provider_id: int,
    query: standing.Query,
    today: date,
    parts: dict[str, list[float]],
) -> Callable[[], Any]:
    """What the dashboard asks the registry, in process: the refresh that finds nothing to
    check, the summary and one page; each part's milliseconds are added to `parts`."""

    def run() -> Any:
        with sessions() as session:
            provider = session.get(Provider, provider_id)
            assert provider is not None
            started = time.perf_counter()
            standing.refresh(session, provider_id)
            checked = time.perf_counter()
            summary = standing.summary(session, provider, today)
            summed = time.perf_counter()
            page = standing.page(session, provider, query, today)
            paged = time.perf_counter()
            for name, ms in zip(
                SQL_PARTS,
                ((checked - started), (summed - checked), (paged - summed)),
                strict=True,
            ):
                parts.setdefault(name, []).append(ms * 1000)
            return summary.total, page.total, len(page.rows)

    return run


def layout_writer(
    sessions: sessionmaker[Session], ids: list[int], excel: bool
) -> Callable[[], bytes]:
    """The import layout's cells of the same activities, read by a plain SELECT of their ids
    with their children, then written as cheaply as the format allows: the export without
    the standing queries, the reasons and HTTP. CSV: the layout's own writer
    (`csv_format.write`). Excel: openpyxl's write-only workbook of plain values (the
    layout's `xlsx_format.write` builds the whole sheet in memory, slower than the export)."""

    def run() -> bytes:
        rows = []
        with sessions() as session:
            for chunk in _chunks(ids):
                by_id = {
                    a.id: a
                    for a in session.scalars(
                        select(Activity).where(Activity.id.in_(chunk)).options(*with_children())
                    )
                }
                rows += [flat_row(payload_of(by_id[i]), native=excel) for i in chunk]
        return write_only_xlsx(rows) if excel else csv_format.write(rows)

    return run


def write_only_xlsx(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(xlsx_format.EXCEL_SHEET)
    sheet.append([c.header for c in flat_column_specs()])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def matching_ids(
    sessions: sessionmaker[Session], provider_id: int, query: standing.Query, today: date
) -> list[int]:
    """The ids an export of `query` lists, in its order (read once, untimed)."""
    with sessions() as session:
        provider = session.get(Provider, provider_id)
        assert provider is not None
        return [r.activity.id for r in standing.all_matching(session, provider, query, today)]


def run_database(kind: str, url: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    say(f"[{kind}] generating {args.count:,} activities")
    built = build(url, args.count, args.provider_activities)
    say(
        f"[{kind}] {built.provider_name} (#{built.provider_id}) has {built.activities:,}; "
        f"standing of {built.refresh_checked:,} checked in {built.refresh_seconds:.1f} s"
    )
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    pid = built.provider_id
    key = issue_key(sessions, pid)
    data = work / f"{kind}-data"
    documents = build_index(url, data)
    say(f"[{kind}] {documents:,} listed activities indexed")
    with sessions() as session:
        provider = session.get(Provider, pid)
        assert provider is not None
        noop = [_ms(lambda: standing.refresh(session, pid)) for _ in range(5)]
        summary = standing.summary(session, provider, TODAY)

    static = work / f"{kind}-static"
    shutil.copytree(ROOT / "static", static)
    (static / "bench").mkdir()
    server = Server(url, data, static, free_port(args.port))
    base = f"/providers/{pid}"
    static_floor = partial(Limit, "static", "the same bytes as a static file", lambda: None)

    def page(name: str, what: str, query: standing.Query) -> Figure:
        suffix = f"?{urlencode(query.to_params())}" if query.to_params() else ""
        sql = Limit(
            "sql",
            "its SQL in process (refresh, summary, page)",
            sql_alone(sessions, pid, query, TODAY, sql_parts.setdefault(name, {})),
        )
        return Figure(name, what, f"{base}/activities{suffix}", [static_floor(), sql], args.rounds)

    def export(name: str, what: str, fmt: str, query: standing.Query) -> Figure:
        suffix = f"?{urlencode(query.to_params())}" if query.to_params() else ""
        floor = (
            "openpyxl write-only of the layout's cells, plain SELECT"
            if fmt == "xlsx"
            else "the import layout's writer, plain SELECT"
        )
        writer = layout_writer(sessions, matching_ids(sessions, pid, query, TODAY), fmt == "xlsx")
        return Figure(
            name,
            what,
            f"{base}/activities.{fmt}{suffix}",
            [Limit("writer", floor, writer), static_floor()],
            args.export_rounds,
            fmt=fmt,
        )

    sql_parts: dict[str, dict[str, list[float]]] = {}
    every = standing.Query()
    not_listed = standing.Query(listed=False)
    wanted = args.only or set(DEFAULT_FIGURES)
    makers: dict[str, Callable[[], Figure]] = {
        "dashboard": lambda: page("dashboard", "the dashboard: summary and first page", every),
        "not_listed": lambda: page(
            "not_listed", "the dashboard filtered to the not listed", not_listed
        ),
        "export_csv": lambda: export(
            "export_csv", "CSV export of the not listed", "csv", not_listed
        ),
        "export_xlsx": lambda: export(
            "export_xlsx", "XLSX export of the not listed", "xlsx", not_listed
        ),
        "public": lambda: Figure(
            "public",
            "the public page, signed in",
            base,
            [static_floor()],
            args.rounds if args.public_rounds is None else args.public_rounds,
        ),
        "export_all_csv": lambda: export(
            "export_all_csv", "CSV export of every activity", "csv", every
        ),
        "export_all_xlsx": lambda: export(
            "export_all_xlsx", "XLSX export of every activity", "xlsx", every
        ),
    }
    unknown = wanted - set(makers)
    if unknown:
        raise SystemExit(
            f"--only: unknown {', '.join(sorted(unknown))}; one of {', '.join(makers)}"
        )
    figures = [make() for name, make in makers.items() if name in wanted]
    figures = [f for f in figures if f.rounds > 0]

    # First pass: each page once, for its bytes (written as its static floor) and its rows.
    server.start()
    try:
        client = server.signed_in(key)
        for f in figures:
            say(f"[{kind}] GET {f.path}")
            body = fetch(client, server.base + f.path)
            f.bytes = len(body)
            if f.fmt is not None:
                product = table(body, f.fmt)
                f.rows = len(product) - 1
                floor = table(f.limits[0].call(), f.fmt)
                f.same_rows = same_layout_cells(product, floor)
                if not f.same_rows:
                    say(f"[{kind}] the {f.name} floor does not write the export's rows and cells")
            (static / "bench" / f"{f.name}.bin").write_bytes(body)
    finally:
        server.stop()
    # WhiteNoise reads the static folder at start-up: serve again, with the floors in it.
    server.start()
    try:
        client = server.signed_in(key)
        for f in figures:
            f.product = partial(fetch, client, server.base + f.path)
            for limit in f.limits:
                if limit.name == "static":
                    limit.call = partial(fetch, client, f"{server.base}/static/bench/{f.name}.bin")
            # Warm both sides once (each worker's reference data, the page cache).
            f.product()
            for limit in f.limits:
                limit.call()
        for n in range(max(f.rounds for f in figures)):
            for f in figures:
                if n >= f.rounds:
                    continue
                assert f.product is not None
                f.ms.append(_ms(f.product))
                for limit in f.limits:
                    limit.ms.append(_ms(limit.call))
            say(
                f"[{kind}] round {n + 1}: "
                + ", ".join(f"{f.name} {f.ms[-1]:.0f} ms" for f in figures if n < f.rounds)
            )
    finally:
        server.stop()
        engine.dispose()
    return {
        "database": kind,
        "count": args.count,
        "provider_id": pid,
        "provider_activities": built.activities,
        "moved_activities": built.moved,
        "listed": summary.listed.count,
        "not_listed": summary.not_listed.count,
        "generate_seconds": built.generate_seconds,
        "refresh_all_checked": built.refresh_checked,
        "refresh_all_seconds": built.refresh_seconds,
        "refresh_nothing_to_do_ms": statistics.median(noop),
        "figures": [_figure(f, sql_parts.get(f.name, {})) for f in figures],
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "today": TODAY.isoformat(),
    }


def _figure(f: Figure, parts: dict[str, list[float]]) -> dict[str, Any]:
    limits = []
    for limit in f.limits:
        ratios = [p / q for p, q in zip(f.ms, limit.ms, strict=True) if q]
        limits.append(
            {
                "name": limit.name,
                "what": limit.what,
                "ms": limit.ms,
                "p50_ms": percentile(limit.ms, 50),
                "p95_ms": percentile(limit.ms, 95),
                "ratios": ratios,
                "ratio": statistics.median(ratios),
                "ratio_low": min(ratios),
                "ratio_high": max(ratios),
                "p95_ratio": percentile(f.ms, 95) / percentile(limit.ms, 95),
            }
        )
    return {
        "name": f.name,
        "what": f.what,
        "path": f.path,
        "bytes": f.bytes,
        "rows": f.rows,
        "floor_writes_the_same_rows": f.same_rows,
        "ms": f.ms,
        "p50_ms": percentile(f.ms, 50),
        "p95_ms": percentile(f.ms, 95),
        "limits": limits,
        # The SQL limit's parts, p50 ms (the warm-up call included in none).
        "sql_parts_p50_ms": {name: percentile(ms[1:], 50) for name, ms in parts.items()},
    }


# --- reporting ---------------------------------------------------------------------------------


def results_file(count: int) -> Path:
    return RESULTS / f"dashboard-{count}.json"


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    return f"{n / 1000:.1f} kB"


def markdown(results: dict[str, Any]) -> str:
    out = []
    for db in results["databases"]:
        out.append(
            f"**{db['database']}**: {db['count']:,} activities, the provider's "
            f"{db['provider_activities']:,} ({db['listed']:,} listed, {db['not_listed']:,} "
            f"not); checking every activity's standing once: "
            f"{db['refresh_all_seconds']:.1f} s for {db['refresh_all_checked']:,}; "
            f"with nothing to check, {db['refresh_nothing_to_do_ms']:.1f} ms.\n"
        )
        out.append(
            "| figure | bytes | rows | product p50 / p95 ms | limit | limit p50 / p95 ms "
            "| product ÷ limit | p95 ÷ p95 |"
        )
        out.append("|---|---|---|---|---|---|---|---|")
        for f in db["figures"]:
            rounds = len(f["ms"])
            head = [
                f"{f['what']} (`{f['path']}`, {rounds} rounds)",
                _size(f["bytes"]),
                "" if f["rows"] is None else f"{f['rows']:,}",
                f"{f['p50_ms']:.1f} / {f['p95_ms']:.1f}",
            ]
            for i, limit in enumerate(f["limits"]):
                cells = head if i == 0 else [""] * len(head)
                cells = [
                    *cells,
                    limit["what"],
                    f"{limit['p50_ms']:.1f} / {limit['p95_ms']:.1f}",
                    f"{limit['ratio']:.2f} ({limit['ratio_low']:.2f}–{limit['ratio_high']:.2f})",
                    f"{limit['p95_ratio']:.2f}",
                ]
                out.append("| " + " | ".join(cells) + " |")
        parts = [
            f"`{f['path']}`: "
            + ", ".join(f"{name} {ms:.1f}" for name, ms in f["sql_parts_p50_ms"].items())
            for f in db["figures"]
            if f.get("sql_parts_p50_ms")
        ]
        if parts:
            out.append("\nIts SQL in process, by part (p50 ms): " + "; ".join(parts) + ".")
        goals = [
            f"`{f['path']}` p95 {f['p95_ms']:.0f} ms, {_size(f['bytes'])}: "
            + ("met" if f["p95_ms"] < GOAL_MS and f["bytes"] < GOAL_BYTES else "**not met**")
            for f in db["figures"]
            if f["name"] in ("dashboard", "not_listed")
        ]
        if goals:
            out.append(
                f"\nThe issue's goal (under {GOAL_MS:.0f} ms and {GOAL_BYTES // 1000} kB): "
                + "; ".join(goals)
                + ".\n"
            )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--provider-activities", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--export-rounds", type=int, default=5)
    parser.add_argument("--public-rounds", type=int, help="(default: --rounds)")
    parser.add_argument("--port", type=int, default=8731)
    parser.add_argument(
        "--only",
        type=lambda s: set(s.split(",")),
        default=set(),
        help=f"comma-separated, of {','.join(DEFAULT_FIGURES)} (the default) and "
        "export_all_csv,export_all_xlsx (the unfiltered exports)",
    )
    parser.add_argument("--out", type=Path, help="(default: bench/results/dashboard-N.json)")
    parser.add_argument(
        "--databases",
        default="sqlite,postgresql" if os.environ.get("POSTGRES_URL") else "sqlite",
        help="sqlite and/or postgresql (the server of $POSTGRES_URL)",
    )
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()

    out = args.out or results_file(args.count)
    if args.report_only:
        print(markdown(json.loads(out.read_text())))
        return
    # A SIGTERM ends the run through its `finally`s: gunicorn stopped, the database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    databases = []
    try:
        for kind in args.databases.split(","):
            if kind == "sqlite":
                url = f"sqlite:///{work / 'registry.sqlite3'}"
                databases.append(run_database(kind, url, args, work))
            elif kind == "postgresql":
                admin = os.environ.get("POSTGRES_URL")
                if not admin:
                    raise SystemExit("--databases postgresql needs POSTGRES_URL")
                with postgres_database(admin) as url:
                    databases.append(run_database(kind, url, args, work))
            else:
                raise SystemExit(f"unknown database {kind!r}: sqlite or postgresql")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = {"count": args.count, "databases": databases}
    out.write_text(json.dumps(results, indent=2) + "\n")
    say(f"written {out}")
    print(markdown(results) if args.markdown else json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
