"""schema.org markup of an activity's detail page, for search engines: an EducationEvent for a
live activity, a Course for one taken at any time."""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

# An activity's delivery as schema.org says it. "both" is attended either way, at the
# physician's choice: both modes (not "blended", which is a course mixing the two).
_ATTENDANCE_MODES = {
    "online": "OnlineEventAttendanceMode",
    "both": "MixedEventAttendanceMode",
    "in person": "OfflineEventAttendanceMode",
}
_COURSE_MODES: dict[str, str | list[str]] = {
    "online": "online",
    "both": ["online", "onsite"],
    "in person": "onsite",
}


def json_ld(view: dict[str, Any]) -> Markup:
    """schema.org markup for search engines; '<' escaped so no text can close the script.

    The provider's URL is in it only as the card has it: http(s), checked by `safe_href`."""
    provider = {"@type": "Organization", "name": view["provider"]["name"]}
    register_url = view["register_url"]
    offers = {
        "@type": "Offer",
        "price": "0" if view["fee"] == "Free" else view["fee"].lstrip("$").replace(",", ""),
        "priceCurrency": "USD",
        **({"url": register_url} if register_url else {}),
    }
    delivery = view["delivery"]
    online = {"@type": "VirtualLocation", "url": register_url or view["url"]}
    place_text = view.get("place") or view["where"]
    place = {"@type": "Place", "name": place_text, "address": place_text}
    if view["live"]:
        data: dict[str, Any] = {
            "@context": "https://schema.org",
            "@type": "EducationEvent",
            "name": view["title"],
            "description": view["description"],
            "startDate": view["start_date"],
            "endDate": view["end_date"],
            "organizer": provider,
            "offers": offers,
            "eventAttendanceMode": "https://schema.org/"
            + _ATTENDANCE_MODES.get(delivery, "OfflineEventAttendanceMode"),
            "location": {"online": online, "both": [place, online]}.get(delivery, place),
        }
    else:
        data = {
            "@context": "https://schema.org",
            "@type": "Course",
            "name": view["title"],
            "description": view["description"],
            "provider": provider,
            "offers": offers,
            "hasCourseInstance": {
                "@type": "CourseInstance",
                "courseMode": _COURSE_MODES.get(delivery, "onsite"),
                "startDate": view["start_date"],
                "endDate": view["end_date"],
            },
        }
    text = (
        json.dumps(data, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    return Markup(text)  # noqa: S704 - JSON with <, >, & escaped
