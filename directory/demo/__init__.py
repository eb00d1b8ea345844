"""Seeded demo data: providers and activities that look like a real registry.

Titles, descriptions and objectives come from real clinical topics for each board's practice
areas (`topics.json`); the mix of formats, statuses, fees, credits and dates is
spread around `today`, with the awkward cases a directory must handle: drafts, ended and
closed activities, providers on probation, incomplete or expired board registrations, REMS
without an RPC id, repeated courses in several cities.

Licensure-mandate topics show too: activities whose subject warrants it carry the topic tags
(`mandate_topics` on a subject), and a small share are the courses states require by name
(`mandate_courses`: "Child Abuse Recognition and Reporting for Pennsylvania Clinicians"), some
approved by the body a state names and some not, so a rule that counts only approved courses
has both kinds. In-person places are real towns the gazetteer locates, resort towns among them
(`more_venues`), picked from fixed lists: nothing is geocoded while generating.

The same (count, seed, today) always gives the same rows, so a bug seen in demo data can be
reproduced. Rows are produced as plain dicts and inserted with executemany in chunks: a
100,000-activity registry loads in seconds, in constant memory.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select

from directory.registry.models import (
    Activity,
    Base,
    MocRegistration,
    Occurrence,
    Provider,
    RemsRegistration,
)
from directory.registry.reference import Reference, reference
from directory.registry.rules import add_months

TOPICS_FILE = Path(__file__).resolve().parent / "topics.json"
CHUNK = 5000
FIRST_ACTIVITY_ID = 210_000_001
# Demo providers' accreditor ids are 0004001, 0004002, ... (seven digits, as rosters print them).
DEMO_ACCREDITOR_ID_BASE = 4000

# How often each board is an activity's "home" board; the rest are for a board with no
# registration program (PM&R) or for no board at all (general Category 1 CME).
HOME_BOARDS = {
    "ABIM": 34, "ABP": 12, "ABA": 11, "ABS": 9, "ABOS": 7,
    "ABOHNS": 6, "ABPath": 6, "ABTS": 4, "ABPMR": 7, None: 4,
}  # fmt: skip

FORMATS = {
    "Course": 34, "Enduring Material": 22, "Regularly Scheduled Series": 12,
    "Internet Live Course": 5, "Internet Enduring Material": 6, "Journal-based CME": 5,
    "Performance/Quality Improvement": 3, "Other/Blended": 3, "Internet Searching and Learning": 2,
    "Learning from Teaching": 2, "Manuscript Review": 2, "Test-Item Writing": 2,
    "Committee Learning": 2,
}  # fmt: skip

STATUSES = {"Active": 84, "Draft": 6, "Ready to Close": 6, "Closed": 4}
DELIVERY = {"in person": 60, "both": 25, "online": 15}  # of a live activity not held online
ACCREDITATION = {
    "Accreditation": 70, "Accreditation with Commendation": 18, "Provisional Accreditation": 6,
    "Probation": 4, "Nonaccreditation": 2,
}  # fmt: skip

# State-required courses (`mandate_courses`) come in these formats, not as journal reading,
# test-item writing, committee work... The shares below are drawn from the second generator
# (`_Generator.extra`), so that the first one, and all the fields it gave, stay as they were
# for a seed.
MANDATE_COURSE_FORMATS = frozenset(
    {"Course", "Enduring Material", "Regularly Scheduled Series", "Internet Live Course",
     "Internet Enduring Material", "Other/Blended"}
)  # fmt: skip
MANDATE_COURSE_SHARE = 0.035  # of activities in those formats: a state-required course
SUBJECT_TAGGED_SHARE = 0.45  # of activities whose subject warrants tags: providers who tag them
RESORT_SHARE = 0.2  # of in-person courses: held in a resort town
OCCURRENCE_RESORT_SHARE = 0.15  # of a repeated course's sessions: in a resort town

DESCRIPTION_OPENERS = {
    True: [
        "This {format} brings together faculty and participants to work through {topic}.",
        "A live, faculty-led {format} on {topic}, built around cases from everyday practice.",
        "Participants in this {format} review {topic} with experts and peers.",
    ],
    False: [
        "This self-paced {format} covers {topic}, to be completed when and where it suits you.",
        "An on-demand {format} on {topic}, with cases, questions and feedback.",
        "This {format} reviews {topic} through short modules and a post-test.",
    ],
}


@dataclass
class Stats:
    providers: int = 0
    activities: int = 0
    moc_registrations: int = 0
    occurrences: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


@cache
def topics() -> dict[str, Any]:
    return json.loads((TOPICS_FILE).read_text(encoding="utf-8"))


# The running totals that `choices(weights=...)` adds up on every call, added up once per table
# (by the table's identity: the tables above are constants): the same draw from the generator,
# so a seed gives the rows it gave before.
_CUMULATIVE: dict[int, tuple[list[Any], list[int]]] = {
    id(table): (list(table), list(accumulate(table.values())))
    for table in (HOME_BOARDS, FORMATS, STATUSES, ACCREDITATION, DELIVERY)
}


def _pick(rng: random.Random, weights: dict[Any, int]) -> Any:
    population, cum_weights = _CUMULATIVE[id(weights)]
    return rng.choices(population, cum_weights=cum_weights)[0]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def provider_activity_id(provider_name: str, year: int, activity_id: int) -> str:
    """A demo activity's id in its provider's own system: "LAKESHORE-UN-2026-00042".

    The number is the activity's place in the demo (1 for FIRST_ACTIVITY_ID), so no two
    activities share one, however many are generated: the registry's key is (provider, this
    id), and two activities of one provider and year would otherwise collide. The first
    100,000 keep the five digits they always had (the 100,000th is "00000"), so a seed gives the
    rows it gave before; past them the number is written in full, six digits or more, which no
    five-digit number equals.
    """
    n = activity_id - FIRST_ACTIVITY_ID + 1
    number = f"{n % 100_000:05d}" if n <= 100_000 else str(n)
    return f"{_slug(provider_name)[:12].upper()}-{year}-{number}"


def _credits(rng: random.Random, fmt: str, days: int) -> float:
    if fmt in ("Course", "Internet Live Course"):
        raw = rng.uniform(1, 7) * days if days > 1 else rng.choice([1, 1.5, 2, 3, 4, 6.5, 7])
    elif fmt == "Regularly Scheduled Series":
        raw = rng.randint(10, 50)
    elif fmt == "Performance/Quality Improvement":
        raw = rng.choice([10, 20, 20, 25])
    elif fmt == "Test-Item Writing":
        raw = rng.choice([5, 10, 15])
    elif fmt in ("Committee Learning", "Learning from Teaching"):
        raw = rng.choice([2, 4, 5, 10])
    else:
        raw = rng.choice([0.25, 0.5, 0.75, 1, 1, 1.5, 2, 3, 4])
    return max(0.25, round(min(raw, 40) * 4) / 4)  # credits come in quarter hours


def _dates(rng: random.Random, fmt: str, today: date) -> tuple[date, date]:
    if fmt in ("Enduring Material", "Internet Enduring Material"):
        start = today + timedelta(days=rng.randint(-900, 60))
        end = add_months(start, rng.choice([12, 18, 24, 36])) - timedelta(days=1)
    elif fmt == "Regularly Scheduled Series":
        start = today + timedelta(days=rng.randint(-330, 120))
        end = add_months(start, rng.choice([3, 6, 9, 12])) - timedelta(days=1)
    elif fmt in ("Course", "Internet Live Course"):
        start = today + timedelta(days=rng.randint(-240, 420))
        end = start + timedelta(days=rng.choice([0, 0, 0, 1, 2, 2, 3, 4]))
    else:
        start = today + timedelta(days=rng.randint(-300, 90))
        end = start + timedelta(days=rng.randint(30, 364))
    return start, end


class _Generator:
    def __init__(self, seed: int, today: date, ref: Reference) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self.ref = ref
        data = topics()
        self.topics: dict[str, list[dict[str, Any]]] = data["practice_areas"]
        self.title_patterns: list[str] = data["title_patterns"]
        self.angles: list[str] = data["angles"]
        self.venues: list[dict[str, str]] = data["venues"]
        # Topic tags, approvals and the places added with them draw from their own generator:
        # the first one's draws, and so every field they gave, stay what a seed gave before.
        self.extra = random.Random(f"{seed}:mandates-and-places")
        more: list[dict[str, Any]] = data["more_venues"]
        self.resorts = [v for v in more if v["resort"]]
        self.by_state: dict[str, list[dict[str, Any]]] = {}
        for v in [*self.venues, *more]:
            if v.get("country", "US") == "US" and v.get("state"):
                self.by_state.setdefault(v["state"], []).append(v)
        courses: list[dict[str, Any]] = data["mandate_courses"]
        # For each home board, the courses it may carry, with their running weights.
        self.courses: dict[str | None, tuple[list[dict[str, Any]], list[int]]] = {}
        for home in HOME_BOARDS:
            fitting = [c for c in courses if "boards" not in c or home in c["boards"]]
            self.courses[home] = (fitting, list(accumulate(c["weight"] for c in fitting)))
        self.provider_rows = self._providers(data["providers"])
        leaves = sorted(
            p for p in ref.aba_outline if not any(q.startswith(p + " > ") for q in ref.aba_outline)
        )
        self.aba_leaves = leaves
        # Computed once rather than per activity (a million activities' worth of sorting).
        self.all_areas = sorted({a for b in ref.boards.values() for a in b.practice_areas})
        self.related_leaves: dict[tuple[str, ...], list[str]] = {}
        self.collaborating = ref.collaborating_boards
        self.now = datetime.combine(today, time(12), UTC)

    def _providers(self, raw: list[dict[str, str]]) -> list[dict[str, Any]]:
        rows = []
        for i, p in enumerate(raw, start=1):
            rows.append(
                dict(
                    id=i,
                    name=p["name"],
                    # The accreditor's id and a contact come from the provider's place in
                    # the list, drawing nothing from the seeded generator: the rest of the
                    # data is what each seed gave before.
                    accreditor_id=f"{DEMO_ACCREDITOR_ID_BASE + i:07d}",
                    kind=p.get("kind"),
                    accreditation_status=_pick(self.rng, ACCREDITATION),
                    city=p.get("city"),
                    state=p.get("state") or None,
                    country=p.get("country", "US"),
                    url=f"https://{_slug(p['name'])}.example.org",
                    contact_email=f"cme@{_slug(p['name'])}.example.org",
                    created_at=datetime(2015, 1, 1, tzinfo=UTC),
                    updated_at=datetime(2015, 1, 1, tzinfo=UTC),
                )
            )
        return rows

    def _topic(self, area: str) -> dict[str, Any]:
        choices = self.topics.get(area)
        if not choices:
            return {"topic": area, "keywords": [], "objectives": [f"Update practice in {area}"]}
        return self.rng.choice(choices)

    def _mandate_course(self, home: str | None, fmt: str) -> dict[str, Any] | None:
        """A state-required course, for a small share of the activities in a format such
        courses come in; None for the rest."""
        if fmt not in MANDATE_COURSE_FORMATS or self.extra.random() >= MANDATE_COURSE_SHARE:
            return None
        fitting, cum_weights = self.courses[home]
        return self.extra.choices(fitting, cum_weights=cum_weights)[0] if fitting else None

    def _place(self, pool: list[dict[str, Any]], used: set[tuple[str, str]]) -> dict[str, Any]:
        """A place from `pool` not in `used` while there is one (then `pool`'s again)."""
        if all((v["city"], v.get("state", "")) in used for v in pool):
            return self.extra.choice(pool)
        place = self.extra.choice(pool)
        while (place["city"], place.get("state", "")) in used:
            place = self.extra.choice(pool)
        return place

    def _topic_tags(self, topic: dict[str, Any], course: dict[str, Any] | None) -> list[str]:
        """The subject's mandated-topic tags. A required course always carries its own; a
        subject that warrants tags gets them from about half of providers (a tag is the
        provider's claim, and some never make it)."""
        tags = list(topic.get("mandate_topics", ()))
        if tags and course is None and self.extra.random() >= SUBJECT_TAGGED_SHARE:
            return []
        return tags

    def _approvals(self, course: dict[str, Any] | None, year: int) -> list[dict[str, str]]:
        """The approval a state-required course holds from the body the state names, for
        most such courses: the others are tagged but not (or not yet) approved."""
        approval = course.get("approval") if course else None
        if approval is None or self.extra.random() >= approval["share"]:
            return []
        number = self.extra.randint(100, 9999)
        return [{"body": approval["body"], "id": f"{approval['prefix']}-{year}-{number:04d}"}]

    def _title(self, topic: str) -> str:
        pattern = self.rng.choice(self.title_patterns)
        return pattern.format(topic=topic, angle=self.rng.choice(self.angles))[:500]

    def _moc(self, board_code: str, areas: list[str], a: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        board = self.ref.boards[board_code]
        names = list(board.credit_type_names)
        credit_types = rng.sample(names, k=1 if len(names) == 1 or rng.random() < 0.6 else 2)
        credits = a["cme_credits"]
        points = (
            credits
            if rng.random() < 0.8
            else max(0.25, round(credits * rng.uniform(0.5, 1) * 4) / 4)
        )
        deadline = a["end_date"] + timedelta(days=rng.choice([30, 60, 90, 180, 365]))
        if a["format"] in ("Enduring Material", "Internet Enduring Material"):
            deadline = a["end_date"]
        reg = dict(
            activity_id=a["id"],
            board=board_code,
            practice_areas=areas,
            credit_types=credit_types,
            points=points,
            content_areas=[],
            claim_deadline=deadline,
            attested=True,
        )
        if board.requires_content_areas and self.aba_leaves:
            reg["content_areas"] = self._content_areas(areas)
        # The registry's usual gaps: a registration saved without everything it needs.
        gap = rng.random()
        if board.requires_content_areas and gap < 0.12:
            reg["content_areas"] = []
        elif gap < 0.03:
            reg["attested"] = False
        elif gap < 0.05:
            reg["claim_deadline"] = None
        elif gap < 0.06:
            reg["practice_areas"] = []
        return reg

    def _content_areas(self, areas: list[str]) -> list[str]:
        key = tuple(areas)
        related = self.related_leaves.get(key)
        if related is None:  # a scan of the whole outline, once per set of areas
            related = [p for p in self.aba_leaves if any(w in p for w in areas)] or self.aba_leaves
            self.related_leaves[key] = related
        return self.rng.sample(related, k=min(len(related), self.rng.choice([1, 1, 2])))

    def activity(self, activity_id: int) -> tuple[dict[str, Any], list, list, list]:
        rng = self.rng
        home = _pick(rng, HOME_BOARDS)
        board = self.ref.boards.get(home) if home else None
        pool = list(board.practice_areas) if board else self.all_areas
        areas = rng.sample(pool, k=min(len(pool), rng.choice([1, 1, 1, 1, 2, 2, 3])))
        topic = self._topic(areas[0])
        fmt = _pick(rng, FORMATS)
        # A required course replaces the subject; it has as many objectives as every subject,
        # so the first generator's draws below are the same either way.
        course = self._mandate_course(home, fmt)
        if course is not None:
            topic = course
        live = self.ref.formats[fmt].live
        start, end = _dates(rng, fmt, self.today)
        provider = rng.choice(self.provider_rows)
        status = _pick(rng, STATUSES)
        if status in ("Ready to Close", "Closed") and end >= self.today:
            status = "Active"  # only finished activities are closed out
        if fmt in ("Internet Live Course", "Internet Enduring Material") or not live:
            delivery = "online" if rng.random() < 0.92 else "both"
        else:
            delivery = _pick(rng, DELIVERY)
        venue = rng.choice(self.venues) if rng.random() < 0.6 else provider
        in_person = delivery in ("in person", "both")
        state_course = course.get("state") if course else None
        if in_person and state_course:
            venue = self.extra.choice(self.by_state[state_course])  # given in its own state
        elif in_person and fmt == "Course" and self.extra.random() < RESORT_SHARE:
            venue = self.extra.choice(self.resorts)
        credits = _credits(rng, fmt, (end - start).days + 1)
        if course is not None:
            credits = course["credits"]  # the hours the state asks for
        objectives = rng.sample(
            topic["objectives"], k=min(len(topic["objectives"]), rng.randint(2, 3))
        )
        opener = rng.choice(DESCRIPTION_OPENERS[live]).format(
            format=fmt.lower(), topic=topic["topic"]
        )
        description = (
            f"{opener} Designed for physicians in {', '.join(areas)}. "
            f"By the end, participants will be able to: {'; '.join(o[0].lower() + o[1:] for o in objectives)}."
        )
        free = rng.random() < (0.55 if not live else 0.25)
        a: dict[str, Any] = dict(
            id=activity_id,
            provider_id=provider["id"],
            provider_activity_id=provider_activity_id(provider["name"], start.year, activity_id),
            title=self._title(topic["topic"]),
            format=fmt,
            start_date=start,
            end_date=end,
            status=status,
            description=description,
            objectives=objectives,
            keywords=list(topic.get("keywords", [])),
            specialties=list(board.specialties) if board else [],
            delivery=delivery,
            city=venue.get("city") if in_person else None,
            state=(venue.get("state") or None) if in_person else None,
            country=venue.get("country", "US") if in_person else None,
            cme_credits=credits,
            providership="direct" if rng.random() < 0.8 else "joint",
            joint_provider=None,
            show_in_directory=rng.random() < 0.9,
            fee_cents=0
            if free
            else rng.choice([25, 49, 75, 99, 150, 249, 395, 595, 895, 1295]) * 100,
            registration="limited"
            if fmt == "Regularly Scheduled Series" or rng.random() < 0.08
            else "open to all",
            url=f"{provider['url']}/cme/{activity_id}",
            mips=rng.random() < 0.15,
            completions_reported=rng.randint(5, 400) if end < self.today else 0,
            created_at=self.now - timedelta(days=rng.randint(30, 700)),
            updated_at=self.now - timedelta(days=rng.randint(0, 29)),
            topics=self._topic_tags(topic, course),
            approvals=self._approvals(course, start.year),
        )
        if course is not None:
            a["title"] = self.extra.choice(course["titles"])
        if a["providership"] == "joint":
            a["joint_provider"] = rng.choice(self.provider_rows)["name"]
        if status == "Draft" and rng.random() < 0.5:
            a["description"] = None  # drafts are often unfinished

        moc = []
        if board and board.collaborating and rng.random() < 0.88:
            moc.append(self._moc(board.code, areas, a))
            # Areas several boards share (critical care, sleep, palliative care) draw a second board.
            for other in self.collaborating:
                shared = [x for x in areas if x in other.practice_areas]
                if other.code != board.code and shared and rng.random() < 0.35:
                    moc.append(self._moc(other.code, shared, a))
        rems = []
        if any("Pain" in x for x in areas) and rng.random() < 0.25:
            rems.append(
                dict(
                    activity_id=activity_id,
                    program="Opioid Analgesic REMS",
                    rpc_id=None if rng.random() < 0.15 else f"OA-{rng.randint(10000, 99999)}",
                    attested=rng.random() < 0.95,
                )
            )
        occurrences: list[dict[str, Any]] = []
        if fmt == "Course" and in_person and (end - start).days >= 0 and rng.random() < 0.2:
            # A course repeated in several cities: the activity spans all of its dates, and is
            # where its first session is.
            days = (end - start).days
            used: set[tuple[str, str]] = set()
            for k in range(rng.randint(2, 4)):
                place = rng.choice(self.venues)
                if state_course:
                    place = self._place(self.by_state[state_course], used)
                elif (place["city"], place.get("state", "")) in used:
                    place = self._place(self.venues, used)
                elif self.extra.random() < OCCURRENCE_RESORT_SHARE:
                    place = self._place(self.resorts, used)
                used.add((place["city"], place.get("state", "")))
                o_start = start + timedelta(days=35 * k)
                occurrences.append(
                    dict(
                        activity_id=activity_id,
                        start_date=o_start,
                        end_date=o_start + timedelta(days=days),
                        venue=None,
                        city=place["city"],
                        state=place.get("state") or None,
                        country=place.get("country", "US"),
                    )
                )
            a["end_date"] = occurrences[-1]["end_date"]
            first = occurrences[0]
            a["city"], a["state"], a["country"] = first["city"], first["state"], first["country"]
            for reg in moc:
                if reg["claim_deadline"] is not None:
                    reg["claim_deadline"] = max(reg["claim_deadline"], a["end_date"])
        if course is not None and fmt in ("Course", "Internet Live Course"):
            # A required course of a few hours is given in a day (each session of it, too), a
            # 12-hour one over two: set after the draws, which the longer dates fed.
            length = timedelta(days=0 if course["credits"] <= 8 else 1)
            for o in occurrences:
                o["end_date"] = min(o["end_date"], o["start_date"] + length)
            last = occurrences[-1]["end_date"] if occurrences else a["start_date"] + length
            a["end_date"] = min(a["end_date"], last)
        return a, moc, rems, occurrences


def generate(
    count: int, seed: int, today: date, ref: Reference | None = None
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Yield (table, rows) chunks: providers first, then activities with their children."""
    gen = _Generator(seed, today, ref or reference())
    yield "providers", gen.provider_rows
    for chunk_start in range(0, count, CHUNK):
        acts: list[dict[str, Any]] = []
        mocs: list[dict[str, Any]] = []
        rems: list[dict[str, Any]] = []
        occs: list[dict[str, Any]] = []
        for i in range(chunk_start, min(count, chunk_start + CHUNK)):
            a, m, r, o = gen.activity(FIRST_ACTIVITY_ID + i)
            acts.append(a)
            mocs += m
            rems += r
            occs += o
        yield "activities", acts
        yield "moc_registrations", mocs
        yield "rems_registrations", rems
        yield "occurrences", occs


TABLES = {
    model.__tablename__: Base.metadata.tables[model.__tablename__]
    for model in (Provider, Activity, MocRegistration, RemsRegistration, Occurrence)
}


def generate_into(
    engine: Engine, count: int, seed: int, today: date, progress: bool = False
) -> Stats:
    """Insert demo data in one transaction: it all lands, or none of it does."""
    from tqdm import tqdm

    stats = Stats()
    bar = tqdm(total=count, unit="activity", disable=not progress)
    with engine.begin() as conn:
        for table, rows in generate(count, seed, today):
            if not rows:
                continue
            conn.execute(insert(TABLES[table]), rows)
            if table == "providers":
                stats.providers += len(rows)
            elif table == "activities":
                stats.activities += len(rows)
                for row in rows:
                    stats.by_status[row["status"]] = stats.by_status.get(row["status"], 0) + 1
                bar.update(len(rows))
            elif table == "moc_registrations":
                stats.moc_registrations += len(rows)
            elif table == "occurrences":
                stats.occurrences += len(rows)
        if conn.dialect.name == "postgresql":
            # Providers and activities came with their ids, which PostgreSQL's sequences do not
            # see: move them past those ids, so that a provider added later (`directory
            # providers add`, a roster) or an imported activity gets a new one, as on SQLite.
            for name in ("providers", "activities"):
                top = conn.scalar(select(func.max(TABLES[name].c.id)))
                if top is not None:
                    conn.execute(select(func.setval(func.pg_get_serial_sequence(name, "id"), top)))
    bar.close()
    return stats
