"""Reference data: boards, credit types, practice areas, formats, the ABA content outline, and
the states' licensure topic mandates (with the topic tags providers apply and the bodies that
approve courses).

The facts live in `directory/registry/data/` as TOML and JSON so that a board adding a
practice area is a data change, not a code change. They are loaded and checked once, at
start-up: a malformed file stops the application with a message naming the file and the
entry, rather than surfacing later as a wrong facet or a rule that silently passes.

Names arrive written many ways ("Orthopedic Sports Medicine", "pain medicine>general>...").
`fold_name` is the comparison key that ignores how a name is written; `Board.canonical_area`
and `Reference.canonical_outline_path` give the current name for a name as written (exact,
then an alias, then equal under `fold_name`), or None when it is on no list; `nearest` gives
the valid names closest to one that is not.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
OUTLINE_SEPARATOR = " > "

# Characters that separate words for comparison: everything but letters and digits (hyphens and
# dashes, slashes, commas, periods, colons, parentheses). Apostrophes join ("Alzheimer's").
_SEPARATORS = re.compile(r"[\W_]+")
_APOSTROPHES = str.maketrans("", "", "'\u2019\u02bc")
_LIGATURES = str.maketrans({"\u00e6": "ae", "\u0153": "oe"})


@lru_cache(maxsize=8192)
def fold_name(name: str) -> str:
    """A comparison key for a name as people write it: two names with the same key are the
    same name. It ignores case, accents, surrounding and repeated whitespace, hyphens and
    dashes (-, en dash, em dash), slashes, commas, periods and other punctuation, "&" versus
    "and" (the word "and" is dropped), and the British "ae" ("Orthopaedic", "Paediatric",
    "Anaesthesia" fold as "Orthopedic", "Pediatric", "Anesthesia")."""
    text = unicodedata.normalize("NFKD", name.casefold().translate(_LIGATURES))
    text = "".join(c for c in text if not unicodedata.combining(c)).translate(_APOSTROPHES)
    words = _SEPARATORS.sub(" ", text.replace("&", " and ")).split()
    return " ".join(w.replace("ae", "e") for w in words if w != "and")


def _fold_path(segments: Iterable[str]) -> str:
    return OUTLINE_SEPARATOR.join(fold_name(s) for s in segments)


def _split_path(path: str) -> list[str] | None:
    """The segments of an outline path, any spacing around ">"; None if a segment is empty."""
    segments = [s.strip() for s in path.split(">")]
    return segments if all(segments) else None


class ReferenceDataError(ValueError):
    """A reference data file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Board:
    code: str
    name: str
    program: str
    collaborating: bool
    requires_content_areas: bool
    practice_areas: tuple[str, ...]
    specialties: tuple[str, ...]
    # Generic credit kind (e.g. "patient_safety") -> the board's own name ("Patient Safety").
    credit_types: Mapping[str, str]
    # Another name the board's area goes by -> the current name. Accepted as that area.
    aliases: Mapping[str, str] = field(default_factory=dict)
    # A common term that is not the board's name for an area -> the nearest area. Only
    # suggested, never accepted.
    hints: Mapping[str, str] = field(default_factory=dict)
    # Every current name and alias, as written and under fold_name -> the current name.
    _exact: Mapping[str, str] = field(init=False, repr=False, compare=False)
    _folded: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        exact = {**{a: a for a in self.practice_areas}, **self.aliases}
        folded = {fold_name(a): a for a in self.practice_areas}
        for alias, target in self.aliases.items():
            folded.setdefault(fold_name(alias), target)
        object.__setattr__(self, "_exact", MappingProxyType(exact))
        object.__setattr__(self, "_folded", MappingProxyType(folded))

    @property
    def credit_type_names(self) -> tuple[str, ...]:
        return tuple(self.credit_types.values())

    def canonical_area(self, name: str) -> str | None:
        """The board's current practice-area name for `name` as written: the name itself, the
        area an alias stands for, or the area equal to it (or to an alias) under fold_name.
        None when the name is not on the board's list (a hint does not count)."""
        current = self._exact.get(name)
        return current if current is not None else self._folded.get(fold_name(name))

    def canonical_credit_type(self, name: str) -> str | None:
        """The board's own name for the credit type `name` as written ("medical knowledge"
        -> "Medical Knowledge"), compared under fold_name; None when the board offers none
        of that name (an error, unlike an area off the list: the credit types are the
        boards' fixed vocabulary)."""
        folded = fold_name(name)
        return next((t for t in self.credit_type_names if fold_name(t) == folded), None)


@dataclass(frozen=True)
class Format:
    name: str
    live: bool
    max_months: int | None
    legacy: bool


CADENCES = {
    "every_renewal": "every renewal",
    "every_nth_renewal": "every {every} renewals",
    "every_n_years": "every {every} years",
    "one_time": "once",
    "initial_licence": "for the first licence",
    "yearly": "every year",
}
APPLIES_TO = (
    "all",
    "dea_registrants",
    "prescribers",
    "direct_patient_care",
    "specialties",
    "patients_ages",
)
FEDERAL = "US"


@dataclass(frozen=True)
class Topic:
    """A mandated-topic tag a provider applies to an activity (its own claim, not an approval)."""

    code: str
    name: str
    definition: str


@dataclass(frozen=True)
class Approver:
    """A body (a state agency, usually) that approves courses for a mandate where a state counts
    only approved ones. A provider records the approval it holds as (body code, approval id)."""

    code: str
    name: str
    url: str | None


@dataclass(frozen=True)
class Mandate:
    """One topic requirement of a state's licence renewal (or a federal one: jurisdiction "US").

    An activity matches when it is tagged with any of `topics` and, where `approved_only`,
    carries an approval by `approver`. A match is never a guarantee: the page shows the source
    and the date it was checked, and asks the physician to confirm with their board."""

    id: str
    jurisdiction: str
    name: str
    topics: tuple[str, ...]
    hours: float | None
    cadence: str
    every: int | None
    applies_to: str
    who: str
    approved_only: bool
    approver: str | None
    source: str
    checked: date
    note: str | None = None

    @property
    def cadence_label(self) -> str:
        """'every renewal', 'every 3 renewals', 'once', ..."""
        return CADENCES[self.cadence].format(every=self.every)

    @property
    def summary(self) -> str:
        """'1 hour every 3 renewals': how much, how often."""
        if self.hours is None:
            return self.cadence_label
        hours = f"{self.hours:g} hour{'' if self.hours == 1 else 's'}"
        return f"{hours} {self.cadence_label}"


@dataclass(frozen=True)
class Reference:
    credit_kinds: Mapping[str, str]
    boards: Mapping[str, Board]
    formats: Mapping[str, Format]
    statuses: tuple[str, ...]
    accreditation_statuses: tuple[str, ...]
    good_standing: frozenset[str]
    # Other ways rosters write a status ("Accredited", "Provisional") -> the accreditor's name.
    accreditation_aliases: Mapping[str, str]
    delivery: tuple[str, ...]
    providership: tuple[str, ...]
    registration: tuple[str, ...]
    rems_programs: tuple[str, ...]
    mips_low_credit_below: float
    # Every node of the ABA content outline as a path "Area > Section > Topic".
    aba_outline: frozenset[str]
    # An older or other path of an outline node -> its current path (a whole branch moves
    # with its node: the alias of a section stands for the paths of its topics too).
    outline_aliases: Mapping[str, str] = field(default_factory=dict)
    # Every outline path and alias under fold_name (per segment) -> the current path.
    _outline_folded: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    # USPS code -> name, for the states, DC and territories (jurisdictions.toml).
    jurisdictions: Mapping[str, str] = field(default_factory=dict)
    # Mandated-topic tags by code, approving bodies by code, and mandates by id, in file order.
    topics: Mapping[str, Topic] = field(default_factory=dict)
    approvers: Mapping[str, Approver] = field(default_factory=dict)
    mandates: Mapping[str, Mandate] = field(default_factory=dict)

    @property
    def collaborating_boards(self) -> list[Board]:
        return [b for b in self.boards.values() if b.collaborating]

    def canonical_outline_path(self, path: str) -> str | None:
        """The current path of an ABA content-outline node for `path` as written: any spacing
        around ">", each segment compared under fold_name, and the outline's aliases (an alias
        of a section also renames the paths below it). None when the node is not in the
        outline."""
        if path in self.aba_outline:
            return path
        segments = _split_path(path)
        if segments is None:
            return None
        resolved: list[str] = []
        for segment in segments:
            current = self._outline_folded.get(_fold_path([*resolved, segment]))
            if current is None:
                return None
            resolved = current.split(OUTLINE_SEPARATOR)
        return OUTLINE_SEPARATOR.join(resolved)

    def jurisdiction_name(self, code: str) -> str:
        """'Texas' for 'TX'; 'Federal' for the federal rules ("US")."""
        return "Federal (DEA)" if code == FEDERAL else self.jurisdictions.get(code, code)

    def mandates_for(self, state: str | None) -> list[Mandate]:
        """The state's own mandates, then the federal ones (every physician's, whatever state)."""
        return [
            m for m in self.mandates.values() if m.jurisdiction == state and state != FEDERAL
        ] + [m for m in self.mandates.values() if m.jurisdiction == FEDERAL]

    def matched_mandates(self, topics: Iterable[str], approvals: Iterable[str]) -> list[str]:
        """The ids of the mandates an activity with these topic tags and approvals (approving
        bodies' codes) matches: a tagged topic of the mandate and, where it counts only
        approved courses, an approval by its approver."""
        tagged, approved = set(topics), set(approvals)
        if not tagged:
            return []
        return [
            m.id
            for m in self.mandates.values()
            if not tagged.isdisjoint(m.topics) and (not m.approved_only or m.approver in approved)
        ]


# --- the nearest valid names to one that is not on a list -------------------------------------

# Words too common to say two names are related.
_STOPWORDS = frozenset({"a", "an", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"})
_CLOSE_ENOUGH = 0.6  # difflib's usual cutoff for a close match
_PATH_WEIGHT = 0.5  # for outline paths: words anywhere in the path, beside the last segment's


def _words(folded: str) -> tuple[str, ...]:
    return tuple(w for w in folded.replace(">", " ").split() if w not in _STOPWORDS)


def _word_match(a: str, b: str) -> float:
    """1 for the same word, 0.8 for the same stem ("pediatric"/"pediatrics",
    "anesthesia"/"anesthesiology"), else 0."""
    if a == b:
        return 1.0
    if a[:5] != b[:5]:
        return 0.0
    common = len(os.path.commonprefix([a, b]))
    return 0.8 if common >= 5 and common >= min(len(a), len(b)) - 2 else 0.0


@dataclass(frozen=True)
class _Candidate:
    name: str
    folded: str  # the whole name (a path: each segment folded, joined by " > ")
    last: str  # a path's last segment, folded; the whole name otherwise
    words: tuple[str, ...]
    last_words: tuple[str, ...]


@lru_cache(maxsize=64)
def _candidates(names: tuple[str, ...]) -> tuple[tuple[_Candidate, ...], Mapping[str, float]]:
    """The names prepared for comparison, and each word's weight (rarer words weigh more)."""
    out: list[_Candidate] = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            continue
        seen.add(name)
        segments = _split_path(name) if ">" in name else None
        if segments:
            folded = _fold_path(segments)
            last = fold_name(segments[-1])
        else:
            folded = last = fold_name(name)
        out.append(_Candidate(name, folded, last, _words(folded), _words(last)))
    frequency: dict[str, int] = {}
    for c in out:
        for w in set(c.words):
            frequency[w] = frequency.get(w, 0) + 1
    total = max(len(out), 1)
    weights = {w: math.log(1 + total / n) for w, n in frequency.items()}
    return tuple(out), MappingProxyType(weights)


def _matcher(query: tuple[str, ...], weights: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """For each query word, the words of the names it matches, each with the match (1 or 0.8)
    times that word's weight."""
    return {
        q: {w: m * weight for w, weight in weights.items() if (m := _word_match(q, w))}
        for q in set(query)
    }


def _shared(
    query: tuple[str, ...], words: tuple[str, ...], matches: Mapping[str, Mapping[str, float]]
) -> float:
    """How much `words` share with the query's words (each query word counts once, by its best
    match)."""
    return sum(max((matches[q].get(w, 0.0) for w in words), default=0.0) for q in query)


def nearest(
    name: str,
    names: Iterable[str],
    n: int = 3,
    hints: Mapping[str, str] | None = None,
) -> list[str]:
    """Up to `n` of `names` closest to `name`, best first: the area a hint names for it (the
    hint's words all in `name`, compared folded), then names sharing words with it (rarer
    words count more: "Pediatric Pain" -> names with "Pediatric" or "Pain"), then names close
    to it letter by letter (difflib, on folded text). For outline paths ("A > B > C"), nodes
    under the longest leading part of the path that is valid come first ("Pain Medicine >
    Cannabis" -> nodes under Pain Medicine), and the last segments are compared before the
    rest of the path, so a misplaced or misspelt topic still finds its node. Never returns a
    name that is not in `names`."""
    if n <= 0:
        return []
    hint_items = tuple(sorted((hints or {}).items()))
    return list(_nearest(name, tuple(names), n, hint_items))


@lru_cache(maxsize=1024)
def _nearest(
    name: str, names: tuple[str, ...], n: int, hint_items: tuple[tuple[str, str], ...]
) -> tuple[str, ...]:
    hints = dict(hint_items)
    candidates, weights = _candidates(tuple(names))
    valid = {c.name for c in candidates}
    segments = _split_path(name) if ">" in name else None
    if segments:
        folded_segments = [fold_name(s) for s in segments]
        folded, last = OUTLINE_SEPARATOR.join(folded_segments), folded_segments[-1]
    else:
        folded_segments = []
        folded = last = fold_name(name)
    words, last_words = _words(folded), _words(last)
    matches = _matcher(words, weights)

    picked: list[str] = []
    query_words = set(words)
    for hint, target in sorted(
        hints.items(), key=lambda h: (fold_name(h[0]) != folded, -len(h[0]), h[0])
    ):
        hint_words = set(_words(fold_name(hint)))
        if target in valid and target not in picked and hint_words and hint_words <= query_words:
            picked.append(target)

    # The longest leading part of the query path that is itself one of the names.
    anchor = ""
    if folded_segments:
        paths = {c.folded for c in candidates}
        for k in range(len(folded_segments) - 1, 0, -1):
            prefix = OUTLINE_SEPARATOR.join(folded_segments[:k])
            if prefix in paths:
                anchor = prefix
                break

    scored: list[tuple[float, _Candidate]] = []
    rest: list[_Candidate] = []
    for c in candidates:
        if c.name in picked:
            continue
        score = _shared(last_words, c.last_words, matches)
        if segments or c.last != c.folded:
            score += _PATH_WEIGHT * _shared(words, c.words, matches)
        if anchor and (c.folded == anchor or c.folded.startswith(anchor + OUTLINE_SEPARATOR)):
            score += 100.0 * anchor.count(">") + 100.0
        if score > 0:
            scored.append((score, c))
        else:
            rest.append(c)

    # Letters are compared on the last segments (a plain name is its own last segment).
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(last)

    def ratio(c: _Candidate, cutoff: float = 0.0) -> float:
        matcher.set_seq1(c.last)
        if matcher.real_quick_ratio() < cutoff or matcher.quick_ratio() < cutoff:
            return 0.0
        return matcher.ratio()

    # Letter-by-letter closeness only orders names that share as many words; it is worked out
    # for the names that can still make the first n.
    scored.sort(key=lambda sc: -sc[0])
    room = n - len(picked)
    if scored and room > 0:
        floor = scored[min(room, len(scored)) - 1][0]
        top = [(sc, c) for sc, c in scored if sc >= floor]
        top.sort(key=lambda sc: (-sc[0], -ratio(sc[1]), sc[1].name))
        picked += [c.name for _, c in top]
    if len(picked) < n:
        close = [(r, c.name) for c in rest if (r := ratio(c, _CLOSE_ENOUGH)) >= _CLOSE_ENOUGH]
        picked += [name for _, name in sorted(close, key=lambda rc: (-rc[0], rc[1]))]
    return tuple(picked[:n])


def _require(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise ReferenceDataError(f"{where}: {message}")


def _unique_strings(values: Any, where: str) -> tuple[str, ...]:
    _require(isinstance(values, list), where, "must be a list of names")
    _require(all(isinstance(v, str) and v.strip() for v in values), where, "names must be text")
    duplicates = sorted({v for v in values if values.count(v) > 1})
    _require(not duplicates, where, f"repeated: {', '.join(duplicates)}")
    return tuple(values)


def _name_table(raw: Any, where: str) -> dict[str, str]:
    """A TOML or JSON table of "name" = "name" (aliases, hints)."""
    _require(isinstance(raw, dict), where, 'must be a table of "name" = "name"')
    for key, value in raw.items():
        _require(
            isinstance(value, str) and value.strip() != "" and key.strip() != "",
            where,
            f"'{key}': both names must be text",
        )
    return dict(raw)


def _board_names(
    areas: tuple[str, ...], aliases: dict[str, str], hints: dict[str, str], where: str
) -> None:
    """Refuse aliases and hints that point off the list, repeat a current name, or make two
    names indistinguishable once folded."""
    folded: dict[str, str] = {}  # folded name -> the current name it stands for
    for area in areas:
        other = folded.setdefault(fold_name(area), area)
        _require(
            other == area,
            f"{where} practice_areas",
            f"'{area}' and '{other}' are the same name written differently",
        )
    for alias, target in aliases.items():
        at = f"{where} aliases: '{alias}'"
        _require(target in areas, at, f"'{target}' is not one of its practice areas")
        _require(
            alias not in areas, at, "is a current practice area; an alias is another name for one"
        )
        other = folded.setdefault(fold_name(alias), target)
        _require(
            other == target and fold_name(alias) != fold_name(target),
            at,
            f"is '{other}' written differently"
            if other != target
            else f"is '{target}' written differently; no alias is needed",
        )
    for hint, target in hints.items():
        at = f"{where} hints: '{hint}'"
        _require(target in areas, at, f"'{target}' is not one of its practice areas")
        accepted = folded.get(fold_name(hint))
        _require(
            accepted is None,
            at,
            f"is accepted as '{accepted}' (a practice area or an alias), so it cannot be a hint",
        )


def _load_boards(path: Path, credit_kinds: Mapping[str, str]) -> dict[str, Board]:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    boards: dict[str, Board] = {}
    for i, entry in enumerate(raw.get("boards", [])):
        code = entry.get("code")
        where = f"{path.name} board {code or f'#{i + 1}'}"
        _require(isinstance(code, str) and code.isalnum(), where, "needs an alphanumeric code")
        _require(code not in boards, where, "appears twice")
        credit_types = dict(entry.get("credit_types", {}))
        unknown = sorted(set(credit_types) - set(credit_kinds))
        _require(not unknown, where, f"unknown credit kinds {unknown}; known: {list(credit_kinds)}")
        collaborating = bool(entry.get("collaborating", False))
        _require(
            not collaborating or bool(credit_types),
            where,
            "a collaborating board must offer at least one credit type",
        )
        content_areas = entry.get("content_areas", "none")
        _require(content_areas in ("none", "required"), where, "content_areas: none or required")
        areas = _unique_strings(entry.get("practice_areas"), f"{where} practice_areas")
        aliases = _name_table(entry.get("aliases", {}), f"{where} aliases")
        hints = _name_table(entry.get("hints", {}), f"{where} hints")
        _board_names(areas, aliases, hints, where)
        boards[code] = Board(
            code=code,
            name=entry["name"],
            program=entry["program"],
            collaborating=collaborating,
            requires_content_areas=content_areas == "required",
            practice_areas=areas,
            specialties=_unique_strings(entry.get("specialties", []), f"{where} specialties"),
            credit_types=credit_types,
            aliases=MappingProxyType(aliases),
            hints=MappingProxyType(hints),
        )
    _require(bool(boards), path.name, "lists no boards")
    return boards


def _outline_paths(nodes: Any, prefix: str, where: str) -> Iterator[str]:
    _require(isinstance(nodes, list), where, f"children of '{prefix or 'top'}' must be a list")
    names = [n.get("name", "") if isinstance(n, dict) else "" for n in nodes]
    _unique_strings(names, f"{where} under '{prefix or 'top'}'")
    for node in nodes:
        name = node["name"]
        _require(">" not in name, where, f"'{name}' contains '>', the path separator")
        _require(name == name.strip(), where, f"'{name}' has spaces around it")
        path = f"{prefix}{OUTLINE_SEPARATOR}{name}" if prefix else name
        yield path
        yield from _outline_paths(node.get("children", []), path, where)


def _outline_index(
    paths: frozenset[str], raw_aliases: Any, where: str
) -> tuple[dict[str, str], dict[str, str]]:
    """The outline's aliases (written with single spaces around ">") and the folded index of
    its paths and aliases; refuses aliases that point nowhere or collide."""
    folded: dict[str, str] = {}
    for path in sorted(paths):
        other = folded.setdefault(_fold_path(path.split(OUTLINE_SEPARATOR)), path)
        _require(
            other == path, where, f"'{path}' and '{other}' are the same path written differently"
        )
    aliases: dict[str, str] = {}
    for alias, target in _name_table(raw_aliases, f"{where} aliases").items():
        at = f"{where} aliases: '{alias}'"
        segments = _split_path(alias)
        _require(segments is not None, at, "has an empty segment")
        assert segments is not None
        written = OUTLINE_SEPARATOR.join(segments)
        _require(target in paths, at, f"'{target}' is not a path in the outline")
        _require(written not in paths, at, "is a current path; an alias is another name for one")
        parent = OUTLINE_SEPARATOR.join(segments[:-1])
        _require(
            not parent or parent in paths,
            at,
            f"its parent '{parent}' is not a current path (write an alias under its parent's "
            "current path)",
        )
        other = folded.setdefault(_fold_path(segments), target)
        _require(other == target, at, f"is '{other}' written differently")
        _require(written not in aliases, at, "appears twice")
        aliases[written] = target
    return aliases, folded


_CODE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_BODY_CODE = re.compile(r"[A-Z0-9]+(-[A-Z0-9]+)*")


def _text(entry: Mapping[str, Any], key: str, where: str, required: bool = True) -> str | None:
    value = entry.get(key)
    if value is None and not required:
        return None
    _require(isinstance(value, str) and value.strip() != "", where, f"needs {key} (text)")
    return str(value).strip()


def _coded(
    entry: Mapping[str, Any],
    i: int,
    kind: str,
    pattern: re.Pattern[str],
    example: str,
    seen: Mapping[str, Any],
) -> tuple[str, str]:
    """An entry's code, checked against `pattern` and not in `seen`, and how a message names
    the entry ("mandate_topics.toml topic human-trafficking", or "... #3" without a code)."""
    code = entry.get("code")
    where = f"{kind} {code or f'#{i + 1}'}"
    case = "lower" if example.islower() else "upper"
    _require(
        isinstance(code, str) and bool(pattern.fullmatch(code)),
        where,
        f"needs a code of {case}-case words joined by hyphens, like '{example}'",
    )
    _require(code not in seen, where, "appears twice")
    return str(code), where


def _load_topics(path: Path) -> dict[str, Topic]:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    topics: dict[str, Topic] = {}
    for i, entry in enumerate(raw.get("topic", [])):
        code, where = _coded(entry, i, f"{path.name} topic", _CODE, "human-trafficking", topics)
        topics[code] = Topic(
            code=code,
            name=str(_text(entry, "name", where)),
            definition=str(_text(entry, "definition", where)),
        )
    _require(bool(topics), path.name, "lists no topics")
    return topics


def _load_mandates(
    path: Path, jurisdictions: Mapping[str, str], topics: Mapping[str, Topic]
) -> tuple[dict[str, Approver], dict[str, Mandate]]:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    approvers: dict[str, Approver] = {}
    for i, entry in enumerate(raw.get("approver", [])):
        code, where = _coded(entry, i, f"{path.name} approver", _BODY_CODE, "TX-HHSC", approvers)
        url = _text(entry, "url", where, required=False)
        _require(url is None or url.startswith(("https://", "http://")), where, "url must be a URL")
        approvers[code] = Approver(code=code, name=str(_text(entry, "name", where)), url=url)
    mandates: dict[str, Mandate] = {}
    for i, entry in enumerate(raw.get("rule", [])):
        rule_id = entry.get("id")
        where = f"{path.name} rule {rule_id or f'#{i + 1}'}"
        jurisdiction = entry.get("jurisdiction")
        _require(
            jurisdiction == FEDERAL or jurisdiction in jurisdictions,
            where,
            f"jurisdiction '{jurisdiction}' is not a state code (jurisdictions.toml) or 'US'",
        )
        _require(
            isinstance(rule_id, str)
            and rule_id.startswith(f"{jurisdiction}-")
            and bool(_CODE.fullmatch(rule_id[len(jurisdiction) + 1 :])),
            where,
            f"needs an id '{jurisdiction}-' then lower-case words joined by hyphens",
        )
        _require(rule_id not in mandates, where, "appears twice")
        rule_topics = _unique_strings(entry.get("topics"), f"{where} topics")
        _require(bool(rule_topics), where, "names no topic")
        unknown = [t for t in rule_topics if t not in topics]
        _require(not unknown, where, f"unknown topics {unknown} (mandate_topics.toml)")
        hours = entry.get("hours")
        _require(
            hours is None or (isinstance(hours, int | float) and 0 < hours <= 100),
            where,
            "hours must be a positive number",
        )
        cadence = entry.get("cadence")
        _require(cadence in CADENCES, where, f"cadence must be one of {list(CADENCES)}")
        every = entry.get("every")
        if cadence in ("every_nth_renewal", "every_n_years"):
            _require(isinstance(every, int) and every >= 2, where, "every must be 2 or more")
        else:
            _require(
                every is None,
                where,
                "every goes only with cadence every_nth_renewal or every_n_years",
            )
        applies_to = entry.get("applies_to")
        _require(applies_to in APPLIES_TO, where, f"applies_to must be one of {list(APPLIES_TO)}")
        approved_only = entry.get("approved_only", False)
        _require(isinstance(approved_only, bool), where, "approved_only must be true or false")
        approver = entry.get("approver")
        if approved_only:
            _require(approver in approvers, where, "approved_only needs an approver code defined")
        else:
            _require(
                approver is None or approver in approvers, where, f"unknown approver {approver}"
            )
        source = str(_text(entry, "source", where))
        _require(source.startswith(("https://", "http://")), where, "source must be a URL")
        checked = entry.get("checked")
        _require(
            isinstance(checked, date) and not isinstance(checked, datetime),
            where,
            "checked must be a date (YYYY-MM-DD)",
        )
        mandates[rule_id] = Mandate(
            id=rule_id,
            jurisdiction=jurisdiction,
            name=str(_text(entry, "name", where)),
            topics=rule_topics,
            hours=float(hours) if hours is not None else None,
            cadence=cadence,
            every=every,
            applies_to=applies_to,
            who=str(_text(entry, "who", where)),
            approved_only=approved_only,
            approver=approver,
            source=source,
            checked=checked,
            note=_text(entry, "note", where, required=False),
        )
    _require(bool(mandates), path.name, "lists no rules")
    return approvers, mandates


def load_reference(data_dir: Path = DATA_DIR) -> Reference:
    registry = tomllib.loads((data_dir / "registry.toml").read_text(encoding="utf-8"))
    boards_raw = tomllib.loads((data_dir / "boards.toml").read_text(encoding="utf-8"))
    credit_kinds = dict(boards_raw.get("credit_kinds", {}))
    _require(len(credit_kinds) == 4, "boards.toml credit_kinds", "must name the four kinds")
    boards = _load_boards(data_dir / "boards.toml", credit_kinds)

    outline_file = data_dir / "aba_content_outline.json"
    outline = json.loads(outline_file.read_text(encoding="utf-8"))
    aba_outline = frozenset(_outline_paths(outline.get("areas"), "", outline_file.name))
    outline_aliases, outline_folded = _outline_index(
        aba_outline, outline.get("aliases", {}), outline_file.name
    )

    formats = {
        f["name"]: Format(
            name=f["name"],
            live=bool(f.get("live", False)),
            max_months=f.get("max_months"),
            legacy=bool(f.get("legacy", False)),
        )
        for f in registry["formats"]
    }
    statuses = registry["accreditation_statuses"]
    jurisdictions_raw = tomllib.loads(
        (data_dir / "jurisdictions.toml").read_text(encoding="utf-8")
    )["jurisdictions"]
    jurisdictions = {str(k): str(v) for k, v in jurisdictions_raw.items()}
    topics = _load_topics(data_dir / "mandate_topics.toml")
    approvers, mandates = _load_mandates(data_dir / "state_mandates.toml", jurisdictions, topics)
    return Reference(
        credit_kinds=credit_kinds,
        boards=boards,
        formats=formats,
        statuses=_unique_strings(registry["statuses"]["order"], "registry.toml statuses"),
        accreditation_statuses=tuple(s["name"] for s in statuses),
        good_standing=frozenset(s["name"] for s in statuses if s["good_standing"]),
        accreditation_aliases={
            alias: s["name"] for s in statuses for alias in s.get("aliases", [])
        },
        delivery=tuple(registry["delivery"]["values"]),
        providership=tuple(registry["providership"]["values"]),
        registration=tuple(registry["registration"]["values"]),
        rems_programs=tuple(registry["rems"]["programs"]),
        mips_low_credit_below=float(registry["mips"]["low_credit_warning_below"]),
        aba_outline=aba_outline,
        outline_aliases=MappingProxyType(outline_aliases),
        _outline_folded=MappingProxyType(outline_folded),
        jurisdictions=MappingProxyType(jurisdictions),
        topics=MappingProxyType(topics),
        approvers=MappingProxyType(approvers),
        mandates=MappingProxyType(mandates),
    )


@cache
def reference() -> Reference:
    """The reference data shipped with the directory, loaded once per process."""
    return load_reference()
