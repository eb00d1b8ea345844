"""Reference data: boards, credit types, practice areas, formats and the ABA content outline.

The facts live in `directory/registry/data/` as TOML and JSON so that a board adding a
practice area is a data change, not a code change. They are loaded and checked once, at
start-up: a malformed file stops the application with a message naming the file and the
entry, rather than surfacing later as a wrong facet or a rule that silently passes.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
OUTLINE_SEPARATOR = " > "


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

    @property
    def credit_type_names(self) -> tuple[str, ...]:
        return tuple(self.credit_types.values())


@dataclass(frozen=True)
class Format:
    name: str
    live: bool
    max_months: int | None
    legacy: bool


@dataclass(frozen=True)
class Reference:
    credit_kinds: Mapping[str, str]
    boards: Mapping[str, Board]
    formats: Mapping[str, Format]
    statuses: tuple[str, ...]
    accreditation_statuses: tuple[str, ...]
    good_standing: frozenset[str]
    delivery: tuple[str, ...]
    providership: tuple[str, ...]
    registration: tuple[str, ...]
    rems_programs: tuple[str, ...]
    mips_low_credit_below: float
    # Every node of the ABA content outline as a path "Area > Section > Topic".
    aba_outline: frozenset[str]

    @property
    def collaborating_boards(self) -> list[Board]:
        return [b for b in self.boards.values() if b.collaborating]


def _require(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise ReferenceDataError(f"{where}: {message}")


def _unique_strings(values: Any, where: str) -> tuple[str, ...]:
    _require(isinstance(values, list), where, "must be a list of names")
    _require(all(isinstance(v, str) and v.strip() for v in values), where, "names must be text")
    duplicates = sorted({v for v in values if values.count(v) > 1})
    _require(not duplicates, where, f"repeated: {', '.join(duplicates)}")
    return tuple(values)


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
        boards[code] = Board(
            code=code,
            name=entry["name"],
            program=entry["program"],
            collaborating=collaborating,
            requires_content_areas=content_areas == "required",
            practice_areas=_unique_strings(entry.get("practice_areas"), f"{where} practice_areas"),
            specialties=_unique_strings(entry.get("specialties", []), f"{where} specialties"),
            credit_types=credit_types,
        )
    _require(bool(boards), path.name, "lists no boards")
    return boards


def _outline_paths(nodes: list[dict[str, Any]], prefix: str, where: str) -> Iterator[str]:
    names = [n.get("name", "") for n in nodes]
    _unique_strings(names, f"{where} under '{prefix or 'top'}'")
    for node in nodes:
        name = node["name"]
        _require(OUTLINE_SEPARATOR not in name, where, f"'{name}' contains '{OUTLINE_SEPARATOR}'")
        path = f"{prefix}{OUTLINE_SEPARATOR}{name}" if prefix else name
        yield path
        yield from _outline_paths(node.get("children", []), path, where)


def load_reference(data_dir: Path = DATA_DIR) -> Reference:
    registry = tomllib.loads((data_dir / "registry.toml").read_text(encoding="utf-8"))
    boards_raw = tomllib.loads((data_dir / "boards.toml").read_text(encoding="utf-8"))
    credit_kinds = dict(boards_raw.get("credit_kinds", {}))
    _require(len(credit_kinds) == 4, "boards.toml credit_kinds", "must name the four kinds")
    boards = _load_boards(data_dir / "boards.toml", credit_kinds)

    outline_file = data_dir / "aba_content_outline.json"
    outline = json.loads(outline_file.read_text(encoding="utf-8"))
    aba_outline = frozenset(_outline_paths(outline["areas"], "", outline_file.name))

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
    return Reference(
        credit_kinds=credit_kinds,
        boards=boards,
        formats=formats,
        statuses=_unique_strings(registry["statuses"]["order"], "registry.toml statuses"),
        accreditation_statuses=tuple(s["name"] for s in statuses),
        good_standing=frozenset(s["name"] for s in statuses if s["good_standing"]),
        delivery=tuple(registry["delivery"]["values"]),
        providership=tuple(registry["providership"]["values"]),
        registration=tuple(registry["registration"]["values"]),
        rems_programs=tuple(registry["rems"]["programs"]),
        mips_low_credit_below=float(registry["mips"]["low_credit_warning_below"]),
        aba_outline=aba_outline,
    )


@cache
def reference() -> Reference:
    """The reference data shipped with the directory, loaded once per process."""
    return load_reference()
