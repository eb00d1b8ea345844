"""An 'add to calendar' file (RFC 5545): one all-day event per date of a live activity."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any


def _ics_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def activity_calendar(view: dict[str, Any], activity_id: int, host: str) -> str:
    """The .ics text of a live activity's detail view (`presenters.detail.listed_activity`)."""
    sessions = view["occurrences"] or [
        {
            "start_date": view["start_date"],
            "end_date": view["end_date"],
            "place": view["place"] or "Online",
        }
    ]
    stamp = date.today().strftime("%Y%m%dT000000Z")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//CME Directory//EN", "CALSCALE:GREGORIAN"]
    for n, s in enumerate(sessions, 1):
        end = date.fromisoformat(s["end_date"]) + timedelta(days=1)  # DTEND is exclusive
        lines += [
            "BEGIN:VEVENT",
            f"UID:activity-{activity_id}-{n}@{host}",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{s['start_date'].replace('-', '')}",
            f"DTEND;VALUE=DATE:{end.strftime('%Y%m%d')}",
            f"SUMMARY:{_ics_text(view['title'])}",
            f"LOCATION:{_ics_text(s.get('place') or 'Online')}",
            f"URL:{view['url']}",
            f"DESCRIPTION:{_ics_text(view['provider']['name'] + ' · ' + str(view['cme_credits']) + ' CME credits · ' + view['url'])}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"
