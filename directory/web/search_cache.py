"""Recent search answers, per worker, keyed by the search, today's date and the index generation.

Why: the landing page, a widget pre-set to one board, a board's link from its own site ask the
same few questions all day, and each costs the engine a full search with every facet counted.

What makes an answer reusable, and nothing else:
- the same search: every field of the `SearchRequest` (`request_key`);
- the same day: what is listed, upcoming or "this month" depends on today;
- the same index: `SearchEngine.generation()`, asked before each search, changes with every
  write through any engine in any process (a sync after a provider's write, `directory sync`,
  a reindex). The cache holds one generation's answers: seeing another empties it.

Bounded in entries and (about) bytes, least recently used out first, and each answer for at
most `seconds` (a backstop should a write ever fail to renew the generation). Errors are never
kept: only answers are stored. Answers are shared between requests, so nothing may change them
(the presenters only read). Beside an answer the cache may keep what a view made of it (the
API's encoded JSON, `rendering`), counted in the same byte budget: a repeated API search is then
neither searched nor encoded again.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date

from directory.search import SearchRequest, SearchResult

# What one facet value costs beyond its strings: the FacetValue and its place in a tuple.
_FACET_VALUE_OVERHEAD = 120
# Python dicts of a hit take about twice their JSON text.
_HIT_OVERHEAD_FACTOR = 2


def request_key(request: SearchRequest) -> tuple[Hashable, ...]:
    """Every field of the request, hashable (the facet selections as sorted tuples)."""
    key: list[Hashable] = []
    for f in fields(request):
        value = getattr(request, f.name)
        if isinstance(value, Mapping):
            value = tuple(sorted((k, tuple(v)) for k, v in value.items()))
        key.append((f.name, value))
    return tuple(key)


def result_size(result: SearchResult) -> int:
    """About how many bytes the answer holds in memory (hits and facet values)."""
    size = len(json.dumps(result.hits, default=str)) * _HIT_OVERHEAD_FACTOR
    for facet in result.facets:
        for v in facet.values:
            size += _FACET_VALUE_OVERHEAD + len(v.value) + len(v.label)
    return size


@dataclass
class _Entry:
    result: SearchResult
    size: int
    expires: float
    renderings: dict[Hashable, bytes] = field(default_factory=dict)


class SearchCache:
    def __init__(
        self,
        max_entries: int,
        max_bytes: int,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()  # a threaded server shares one cache between requests
        self._generation: str | None = None
        self._entries: OrderedDict[tuple[Hashable, ...], _Entry] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        return self._bytes

    def _enter(self, generation: str) -> None:
        """Hold `generation`'s answers only (the lock held)."""
        if generation != self._generation:
            self._entries.clear()
            self._bytes = 0
            self._generation = generation

    def get(self, generation: str, today: date, request: SearchRequest) -> SearchResult | None:
        key = (today.isoformat(), request_key(request))
        with self._lock:
            self._enter(generation)
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires <= self._clock():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry.result

    def put(
        self, generation: str, today: date, request: SearchRequest, result: SearchResult
    ) -> None:
        size = result_size(result)
        if size > self.max_bytes or self.max_entries <= 0:
            return
        key = (today.isoformat(), request_key(request))
        with self._lock:
            if self._generation is None:
                self._enter(generation)
            elif generation != self._generation:
                return  # another request has seen another index since this one asked
            if key in self._entries:
                self._drop(key)
            self._entries[key] = _Entry(result, size, self._clock() + self.seconds)
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def rendering(
        self,
        generation: str,
        today: date,
        request: SearchRequest,
        variant: Hashable,
        render: Callable[[SearchResult], bytes],
        result: SearchResult,
    ) -> bytes:
        """`render(result)`, kept beside the stored answer it was made from (by `variant`:
        whatever else it depends on) and reused while that answer is."""
        key = (today.isoformat(), request_key(request))
        with self._lock:
            entry = self._entries.get(key) if generation == self._generation else None
            if entry is not None and entry.result is result and variant in entry.renderings:
                return entry.renderings[variant]
        made = render(result)
        with self._lock:
            entry = self._entries.get(key) if generation == self._generation else None
            if entry is not None and entry.result is result and variant not in entry.renderings:
                entry.renderings[variant] = made
                entry.size += len(made)
                self._bytes += len(made)
                while self._bytes > self.max_bytes and self._entries:
                    self._drop(next(iter(self._entries)))
        return made

    def _drop(self, key: tuple[Hashable, ...]) -> None:
        self._bytes -= self._entries.pop(key).size
