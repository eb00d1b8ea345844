"""Benchmark: import a 50,000-activity CSV file through the batch importer.

    .venv/bin/python -m bench.import_csv [--count 50000]

The file is made from demo activities written in the published CSV layout (with board
registrations, REMS and occurrences). The import runs in a child process so that its peak
memory is the importer's own: it reads the file once, in chunks, checking each and writing
it in the one transaction the end of the file commits.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

TODAY = date(2026, 11, 22)


def make_csv(path: Path, count: int) -> int:
    from directory.demo import generate
    from directory.provider_data.formats.rows import flat_row
    from directory.provider_data.layout import flat_columns

    written = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(flat_columns())
        chunk: dict[str, list] = {}
        for table, rows in generate(int(count * 2.2), seed=7, today=TODAY):
            chunk[table] = rows
            if table != "occurrences":
                continue  # the last table of each chunk: the activities' children are all here
            children: dict[int, dict[str, list]] = {}
            for name in ("moc_registrations", "rems_registrations", "occurrences"):
                for row in chunk.get(name, []):
                    children.setdefault(row.pop("activity_id"), {}).setdefault(name, []).append(row)
            for a in chunk["activities"]:
                # A new activity is Draft or Active, and an Active one has not ended.
                if a["status"] not in ("Draft", "Active") or a["end_date"] < TODAY:
                    continue
                kids = children.get(a["id"], {})
                # What a demo row may not say: no topics, approvals or coordinates.
                payload = {
                    "topics": [],
                    "approvals": [],
                    "latitude": None,
                    "longitude": None,
                    **a,
                    "fee": None,
                }
                payload["occurrences"] = kids.get("occurrences", [])
                payload["moc"] = [
                    {k: v for k, v in m.items()} for m in kids.get("moc_registrations", [])
                ]
                payload["rems"] = kids.get("rems_registrations", [])
                writer.writerow(flat_row(payload))
                written += 1
                if written == count:
                    return written
    return written


def run_import(path: Path) -> None:
    from directory.provider_data.batch import import_records
    from directory.provider_data.files import read_records
    from directory.registry.db import make_engine, make_sessionmaker, upgrade
    from directory.registry.models import Provider

    url = f"sqlite:///{path.parent / 'registry.sqlite3'}"
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    with sessions.begin() as session:
        session.add(Provider(id=1, name="Benchmark Provider", accreditation_status="Accreditation"))
    data = path.read_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    report = import_records(
        sessions, 1, lambda: read_records(path.name, data), TODAY, source="batch"
    )
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": round(elapsed, 1),
                "created": len(report.created),
                "errors": [str(m) for m in report.errors[:5]],
                "warnings": len(report.warnings),
                "file_mib": round(len(data) / 2**20, 1),
                "rss_before_mib": round(before),
                "peak_rss_mib": round(peak),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--import-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.import_only:
        run_import(args.import_only)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "activities.csv"
        rows = make_csv(path, args.count)
        out = subprocess.run(
            [sys.executable, "-m", "bench.import_csv", "--import-only", str(path)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"import: {rows} activities ({result['file_mib']} MiB CSV) -> created "
            f"{result['created']} in {result['seconds']} s, {result['warnings']} warnings, "
            f"errors {result['errors']}; importer RSS {result['rss_before_mib']} MiB before, "
            f"peak {result['peak_rss_mib']} MiB"
        )


if __name__ == "__main__":
    main()
