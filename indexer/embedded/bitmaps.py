"""The embedded index's bitmaps: for every facet value, and for every value of the columns that
filters compare (dates, credits, claim deadlines by board), the set of documents that have it.

Why bitmaps (pyroaring): a search counts every value of twelve facets over the documents it
matches. Counting with SQL (a temporary table of the matching ids, then one GROUP BY join
per facet) read every (facet, value, document) row of the matching documents on every
request, about four fifths of a search's time. With a compressed bitmap per value, a count is
one intersection cardinality computed in C over the two sets' containers, a range filter is
the union of the bitmaps of the values in the range, and nothing scans rows. pyroaring wraps
CRoaring, the reference implementation of Roaring bitmaps (also used by Lucene, Druid and
ClickHouse); its wheels need nothing else installed.

Where they live: in the index file itself, table `bitmaps` (name, value, serialized bitmap),
written in the same transaction as the documents they describe (`Pending`), so a reader sees
documents and bitmaps of the same generation. Each write transaction also stamps the file
with a new generation; a process keeps the bitmaps of the generation it last read
(`Snapshot`) and reads them again, a few thousand small blobs, only when the stamp changed.

Names: a facet's own name ("board", "practice_area", ...) for its values; for the columns
filters compare, a name starting with "~" (`END`, `START`, `NEXT`, `CREDITS`, `ENDURING`, and
`DEADLINE` + board); for distance search, `PLACE`, one bitmap per distinct point ("lat,lon"),
which a snapshot keeps in latitude order (`Places`).
"""

from __future__ import annotations

import bisect
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyroaring import BitMap

from directory.search import FACETS

END = "~end_date"
START = "~start_date"
NEXT = "~next_start"
CREDITS = "~cme_credits"
ENDURING = "~enduring"
DEADLINE = "~deadline:"  # + the board: that board's claim deadlines
ANY_DEADLINE = "~deadline"  # any board's
PLACE = "~place"  # + "lat,lon" (each float's repr): the documents at that point

# The range columns and the document field each one holds. Their values sort as text (ISO
# dates) except credits, which sort as numbers.
RANGES = {END: "end_date", START: "start_date", NEXT: "next_start", CREDITS: "cme_credits"}

Key = tuple[str, str]


def keys(doc: Mapping[str, Any]) -> Iterator[Key]:
    """The bitmaps a document belongs in."""
    for facet in FACETS:
        value = doc.get(facet.name)
        for v in value if isinstance(value, list) else [value]:
            if v not in (None, ""):
                yield facet.name, str(v)
    for name, column in RANGES.items():
        if doc.get(column) is not None:
            yield name, str(doc[column])
    if doc.get("enduring"):
        yield ENDURING, "1"
    for board, deadline in doc.get("deadlines", {}).items():
        if deadline:
            yield DEADLINE + board, deadline
            yield ANY_DEADLINE, deadline
    for point in doc.get("locations") or ():
        yield PLACE, place_value(point["lat"], point["lon"])


def place_value(lat: Any, lon: Any) -> str:
    """A point as a bitmap's value: each coordinate's repr, which reads back the same float."""
    return f"{float(lat)!r},{float(lon)!r}"


def union(bitmaps: Iterable[BitMap]) -> BitMap:
    """The documents in any of `bitmaps` (none: no document)."""
    found = list(bitmaps)
    return BitMap.union(*found) if found else BitMap()


def new_generation() -> str:
    return uuid.uuid4().hex


# --- writing ------------------------------------------------------------------------------------


@dataclass
class Pending:
    """What one write transaction adds to and removes from the bitmaps, applied by `flush`
    before it commits. Removals apply before additions: a document replaced in the same
    transaction (an upsert) is removed, then added. Ids are gathered in lists (cheap to
    append to, for every key of every document of a reindex) and made bitmaps at `flush`."""

    added: dict[Key, list[int]] = field(default_factory=dict)
    removed: dict[Key, list[int]] = field(default_factory=dict)

    def add(self, doc_id: int, doc_keys: Iterable[Key]) -> None:
        added = self.added
        for key in doc_keys:
            found = added.get(key)
            if found is None:
                added[key] = [doc_id]
            else:
                found.append(doc_id)

    def remove(self, doc_id: int, doc_keys: Iterable[Key]) -> None:
        for key in doc_keys:
            self.removed.setdefault(key, []).append(doc_id)

    def forget(self, ids: Iterable[int]) -> None:
        """Take documents added in this transaction out again (a batch that failed)."""
        gone = set(ids)
        for key, found in self.added.items():
            if not gone.isdisjoint(found):
                self.added[key] = [i for i in found if i not in gone]

    def flush(self, conn: Any) -> None:
        """Write the changed bitmaps and a new generation, in the caller's transaction."""
        for key in set(self.added) | set(self.removed):
            row = conn.execute(
                "SELECT bits FROM bitmaps WHERE name = ? AND value = ?", key
            ).fetchone()
            bits = BitMap.deserialize(row[0]) if row else BitMap()
            bits.difference_update(BitMap(self.removed.get(key, ())))
            bits.update(self.added.get(key, ()))
            if bits:
                bits.run_optimize()
                conn.execute(
                    "INSERT OR REPLACE INTO bitmaps VALUES (?, ?, ?)", (*key, bits.serialize())
                )
            elif row:
                conn.execute("DELETE FROM bitmaps WHERE name = ? AND value = ?", key)
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (new_generation(),))
        self.added.clear()
        self.removed.clear()


# --- reading ------------------------------------------------------------------------------------


class Range:
    """One range column's values in order, and their bitmaps: a range is the union of a run."""

    def __init__(self, values: dict[Any, BitMap]) -> None:
        self.values = sorted(values)
        self.bitmaps = [values[v] for v in self.values]

    def between(self, low: Any = None, high: Any = None) -> BitMap:
        """The documents whose value is within [low, high] (either end open when None)."""
        start = 0 if low is None else bisect.bisect_left(self.values, low)
        stop = len(self.values) if high is None else bisect.bisect_right(self.values, high)
        return union(self.bitmaps[start:stop])


class Places:
    """Every distinct point documents are at, in latitude order, with the documents at each.
    A distance search reads the latitude band of its box by bisection, and only the points in
    it: the documents of a city share its point, so there are a few thousand points where
    there are a million documents."""

    def __init__(self, points: Mapping[tuple[float, float], BitMap]) -> None:
        self.points = sorted(points.items())
        self.lats = [lat for (lat, _), _ in self.points]

    def __len__(self) -> int:
        return len(self.points)

    def band(self, min_lat: float, max_lat: float) -> list[tuple[tuple[float, float], BitMap]]:
        """The points with min_lat <= latitude <= max_lat."""
        low = bisect.bisect_left(self.lats, min_lat)
        high = bisect.bisect_right(self.lats, max_lat)
        return self.points[low:high]

    def in_box(
        self, min_lat: float, max_lat: float, min_lon: float, max_lon: float
    ) -> Iterator[tuple[float, float, BitMap]]:
        """(lat, lon, documents) of each point inside the box."""
        for (lat, lon), bits in self.band(min_lat, max_lat):
            if min_lon <= lon <= max_lon:
                yield lat, lon, bits


class Snapshot:
    """The bitmaps of one generation of the index file, read-only, and the filters derived
    from them (a range's union is kept for the next request asking for it: the same few
    ranges, "ends today or later" above all, are asked all day)."""

    def __init__(self, generation: str, rows: Iterable[tuple[str, str, bytes]]) -> None:
        self.generation = generation
        self.facets: dict[str, dict[str, BitMap]] = {f.name: {} for f in FACETS}
        ranges: dict[str, dict[Any, BitMap]] = {}
        points: dict[tuple[float, float], BitMap] = {}
        self.enduring = BitMap()
        for name, value, blob in rows:
            bits = BitMap.deserialize(blob)
            if name in self.facets:
                self.facets[name][value] = bits
            elif name == ENDURING:
                self.enduring = bits
            elif name == PLACE:
                lat, _, lon = value.partition(",")
                points[(float(lat), float(lon))] = bits
            else:
                ranges.setdefault(name, {})[float(value) if name == CREDITS else value] = bits
        self.ranges = {name: Range(values) for name, values in ranges.items()}
        self.places = Places(points)
        # Every document has an end date.
        self.documents = len(self.ranges[END].between()) if END in self.ranges else 0
        self._derived: dict[tuple[Any, ...], BitMap] = {}
        self._lock = threading.Lock()

    def between(self, name: str, low: Any = None, high: Any = None) -> BitMap:
        key = (name, low, high)
        found = self._derived.get(key)
        if found is None:
            column = self.ranges.get(name)
            found = column.between(low, high) if column else BitMap()
            with self._lock:
                if len(self._derived) >= 256:  # bounded: a new day's ranges push out old ones
                    self._derived.clear()
                self._derived[key] = found
        return found

    def any_of(self, facet: str, values: Iterable[str]) -> BitMap:
        mine = self.facets.get(facet, {})
        return union(mine[v] for v in values if v in mine)


class Snapshots:
    """The latest snapshot a process read, for one index file (shared by its threads)."""

    def __init__(self) -> None:
        self._current: Snapshot | None = None
        self._lock = threading.Lock()

    def read(self, conn: Any) -> Snapshot:
        """The snapshot of the generation `conn` sees (in its read transaction)."""
        row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        generation = row[0] if row else ""
        current = self._current
        if current is not None and current.generation == generation:
            return current
        with self._lock:
            snapshot = Snapshot(generation, conn.execute("SELECT name, value, bits FROM bitmaps"))
            self._current = snapshot
        return snapshot
