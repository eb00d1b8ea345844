"""A provider's standing counted and filtered in SQL (`directory.registry.standing`), held to
the rules activity by activity, on SQLite and PostgreSQL alike.

The oracle below applies the rules themselves (Python, one activity at a time) to every
activity; the module's SQL must list and count exactly what the oracle says, for every
filter, on several days (the day decides what has ended and which deadlines passed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, func, select, update

from directory.demo import generate_into
from directory.registry import rules, standing
from directory.registry.db import make_sessionmaker
from directory.registry.models import (
    Activity,
    CheckGap,
    ListingCheck,
    Provider,
    RegistrationCheck,
    with_children,
)
from directory.registry.reference import reference
from tests import factories as f
from tests.factories import TODAY

pytestmark = pytest.mark.both_databases

DAYS = (TODAY, TODAY + timedelta(days=75), TODAY + timedelta(days=400))
CRAFTED_PROVIDER = 90_001
OTHER_PROVIDER = 90_002


def _crafted() -> list[Activity]:
    """One activity for each way not to be listed or counted, which demo data may lack."""
    p = f.provider(id=CRAFTED_PROVIDER, name="Crafted Institute")
    base = dict(provider=p)
    return [
        f.activity(id=1, provider_activity_id="OK-1", **base),
        f.activity(id=2, provider_activity_id="DRAFT-2", status="Draft", **base),
        f.activity(id=3, provider_activity_id="HIDDEN-3", show_in_directory=False, **base),
        f.activity(
            id=4,
            provider_activity_id="ENDED-4",
            start_date=TODAY - timedelta(days=10),
            end_date=TODAY - timedelta(days=9),
            **base,
        ),
        f.activity(id=5, provider_activity_id="NODESC-5", description=None, url=None, **base),
        f.activity(
            id=6,
            provider_activity_id="BADDATES-6",
            start_date=TODAY + timedelta(days=40),
            end_date=TODAY + timedelta(days=30),
            **base,
        ),
        f.activity(id=7, provider_activity_id="BADFMT-7", format="Podcast Party", **base),
        f.activity(
            id=8,
            provider_activity_id="INCOMPLETE-8",
            moc=[f.abim(practice_areas=[]), f.aba(content_areas=[])],
            **base,
        ),
        f.activity(
            id=9,
            provider_activity_id="LAPSED-9",
            moc=[f.abim(claim_deadline=TODAY - timedelta(days=1)), f.aba()],
            **base,
        ),
        f.activity(
            id=10,
            provider_activity_id="Mixed Case Title 10",
            title="Pulmonary Embolism ABCs",
            status="Draft",
            moc=[f.abim(), f.aba(claim_deadline=TODAY + timedelta(days=60))],
            **base,
        ),
        f.activity(
            id=11,
            provider_activity_id="100%_literal\\11",
            title="Percent 100% and under_score",
            **base,
        ),
    ]


def _others() -> list[Activity]:
    p = f.provider(id=OTHER_PROVIDER, name="Other College", accreditation_status="Probation")
    return [
        f.activity(id=21, provider_activity_id="OK-1", provider=p),
        f.activity(id=22, provider_activity_id="OTHER-22", title="Pulmonary Embolism", provider=p),
    ]


@pytest.fixture
def sessions(engine):
    generate_into(engine, count=900, seed=14, today=TODAY)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        session.add_all(_crafted() + _others())
    with sessions() as session:
        standing.refresh(session)
    return sessions


# --- the oracle: the rules themselves -------------------------------------------------------


def _board_state(reg, activity, today, listed):
    status = rules.board_status(reg, activity, today)
    if not status.complete:
        return "incomplete", set(status.missing)
    if reg.claim_deadline is not None and reg.claim_deadline < today:
        return "past_deadline", set()
    return ("counted" if listed else "unlisted"), set()


def _matches(query: standing.Query, a: Activity, today: date) -> bool:
    reasons = {r.code for r in rules.not_listed_reasons(a, today)}
    listed = not reasons
    missing, invalid = rules.listing_gaps(a)
    if query.listed is not None and query.listed != listed:
        return False
    if query.reasons and not reasons & set(query.reasons):
        return False
    if query.field and query.field not in set(missing) | {p.field for p in invalid}:
        return False
    if query.statuses and a.status not in query.statuses:
        return False
    if query.formats and a.format not in query.formats:
        return False
    if query.board or query.board_state or query.board_field:
        found = False
        for reg in a.moc:
            state, lacking = _board_state(reg, a, today, listed)
            found |= (
                (not query.board or reg.board == query.board)
                and (not query.board_state or state == query.board_state)
                and (not query.board_field or query.board_field in lacking)
            )
        if not found:
            return False
    if query.text:
        text = query.text.lower()
        in_text = text in a.title.lower() or text in a.provider_activity_id.lower()
        if not (in_text or text == str(a.id)):
            return False
    return True


def _activities(session, provider_id):
    return session.scalars(
        select(Activity).where(Activity.provider_id == provider_id).options(*with_children())
    ).all()


def _listed_ids(session, provider, query, today):
    return [row.activity.id for row in standing.all_matching(session, provider, query, today)]


def _providers(session):
    """The provider with the most activities, the crafted one and the one on probation."""
    biggest = session.scalar(
        select(Activity.provider_id)
        .group_by(Activity.provider_id)
        .order_by(func.count().desc(), Activity.provider_id)
        .limit(1)
    )
    return [session.get(Provider, i) for i in (biggest, CRAFTED_PROVIDER, OTHER_PROVIDER)]


def _queries(session, provider_id):
    """Every single filter with every value it can take here, and a few combinations."""
    ref = reference()
    yield standing.Query()
    for listed in (True, False):
        yield standing.Query(listed=listed)
    for code in rules.REASON_CODES:
        yield standing.Query(reasons=(code,))
    yield standing.Query(reasons=("ended", "hidden"))
    fields = session.scalars(
        select(CheckGap.item).where(CheckGap.provider_id == provider_id).distinct()
    ).all()
    for item in fields:
        yield standing.Query(field=item)
        yield standing.Query(board_field=item)
    for status in ref.statuses:
        yield standing.Query(statuses=(status,))
    yield standing.Query(statuses=("Draft", "Active"))
    formats = session.scalars(
        select(Activity.format).where(Activity.provider_id == provider_id).distinct()
    ).all()
    for fmt in formats:
        if fmt in ref.formats:
            yield standing.Query(formats=(fmt,))
    boards = session.scalars(
        select(RegistrationCheck.board)
        .where(RegistrationCheck.provider_id == provider_id)
        .distinct()
    ).all()
    for board in boards:
        yield standing.Query(board=board)
        for state in standing.BOARD_STATES:
            yield standing.Query(board=board, board_state=state)
    for state in standing.BOARD_STATES:
        yield standing.Query(board_state=state)
        yield standing.Query(listed=False, board_state=state)
    for text in ("pulmonary", "OK-1", "100%", "_", "\\", "1", "10", "zzz-nothing"):
        yield standing.Query(text=text)
    yield standing.Query(text="pulmonary", listed=False, board="ABIM")


@pytest.mark.parametrize("today", DAYS, ids=["today", "in-75-days", "in-400-days"])
def test_every_filter_lists_exactly_what_the_rules_say(sessions, today):
    with sessions() as session:
        for provider in _providers(session):
            activities = _activities(session, provider.id)
            for query in _queries(session, provider.id):
                expected = {a.id for a in activities if _matches(query, a, today)}
                got = _listed_ids(session, provider, query, today)
                assert len(got) == len(set(got)), query
                assert set(got) == expected, (provider.id, query)


@pytest.mark.parametrize("today", DAYS, ids=["today", "in-75-days", "in-400-days"])
def test_every_summary_line_counts_what_its_filters_list(sessions, today):
    with sessions() as session:
        for provider in _providers(session):
            summary = standing.summary(session, provider, today)
            activities = _activities(session, provider.id)
            assert summary.total == len(activities)
            assert summary.listed.count + summary.not_listed.count == summary.total
            lines = [summary.listed, summary.not_listed]
            lines += [c for r in summary.not_listed.parts for c in (r, *r.parts)]
            lines += [c for b in summary.boards for s in b.states for c in (s, *s.parts)]
            for line in lines:
                expected = {a.id for a in activities if _matches(line.query, a, today)}
                assert line.count == len(expected), (provider.id, line.label)
            for board in summary.boards:
                regs = [r for a in activities for r in a.moc if r.board == board.board]
                assert board.registrations == len(regs)
                assert sum(s.count for s in board.states) == len(regs)


def test_the_crafted_activities_fall_into_every_reason_and_board_state(sessions):
    """The other tests are only as good as the cases they meet: here every reason group and
    board state occurs, and the lines name what a provider would fix."""
    with sessions() as session:
        crafted = session.get(Provider, CRAFTED_PROVIDER)
        summary = standing.summary(session, crafted, TODAY)
        reasons = {line.query.reasons[0]: line for line in summary.not_listed.parts}
        assert set(reasons) == {"status", "hidden", "ended", "missing", "invalid"}
        assert {p.label for p in reasons["missing"].parts} == {"description", "activity URL"}
        assert {p.label for p in reasons["invalid"].parts} == {"format", "end date"}
        states = {(b.board, s.query.board_state) for b in summary.boards for s in b.states}
        assert states >= {
            ("ABIM", "counted"),
            ("ABIM", "incomplete"),
            ("ABIM", "past_deadline"),
            ("ABIM", "unlisted"),
            ("ABA", "incomplete"),
        }
        abim = next(b for b in summary.boards if b.board == "ABIM")
        incomplete = next(s for s in abim.states if s.query.board_state == "incomplete")
        assert [p.label for p in incomplete.parts] == ["missing practice areas"]

        other = session.get(Provider, OTHER_PROVIDER)
        refused = standing.summary(session, other, TODAY)
        assert refused.provider_refused and refused.listed.count == 0
        assert [line.query.reasons for line in refused.not_listed.parts] == [("provider",)]


def test_a_provider_never_sees_another_providers_activities(sessions):
    with sessions() as session:
        crafted = session.get(Provider, CRAFTED_PROVIDER)
        others = {a.id: a for a in _activities(session, OTHER_PROVIDER)}
        own = {a.id for a in _activities(session, CRAFTED_PROVIDER)}
        probes = [standing.Query(text=t) for a in others.values() for t in (a.title, str(a.id))]
        for query in [*_queries(session, CRAFTED_PROVIDER), *probes]:
            got = set(_listed_ids(session, crafted, query, TODAY))
            assert got <= own, query
            assert standing.page(session, crafted, query, TODAY).total == len(got)
        assert standing.summary(session, crafted, TODAY).total == len(own)
        # The id both providers use is each one's own.
        (row,) = standing.all_matching(session, crafted, standing.Query(text="OK-1"), TODAY)
        assert row.activity.id == 1
        assert standing.row_of(session, crafted, "OTHER-22", TODAY) is None


@pytest.mark.parametrize("sort", standing.SORT_NAMES)
def test_pages_reach_every_activity_once_in_the_sorts_order(sessions, sort):
    with sessions() as session:
        provider = _providers(session)[0]
        query = standing.Query(sort=sort, per_page=7)
        first = standing.page(session, provider, query, TODAY)
        seen = []
        for n in range(1, first.pages + 2):  # one page past the end: empty, not an error
            result = standing.page(session, provider, query.with_page(n), TODAY)
            assert result.total == first.total
            assert len(result.rows) <= 7
            seen += [r.activity for r in result.rows]
        assert len(seen) == first.total == len({a.id for a in seen})
        key = {
            "changed": lambda a: (a.updated_at, a.id),
            "title": lambda a: (a.title.lower(), a.id),
            "id": lambda a: (a.provider_activity_id, a.id),
            "start": lambda a: (a.start_date is None, a.start_date or date.min, a.id),
            "end": lambda a: (a.end_date is None, a.end_date or date.min, a.id),
        }[sort]
        expected = sorted(seen, key=key, reverse=sort == "changed")
        assert [a.id for a in seen] == [a.id for a in expected]


def test_a_page_says_each_rows_reasons_in_the_rules_own_words(sessions):
    with sessions() as session:
        crafted = session.get(Provider, CRAFTED_PROVIDER)
        result = standing.page(session, crafted, standing.Query(per_page=100), TODAY)
        for row in result.rows:
            assert [r.text for r in row.reasons] == rules.why_not_listed(row.activity, TODAY)
            assert [b.status.summary() for b in row.boards] == [
                rules.board_status(r, row.activity, TODAY).summary() for r in row.activity.moc
            ]


def _checks(session, activity_id):
    return (
        session.get(ListingCheck, activity_id),
        session.scalars(select(CheckGap.item).where(CheckGap.activity_id == activity_id)).all(),
        session.scalars(
            select(RegistrationCheck.board).where(RegistrationCheck.activity_id == activity_id)
        ).all(),
    )


def test_refresh_checks_again_only_what_changed_and_forgets_what_was_deleted(sessions):
    with sessions() as session:
        assert standing.refresh(session) == 0  # nothing changed since the fixture's refresh
    with sessions.begin() as session:
        a = session.get(Activity, 1)
        a.description = None
        a.moc[0].practice_areas = []
        a.updated_at = a.updated_at + timedelta(seconds=1)  # as every writer stamps it
    with sessions() as session:
        assert standing.refresh(session, OTHER_PROVIDER) == 0
        assert standing.refresh(session, CRAFTED_PROVIDER) == 1
        check, gaps, boards = _checks(session, 1)
        assert check.has_missing and sorted(gaps) == ["description", "practice areas"]
        assert boards == ["ABIM"]
    with sessions.begin() as session:
        session.delete(session.get(Activity, 1))
    with sessions() as session:
        assert _checks(session, 1) == (None, [], [])


def test_moving_an_activity_to_another_provider_moves_its_check(sessions):
    with sessions.begin() as session:
        session.execute(
            update(Activity).where(Activity.id == 22).values(provider_id=CRAFTED_PROVIDER)
        )
    with sessions() as session:
        assert standing.refresh(session, CRAFTED_PROVIDER) == 1
        crafted = session.get(Provider, CRAFTED_PROVIDER)
        assert 22 in _listed_ids(session, crafted, standing.Query(), TODAY)


def test_new_rules_check_everything_again(sessions, monkeypatch):
    with sessions() as session:
        total = session.scalar(select(func.count()).select_from(Activity))
        monkeypatch.setattr(standing, "rules_version", lambda: "a later release")
        assert standing.refresh(session) == total
        assert standing.refresh(session) == 0


def test_an_activity_never_checked_is_checked_before_it_is_counted(sessions):
    with sessions.begin() as session:
        session.execute(delete(ListingCheck).where(ListingCheck.activity_id == 5))
    with sessions() as session:
        crafted = session.get(Provider, CRAFTED_PROVIDER)
        # Unchecked rows are not counted (the join needs a check), but they are said.
        before = standing.summary(session, crafted, TODAY)
        assert (before.total, before.unchecked) == (len(_crafted()) - 1, 1)
        # The list still shows it, with its reasons from the rules; no filter on what only
        # its check knows picks it meanwhile.
        (row,) = standing.all_matching(session, crafted, standing.Query(text="NODESC-5"), TODAY)
        assert [r.code for r in row.reasons] == ["missing"]
        for query in (
            standing.Query(listed=True),
            standing.Query(listed=False),
            standing.Query(reasons=("missing",)),
        ):
            assert 5 not in _listed_ids(session, crafted, query, TODAY)
        assert standing.refresh(session, CRAFTED_PROVIDER) == 1
        after = standing.summary(session, crafted, TODAY)
        assert (after.total, after.unchecked) == (len(_crafted()), 0)


def test_an_activity_the_rules_fail_on_stops_no_other_check(sessions, monkeypatch):
    real = rules.listing_gaps

    def failing_on_five(activity, ref=None):
        if activity.id == 5:
            raise RuntimeError("a bug meeting odd data")
        return real(activity, ref)

    monkeypatch.setattr(rules, "listing_gaps", failing_on_five)
    monkeypatch.setattr(standing, "rules_version", lambda: "a later release")
    with sessions() as session:
        total = session.scalar(select(func.count()).select_from(Activity))
        assert standing.refresh(session) == total - 1
        crafted = session.get(Provider, CRAFTED_PROVIDER)
        assert standing.summary(session, crafted, TODAY).unchecked == 1
        monkeypatch.setattr(rules, "listing_gaps", real)
        assert standing.refresh(session) == 1  # tried again, and checked
        assert standing.summary(session, crafted, TODAY).unchecked == 0


class Args(dict):
    def getlist(self, key):
        value = self.get(key, [])
        return value if isinstance(value, list) else [value]


@pytest.mark.parametrize(
    "args, name",
    [
        ({"listed": "maybe"}, "listed"),
        ({"reason": "bored"}, "reason"),
        ({"status": "Finished"}, "status"),
        ({"format": "Podcast Party"}, "format"),
        ({"board": "ABXYZ"}, "board"),
        ({"board_state": "late"}, "board_state"),
        ({"sort": "relevance"}, "sort"),
        ({"page": "0"}, "page"),
        ({"page": "ten"}, "page"),
        ({"page": str(standing.MAX_PAGE + 1)}, "page"),
        ({"per_page": "1000"}, "per_page"),
        ({"q": "x" * 201}, "q"),
        ({"q": "tab\there"}, "q"),
        ({"field": ["a", "b"]}, "field"),
        ({"reason": ["ended"] * 30}, "reason"),
    ],
)
def test_a_query_that_cannot_be_read_names_its_parameter(args, name):
    with pytest.raises(standing.QueryError) as caught:
        standing.Query.from_args(Args(args))
    assert set(caught.value.problems) == {name}


def test_a_query_reads_back_from_its_own_parameters():
    query = standing.Query(
        listed=False,
        reasons=("ended", "missing"),
        field="description",
        statuses=("Draft",),
        formats=("Course",),
        board="ABIM",
        board_state="incomplete",
        board_field="practice areas",
        text="heart 100%",
        sort="title",
        page=3,
        per_page=50,
    )
    args: dict[str, list[str]] = {}
    for k, v in query.to_params():
        args.setdefault(k, []).append(v)
    assert standing.Query.from_args(Args(args)) == query
    assert query.filtered and not replace(standing.Query(), page=4, sort="end").filtered
    # Codes are read whatever their case, as a person types them.
    lower = standing.Query.from_args(Args({"board": "abim", "status": "draft", "listed": "No"}))
    assert (lower.board, lower.statuses, lower.listed) == ("ABIM", ("Draft",), False)


def test_a_bounded_refresh_checks_that_many_and_says_how_many_remain(sessions, monkeypatch):
    monkeypatch.setattr(standing, "rules_version", lambda: "a later release")
    with sessions() as session:
        crafted = session.get(Provider, CRAFTED_PROVIDER)
        assert standing.refresh(session, CRAFTED_PROVIDER, limit=4) == 4
        assert standing.summary(session, crafted, TODAY).unchecked == len(_crafted()) - 4
        assert standing.refresh(session, CRAFTED_PROVIDER, limit=100) == len(_crafted()) - 4
        assert standing.refresh(session, CRAFTED_PROVIDER, limit=100) == 0
        assert standing.summary(session, crafted, TODAY).unchecked == 0


def test_refresh_waiting_says_what_a_count_of_the_waiting_would(sessions, monkeypatch):
    """The count a request takes from its own refresh, instead of asking again, is the one
    `unchecked` gives: after a whole pass (none, or those the rules failed on), and when the
    limit stopped it."""
    with sessions() as session:
        assert standing.refresh_waiting(session, CRAFTED_PROVIDER) == 0
        real = rules.listing_gaps

        def failing_on_five(activity, ref=None):
            if activity.id == 5:
                raise RuntimeError("a bug meeting odd data")
            return real(activity, ref)

        monkeypatch.setattr(rules, "listing_gaps", failing_on_five)
        monkeypatch.setattr(standing, "rules_version", lambda: "a later release")
        assert standing.refresh_waiting(session, CRAFTED_PROVIDER, limit=3) == (
            standing.unchecked(session, CRAFTED_PROVIDER)
        )
        assert standing.unchecked(session, CRAFTED_PROVIDER) == len(_crafted()) - 3
        assert standing.refresh_waiting(session, CRAFTED_PROVIDER, limit=100) == 1
        assert standing.unchecked(session, CRAFTED_PROVIDER) == 1
