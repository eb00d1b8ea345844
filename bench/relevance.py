"""Search relevance: nDCG@10 of every judged query, on each engine. Not a timed benchmark.

    .venv/bin/python -m bench.relevance [--engine embedded|opensearch|both] [--markdown]
    OPENSEARCH_URL=$(scripts/opensearch url) .venv/bin/python -m bench.relevance

The corpus (`tests/relevance/corpus.toml`: hand-written activities as providers register
them) is loaded into a fresh SQLite registry through the real batch importer, one JSON upload
per provider, so the registry's rules check every record; every activity must be listed and
every board registration complete. It is then indexed into each engine with
`indexer.sync.full_reindex`, and every query of `tests/relevance/judgements.toml` is run
through the engine's own search (`SearchRequest(text=q, per_page=10)`, relevance order).

nDCG@10: gain 2^rel - 1 (rel 3, 2, 1 as judged; unjudged 0), discount log2(rank + 1), divided
by the ideal DCG over all the query's judged activities. A query's target rank is the best
rank (1-10) of any of its targets, or "-" when none is in the top 10.

Prints one row per query (nDCG@10 and target rank per engine), then the mean per engine and
per category, and how many abbreviation, lay-term and procedure queries have no target in
the top 3. `--markdown` prints the same as tables for BENCHMARKS.md. `tests/test_relevance.py`
builds the same corpus with the functions here.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from directory.provider_data.batch import import_records
from directory.provider_data.files import read_records
from directory.registry import rules
from directory.registry.db import make_engine, make_sessionmaker, upgrade
from directory.registry.models import Activity, Provider, with_children
from directory.search import SearchRequest
from indexer.engine import SearchEngine
from indexer.sync import full_reindex

HERE = Path(__file__).resolve().parent.parent / "tests" / "relevance"
CORPUS_PATH = HERE / "corpus.toml"
JUDGEMENTS_PATH = HERE / "judgements.toml"

CATEGORIES = (
    "lay",
    "abbreviation",
    "procedure",
    "misspelling",
    "specialty",
    "drug_class",
    "multiword_cross_field",
    "eponym",
    "plain",
)
# Queries whose best answer must be in the top 3, the targets the query side works toward.
TOP3_CATEGORIES = ("abbreviation", "lay", "procedure")
K = 10
GRADES = (1, 2, 3)


# --- the corpus -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    today: date
    providers: Mapping[str, dict[str, Any]]  # by short code, with "activities" in JSON layout
    keys: tuple[str, ...]  # every provider activity id, in file order


def load_corpus(path: Path = CORPUS_PATH) -> Corpus:
    """The corpus file, each activity completed from [defaults] into the provider-data layout's
    JSON shape, grouped by provider."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    today = date.fromisoformat(data["today"])
    defaults = dict(data["defaults"])
    moc_defaults = dict(defaults.pop("moc"))
    credit_types = defaults.pop("credit_types")
    deadline_days = moc_defaults.pop("claim_deadline_days_after_end")
    providers: dict[str, dict[str, Any]] = {
        code: {**p, "activities": []} for code, p in data["providers"].items()
    }
    keys = []
    for raw in data["activities"]:
        item = dict(raw)
        code = item.pop("provider")
        provider = providers[code]
        activity = {**defaults, **item}
        activity.setdefault("url", f"{provider['url']}/{activity['provider_activity_id'].lower()}")
        end = date.fromisoformat(activity["end_date"])
        activity["moc"] = [
            {
                **moc_defaults,
                "credit_types": credit_types[m["board"]],
                "points": activity["cme_credits"],
                "claim_deadline": (end + timedelta(days=deadline_days)).isoformat(),
                **m,
            }
            for m in item.get("moc", [])
        ]
        provider["activities"].append(activity)
        keys.append(activity["provider_activity_id"])
    return Corpus(today, providers, tuple(keys))


class CorpusError(RuntimeError):
    """The corpus does not load as written: a record the rules refuse, or one not listed."""


def build_registry(url: str, corpus: Corpus | None = None) -> tuple[sessionmaker[Session], Corpus]:
    """A fresh registry at `url` holding the corpus, imported as each provider's JSON upload.

    Raises CorpusError unless every record is accepted without a warning or an incomplete
    registration, and every activity is listed on the corpus's today with every board it
    registers for counted."""
    corpus = corpus or load_corpus()
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    with sessions.begin() as session:
        for n, p in enumerate(corpus.providers.values(), start=1):
            session.add(
                Provider(
                    id=n,
                    name=p["name"],
                    accreditation_status=p["accreditation_status"],
                    accreditor_id=f"{7_000_000 + n:07d}",
                    url=p["url"],
                )
            )
    for n, (code, p) in enumerate(corpus.providers.items(), start=1):
        data = json.dumps({"activities": p["activities"]}).encode()
        name = f"{code.lower()}-activities.json"
        report = import_records(
            sessions, n, partial(read_records, name, data), corpus.today, source="batch"
        )
        problems = [str(m) for m in report.errors + report.warnings]
        if problems or not report.written:
            raise CorpusError(f"{name}: " + "; ".join(problems or ["nothing written"]))
    with sessions() as session:
        for activity in session.scalars(select(Activity).options(*with_children())):
            why = rules.why_not_listed(activity, corpus.today)
            counted = set(rules.counted_boards(activity, corpus.today))
            uncounted = {r.board for r in activity.moc} - counted
            if why or uncounted:
                raise CorpusError(
                    f"{activity.provider_activity_id}: not listed ({'; '.join(why)}) "
                    f"or not counted for {sorted(uncounted)}"
                )
    return sessions, corpus


def keys_by_id(sessions: sessionmaker[Session]) -> dict[int, str]:
    """Registry id -> provider activity id (the judgements' key)."""
    with sessions() as session:
        rows = session.execute(select(Activity.id, Activity.provider_activity_id))
        return {i: key for i, key in rows}


def index_corpus(
    sessions: sessionmaker[Session], engine: SearchEngine, name: str, corpus: Corpus
) -> None:
    """A full reindex of the corpus registry; every activity must be indexed."""
    stats = full_reindex(sessions, engine, f"relevance-{name}", corpus.today)
    if stats.skipped or stats.documents != len(corpus.keys):
        raise CorpusError(
            f"{name}: indexed {stats.documents} of {len(corpus.keys)}; skipped {dict(stats.skipped)}"
        )


# --- the judgements ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    text: str
    category: str
    grades: Mapping[str, int]  # provider activity id -> 3, 2 or 1; unjudged means 0
    targets: tuple[str, ...]  # the best answer(s)
    note: str = ""


def load_judgements(path: Path = JUDGEMENTS_PATH) -> list[Query]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    queries = []
    for q in data["queries"]:
        grades = {key: int(grade) for grade in GRADES for key in q.get(f"grade{grade}", [])}
        targets = tuple(q.get("target") or [k for k, g in grades.items() if g == 3])
        queries.append(Query(q["q"], q["category"], grades, targets, q.get("note", "")))
    return queries


def judgement_problems(queries: Sequence[Query], keys: Iterable[str]) -> list[str]:
    """What is wrong with the judgements: unknown keys, a key graded twice, a category not
    in CATEGORIES, a target not graded 3, a query given twice."""
    known = set(keys)
    problems = []
    seen: set[str] = set()
    for q in queries:
        if q.text in seen:
            problems.append(f"{q.text!r}: given twice")
        seen.add(q.text)
        if q.category not in CATEGORIES:
            problems.append(f"{q.text!r}: unknown category {q.category!r}")
        if not q.targets:
            problems.append(f"{q.text!r}: no target")
        problems += [
            f"{q.text!r}: target {t} is not graded 3" for t in q.targets if q.grades.get(t) != 3
        ]
        problems += [f"{q.text!r}: unknown activity {k}" for k in q.grades if k not in known]
    return problems


def graded_twice(path: Path = JUDGEMENTS_PATH) -> list[str]:
    """Keys that one query grades more than once (load_judgements keeps only the highest)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    problems = []
    for q in data["queries"]:
        listed = [k for grade in GRADES for k in q.get(f"grade{grade}", [])]
        problems += [
            f"{q['q']!r}: {k} graded twice" for k in sorted(set(listed)) if listed.count(k) > 1
        ]
    return problems


# --- measuring --------------------------------------------------------------------------------


def dcg(gains: Iterable[int]) -> float:
    return sum((2**rel - 1) / math.log2(rank + 1) for rank, rel in enumerate(gains, start=1))


def ndcg_at_k(ranked: Sequence[str], grades: Mapping[str, int], k: int = K) -> float:
    ideal = dcg(sorted(grades.values(), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg(grades.get(key, 0) for key in ranked[:k]) / ideal


def target_rank(ranked: Sequence[str], targets: Iterable[str]) -> int | None:
    """The best 1-based rank of any target among `ranked`, or None."""
    wanted = set(targets)
    return next((n for n, key in enumerate(ranked, start=1) if key in wanted), None)


@dataclass(frozen=True)
class Outcome:
    query: Query
    ranked: tuple[str, ...]  # provider activity ids of the top K, in order
    ndcg: float
    rank: int | None
    corrected: str | None


def ranked_keys(
    engine: SearchEngine, text: str, today: date, key_of: Mapping[int, str]
) -> tuple[tuple[str, ...], str | None]:
    """The top K of the engine's own relevance-ordered search, as provider activity ids."""
    result = engine.search(SearchRequest(text=text, per_page=K), today)
    return tuple(key_of[h["id"]] for h in result.hits), result.corrected_text


def measure(
    engine: SearchEngine, queries: Sequence[Query], today: date, key_of: Mapping[int, str]
) -> list[Outcome]:
    outcomes = []
    for q in queries:
        ranked, corrected = ranked_keys(engine, q.text, today, key_of)
        outcomes.append(
            Outcome(
                q, ranked, ndcg_at_k(ranked, q.grades), target_rank(ranked, q.targets), corrected
            )
        )
    return outcomes


def mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


# --- engines ----------------------------------------------------------------------------------


def embedded_engine(folder: Path) -> tuple[SearchEngine, Callable[[], None]]:
    from indexer.embedded import EmbeddedEngine

    return EmbeddedEngine(folder / "search.sqlite3"), lambda: None


def opensearch_engine() -> tuple[SearchEngine, Callable[[], None]]:
    """An engine under a prefix of its own at $OPENSEARCH_URL, and a cleanup that deletes it."""
    import secrets

    from opensearchpy import OpenSearch

    from indexer.opensearch import OpenSearchEngine

    url = os.environ.get("OPENSEARCH_URL") or "http://127.0.0.1:9200"
    user = os.environ.get("OPENSEARCH_USER")
    auth = (user, os.environ.get("OPENSEARCH_PASSWORD", "")) if user else None
    client = OpenSearch(hosts=[url], http_auth=auth, timeout=30, max_retries=0)
    if not client.ping():
        sys.exit(f"OpenSearch is not reachable at {url}; run scripts/opensearch start")
    prefix = f"bench-relevance-{secrets.token_hex(4)}"

    def cleanup() -> None:
        names = client.indices.get(index=f"{prefix}*", expand_wildcards="all", ignore=[404])
        for name in names:
            if name.startswith(prefix):
                client.indices.delete(index=name, ignore=[404])

    return OpenSearchEngine(client, prefix=prefix), cleanup


# --- report -----------------------------------------------------------------------------------


def _rank(rank: int | None) -> str:
    return str(rank) if rank is not None else "-"


def report(results: Mapping[str, list[Outcome]], markdown: bool) -> str:
    engines = list(results)
    first = results[engines[0]]
    lines: list[str] = []

    def table(header: list[str], rows: list[list[str]]) -> None:
        if markdown:
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "|".join("---" for _ in header) + "|")
            lines.extend("| " + " | ".join(r) + " |" for r in rows)
        else:
            widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
            for r in [header, *rows]:
                lines.append("  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)).rstrip())
        lines.append("")

    header = ["query", "category"]
    for e in engines:
        header += [f"nDCG@10 {e}", f"target rank {e}"]
    rows = []
    for n, outcome in enumerate(first):
        q = outcome.query
        text = q.text.replace("|", "\\|") if markdown else q.text
        row = [f"`{text}`" if markdown else text, q.category]
        for e in engines:
            o = results[e][n]
            corrected = f" ({o.corrected})" if o.corrected else ""
            row += [f"{o.ndcg:.3f}", _rank(o.rank) + corrected]
        rows.append(row)
    table(header, rows)

    header = ["category", "queries"] + [f"mean nDCG@10 {e}" for e in engines]
    rows = []
    for category in CATEGORIES:
        n = sum(1 for o in first if o.query.category == category)
        if not n:
            continue
        rows.append(
            [category, str(n)]
            + [
                f"{mean(o.ndcg for o in results[e] if o.query.category == category):.3f}"
                for e in engines
            ]
        )
    rows.append(
        ["all", str(len(first))] + [f"{mean(o.ndcg for o in results[e]):.3f}" for e in engines]
    )
    table(header, rows)

    header = [
        "engine",
        "target in top 1",
        "in top 3",
        "in top 10",
        "abbreviation/lay/procedure queries without a target in the top 3",
    ]
    rows = []
    for e in engines:
        outcomes = results[e]
        missed = [
            o.query.text
            for o in outcomes
            if o.query.category in TOP3_CATEGORIES and (o.rank is None or o.rank > 3)
        ]
        total = sum(1 for o in outcomes if o.query.category in TOP3_CATEGORIES)
        rows.append(
            [
                e,
                f"{sum(1 for o in outcomes if o.rank == 1)}/{len(outcomes)}",
                f"{sum(1 for o in outcomes if o.rank is not None and o.rank <= 3)}/{len(outcomes)}",
                f"{sum(1 for o in outcomes if o.rank is not None)}/{len(outcomes)}",
                f"{len(missed)} of {total}" + (f": {', '.join(missed)}" if missed else ""),
            ]
        )
    table(header, rows)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=["embedded", "opensearch", "both"], default="both")
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    args = parser.parse_args(argv)
    engines = ["embedded", "opensearch"] if args.engine == "both" else [args.engine]

    queries = load_judgements()
    with tempfile.TemporaryDirectory(prefix="relevance-") as folder:
        sessions, corpus = build_registry(f"sqlite:///{Path(folder) / 'registry.sqlite3'}")
        problems = judgement_problems(queries, corpus.keys) + graded_twice()
        if problems:
            sys.exit("judgements.toml: " + "; ".join(problems))
        key_of = keys_by_id(sessions)
        results: dict[str, list[Outcome]] = {}
        for name in engines:
            engine, cleanup = (
                embedded_engine(Path(folder)) if name == "embedded" else opensearch_engine()
            )
            try:
                index_corpus(sessions, engine, name, corpus)
                results[name] = measure(engine, queries, corpus.today, key_of)
            finally:
                cleanup()
        sessions.kw["bind"].dispose()
    categories = {c: sum(1 for q in queries if q.category == c) for c in CATEGORIES}
    print(
        f"{len(corpus.keys)} activities from {len(corpus.providers)} providers, "
        f"{len(queries)} queries ({', '.join(f'{c} {n}' for c, n in categories.items())}); "
        f"today {corpus.today}\n"
    )
    print(report(results, args.markdown))


if __name__ == "__main__":
    main()
