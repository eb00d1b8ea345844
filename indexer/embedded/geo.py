"""Distance search in the embedded index: the documents with a point within a radius.

Every distinct point documents are at has a bitmap of them (`indexer.embedded.bitmaps.PLACE`),
and a snapshot keeps the points in latitude order (`bitmaps.Places`). A search takes the
points inside the radius's bounding box (the latitude band by bisection, then the longitudes
of the points in it), keeps those whose great-circle distance
(`directory.registry.places.distance_km`, the haversine OpenSearch's `arc` uses) is within the
radius, and unites their bitmaps: one distance per place, not per document, and no search
reads every point. The exact points of each document (`indexer.embedded.store`, table
`points`, by doc_id) answer how far the documents beyond the radius are, for the sort.

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
from indexer.embedded.bitmaps import Places

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


Group = tuple[float, BitMap]  # a distance (km) and the documents at it


@dataclass(frozen=True)
class Near:
    """The documents with a point within the radius, and the same by distance: each distinct
    point within the radius with the documents at it, nearest first. A document at several
    points is in several groups; its first is its nearest."""

    documents: BitMap
    groups: list[Group]


def _grouped(
    origin: Point, rows: Iterable[tuple[float, float, str]], radius_km: float
) -> list[Group]:
    """(distance, documents) of each distinct point within `radius_km`, nearest first."""
    groups = []
    for lat, lon, ids in rows:
        km = distance_km(origin, Point(lat, lon))
        if km <= radius_km:
            groups.append((km, BitMap(json.loads(ids))))
    groups.sort(key=lambda g: g[0])
    return groups


def near(places: Places, origin: Point, radius_km: float) -> Near:
    """The documents with a point within `radius_km` of `origin`, among `places` (the
    snapshot's points)."""
    groups: list[Group] = []
    for box in boxes(origin, radius_km):
        for lat, lon, bits in places.in_box(*box):
            km = distance_km(origin, Point(lat, lon))
            if km <= radius_km:
                groups.append((km, bits))
    groups.sort(key=lambda g: g[0])
    documents = BitMap.union(*(bits for _, bits in groups)) if groups else BitMap()
    return Near(documents, groups)


def nearest_groups(conn: sqlite3.Connection, origin: Point, documents: BitMap) -> list[Group]:
    """The points of `documents`, however far, each with its documents, nearest first (read
    by document id, for the ones a page reaches beyond the radius)."""
    rows = conn.execute(
        "SELECT lat, lon, json_group_array(doc_id) FROM points"
        " WHERE doc_id IN (SELECT value FROM json_each(?)) GROUP BY lat, lon",
        (json.dumps(documents.to_array().tolist()),),
    )
    return _grouped(origin, rows, math.inf)
