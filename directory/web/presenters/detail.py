"""One activity for the public, read from the registry (so it works while search is down):
the detail page and the JSON API's activity both show `listed_activity`.

With the physician's state it also says which of that state's (and the federal) requirements
the activity's topic tags match, and, for a state that counts only courses it approved, that
a tagged activity without that approval does not count there."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select

from directory.registry import rules
from directory.registry.models import Activity, with_children
from directory.registry.reference import reference
from directory.web.context import db_session, today
from directory.web.presenters.cards import card
from directory.web.presenters.requirements import (
    approval_list,
    missing_approvals,
    place_text,
    topic_tags,
)
from indexer.document import to_document


class ActivityGone(Exception):
    """It was listed once and has ended: 410, so search engines drop it."""

    def __init__(self, ended: date) -> None:
        super().__init__(f"ended {ended}")
        self.ended = ended


MAX_ID = 2**63 - 1  # a registry id is a signed 64-bit integer in every database


def load(activity_id: int) -> Activity | None:
    if not 0 < activity_id <= MAX_ID:
        return None  # no such id can exist; the database would refuse the number itself
    return db_session().scalar(
        select(Activity).where(Activity.id == activity_id).options(*with_children())
    )


def was_listed_and_ended(activity: Activity, day: date) -> bool:
    """Ended is the only reason it is not listed: it was a public listing until then."""
    if activity.end_date is None or activity.end_date >= day:
        return False
    reasons = rules.not_listed_reasons(activity, activity.end_date)
    # A provider closes an activity once it has ended; that alone does not unlist it.
    return all(
        r.code == "status" and activity.status in ("Ready to Close", "Closed") for r in reasons
    )


def listed_activity(
    activity_id: int,
    base_url: str = "",
    my_board: str | None = None,
    my_state: str | None = None,
) -> dict[str, Any] | None:
    activity = load(activity_id)
    if activity is None:
        return None
    day = today()
    doc = to_document(activity, day)
    if doc is None:
        if was_listed_and_ended(activity, day):
            assert activity.end_date is not None
            raise ActivityGone(activity.end_date)
        return None
    return detail(activity, doc, base_url, my_board, my_state)


def detail(
    activity: Activity,
    doc: Mapping[str, Any],
    base_url: str,
    my_board: str | None,
    my_state: str | None = None,
) -> dict[str, Any]:
    view = card(doc, base_url, my_board, my_state)
    ref = reference()
    counted = {b["board"] for b in view["boards"]}
    view.update(
        description=activity.description,
        objectives=list(activity.objectives or []),
        keywords=list(activity.keywords or []),
        live=ref.formats[activity.format].live,
        registration=activity.registration,
        providership=activity.providership,
        joint_provider=activity.joint_provider,
        mips=activity.mips,
        rems=doc["rems"],
        occurrences=[
            {
                "start_date": o.start_date.isoformat(),
                "end_date": o.end_date.isoformat(),
                "venue": o.venue,
                "place": place_text(o.city, o.state, o.country),
            }
            for o in activity.occurrences
        ],
        registrations=[
            {
                "board": r.board,
                "board_name": ref.boards[r.board].name,
                "program": ref.boards[r.board].program,
                "practice_areas": list(r.practice_areas),
                "credit_types": list(r.credit_types),
                "points": r.points,
                "content_areas": list(r.content_areas),
                "claim_deadline": r.claim_deadline.isoformat() if r.claim_deadline else None,
            }
            for r in activity.moc
            if r.board in counted
        ],
        place=place_text(activity.city, activity.state, activity.country)
        if activity.delivery != "online"
        else None,
        updated_at=activity.updated_at.isoformat() if activity.updated_at else None,
        my_state=my_state,
        my_state_name=ref.jurisdiction_name(my_state) if my_state else None,
        topics=topic_tags(doc.get("topic") or (), ref),
        approvals=approval_list(doc.get("approvals") or (), ref),
        # Tagged with the topic of a rule that counts only approved courses, without that
        # approval: said in so many words, so that the tag is not taken for the approval.
        not_approved=missing_approvals(
            doc.get("topic") or (), doc.get("approvals") or (), my_state, ref
        ),
    )
    return view
