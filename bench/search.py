"""Benchmark: full reindex of N activities, then search latency with every facet counted.

    .venv/bin/python -m bench.search --backend embedded [--count 100000]
    .venv/bin/python -m bench.search --backend opensearch   # needs scripts/opensearch start

The registry is generated once into var/bench/registry-N.sqlite3 and reused. Searches are a
fixed mix of what physicians send (text, board, practice area, location, dates, sorts); each
returns all twelve facets. Prints reindex time, then p50 / p95 / max latency over the mix.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from datetime import date
from pathlib import Path

from directory.demo import generate_into
from directory.registry.db import make_engine, make_sessionmaker, upgrade
from directory.search import parse_request
from indexer.engine import SearchEngine
from indexer.sync import full_reindex

TODAY = date(2026, 11, 22)
QUERIES: list[dict[str, str | list[str]]] = [
    {},
    {"board": "ABIM"},
    {"q": "heart failure"},
    {"q": "diabetes", "board": "ABIM"},
    {"q": "pediatric asthma", "fee": "free"},
    {"practice_area": "ABIM:Cardiovascular Disease", "delivery": "online"},
    {"q": "opioid"},
    {"state": ["CA", "NY"], "when": "upcoming"},
    {"board": ["ABA", "ABS"], "sort": "credits"},
    {"q": "sepsis", "when": "this_month"},
    {"board": "ABP", "sort": "points"},
    {"q": "afib anticoagulation", "board": "ABIM", "credit_type": "ABIM:Medical Knowledge"},
    {"when": "available_now", "fee": "free", "board": "ABPath"},
    {"q": "knee arthroplasty", "board": "ABOS", "page": "3"},
    {"claim_within": "30", "board": "ABIM", "sort": "deadline"},
    {"q": "cardiolgy"},
]


def as_args(d: dict):  # a MultiDict-like view of a plain dict
    from werkzeug.datastructures import MultiDict

    return MultiDict([(k, x) for k, v in d.items() for x in (v if isinstance(v, list) else [v])])


def registry(count: int):
    path = Path("var/bench") / f"registry-{count}.sqlite3"
    url = f"sqlite:///{path}"
    if not path.exists():
        upgrade(url)
        generate_into(make_engine(url), count=count, seed=2026, today=TODAY, progress=True)
    return make_engine(url)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["embedded", "opensearch"], default="embedded")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    sessions = make_sessionmaker(registry(args.count))
    engine: SearchEngine
    if args.backend == "embedded":
        from indexer.embedded import EmbeddedEngine

        engine = EmbeddedEngine(Path("var/bench") / f"search-{args.count}.sqlite3")
    else:
        from indexer.opensearch import OpenSearchEngine

        engine = OpenSearchEngine.from_config(
            os.environ.get("OPENSEARCH_URL", "http://127.0.0.1:9200"), "bench"
        )
    stats = full_reindex(sessions, engine, f"bench-{args.backend}", TODAY, progress=True)
    requests = [parse_request(as_args(q)) for q in QUERIES]
    for r in requests:  # warm caches once
        engine.search(r, TODAY)
    latencies = []
    for _ in range(args.rounds):
        for r in requests:
            started = time.perf_counter()
            engine.search(r, TODAY)
            latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.backend}: {args.count} activities -> {stats.documents} listed documents, "
        f"full reindex {stats.seconds:.1f} s; {len(latencies)} searches with all "
        f"{12} facets: p50 {statistics.median(latencies):.0f} ms, p95 {p95:.0f} ms, "
        f"max {latencies[-1]:.0f} ms; peak RSS of this process {peak_mib:.0f} MiB"
    )


if __name__ == "__main__":
    main()
