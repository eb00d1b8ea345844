"""Benchmark: distance searches ("near Omaha, NE, within 75 mi"), on both engines.

    .venv/bin/python -m bench.near [--count 100000] [--rounds 10]
    OPENSEARCH_URL=$(scripts/opensearch url) .venv/bin/python -m bench.near   # both engines

Two figures, each measured in one run, interleaved query by query, round by round (the
machine is shared: only the ratio means much; the absolute figures are context):
- embedded: a near search (radius filter, every facet counted, nearest first) against the
  very same search without the distance: what the R*Tree look-up and the exact distances add;
- OpenSearch: the engine's near search (compile, send, parse) against raw `_search` of the
  identical request bodies on a kept-alive connection.

The registry is `bench.search.registry` (var/bench/registry-N.sqlite3), upgraded to the
current schema; both indexes are built fresh here, so every document has its places.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from bench.ratios import Http, percentile, recording_searches
from bench.search import TODAY, as_args, registry
from directory.registry.db import make_sessionmaker, upgrade
from directory.search import SearchRequest, parse_request
from indexer.engine import SearchEngine
from indexer.sync import full_reindex

# Where physicians search from: big cities, small ones, a ZIP code, resort country.
ORIGINS = [
    "Omaha, NE",
    "Chicago, IL",
    "Houston, TX",
    "Boston, MA",
    "Denver, CO",
    "Seattle, WA",
    "Atlanta, GA",
    "Des Moines, IA",
    "10001",
    "Park City, UT",
    "Toronto, ON",
    "Phoenix, AZ",
]
SHAPES: list[dict[str, str]] = [
    {"within": "75"},
    {"within": "75", "sort": "distance"},
    {"within": "250", "sort": "distance", "include_online": "yes"},
    {"within": "50", "board": "ABIM"},
]


def requests() -> list[SearchRequest]:
    return [
        parse_request(as_args({"near": origin, **shape})) for origin in ORIGINS for shape in SHAPES
    ]


def without_distance(request: SearchRequest) -> SearchRequest:
    sort = None if request.sort == "distance" else request.sort
    return replace(
        request, near=None, near_place=None, within=None, include_online=False, sort=sort
    )


def _ms(action: Any, *args: Any) -> float:
    started = time.perf_counter()
    action(*args)
    return (time.perf_counter() - started) * 1000


def _interleaved(
    label: str, limit_name: str, pairs: list[tuple[Any, Any]], rounds: int
) -> list[tuple[float, float, float, float]]:
    """Each round, every (product, limit) pair of calls timed one after the other: the
    round's product p50 and p95, then the limit's. Both are called once first, to warm."""
    for product, limit in pairs:
        product()
        limit()
    per_round = []
    for n in range(rounds):
        ours, base = [], []
        for product, limit in pairs:
            ours.append(_ms(product))
            base.append(_ms(limit))
        per_round.append(
            (percentile(ours, 50), percentile(ours, 95), percentile(base, 50), percentile(base, 95))
        )
        print(
            f"  {label} round {n + 1}: near p50 {per_round[-1][0]:.1f} ms, "
            f"{limit_name} {per_round[-1][2]:.1f} ms",
            flush=True,
        )
    return per_round


def embedded_figure(engine: SearchEngine, rounds: int) -> dict[str, Any]:
    pairs = [
        (partial(engine.search, r, TODAY), partial(engine.search, without_distance(r), TODAY))
        for r in requests()
    ]
    per_round = _interleaved("embedded", "without distance", pairs, rounds)
    return _summary("embedded near search vs the same search without distance", per_round)


def _recorded(engine: Any, request: SearchRequest) -> list[tuple[str, str, bytes]]:
    """The search requests the engine sends OpenSearch to answer `request`."""
    with recording_searches() as calls:
        engine.search(request, TODAY)
    return list(calls)


def opensearch_figure(engine: Any, url: str, rounds: int) -> dict[str, Any]:
    near = requests()
    recorded = [_recorded(engine, r) for r in near]
    raw = Http(url)

    def raw_once(calls: list[tuple[str, str, bytes]]) -> None:
        for method, path, body in calls:
            status, answer = raw.request(method, path, body)
            if status != 200:
                raise RuntimeError(f"{path}: HTTP {status} {answer[:200]!r}")
            json.loads(answer)

    pairs = [
        (partial(engine.search, r, TODAY), partial(raw_once, calls))
        for r, calls in zip(near, recorded, strict=True)
    ]
    per_round = _interleaved("opensearch", "raw _search", pairs, rounds)
    raw.close()
    requests_per_search = sum(len(c) for c in recorded) / len(recorded)
    return {
        **_summary("OpenSearch near search vs raw _search, identical bodies", per_round),
        "requests_per_search": requests_per_search,
    }


def _summary(name: str, per_round: list[tuple[float, float, float, float]]) -> dict[str, Any]:
    return {
        "figure": name,
        "p50_ratio": statistics.median(r[0] / r[2] for r in per_round),
        "p95_ratio": statistics.median(r[1] / r[3] for r in per_round),
        "p50_ms": statistics.median(r[0] for r in per_round),
        "p95_ms": statistics.median(r[1] for r in per_round),
        "limit_p50_ms": statistics.median(r[2] for r in per_round),
        "limit_p95_ms": statistics.median(r[3] for r in per_round),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    path = Path("var/bench") / f"registry-{args.count}.sqlite3"
    db = registry(args.count)
    upgrade(f"sqlite:///{path}")
    sessions = make_sessionmaker(db)
    from indexer.embedded import EmbeddedEngine

    figures = []
    embedded = EmbeddedEngine(Path("var/bench") / f"near-{args.count}.sqlite3")
    stats = full_reindex(sessions, embedded, "bench-near-embedded", TODAY)
    print(f"embedded: {stats.documents} documents indexed in {stats.seconds:.1f} s", flush=True)
    figures.append(embedded_figure(embedded, args.rounds))
    url = os.environ.get("OPENSEARCH_URL")
    if url:
        from indexer.opensearch import OpenSearchEngine

        opensearch = OpenSearchEngine.from_config(url, "bench-near")
        stats = full_reindex(sessions, opensearch, "bench-near-opensearch", TODAY)
        print(f"opensearch: {stats.documents} documents indexed in {stats.seconds:.1f} s")
        figures.append(opensearch_figure(opensearch, url, args.rounds))
    print(
        f"\n{args.count:,} activities, {len(requests())} near searches a round, "
        f"{args.rounds} rounds (median of the rounds):"
    )
    print("| figure | ratio p50 | ratio p95 | p50 ms | p95 ms | limit p50 ms | limit p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for f in figures:
        print(
            f"| {f['figure']} | {f['p50_ratio']:.2f} | {f['p95_ratio']:.2f} | "
            f"{f['p50_ms']:.1f} | {f['p95_ms']:.1f} | {f['limit_p50_ms']:.1f} | "
            f"{f['limit_p95_ms']:.1f} |"
        )
    out = Path("bench/results") / f"near-{args.count}.json"
    out.write_text(
        json.dumps({"count": args.count, "rounds": args.rounds, "figures": figures}, indent=2)
        + "\n"
    )


if __name__ == "__main__":
    main()
