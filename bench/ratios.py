"""Benchmark: the product against each engine's own limit, as ratios measured in one run.

    .venv/bin/python -m bench.ratios --count 10000 [--only search,api] [--rounds 5] [--markdown]
    .venv/bin/python -m bench.ratios --count 100000 --report-only --markdown

Why ratios: the machines are shared and noisy, so an absolute time says as much about the
neighbours as about the code. Each figure runs the product and the limit (what the engine
itself can do with the same work) in one process, alternating round by round (product, limit,
product, limit, ...), so a busy moment hits both sides. A figure's ratio is the median of its
rounds' ratios; the medians of each side's absolute figures are kept as context.

Figures (`--only` takes their names):
- os_reindex: `full_reindex` into OpenSearch / raw `_bulk` of the same documents as NDJSON
  (5 MB requests, 2 connections), docs/s;
- embedded_reindex: `full_reindex` into the embedded engine / the engine's own `reindex` of
  the same documents already built in memory (no registry reading), docs/s;
- search: the embedded engine's search over `bench.search.QUERIES` with all 12 facets /
  `bench.floor.BitmapFloor` (FTS5 + bitmaps), p50 and p95 of each round; every query's total
  and facet counts are checked equal on every round;
- api, html: `/api/v1/search` and the search page under gunicorn on OpenSearch / the raw
  `_search` requests the product sent for the same query (recorded at the transport), on one
  kept-alive connection, p50;
- throughput: 8 clients on the API / 8 clients replaying the recorded `_search` requests, req/s;
- csv: `directory import` of a 50,000-row CSV / `bench.csv_floor` (parse, normalize, Core
  insert), seconds; it does not depend on `--count`.

Registries come from `bench.search.registry` (var/bench/registry-N.sqlite3, generated once).
Results go to bench/results/ratios-N.json (merged figure by figure, so `--only` refreshes what
it ran and keeps the rest), and bench/results/ratios.png is drawn from every saved size.
OpenSearch indices are named for this process and deleted at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import inspect
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from bench.search import QUERIES, TODAY, as_args, registry

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
SIZES = (10_000, 100_000, 1_000_000)
ALL = ("os_reindex", "embedded_reindex", "search", "api", "html", "throughput", "csv")
BULK_BYTES = 5 * 1024 * 1024
BULK_CONNECTIONS = 2
CLIENTS = 8


@dataclass(frozen=True)
class Target:
    text: str
    check: Callable[[dict[str, Any]], bool]


def _ratio_at_most(limit: float) -> Target:
    return Target(f"≤ {limit:g}×", lambda row: row["ratio"] <= limit)


def _ratio_at_least(limit: float) -> Target:
    return Target(f"≥ {limit:g}×", lambda row: row["ratio"] >= limit)


def _search_p95(row: dict[str, Any]) -> bool:
    # The issue: within 1.3x of the floor (stated at 100k), and under 150 ms at 1M.
    ok = bool(row["ratio"] <= 1.3)
    return ok and (row["count"] < 1_000_000 or row["product_median"] < 150)


# What each row of the table is, its unit, and the target for it.
ROWS: dict[str, tuple[str, str, Target | None]] = {
    "os_reindex": ("full reindex into OpenSearch", "docs/s", _ratio_at_least(0.7)),
    "embedded_reindex": ("full reindex into the embedded engine", "docs/s", _ratio_at_least(0.7)),
    "search_p50": ("embedded search, 16-query mix, 12 facets: p50", "ms", None),
    "search_p95": (
        "embedded search, 16-query mix, 12 facets: p95",
        "ms",
        Target("≤ 1.3× (and < 150 ms at 1M)", _search_p95),
    ),
    "api": ("JSON API search p50 (gunicorn, OpenSearch)", "ms", _ratio_at_most(1.2)),
    "html": ("HTML search page p50 (gunicorn, OpenSearch)", "ms", _ratio_at_most(1.35)),
    "throughput": ("API throughput at 8 clients", "req/s", _ratio_at_least(0.8)),
    "csv": ("import of a 50,000-row CSV", "s", _ratio_at_most(2.0)),
    "csv_reader": (
        "import of a 50,000-row CSV, against the product's own reader + Core",
        "s",
        _ratio_at_most(2.0),
    ),
}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated between the closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def row(count: int, name: str, product: list[float], limit: list[float], **extra: Any) -> dict:
    """A figure from its rounds: each side's samples, medians, and the median round ratio."""
    ratios = [p / q for p, q in zip(product, limit, strict=True) if q]
    result = {
        "count": count,
        "name": name,
        "what": ROWS[name][0],
        "unit": ROWS[name][1],
        "product": product,
        "limit": limit,
        "product_median": statistics.median(product),
        "limit_median": statistics.median(limit),
        "ratios": ratios,
        "ratio": statistics.median(ratios) if ratios else float("nan"),
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        **extra,
    }
    target = ROWS[name][2]
    result["target"] = target.text if target else ""
    result["met"] = target.check(result) if target else None
    return result


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- plain HTTP on a kept-alive connection ------------------------------------------------------


class Http:
    """One kept-alive HTTP/1.1 connection (http.client reconnects if the server closed it)."""

    def __init__(self, base: str) -> None:
        parts = urllib.parse.urlsplit(base)
        host = parts.hostname or "127.0.0.1"
        self.conn = http.client.HTTPConnection(host, parts.port or 80, timeout=120)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A keep-alive connection the server closed while idle: one retry, fresh.
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


@contextlib.contextmanager
def recording_searches() -> Any:
    """While inside: the search requests opensearch-py sends (method, path with query
    string, JSON body), recorded at its transport and sent on as usual."""
    from opensearchpy.transport import Transport

    original = Transport.perform_request
    signature = inspect.signature(original)
    calls: list[tuple[str, str, bytes]] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs).arguments
        url = str(bound["url"])
        if url.endswith(("/_search", "/_msearch")):
            params = bound.get("params") or {}
            query = f"?{urllib.parse.urlencode(params)}" if params else ""
            body = bound.get("body")
            if not isinstance(body, bytes | str):
                body = json.dumps(body)
            calls.append(
                (bound["method"], url + query, body.encode() if isinstance(body, str) else body)
            )
        return original(*args, **kwargs)

    Transport.perform_request = recording  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        Transport.perform_request = original  # type: ignore[method-assign]


# --- the run's shared state ---------------------------------------------------------------------


@dataclass
class Context:
    count: int
    rounds: int
    seconds: float
    opensearch_url: str
    workers: int
    worker_class: str
    threads: int
    csv_rows: int
    work: Path
    cache: bool = False
    prefix: str = field(default_factory=lambda: f"ratios{os.getpid()}")
    _sessions: Any = None
    _embedded: Any = None
    _documents: list[dict[str, Any]] | None = None
    _opensearch: Any = None
    _opensearch_built: bool = False
    _server: tuple[subprocess.Popen, str] | None = None
    _recorded: dict[str, list[list[tuple[str, str, bytes]]]] = field(default_factory=dict)
    raw_indices: list[str] = field(default_factory=list)

    @property
    def sessions(self) -> Any:
        if self._sessions is None:
            from directory.registry.db import make_sessionmaker

            self._sessions = make_sessionmaker(registry(self.count))
        return self._sessions

    def embedded(self) -> Any:
        """The product's embedded index of this registry (built by the first caller)."""
        if self._embedded is None:
            from indexer.embedded import EmbeddedEngine
            from indexer.sync import full_reindex

            engine = EmbeddedEngine(self.work / "embedded.sqlite3")
            say(f"building the embedded index of {self.count:,} activities")
            full_reindex(self.sessions, engine, f"{self.prefix}-embedded", TODAY)
            self._embedded = engine
        return self._embedded

    def documents(self) -> list[dict[str, Any]]:
        """Every listed document, as the engine holds it (the contract's `documents`)."""
        if self._documents is None:
            engine = self.embedded()
            ids = sorted(engine.ids())
            held = engine.documents(ids)
            self._documents = [held[i] for i in ids]
        return self._documents

    def opensearch(self) -> Any:
        if self._opensearch is None:
            from indexer.opensearch import OpenSearchEngine

            self._opensearch = OpenSearchEngine.from_config(self.opensearch_url, self.prefix)
        return self._opensearch

    def opensearch_index(self) -> Any:
        """The OpenSearch engine with this registry indexed (once, if os_reindex did not)."""
        engine = self.opensearch()
        if not self._opensearch_built:
            from indexer.sync import full_reindex

            say(f"indexing {self.count:,} activities into OpenSearch ({self.prefix})")
            full_reindex(self.sessions, engine, f"{self.prefix}-opensearch", TODAY)
            self._opensearch_built = True
        return engine

    def env(self, data: Path) -> dict[str, str]:
        env = {
            **os.environ,
            "DIRECTORY_DATA_DIR": str(data),
            "DATABASE_URL": f"sqlite:///{registry_path(self.count).resolve()}",
            "SEARCH_BACKEND": "opensearch",
            "OPENSEARCH_URL": self.opensearch_url,
            "OPENSEARCH_INDEX_PREFIX": self.prefix,
            "SYNC_AFTER_WRITE": "0",
        }
        if not self.cache:
            # The mix repeats 16 queries, so with the app's answer cache every request after
            # the first would be a hit: the figure would measure the cache, not the request
            # path against the engine. (`--cache` keeps it, to see what a hit costs.)
            env["SEARCH_CACHE_ENTRIES"] = "0"
        env.pop("SECRET_KEY", None)  # the workers share the data folder's key
        return env

    def server(self) -> str:
        """gunicorn serving the app on OpenSearch; its base URL."""
        if self._server is None:
            self.opensearch_index()
            data = self.work / "web"
            data.mkdir(exist_ok=True)
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            cmd = [
                str(BIN / "gunicorn"),
                "--workers", str(self.workers),
                "--worker-class", self.worker_class,
                "--threads", str(self.threads),
                "--bind", f"127.0.0.1:{port}",
                "--timeout", "60",
                "--log-level", "warning",
                "directory.web:create_app()",
            ]  # fmt: skip
            process = subprocess.Popen(cmd, env=self.env(data), cwd=ROOT)
            base = f"http://127.0.0.1:{port}"
            self._server = (process, base)
            status = 0
            for _ in range(150):
                with contextlib.suppress(OSError):
                    status, _ = Http(base).request("GET", "/api/v1/search?q=heart")
                    if status == 200:
                        break
                time.sleep(0.2)
            else:
                raise RuntimeError(f"gunicorn did not answer 200 (last: {status or 'nothing'})")
        return self._server[1]

    def recorded(self, kind: str) -> list[list[tuple[str, str, bytes]]]:
        """For each query of the mix, the search requests the product sends OpenSearch to
        answer it on `kind` ("api" or "html"), recorded at the transport of opensearch-py
        while the app answers in-process: (method, path with query string, JSON body)."""
        if kind not in self._recorded:
            from directory.config import Config
            from directory.web import create_app

            self.opensearch_index()
            data = self.work / "web"
            data.mkdir(exist_ok=True)
            app = create_app(Config.from_env(self.env(data)))
            client = app.test_client()
            found = []
            with recording_searches() as calls:
                for path in paths(kind):
                    calls.clear()
                    response = client.get(path)
                    if response.status_code != 200:
                        raise RuntimeError(f"{path}: HTTP {response.status_code}")
                    found.append(list(calls))
            self._recorded[kind] = found
        return self._recorded[kind]

    def close(self) -> None:
        if self._server is not None:
            process = self._server[0]
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if self._opensearch is not None:
            with contextlib.suppress(Exception):
                self._opensearch.drop()
        if self._opensearch is not None or self.raw_indices:
            # Whatever else the engine made under this run's prefix (its internals change).
            raw = Http(self.opensearch_url)
            for name in [*self.raw_indices, f"{self.prefix}-*"]:
                with contextlib.suppress(Exception):
                    raw.request("DELETE", f"/{name}?expand_wildcards=all")
        shutil.rmtree(self.work, ignore_errors=True)


def registry_path(count: int) -> Path:
    return Path("var/bench") / f"registry-{count}.sqlite3"


def paths(kind: str) -> list[str]:
    prefix = "/api/v1/search?" if kind == "api" else "/?"
    return [prefix + urllib.parse.urlencode(as_args(q), doseq=True) for q in QUERIES]


def timed(action: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """(seconds, answer) of `action(*args)`."""
    started = time.perf_counter()
    value = action(*args)
    return time.perf_counter() - started, value


# --- the figures -------------------------------------------------------------------------------


def os_reindex(ctx: Context) -> list[dict]:
    """full_reindex into OpenSearch, against raw _bulk of the same documents."""
    from indexer.sync import full_reindex

    engine = ctx.opensearch()
    documents = ctx.documents()
    chunks = ndjson_chunks(documents)
    raw = Http(ctx.opensearch_url)
    product, limit = [], []
    for n in range(ctx.rounds):
        # As `directory index` runs it (rendering in a process of its own).
        seconds, stats = timed(
            partial(full_reindex, render_apart=True),
            ctx.sessions,
            engine,
            f"{ctx.prefix}-opensearch",
            TODAY,
        )
        ctx._opensearch_built = True
        product.append(stats.documents / seconds)
        name = f"{ctx.prefix}-rawbulk-{n}"
        ctx.raw_indices.append(name)
        seconds, written = timed(raw_bulk, ctx.opensearch_url, name, chunks)
        raw.request("DELETE", f"/{name}")
        if written != len(documents):
            raise RuntimeError(f"raw bulk wrote {written} of {len(documents)}")
        limit.append(written / seconds)
        say(f"  os_reindex round {n + 1}: {product[-1]:,.0f} vs {limit[-1]:,.0f} docs/s")
    return [row(ctx.count, "os_reindex", product, limit, documents=len(documents))]


def ndjson_chunks(documents: list[dict[str, Any]]) -> list[bytes]:
    """The documents as bulk "index" lines, cut into requests of at most BULK_BYTES."""
    chunks: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for doc in documents:
        line = (
            json.dumps({"index": {"_id": str(doc["id"])}}) + "\n" + json.dumps(doc) + "\n"
        ).encode()
        if current and size + len(line) > BULK_BYTES:
            chunks.append(b"".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line)
    if current:
        chunks.append(b"".join(current))
    return chunks


def mapping() -> dict[str, Any]:
    from importlib.resources import files

    loaded: dict[str, Any] = json.loads(
        files("indexer.opensearch").joinpath("mapping.json").read_text()
    )
    return loaded


def raw_bulk(url: str, name: str, chunks: list[bytes]) -> int:
    """Create the index (the product's mapping, loading settings as the product loads with),
    send the chunks over BULK_CONNECTIONS connections, restore refresh and refresh: written."""
    body = mapping()
    final_refresh = body["settings"]["index"].get("refresh_interval", "1s")
    body["settings"]["index"].update(
        {"refresh_interval": "-1", "number_of_replicas": 0, "auto_expand_replicas": "false"}
    )
    admin = Http(url)
    status, answer = admin.request("PUT", f"/{name}", json.dumps(body).encode())
    if status != 200:
        raise RuntimeError(f"create {name}: {status} {answer[:300]!r}")
    pending = list(reversed(chunks))
    lock = threading.Lock()
    written = [0] * BULK_CONNECTIONS
    errors: list[str] = []

    def sender(n: int) -> None:
        conn = Http(url)
        while True:
            with lock:
                if not pending:
                    break
                chunk = pending.pop()
            status, answer = conn.request("POST", f"/{name}/_bulk", chunk)
            reply = json.loads(answer)
            if status != 200 or reply.get("errors"):
                errors.append(f"{status} {answer[:300]!r}")
            written[n] += len(reply.get("items", ()))
        conn.close()

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(BULK_CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"raw bulk failed: {errors[0]}")
    settings = {"index": {"refresh_interval": final_refresh}}
    admin.request("PUT", f"/{name}/_settings", json.dumps(settings).encode())
    admin.request("POST", f"/{name}/_refresh")
    return sum(written)


def embedded_reindex(ctx: Context) -> list[dict]:
    """full_reindex into the embedded engine, against its reindex of prebuilt documents."""
    from indexer.embedded import EmbeddedEngine
    from indexer.sync import full_reindex

    documents = ctx.documents()
    product, limit = [], []
    for n in range(ctx.rounds):
        engine = EmbeddedEngine(ctx.work / "reindex-product.sqlite3")
        seconds, stats = timed(
            partial(full_reindex, render_apart=True),
            ctx.sessions,
            engine,
            f"{ctx.prefix}-rx",
            TODAY,
        )
        product.append(stats.documents / seconds)
        engine = EmbeddedEngine(ctx.work / "reindex-limit.sqlite3")
        seconds, stats = timed(engine.reindex, iter(documents))
        limit.append(stats.documents / seconds)
        say(f"  embedded_reindex round {n + 1}: {product[-1]:,.0f} vs {limit[-1]:,.0f} docs/s")
    for name in ("reindex-product.sqlite3", "reindex-limit.sqlite3"):
        (ctx.work / name).unlink(missing_ok=True)
    return [row(ctx.count, "embedded_reindex", product, limit, documents=len(documents))]


def search(ctx: Context) -> list[dict]:
    """The embedded engine's search against the bitmap floor, query by query."""
    from bench.floor import BitmapFloor, result_counts
    from directory.search import parse_request

    engine = ctx.embedded()
    floor = BitmapFloor(ctx.work / "floor.sqlite3")
    say("loading the bitmap floor")
    floor.load(ctx.documents())
    requests = [parse_request(as_args(q)) for q in QUERIES]
    for r in requests:  # warm both once: caches, the page cache, first-use compilation
        engine.search(r, TODAY)
        floor.search(r, TODAY)
    p50: tuple[list[float], list[float]] = ([], [])
    p95: tuple[list[float], list[float]] = ([], [])
    mismatches: list[str] = []
    for n in range(ctx.rounds):
        product, limit = [], []
        for q, r in zip(QUERIES, requests, strict=True):
            seconds, result = timed(engine.search, r, TODAY)
            product.append(seconds * 1000)
            seconds, (counts, _, _) = timed(floor.search, r, TODAY)
            limit.append(seconds * 1000)
            if result_counts(result) != counts:
                mismatches.append(f"round {n + 1}: {q}")
        for side, samples in enumerate((product, limit)):
            p50[side].append(percentile(samples, 50))
            p95[side].append(percentile(samples, 95))
        say(
            f"  search round {n + 1}: p50 {percentile(product, 50):.1f} vs "
            f"{percentile(limit, 50):.1f} ms, p95 {percentile(product, 95):.1f} vs "
            f"{percentile(limit, 95):.1f} ms"
        )
    floor.close()
    if mismatches:
        say(f"  the floor answered differently on {len(mismatches)} searches: {mismatches[:3]}")
    checked = {"equal_counts": not mismatches, "mismatches": mismatches[:20]}
    return [
        row(ctx.count, "search_p50", p50[0], p50[1], **checked),
        row(ctx.count, "search_p95", p95[0], p95[1], **checked),
    ]


def _latency(ctx: Context, kind: str) -> dict:
    base = ctx.server()
    recorded = ctx.recorded(kind)
    product_conn, raw_conn = Http(base), Http(ctx.opensearch_url)
    decode = kind == "api"  # a JSON client parses the answer; a browser's page is bytes here

    def product_once(path: str) -> None:
        status, body = product_conn.request("GET", path)
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status}")
        if decode:
            json.loads(body)

    def raw_once(calls: list[tuple[str, str, bytes]]) -> None:
        for method, path, body in calls:
            status, answer = raw_conn.request(method, path, body)
            if status != 200:
                raise RuntimeError(f"{path}: HTTP {status} {answer[:200]!r}")
            json.loads(answer)

    targets = list(zip(paths(kind), recorded, strict=True))
    for path, calls in targets:  # warm
        product_once(path)
        raw_once(calls)
    product, limit = [], []
    for n in range(ctx.rounds):
        ours, theirs = [], []
        for path, calls in targets:
            ours.append(timed(product_once, path)[0] * 1000)
            theirs.append(timed(raw_once, calls)[0] * 1000)
        product.append(percentile(ours, 50))
        limit.append(percentile(theirs, 50))
        say(f"  {kind} round {n + 1}: p50 {product[-1]:.1f} vs {limit[-1]:.1f} ms")
    product_conn.close()
    raw_conn.close()
    searches = sum(len(c) for c in recorded)
    return row(
        ctx.count,
        kind,
        product,
        limit,
        worker_class=ctx.worker_class,
        workers=ctx.workers,
        threads=ctx.threads,
        opensearch_requests_per_query=round(searches / len(recorded), 2),
    )


def api(ctx: Context) -> list[dict]:
    return [_latency(ctx, "api")]


def html(ctx: Context) -> list[dict]:
    return [_latency(ctx, "html")]


def _clients(seconds: float, make: Callable[[], Callable[[int], None]], jobs: int) -> float:
    """CLIENTS threads, each doing its job i, i+1, ... for `seconds`: requests per second."""
    done = [0] * CLIENTS
    deadline = time.perf_counter() + seconds
    failures: list[BaseException] = []

    def client(n: int) -> None:
        job = make()
        i = n
        try:
            while time.perf_counter() < deadline:
                job(i % jobs)
                done[n] += 1
                i += 1
        except BaseException as exc:  # reported below: a failed client must not pass silently
            failures.append(exc)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    return sum(done) / (time.perf_counter() - started)


def throughput(ctx: Context) -> list[dict]:
    """CLIENTS concurrent clients on the API, against as many replaying the raw searches."""
    base = ctx.server()
    recorded = ctx.recorded("api")
    api_paths = paths("api")

    def product_client() -> Callable[[int], None]:
        conn = Http(base)

        def job(i: int) -> None:
            status, _ = conn.request("GET", api_paths[i])
            if status != 200:
                raise RuntimeError(f"{api_paths[i]}: HTTP {status}")

        return job

    def raw_client() -> Callable[[int], None]:
        conn = Http(ctx.opensearch_url)

        def job(i: int) -> None:
            for method, path, body in recorded[i]:
                status, _ = conn.request(method, path, body)
                if status != 200:
                    raise RuntimeError(f"{path}: HTTP {status}")

        return job

    _clients(1, product_client, len(QUERIES))  # warm every worker
    product, limit = [], []
    for n in range(ctx.rounds):
        product.append(_clients(ctx.seconds, product_client, len(QUERIES)))
        limit.append(_clients(ctx.seconds, raw_client, len(QUERIES)))
        say(f"  throughput round {n + 1}: {product[-1]:.1f} vs {limit[-1]:.1f} req/s")
    return [
        row(
            ctx.count,
            "throughput",
            product,
            limit,
            clients=CLIENTS,
            seconds_per_round=ctx.seconds,
            worker_class=ctx.worker_class,
            workers=ctx.workers,
            threads=ctx.threads,
        )
    ]


def csv_import(ctx: Context) -> list[dict]:
    """`directory import` of a CSV into an empty registry, against bench.csv_floor."""
    from bench import import_csv
    from directory.registry.db import make_engine, make_sessionmaker, upgrade
    from directory.registry.models import Provider

    # The importer checks against the real today: the file's activities must not have ended.
    import_csv.TODAY = date.today()
    path = ctx.work / "activities.csv"
    if not path.exists():
        say(f"writing a {ctx.csv_rows:,}-row CSV")
        import_csv.make_csv(path, ctx.csv_rows)

    def empty_registry(name: str) -> str:
        file = ctx.work / name
        file.unlink(missing_ok=True)
        url = f"sqlite:///{file}"
        upgrade(url)
        engine = make_engine(url)
        with make_sessionmaker(engine).begin() as session:
            session.add(
                Provider(id=1, name="Benchmark Provider", accreditation_status="Accreditation")
            )
        engine.dispose()
        return url

    def run(cmd: list[str], url: str) -> str:
        env = {**os.environ, "DATABASE_URL": url, "DIRECTORY_DATA_DIR": str(ctx.work / "csv")}
        done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{cmd[:3]} failed: {done.stderr[-500:]}")
        return done.stdout

    # Two floors: a bare one (the csv module and plain conversions), and the product's own
    # reader and normalization with Core inserts (bench.csv_floor.load_with_reader).
    product, limit, reader = [], [], []
    for n in range(ctx.rounds):
        url = empty_registry("import-product.sqlite3")
        cmd = [str(BIN / "directory"), "import", str(path), "--provider", "1"]
        seconds, out = timed(run, cmd, url)
        if "created" not in out:
            raise RuntimeError(f"directory import: {out[-300:]}")
        product.append(seconds)
        url = empty_registry("import-floor.sqlite3")
        cmd = [sys.executable, "-m", "bench.csv_floor", str(path), url]
        seconds, out = timed(run, cmd, url)
        limit.append(seconds)
        url = empty_registry("import-reader.sqlite3")
        cmd = [sys.executable, "-m", "bench.csv_floor", "--reader", str(path), url]
        seconds, out = timed(run, cmd, url)
        reader.append(seconds)
        say(f"  csv round {n + 1}: {product[-1]:.1f} vs {limit[-1]:.1f} (bare), {reader[-1]:.1f} s")
    return [
        row(ctx.count, "csv", product, limit, rows=ctx.csv_rows),
        row(ctx.count, "csv_reader", product, reader, rows=ctx.csv_rows),
    ]


FIGURES: dict[str, Callable[[Context], list[dict]]] = {
    "os_reindex": os_reindex,
    "embedded_reindex": embedded_reindex,
    "search": search,
    "api": api,
    "html": html,
    "throughput": throughput,
    "csv": csv_import,
}


# --- results, table and plot ---------------------------------------------------------------


def results_file(count: int) -> Path:
    return RESULTS / f"ratios-{count}.json"


def load_results(count: int) -> dict[str, dict]:
    path = results_file(count)
    return json.loads(path.read_text())["rows"] if path.exists() else {}


def save_results(count: int, rows: dict[str, dict], meta: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    merged = {**load_results(count), **rows}
    ordered = {k: merged[k] for k in ROWS if k in merged}
    body = {"count": count, **meta, "rows": ordered}
    results_file(count).write_text(json.dumps(body, indent=1) + "\n")


def _figure(value: float, unit: str) -> str:
    if unit == "docs/s":
        return f"{value:,.0f} docs/s"
    if unit == "req/s":
        return f"{value:,.1f} req/s"
    if unit == "s":
        return f"{value:,.1f} s"
    return f"{value:,.1f} ms"


def markdown(count: int) -> str:
    rows = load_results(count)
    lines = [
        f"**{count:,} activities**",
        "",
        "| what | product | limit | product ÷ limit | target | met? |",
        "|---|---|---|---|---|---|",
    ]
    for name in ROWS:
        r = rows.get(name)
        if r is None:
            continue
        spread = f" ({min(r['ratios']):.2f}–{max(r['ratios']):.2f})" if len(r["ratios"]) > 1 else ""
        met = {True: "yes", False: "**no**", None: "–"}[r["met"]]
        if name.startswith("search") and not r.get("equal_counts", True):
            met += " (floor's counts differed!)"
        lines.append(
            f"| {r['what']} | {_figure(r['product_median'], r['unit'])} | "
            f"{_figure(r['limit_median'], r['unit'])} | {r['ratio']:.2f}{spread} | "
            f"{r['target'] or '–'} | {met} |"
        )
    return "\n".join(lines)


def plot() -> Path | None:
    """bench/results/ratios.png: each figure's product and limit by registry size."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("matplotlib is missing (pip install -e '.[bench]'): no plot")
        return None
    by_size = {c: load_results(c) for c in SIZES if results_file(c).exists()}
    names = [n for n in ROWS if any(n in rows for rows in by_size.values())]
    if not names:
        return None
    columns = 4
    lines = -(-len(names) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(12, 2.8 * lines), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        sizes = [c for c, rows in by_size.items() if name in rows]
        for side, style in (("product", "o-"), ("limit", "s--")):
            ax.plot(sizes, [by_size[c][name][f"{side}_median"] for c in sizes], style, label=side)
        ax.set_xscale("log")
        ax.set_xticks(sizes, [f"{c // 1000:,}k" for c in sizes])
        ratios = ", ".join(f"{by_size[c][name]['ratio']:.2f}" for c in sizes)
        ax.set_title(f"{name} ({ROWS[name][1]})\nratio {ratios}", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    out = RESULTS / "ratios.png"
    fig.savefig(out, dpi=72)
    plt.close(fig)
    return out


# --- the command --------------------------------------------------------------------------------


def opensearch_default() -> str:
    return os.environ.get("OPENSEARCH_URL", "http://127.0.0.1:9200")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, choices=SIZES)
    parser.add_argument("--only", default=",".join(ALL), help=f"some of {','.join(ALL)}")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5, help="per throughput round")
    parser.add_argument("--csv-rows", type=int, default=50_000)
    parser.add_argument("--opensearch-url", default=opensearch_default())
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--threads", type=int, default=4, help="per gthread worker")
    parser.add_argument(
        "--cache", action="store_true", help="leave the app's search answer cache on"
    )
    parser.add_argument("--markdown", action="store_true", help="print the table for BENCHMARKS.md")
    parser.add_argument("--report-only", action="store_true", help="measure nothing")
    args = parser.parse_args()
    chosen = [f.strip() for f in args.only.split(",") if f.strip()]
    unknown = sorted(set(chosen) - set(FIGURES))
    if unknown:
        parser.error(f"unknown figures {unknown}: choose from {','.join(ALL)}")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    failed: dict[str, str] = {}
    if not args.report_only:
        os.chdir(ROOT)  # var/bench and the registries are relative to the checkout
        if args.count >= 1_000_000 and not registry_path(args.count).exists():
            say("generating the 1,000,000-activity registry (once; it is reused afterwards)")
        ctx = Context(
            count=args.count,
            rounds=args.rounds,
            seconds=args.seconds,
            opensearch_url=args.opensearch_url.rstrip("/"),
            workers=args.workers,
            worker_class=args.worker_class,
            threads=args.threads,
            csv_rows=args.csv_rows,
            work=Path(tempfile.mkdtemp(prefix="bench-ratios-")),
            cache=args.cache,
        )
        measured: dict[str, dict] = {}
        try:
            for name in chosen:
                say(f"{name} at {args.count:,} activities, {args.rounds} rounds")
                try:
                    for r in FIGURES[name](ctx):
                        measured[r["name"]] = r
                except Exception as exc:  # the other figures still run; the error is reported
                    traceback.print_exc()
                    failed[name] = f"{type(exc).__name__}: {exc}"
        finally:
            ctx.close()
        meta = {"rounds": args.rounds, "python": sys.version.split()[0], "cpus": os.cpu_count()}
        if ctx._documents is not None:
            meta["listed_documents"] = len(ctx._documents)
        save_results(args.count, measured, meta)
        picture = plot()
        say(f"results: {results_file(args.count)}" + (f", plot: {picture}" if picture else ""))
        for name, reason in failed.items():
            say(f"FAILED {name}: {reason}")
    print(markdown(args.count) if args.markdown else _summary(args.count))
    if failed:
        sys.exit(1)


def _summary(count: int) -> str:
    return "\n".join(
        f"{r['name']}: product {_figure(r['product_median'], r['unit'])}, limit "
        f"{_figure(r['limit_median'], r['unit'])}, ratio {r['ratio']:.2f} (target "
        f"{r['target'] or '-'}: {r['met']})"
        for r in load_results(count).values()
    )


if __name__ == "__main__":
    main()
