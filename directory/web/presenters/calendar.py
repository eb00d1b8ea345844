"""An 'add to calendar' file (RFC 5545): one all-day event per date of a live activity.

Written with the icalendar library (maintained, RFC 5545 to the letter): it escapes text
values, folds long lines and ends every line with CRLF. Provider text is made plain first:
every line break (CR, LF or both) becomes a newline, which the library escapes as "\\n" inside
the value, and other control characters are dropped, so a title can never end its line and
start a property of its own.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from icalendar import Calendar, Event

_LINE_BREAK = re.compile(r"\r\n?|[\n\x0b\x0c\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def plain_text(value: str) -> str:
    """Provider text as an iCalendar TEXT value may carry it: newlines, no other controls."""
    return _CONTROL.sub("", _LINE_BREAK.sub("\n", value)).replace("\t", " ")


def activity_calendar(view: dict[str, Any], activity_id: int, host: str) -> str:
    """The .ics text of a live activity's detail view (`presenters.detail.listed_activity`)."""
    sessions = view["occurrences"] or [
        {
            "start_date": view["start_date"],
            "end_date": view["end_date"],
            "place": view["place"] or "Online",
        }
    ]
    calendar = Calendar()
    calendar.add("prodid", "-//CME Directory//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    stamp = datetime.now(UTC).replace(microsecond=0)
    title = plain_text(view["title"])
    description = plain_text(
        f"{view['provider']['name']} · {view['cme_credits']} CME credits · {view['url']}"
    )
    for n, s in enumerate(sessions, 1):
        event = Event()
        event.add("uid", f"activity-{activity_id}-{n}@{plain_text(host)}")
        event.add("dtstamp", stamp)
        event.add("dtstart", date.fromisoformat(s["start_date"]))
        # DTEND is exclusive: the day after the last one.
        event.add("dtend", date.fromisoformat(s["end_date"]) + timedelta(days=1))
        event.add("summary", title)
        event.add("location", plain_text(s.get("place") or "Online"))
        event.add("url", view["url"])  # our own detail page, never the provider's text
        event.add("description", description)
        calendar.add_component(event)
    return calendar.to_ical().decode("utf-8")
