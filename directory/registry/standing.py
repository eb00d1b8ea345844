"""How a provider's activities stand: listed or not and why, and how each board registration
counts, summed and filtered in SQL, for a provider of any size.

The rules (`rules.not_listed_reasons`, `rules.board_status`) are Python, one activity at a
time: applying them to a provider's 20,000 activities on every page view took seconds. So
the part of their answer that depends on an activity's own fields is kept in three tables
(`ListingCheck`, `RegistrationCheck`, `CheckGap`), written by `refresh` whenever the
activity's `updated_at` or the rules themselves have moved since, with the few fields the
other reasons read (status, shown or not, end date: they too change only with `updated_at`),
so that a summary counts those narrow tables alone. What depends on the day or the provider
is decided live in SQL: an end date or claim deadline before today, a provider not in good
standing. So a count is right on any day without anything rewritten at midnight, and the
tests hold the SQL to the rules, activity by activity.

`Query` is the one model of a provider's filters, read from a query string the same way by
the dashboard, its export and the web service. A page of the list loads only its own
activities, and says each one's reasons with the rules themselves.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from directory.registry import rules
from directory.registry.models import (
    Activity,
    CheckGap,
    ListingCheck,
    Provider,
    RegistrationCheck,
    with_children,
)
from directory.registry.reference import DATA_DIR, Reference, reference

log = logging.getLogger(__name__)

# --- keeping the checks -----------------------------------------------------------------------

# Activities checked per transaction: each batch is loaded with its children in a few queries.
BATCH = 500


@cache
def rules_version() -> str:
    """A fingerprint of the rules and the reference data they read: a deployment that changes
    either (a board's list of practice areas, a new required field) checks everything again."""
    digest = hashlib.sha256(Path(rules.__file__).read_bytes())
    for path in sorted(Path(DATA_DIR).rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:32]


def _stale(provider_id: int | None) -> Any:
    """Ids of activities whose check is missing or out of date, oldest check first."""
    query = (
        select(Activity.id)
        .outerjoin(ListingCheck, ListingCheck.activity_id == Activity.id)
        .where(
            or_(
                ListingCheck.activity_id.is_(None),
                ListingCheck.version != rules_version(),
                ListingCheck.source_updated_at != Activity.updated_at,
                ListingCheck.provider_id != Activity.provider_id,
            )
        )
        .order_by(Activity.id)
    )
    if provider_id is not None:
        query = query.where(Activity.provider_id == provider_id)
    return query


def _rows(
    activity: Activity, ref: Reference
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    missing, invalid = rules.listing_gaps(activity, ref)
    base = {"activity_id": activity.id, "provider_id": activity.provider_id}
    check = {
        **base,
        "version": rules_version(),
        "source_updated_at": activity.updated_at,
        "has_missing": bool(missing),
        "has_invalid": bool(invalid),
        "status": activity.status,
        "show_in_directory": bool(activity.show_in_directory),
        "end_date": activity.end_date,
    }
    # One gap row per item: an activity missing a description and a URL counts under both.
    gaps = {("", "missing", label) for label in missing}
    gaps |= {("", "invalid", p.field) for p in invalid}
    registrations = []
    for reg in activity.moc:
        lacking = rules.registration_gaps(reg, activity, ref)
        registrations.append(
            {
                **base,
                "board": reg.board,
                "complete": not lacking,
                "claim_deadline": reg.claim_deadline,
            }
        )
        gaps |= {(reg.board, "missing", item) for item in lacking}
    gap_rows = [
        {**base, "board": board, "kind": kind, "item": item[:200]}
        for board, kind, item in sorted(gaps)
    ]
    return check, registrations, gap_rows


# What one web request checks at most (a few seconds' work): past it, the summary says how
# many are still to check, and the next look (or the next scheduled sync) goes on.
WEB_LIMIT = 5_000


def refresh(session: Session, provider_id: int | None = None, limit: int | None = None) -> int:
    """Check again every activity (of one provider, or all) changed since its check, or the
    first `limit` of them; commit each batch. Returns how many were checked: 0, and one
    indexed query, when none changed."""
    return _refresh(session, provider_id, limit)[0]


def refresh_waiting(session: Session, provider_id: int, limit: int | None = None) -> int:
    """`refresh`, then how many of the provider's activities still wait to be checked (what
    `Summary.unchecked` says): known from the refresh itself when it went through them all,
    so a request that found nothing to check asks the registry once, not twice."""
    _, waiting = _refresh(session, provider_id, limit)
    return waiting if waiting is not None else unchecked(session, provider_id)


def _refresh(
    session: Session, provider_id: int | None, limit: int | None
) -> tuple[int, int | None]:
    """(how many were checked, how many still wait), the second None when `limit` stopped
    the refresh before it saw them all. Those still waiting after a whole pass are the ones
    the rules failed on."""
    ref = reference()
    checked = failed = 0
    after = 0
    while limit is None or checked < limit:
        size = BATCH if limit is None else min(BATCH, limit - checked)
        ids = session.scalars(_stale(provider_id).where(Activity.id > after).limit(size)).all()
        if not ids:
            return checked, failed
        activities = session.scalars(
            select(Activity).where(Activity.id.in_(ids)).options(*with_children())
        ).all()
        checks: list[dict[str, Any]] = []
        registrations: list[dict[str, Any]] = []
        gaps: list[dict[str, Any]] = []
        for activity in activities:
            try:
                check, regs, gap_rows = _rows(activity, ref)
            except Exception:
                # One activity the rules cannot read (a bug meeting odd data) must not stop
                # the rest: it stays unchecked, so it is tried again by the next refresh.
                log.exception("the rules could not check activity %s", activity.id)
                failed += 1
                continue
            checks.append(check)
            registrations += regs
            gaps += gap_rows
        try:
            for table in (CheckGap, RegistrationCheck, ListingCheck):
                session.execute(delete(table).where(table.activity_id.in_(ids)))
            for table, rows in (
                (ListingCheck, checks),
                (RegistrationCheck, registrations),
                (CheckGap, gaps),
            ):
                if rows:
                    session.execute(insert(table), rows)
            session.commit()
        except IntegrityError:
            # Another request checked the same activities at the same moment (PostgreSQL
            # lets two run side by side): its rows are as good as ours.
            session.rollback()
        # The session's identity map holds what it loaded weakly: a 20,000-activity refresh
        # keeps one batch in memory, not all of them.
        checked += len(checks)
        after = ids[-1]
    return checked, None


def unchecked(session: Session, provider_id: int) -> int:
    """How many of the provider's activities changed since their check (or were never
    checked): what `refresh` would check now."""
    stale = _stale(provider_id).subquery()
    return int(session.scalar(select(func.count()).select_from(stale)) or 0)


# --- reading a provider's filters ---------------------------------------------------------------

LISTED = {"yes": True, "no": False}
BOARD_STATES = {
    "counted": "counts",
    "incomplete": "incomplete",
    "past_deadline": "past its claim deadline",
    "unlisted": "complete, but the activity is not listed",
}
REASON_LABELS = {
    "provider": "the provider's accreditation is not in good standing",
    "status": "not Active",
    "hidden": "not shown in the directory",
    "ended": "ended",
    "missing": "missing required fields",
    "invalid": "a field breaks a rule",
}
assert tuple(REASON_LABELS) == rules.REASON_CODES


@dataclass(frozen=True)
class Sort:
    name: str
    label: str


SORTS = (
    Sort("changed", "Recently changed"),
    Sort("title", "Title"),
    Sort("id", "Your activity id"),
    Sort("start", "Start date"),
    Sort("end", "End date"),
)
SORT_NAMES = tuple(s.name for s in SORTS)
DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
# A page number beyond any provider's list is a mistake, not a request to read past it.
MAX_PAGE = 10_000
MAX_TEXT = 200
MAX_VALUES = 20  # of one repeated parameter


class QueryError(ValueError):
    """A filter that cannot be read: `problems` maps each parameter to what is wrong."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = dict(problems)


class _Args(Protocol):
    def getlist(self, key: str) -> list[str]: ...


# The query string's filter parameters (besides sort, page and per_page), as `Query` reads them.
FILTER_PARAMS = (
    "listed",
    "reason",
    "field",
    "status",
    "format",
    "board",
    "board_state",
    "board_field",
    "q",
)


@dataclass(frozen=True)
class Query:
    """A provider's filters on its own activities, its sort and its page."""

    listed: bool | None = None
    reasons: tuple[str, ...] = ()
    # A field named by a "missing" or "invalid" reason ("description", "end date").
    field: str | None = None
    statuses: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    board: str | None = None
    board_state: str | None = None
    # An item a registration lacks ("practice areas"), of `board` when one is given.
    board_field: str | None = None
    text: str = ""
    sort: str = "changed"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @classmethod
    def from_args(cls, args: _Args, ref: Reference | None = None) -> Query:
        """The query in `args` (a request's query string), or QueryError naming every
        parameter that cannot be read. Unknown parameters are left to the caller."""
        ref = ref or reference()
        problems: dict[str, str] = {}

        def one(name: str) -> str | None:
            values = [v.strip() for v in args.getlist(name)]
            values = [v for v in values if v]
            if len(values) > 1:
                problems[name] = "give it once"
                return None
            if values and (len(values[0]) > MAX_TEXT or not values[0].isprintable()):
                problems[name] = f"at most {MAX_TEXT} printable characters"
                return None
            return values[0] if values else None

        def many(name: str, allowed: Sequence[str], what: str) -> tuple[str, ...]:
            given = [v.strip() for v in args.getlist(name) if v.strip()]
            values = tuple(dict.fromkeys(given))
            if len(given) > MAX_VALUES:
                problems[name] = f"at most {MAX_VALUES} values"
                return ()
            folded = {a.casefold(): a for a in allowed}
            unknown = [v for v in values if v.casefold() not in folded]
            if unknown:
                problems[name] = (
                    f"'{unknown[0][:60]}' is not {what}; use one of: {', '.join(allowed)}"
                )
                return ()
            return tuple(folded[v.casefold()] for v in values)

        def number(name: str, default: int, top: int) -> int:
            text = one(name)
            if text is None:
                return default
            if not text.isdigit() or not 1 <= int(text) <= top:
                problems[name] = f"a whole number from 1 to {top:,}"
                return default
            return int(text)

        listed_text = one("listed")
        listed = None
        if listed_text is not None:
            if listed_text.lower() not in LISTED:
                problems["listed"] = "yes or no"
            else:
                listed = LISTED[listed_text.lower()]
        board = one("board")
        if board is not None:
            # Read whatever its case, kept in the board's own spelling ("ABPath").
            codes = {c.casefold(): c for c in ref.boards}
            if board.casefold() not in codes:
                problems["board"] = (
                    f"'{board[:60]}' is not a board; use a code such as "
                    + ", ".join(sorted(ref.boards)[:6])
                )
            board = codes.get(board.casefold(), board)
        board_state = one("board_state")
        if board_state is not None and board_state not in BOARD_STATES:
            problems["board_state"] = f"one of: {', '.join(BOARD_STATES)}"
        sort = one("sort") or "changed"
        if sort not in SORT_NAMES:
            problems["sort"] = f"'{sort[:60]}' is not a sort; use one of: {', '.join(SORT_NAMES)}"
        query = cls(
            listed=listed,
            reasons=many("reason", rules.REASON_CODES, "a reason"),
            field=one("field"),
            statuses=many("status", ref.statuses, "a status"),
            formats=many("format", [f.name for f in ref.formats.values()], "a format"),
            board=board,
            board_state=board_state,
            board_field=one("board_field"),
            text=one("q") or "",
            sort=sort,
            page=number("page", 1, MAX_PAGE),
            per_page=number("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE),
        )
        if problems:
            raise QueryError(problems)
        return query

    def to_params(self) -> list[tuple[str, str]]:
        """The query string that reads back as this query (defaults left out)."""
        params: list[tuple[str, str]] = []
        if self.listed is not None:
            params.append(("listed", "yes" if self.listed else "no"))
        params += [("reason", r) for r in self.reasons]
        if self.field:
            params.append(("field", self.field))
        params += [("status", s) for s in self.statuses]
        params += [("format", f) for f in self.formats]
        for name in ("board", "board_state", "board_field"):
            value = getattr(self, name)
            if value:
                params.append((name, value))
        if self.text:
            params.append(("q", self.text))
        if self.sort != "changed":
            params.append(("sort", self.sort))
        if self.page != 1:
            params.append(("page", str(self.page)))
        if self.per_page != DEFAULT_PER_PAGE:
            params.append(("per_page", str(self.per_page)))
        return params

    @property
    def filtered(self) -> bool:
        """Whether any filter narrows the list (sort and page aside)."""
        return bool(replace(self, sort="changed", page=1, per_page=DEFAULT_PER_PAGE).to_params())

    def with_page(self, page: int) -> Query:
        return replace(self, page=page)


# --- the SQL ---------------------------------------------------------------------------------


def _good_standing(provider: Provider, ref: Reference) -> bool:
    return provider.accreditation_status in ref.good_standing


def _reason_conditions(provider: Provider, today: date, ref: Reference) -> dict[str, Any]:
    """Each reason code as an SQL condition on ListingCheck: the rules'
    `not_listed_reasons`, code by code (the tests hold each to them)."""
    return {
        # One provider per query: its standing is the same for every row.
        "provider": false() if _good_standing(provider, ref) else true(),
        "status": ListingCheck.status != "Active",
        "hidden": ListingCheck.show_in_directory.is_not(True),
        "ended": and_(ListingCheck.end_date.is_not(None), ListingCheck.end_date < today),
        "missing": ListingCheck.has_missing.is_(True),
        "invalid": ListingCheck.has_invalid.is_(True),
    }


# An activity changed since its check, or never checked, waits for `refresh`: the list still
# shows it (its row's reasons come from the rules themselves), but no filter on what the check
# holds (listed or not, missing, invalid, a board's state) picks it until it is checked.
_CHECKED = ListingCheck.activity_id.is_not(None)


def _listed(provider: Provider, today: date, ref: Reference) -> Any:
    return and_(_CHECKED, *(~c for c in _reason_conditions(provider, today, ref).values()))


def _not_listed(provider: Provider, today: date, ref: Reference) -> Any:
    return and_(_CHECKED, or_(*_reason_conditions(provider, today, ref).values()))


def _board_state(provider: Provider, today: date, ref: Reference) -> Any:
    """A registration's state as SQL over (RegistrationCheck, ListingCheck)."""
    return case(
        (RegistrationCheck.complete.is_not(True), literal("incomplete")),
        (
            and_(
                RegistrationCheck.claim_deadline.is_not(None),
                RegistrationCheck.claim_deadline < today,
            ),
            literal("past_deadline"),
        ),
        (_listed(provider, today, ref), literal("counted")),
        else_=literal("unlisted"),
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(
    provider: Provider, query: Query, today: date, ref: Reference
) -> list[ColumnElement[bool]]:
    reasons = _reason_conditions(provider, today, ref)
    where: list[Any] = [Activity.provider_id == provider.id]
    if query.listed is not None:
        where.append((_listed if query.listed else _not_listed)(provider, today, ref))
    if query.reasons:
        where.append(and_(_CHECKED, or_(*(reasons[r] for r in query.reasons))))
    if query.field:
        where.append(
            exists().where(
                CheckGap.activity_id == Activity.id,
                CheckGap.provider_id == provider.id,
                CheckGap.board == "",
                CheckGap.item == query.field,
            )
        )
    if query.statuses:
        where.append(Activity.status.in_(query.statuses))
    if query.formats:
        where.append(Activity.format.in_(query.formats))
    if query.board or query.board_state or query.board_field:
        registration = [RegistrationCheck.activity_id == Activity.id]
        if query.board:
            registration.append(RegistrationCheck.board == query.board)
        if query.board_state:
            registration.append(_board_state(provider, today, ref) == query.board_state)
        if query.board_field:
            registration.append(
                exists().where(
                    CheckGap.activity_id == RegistrationCheck.activity_id,
                    CheckGap.board == RegistrationCheck.board,
                    CheckGap.item == query.board_field,
                )
            )
        where.append(exists().where(*registration))
    if query.text:
        like = _like(query.text)
        text: list[ColumnElement[bool]] = [
            Activity.title.ilike(like, escape="\\"),
            Activity.provider_activity_id.ilike(like, escape="\\"),
        ]
        if query.text.isdigit() and len(query.text) <= 18:
            text.append(Activity.id == int(query.text))
        where.append(or_(*text))
    return where


def _order(sort: str) -> list[Any]:
    orders: dict[str, list[Any]] = {
        "changed": [Activity.updated_at.desc(), Activity.id.desc()],
        "title": [func.lower(Activity.title), Activity.id],
        "id": [Activity.provider_activity_id, Activity.id],
        "start": [Activity.start_date.is_(None), Activity.start_date, Activity.id],
        "end": [Activity.end_date.is_(None), Activity.end_date, Activity.id],
    }
    return orders[sort]


def _matching(provider: Provider, query: Query, today: date, ref: Reference) -> Any:
    return (
        select(Activity.id)
        .outerjoin(ListingCheck, ListingCheck.activity_id == Activity.id)
        .where(*_conditions(provider, query, today, ref))
    )


# --- the summary ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    """One line of the summary: what it counts, how many, and the filters that list them."""

    label: str
    count: int
    query: Query
    # The lines under this one ("missing description: 61").
    parts: tuple[Count, ...] = ()


@dataclass(frozen=True)
class BoardSummary:
    board: str
    name: str
    registrations: int
    states: tuple[Count, ...]  # counted, incomplete (with what for), past deadline, unlisted


@dataclass(frozen=True)
class Summary:
    total: int
    listed: Count
    not_listed: Count  # its parts: one per reason, each with its fields
    boards: tuple[BoardSummary, ...]
    # A provider not in good standing: every activity is unlisted for that alone.
    provider_refused: bool = False
    # Activities changed since their check and not checked again yet (past a web request's
    # `WEB_LIMIT`, or that the rules failed on: logged, tried again by every refresh). They
    # are counted as of their last check, or not at all when never checked; said, so that no
    # count silently leaves them out.
    unchecked: int = 0


def summary(
    session: Session, provider: Provider, today: date, waiting: int | None = None
) -> Summary:
    """Counts over every activity of `provider`: grouped queries over its checks (never its
    activities' wide rows), whatever its size. `waiting`: `refresh_waiting`'s answer, when
    the caller has just refreshed (else it is counted here)."""
    ref = reference()
    reasons = _reason_conditions(provider, today, ref)
    listed = _listed(provider, today, ref)
    totals = session.execute(
        select(
            func.count(),
            func.sum(case((listed, 1), else_=0)),
            *(func.sum(case((c, 1), else_=0)) for c in reasons.values()),
        )
        .select_from(ListingCheck)
        .where(ListingCheck.provider_id == provider.id)
    ).one()
    total, listed_count = int(totals[0]), int(totals[1] or 0)
    by_reason = dict(zip(reasons, (int(n or 0) for n in totals[2:]), strict=True))

    gaps: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for board, kind, item, n in session.execute(
        select(CheckGap.board, CheckGap.kind, CheckGap.item, func.count())
        .where(CheckGap.provider_id == provider.id)
        .group_by(CheckGap.board, CheckGap.kind, CheckGap.item)
        .order_by(CheckGap.board, CheckGap.kind, func.count().desc(), CheckGap.item)
    ):
        gaps.setdefault((board, kind), []).append((item, int(n)))

    reason_lines = []
    for code in rules.REASON_CODES:
        if not by_reason[code]:
            continue
        parts: tuple[Count, ...] = ()
        if code in ("missing", "invalid"):
            parts = tuple(
                Count(item, n, Query(reasons=(code,), field=item))
                for item, n in gaps.get(("", code), [])
            )
        reason_lines.append(
            Count(REASON_LABELS[code], by_reason[code], Query(reasons=(code,)), parts)
        )

    state = _board_state(provider, today, ref)
    counts: dict[str, dict[str, int]] = {}
    for board, board_state, n in session.execute(
        select(RegistrationCheck.board, state, func.count())
        .join(ListingCheck, ListingCheck.activity_id == RegistrationCheck.activity_id)
        .where(RegistrationCheck.provider_id == provider.id)
        .group_by(RegistrationCheck.board, state)
    ):
        counts.setdefault(board, {})[board_state] = int(n)
    boards = []
    for board in sorted(counts):
        states = []
        for code, label in BOARD_STATES.items():
            n = counts[board].get(code, 0)
            if not n:
                continue
            parts = ()
            if code == "incomplete":
                parts = tuple(
                    Count(
                        f"missing {item}",
                        k,
                        Query(board=board, board_state="incomplete", board_field=item),
                    )
                    for item, k in gaps.get((board, "missing"), [])
                )
            states.append(Count(label, n, Query(board=board, board_state=code), parts))
        known = ref.boards.get(board)
        boards.append(
            BoardSummary(
                board=board,
                name=known.name if known else board,
                registrations=sum(counts[board].values()),
                states=tuple(states),
            )
        )
    return Summary(
        unchecked=unchecked(session, provider.id) if waiting is None else waiting,
        total=total,
        listed=Count("listed", listed_count, Query(listed=True)),
        not_listed=Count(
            "not listed", total - listed_count, Query(listed=False), tuple(reason_lines)
        ),
        boards=tuple(boards),
        provider_refused=not _good_standing(provider, ref),
    )


# --- the list ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardLine:
    """One registration of a listed row: its state code and the rules' own words for it."""

    board: str
    state: str
    status: rules.BoardStatus


@dataclass(frozen=True)
class Row:
    activity: Activity
    reasons: tuple[rules.Reason, ...]
    boards: tuple[BoardLine, ...]

    @property
    def listed(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class Page:
    query: Query
    total: int
    rows: tuple[Row, ...] = field(default=())

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


def _row(activity: Activity, today: date, ref: Reference) -> Row:
    reasons = tuple(rules.not_listed_reasons(activity, today, ref))
    lines = []
    for reg in activity.moc:
        status = rules.board_status(reg, activity, today, ref)
        if not status.complete:
            state = "incomplete"
        elif reg.claim_deadline is not None and reg.claim_deadline < today:
            state = "past_deadline"
        else:
            state = "unlisted" if reasons else "counted"
        lines.append(BoardLine(reg.board, state, status))
    return Row(activity, reasons, tuple(lines))


def _load(session: Session, ids: Sequence[int], today: date, ref: Reference) -> list[Row]:
    by_id = {
        a.id: a
        for a in session.scalars(
            select(Activity).where(Activity.id.in_(ids)).options(*with_children())
        )
    }
    return [_row(by_id[i], today, ref) for i in ids if i in by_id]


def page(session: Session, provider: Provider, query: Query, today: date) -> Page:
    """One page of the provider's activities that match `query`, each with its reasons."""
    ref = reference()
    matching = _matching(provider, query, today, ref)
    total = session.scalar(select(func.count()).select_from(matching.subquery())) or 0
    ids = session.scalars(
        matching.order_by(*_order(query.sort))
        .limit(query.per_page)
        .offset((query.page - 1) * query.per_page)
    ).all()
    return Page(query, int(total), tuple(_load(session, ids, today, ref)))


def all_matching(
    session: Session, provider: Provider, query: Query, today: date, batch: int = BATCH
) -> Iterator[Row]:
    """Every activity that matches `query` (its page aside), in its order, a batch at a
    time: what an export writes, never every activity in memory at once."""
    ref = reference()
    ids = session.scalars(
        _matching(provider, query, today, ref).order_by(*_order(query.sort))
    ).all()
    for start in range(0, len(ids), batch):
        yield from _load(session, ids[start : start + batch], today, ref)


def row_of(
    session: Session, provider: Provider, provider_activity_id: str, today: date
) -> Row | None:
    """One of the provider's own activities, with its reasons; None when it has none by that id."""
    activity = session.scalar(
        select(Activity)
        .where(
            Activity.provider_id == provider.id,
            Activity.provider_activity_id == provider_activity_id,
        )
        .options(*with_children())
    )
    return _row(activity, today, reference()) if activity is not None else None
