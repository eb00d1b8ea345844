"""Distance search in the embedded index: the documents with a point within a radius.

The points of every document's `locations` are in an R*Tree (`indexer.embedded.store`: table
`geo`, exact coordinates in `points`). A search asks the tree for the points inside the
radius's bounding box, in latitude and longitude, then keeps those whose great-circle distance
(`directory.registry.places.distance_km`, the haversine OpenSearch's `arc` uses) is within the
radius. The tree answers from the few pages that cover the box: no search reads every point.

The box of a circle of angular radius d around (lat, lon), after Matuschek ("Finding Points
Within a Distance of a Latitude/Longitude Using Bounding Coordinates"): latitudes lat +/- d;
longitudes lon +/- asin(sin d / cos lat), which is a little wider than d / cos lat and is
where the circle really reaches. A circle reaching over a pole spans every longitude; a box
crossing the antimeridian (180 degrees) is asked as two boxes, one on either side.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from pyroaring import BitMap

from directory.registry.places import EARTH_RADIUS_KM, Point, distance_km

# Degrees added to every side of a box: the box's own arithmetic in floating point must never
# leave out a point the exact distance keeps (the tree itself rounds its boxes outwards).
_MARGIN = 1e-6

Box = tuple[float, float, float, float]  # min_lat, max_lat, min_lon, max_lon


def boxes(origin: Point, radius_km: float) -> list[Box]:
    """The latitude/longitude boxes that together hold every point within `radius_km` of
    `origin` (one box, or two across the antimeridian)."""
    d = radius_km / EARTH_RADIUS_KM  # radians
    d_deg = math.degrees(d)
    low, high = origin.lat - d_deg - _MARGIN, origin.lat + d_deg + _MARGIN
    if low <= -90 or high >= 90 or d >= math.pi / 2:
        # The circle takes in a pole: every longitude.
        return [(max(low, -90.0), min(high, 90.0), -180.0, 180.0)]
    reach = math.degrees(math.asin(min(1.0, math.sin(d) / math.cos(math.radians(origin.lat)))))
    west, east = origin.lon - reach - _MARGIN, origin.lon + reach + _MARGIN
    if east - west >= 360:
        return [(low, high, -180.0, 180.0)]
    if west < -180:
        return [(low, high, west + 360, 180.0), (low, high, -180.0, east)]
    if east > 180:
        return [(low, high, west, 180.0), (low, high, -180.0, east - 360)]
    return [(low, high, west, east)]


@dataclass(frozen=True)
class Near:
    """The documents with a point within the radius, and each one's nearest distance (km)."""

    documents: BitMap
    nearest: dict[int, float]


def near(conn: sqlite3.Connection, origin: Point, radius_km: float) -> Near:
    """The documents of the index with a point within `radius_km` of `origin`, in the
    caller's read transaction."""
    nearest: dict[int, float] = {}
    for box in boxes(origin, radius_km):
        rows = conn.execute(
            "SELECT p.doc_id, p.lat, p.lon FROM geo g JOIN points p ON p.id = g.id"
            " WHERE g.max_lat >= ? AND g.min_lat <= ? AND g.max_lon >= ? AND g.min_lon <= ?",
            box,
        )
        _nearest(origin, rows, nearest, radius_km)
    return Near(BitMap(nearest), nearest)


def nearest_km(conn: sqlite3.Connection, origin: Point, documents: BitMap) -> dict[int, float]:
    """The distance from `origin` to the nearest point of each of `documents` that has one,
    however far (read by document id, for the ones a page reaches beyond the radius)."""
    rows = conn.execute(
        "SELECT doc_id, lat, lon FROM points WHERE doc_id IN (SELECT value FROM json_each(?))",
        (json.dumps(documents.to_array().tolist()),),
    )
    return _nearest(origin, rows, {})


def _nearest(
    origin: Point,
    rows: Iterable[tuple[int, float, float]],
    nearest: dict[int, float],
    radius_km: float = math.inf,
) -> dict[int, float]:
    """`nearest` with each row's document at its point's distance, where that is nearer
    than what it holds and within `radius_km`."""
    # Documents share points (every one located in a city has the city's): each distance
    # is computed once.
    known: dict[tuple[float, float], float] = {}
    for doc_id, lat, lon in rows:
        km = known.get((lat, lon))
        if km is None:
            km = known[(lat, lon)] = distance_km(origin, Point(lat, lon))
        if km <= radius_km and km < nearest.get(doc_id, math.inf):
            nearest[doc_id] = km
    return nearest
