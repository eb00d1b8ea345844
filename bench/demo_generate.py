"""Benchmark: generate N demo activities into a fresh SQLite registry.

    .venv/bin/python -m bench.demo_generate [--count 100000] [--seed 2026]

Prints the wall time, the rate, the peak memory of this process and a fingerprint of the
database content (the same seed must give the same fingerprint on every run).
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import text

from directory.demo import generate_into
from directory.registry.db import make_engine, upgrade

TABLES = ["providers", "activities", "moc_registrations", "rems_registrations", "occurrences"]


def content_fingerprint(engine) -> str:
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in TABLES:
            for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY id")):  # noqa: S608
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--today", type=date.fromisoformat, default=date(2026, 11, 22))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        upgrade(url)
        engine = make_engine(url)
        started = time.perf_counter()
        stats = generate_into(engine, count=args.count, seed=args.seed, today=args.today)
        elapsed = time.perf_counter() - started
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"demo generate: {stats.activities} activities, {stats.moc_registrations} board "
            f"registrations, {stats.occurrences} occurrences into SQLite in {elapsed:.1f} s "
            f"({stats.activities / elapsed:,.0f} activities/s), peak RSS {peak_mib:.0f} MiB, "
            f"content fingerprint {content_fingerprint(engine)} (seed {args.seed}, today {args.today})"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
