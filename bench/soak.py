"""Soak: the directory under gunicorn with several workers, a steady mix of traffic, and a full
reindex and a 20,000-activity batch import in the middle. Not a test: it reports.

    .venv/bin/python -m bench.soak [--engine embedded|opensearch] [--minutes 10] [--workers 3]

What it checks: no 5xx answer at all (a 503 with Retry-After while the import holds the
registry's write lock is counted apart: it is the documented answer, not a fault, and the
client retries it), p50/p95 per kind of request, and each worker's RSS sampled through the
run (flat means no leak). Traffic goes to 127.0.0.1 only, from a bounded number of client
threads, and stops by itself at the deadline.

The OpenSearch run needs `scripts/opensearch start` (it uses its own index prefix).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
QUERIES = [
    "heart failure",
    "sepsis",
    "opioid prescribing",
    "pediatric asthma",
    "board=ABIM",
    "board=ABA&practice_area=ABA%3ACritical+Care+Medicine",
    "q=diabetes&when=upcoming",
    "q=stroke&sort=soonest",
    "delivery=online&fee=free",
    "q=hip+arthroplasty",
]


def run(cmd: list[str], env: dict[str, str]) -> str:
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def workers(master: int) -> list[int]:
    """The master's child processes (its workers), by each process's parent id."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[1]) == master:
            found.append(int(stat.parent.name))
    return found


class Load:
    def __init__(self, base: str, key: str, activity_ids: list[int], deadline: float) -> None:
        self.base, self.key, self.ids, self.deadline = base, key, activity_ids, deadline
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: dict[int, int] = defaultdict(int)
        self.fivexx: list[str] = []
        self.busy = 0
        self.lock = threading.Lock()

    def request(self, kind: str, url: str, data: bytes | None = None, method: str = "GET") -> None:
        headers = {"Authorization": f"Bearer {self.key}"} if "/provider/" in url else {}
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + url, data=data, method=method, headers=headers)
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                response.read()
                code = response.status
                retry = None
        except urllib.error.HTTPError as exc:
            exc.read()
            code, retry = exc.code, exc.headers.get("Retry-After")
        elapsed = time.perf_counter() - start
        with self.lock:
            self.status[code] += 1
            self.latency[kind].append(elapsed)
            if code == 503 and retry:
                self.busy += 1
            elif code >= 500:
                self.fivexx.append(f"{code} {method} {url}")

    def client(self, seed: int) -> None:
        """Reads as fast as answers come: the search page, the API, detail pages."""
        rnd = random.Random(seed)
        while time.monotonic() < self.deadline:
            roll = rnd.random()
            query = rnd.choice(QUERIES)
            query = query if "=" in query else "q=" + query.replace(" ", "+")
            if roll < 0.5:
                self.request("page", f"/?{query}")
            elif roll < 0.85:
                self.request("api", f"/api/v1/search?{query}")
            else:
                self.request("detail", f"/activities/{rnd.choice(self.ids)}")

    def writer(self, per_second: float) -> None:
        """A provider's steady writes through the web service, under its rate limit (120 a
        minute per address: the whole soak comes from 127.0.0.1)."""
        rnd = random.Random(0)
        year = date.today().year + 1
        while time.monotonic() < self.deadline:
            pid = f"SOAK-{rnd.randrange(200)}"
            body = {
                "provider_activity_id": pid,
                "title": f"Soak test activity {pid}",
                "format": "Course",
                "start_date": f"{year}-03-01",
                "end_date": f"{year}-03-01",
                "delivery": "online",
                "url": "https://example.org/soak",
                "cme_credits": 1,
            }
            self.request(
                "write", f"/api/v1/provider/activities/{pid}", json.dumps(body).encode(), "PUT"
            )
            time.sleep(1 / per_second)


def big_csv(path: Path, count: int) -> int:
    from bench import import_csv

    import_csv.TODAY = date.today()  # the file's activities must not have ended yet
    return import_csv.make_csv(path, count)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=["embedded", "opensearch"], default="embedded")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--import-count", type=int, default=20_000)
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="soak-"))
    env = {
        **os.environ,
        "DIRECTORY_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data / 'directory.sqlite3'}",
        "SEARCH_BACKEND": args.engine,
        "OPENSEARCH_INDEX_PREFIX": f"soak{os.getpid()}",
        "SYNC_AFTER_WRITE": "1",
    }
    env.pop("SECRET_KEY", None)  # the workers must share the data folder's key
    run([str(BIN / "directory"), "setup"], env)
    providers = run([str(BIN / "directory"), "providers"], env).split()
    provider_id = next(p for p in providers if p.isdigit())
    key_out = run([str(BIN / "directory"), "api-key", "create", "--provider", provider_id], env)
    key = next(w for w in key_out.split() if w.startswith("cme_"))
    # The import has a key of its own: the steady writes may meet the per-key rate limit (429,
    # counted apart below), and the import must not be refused for their sake.
    import_out = run(
        [
            str(BIN / "directory"),
            "api-key",
            "create",
            "--provider",
            provider_id,
            "--name",
            "import",
        ],
        env,
    )
    import_key = next(w for w in import_out.split() if w.startswith("cme_"))
    csv_path = data / "big.csv"
    rows = big_csv(csv_path, args.import_count)

    import sqlite3

    db = sqlite3.connect(data / "directory.sqlite3")
    ids = [r[0] for r in db.execute("SELECT id FROM activities WHERE status='Active' LIMIT 500")]
    db.close()

    if not args.port:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            args.port = probe.getsockname()[1]
    gunicorn = subprocess.Popen(  # noqa: S603
        [
            str(BIN / "gunicorn"),
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{args.port}",
            "--timeout",
            "30",
            "--log-level",
            "warning",
            "directory.web:create_app()",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        base = f"http://127.0.0.1:{args.port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/api/v1/suggest?q=he", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)

        seconds = args.minutes * 60
        start = time.monotonic()
        load = Load(base, key, ids, start + seconds)
        threads = [threading.Thread(target=load.client, args=(n,)) for n in range(args.clients)]
        threads.append(threading.Thread(target=load.writer, args=(1.0,)))
        for t in threads:
            t.start()

        rss: dict[int, list[int]] = defaultdict(list)
        events: dict[str, float | str] = {}
        midway_done = False
        job_url = None
        while time.monotonic() < start + seconds:
            for pid in workers(gunicorn.pid):
                rss[pid].append(rss_kib(pid))
            if not midway_done and time.monotonic() > start + seconds / 2:
                midway_done = True
                t0 = time.perf_counter()
                run([str(BIN / "directory"), "index"], env)
                events["full reindex (s)"] = round(time.perf_counter() - t0, 1)
                body = csv_path.read_bytes()
                req = urllib.request.Request(
                    base + "/api/v1/provider/batch?filename=big.csv",
                    data=body,
                    method="POST",
                    headers={"Authorization": f"Bearer {import_key}"},
                )
                t_import = time.perf_counter()
                try:
                    with urllib.request.urlopen(req, timeout=60) as response:
                        events["import answered"] = response.status
                        job_url = json.loads(response.read())["links"]["job"]
                except urllib.error.HTTPError as exc:
                    events["import answered"] = f"{exc.code}: {exc.read()[:300]!r}"
                except urllib.error.URLError as exc:
                    events["import answered"] = f"connection failed: {exc.reason}"
            if job_url:
                req = urllib.request.Request(
                    base + job_url, headers={"Authorization": f"Bearer {import_key}"}
                )
                with urllib.request.urlopen(req, timeout=30) as response:
                    job = json.loads(response.read())["job"]
                if job["status"] in ("done", "failed"):
                    events["import job"] = job["status"]
                    events["import created"] = (job["report"] or {}).get("created", 0)
                    events["import (s)"] = round(time.perf_counter() - t_import, 1)
                    job_url = None
            time.sleep(5)
        for t in threads:
            t.join()
    finally:
        # Stop the server whatever happened, so no run leaves it holding the port.
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=30)

    def pct(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) > 1 else 0

    total = sum(load.status.values())
    print(
        f"\n## Soak: {args.engine}, {args.workers} gunicorn workers, {args.clients} clients, "
        f"{args.minutes:g} min, {rows:,}-row import midway\n"
    )
    print(f"requests {total:,}; status counts {dict(sorted(load.status.items()))}")
    print(
        f"5xx (not counting 503 with Retry-After): {len(load.fivexx)}; 503 busy: {load.busy}; "
        f"429 rate-limited: {load.status.get(429, 0)}"
    )
    for sample in load.fivexx[:10]:
        print("  ", sample)
    print("\n| kind | requests | p50 ms | p95 ms |\n|---|---|---|---|")
    for kind, values in sorted(load.latency.items()):
        print(f"| {kind} | {len(values):,} | {pct(values, 50):.1f} | {pct(values, 95):.1f} |")
    print("\n| worker | RSS first MiB | RSS last MiB | RSS max MiB |\n|---|---|---|---|")
    for pid, kib in rss.items():
        if kib:
            print(f"| {pid} | {kib[0] / 1024:.0f} | {kib[-1] / 1024:.0f} | {max(kib) / 1024:.0f} |")
    print("\n" + "; ".join(f"{k}: {v}" for k, v in events.items()))


if __name__ == "__main__":
    main()
