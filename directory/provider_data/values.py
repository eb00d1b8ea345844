"""One raw value from any format (CSV text, an Excel cell, XML text, a JSON value) to its type.

`coerce_value(spec, raw)` reads one field by its layout kind (text, date, number, degrees,
money, yes/no, choice, list) and raises `BadValue` with a message a provider can act on. Only
the shape of a value is checked here: its type, its spelling, its length, whether it is one of
the field's choices. Whole activities (nested occurrences and registrations, unknown keys) are
`coerce.py`'s; whether values make sense together is `directory.registry.rules`'.

The few functions at the end write a typed value back as the readers here read it, so that the
templates and example files of every format (`directory.provider_data.formats`) agree with
what is accepted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from directory.provider_data.layout import FieldSpec, choices

LIST_SEPARATOR = "|"
MAX_FEE_CENTS = 1_000_000_000  # ten million dollars: far above any fee, well inside an int column
# Credits, points and counts are small: a number written with more digits than this is a
# mistake (and converting a number of thousands of digits is slow), so it is refused as such.
MAX_NUMBER_DIGITS = 30
# How much of a provider's value a message quotes.
SHOWN_LENGTH = 60

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_MONEY = re.compile(r"\$?\s*(\d{1,3}(,\d{3})+|\d+)(\.\d+)?")
_DIGIT = re.compile(r"\d")
# C0 control characters other than tab, line feed and carriage return, and DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A lone surrogate: half of a UTF-16 pair, not a character; no UTF-8 text can hold one.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_UNSHOWABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}
_FREE = {"free"}


class BadValue(ValueError):
    """One value cannot be read; the message says what is wrong and how to write it."""


# --- reading one value ------------------------------------------------------------------------


def is_empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def text_problem(text: str) -> str | None:
    """Why `text` is not valid text, or None: a lone surrogate (which cannot be written as
    UTF-8, so no page, file or index could hold it) or a control character other than tab
    and line breaks. Positions count characters from 1."""
    if _INVALID.search(text) is None:  # the common case, in one search
        return None
    surrogate = _SURROGATE.search(text)
    if surrogate is not None:
        return (
            "contains characters that are not valid text "
            f"(a lone surrogate at position {surrogate.start() + 1})"
        )
    control = _CONTROL.search(text)
    if control is not None:
        return (
            f"contains a control character (U+{ord(control.group()):04X}) at position "
            f"{control.start() + 1}; remove it"
        )
    return None


def _valid_text(text: str) -> None:
    problem = text_problem(text)
    if problem is not None:
        raise BadValue(problem)


def printable(text: str, limit: int = SHOWN_LENGTH) -> str:
    """Any text as a message may quote it: control characters and lone surrogates replaced
    (line breaks and tabs by a space, the rest by U+FFFD), cut short if long."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return _UNSHOWABLE.sub(lambda m: " " if m.group() in "\t\n\r" else "\ufffd", text)


def _digits(n: int) -> int:
    """How many digits `n` has, without writing it out (Python refuses to write an int of more
    than a few thousand digits as text)."""
    n = abs(n)
    if n.bit_length() <= 3000:
        return len(str(n))
    return int(n.bit_length() * math.log10(2)) + 1


def _as_text(raw: Any) -> str:
    """A raw value as text; an integer too long to write out raises BadValue."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool) and _digits(raw) > 1000:
        raise BadValue(f"a number of {_digits(raw):,} digits has too many digits")
    return str(raw)


def shown(raw: Any) -> str:
    """A value as quoted in a message: stripped, and cut short if long."""
    if isinstance(raw, dict):
        return "an object"
    if isinstance(raw, list | tuple):
        return "a list"
    try:
        text = _as_text(raw)
    except BadValue:
        return f"a number of {_digits(raw):,} digits"
    return printable(text.strip())


def _not_a_container(raw: Any, what: str) -> None:
    if isinstance(raw, dict):
        raise BadValue(f"must be {what}, not an object")
    if isinstance(raw, list | tuple):
        raise BadValue(f"must be {what}, not a list")


def _too_many_digits(raw: Any) -> BadValue | None:
    """A number written with more than MAX_NUMBER_DIGITS digits, as a problem."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        count = _digits(raw)
    elif isinstance(raw, str):
        count = len(_DIGIT.findall(raw)) if len(raw) > MAX_NUMBER_DIGITS else 0
    else:
        return None
    if count <= MAX_NUMBER_DIGITS:
        return None
    return BadValue(
        f"'{shown(raw)}' has too many digits ({count:,}); write it with at most "
        f"{MAX_NUMBER_DIGITS} digits, like 6.5"
    )


def _text(raw: Any, spec: FieldSpec) -> str | None:
    if isinstance(raw, str):
        _valid_text(raw)  # before the emptiness test: a lone form feed is not empty text
        if not raw.strip():
            return None
        text = raw
    elif raw is None:
        return None
    elif isinstance(raw, bool):
        raise BadValue("must be text, not yes/no")
    elif isinstance(raw, dict | list | tuple):
        raise BadValue(f"must be text, not {'an object' if isinstance(raw, dict) else 'a list'}")
    elif isinstance(raw, datetime):
        text = raw.date().isoformat() if raw.time() == datetime.min.time() else raw.isoformat()
    elif isinstance(raw, date):
        text = raw.isoformat()
    elif isinstance(raw, float) and raw.is_integer():
        text = str(int(raw))  # an id typed into Excel as a number: 1234, not 1234.0
    else:
        text = _as_text(raw)
        _valid_text(text)
    text = text.strip()
    if spec.max_length is not None and len(text) > spec.max_length:
        raise BadValue(
            f"{len(text):,} characters is too long; the limit is {spec.max_length:,} "
            f"(it starts '{shown(text)}')"
        )
    return text or None


def _list(raw: Any, spec: FieldSpec) -> list[str]:
    if is_empty(raw):
        return []
    if isinstance(raw, str):
        items: Iterable[Any] = raw.split(LIST_SEPARATOR)
    elif isinstance(raw, list | tuple):
        items = raw
    elif isinstance(raw, dict):
        raise BadValue("must be a list of text, not an object")
    else:
        items = [raw]
    out: list[str] = []
    for n, item in enumerate(items, start=1):
        try:
            text = _text(item, spec)
        except BadValue as e:
            raise BadValue(f"item {n}: {e}") from None
        if text is not None:
            out.append(text)
            # Counted as read, so that a list of a million items stops at the limit.
            if spec.max_items is not None and len(out) > spec.max_items:
                raise BadValue(
                    f"holds more than {spec.max_items:,} items; give at most {spec.max_items:,}"
                )
    return out


def _date(raw: Any) -> date | None:
    if is_empty(raw):
        return None
    if not isinstance(raw, str):
        _not_a_container(raw, "a date (YYYY-MM-DD)")
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str) and _DATE.fullmatch(raw.strip()):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            pass
    raise BadValue(f"'{shown(raw)}' is not a date; write it as YYYY-MM-DD")


def _finite(raw: Any, what: str, example: str) -> float | None:
    """A finite number as written (a number, or text that is one), or None when empty;
    anything else is refused as not being `what`."""
    if is_empty(raw):
        return None
    if not isinstance(raw, str):
        _not_a_container(raw, what)
    bad = BadValue(f"'{shown(raw)}' is not {what}; write it like {example}")
    if isinstance(raw, bool):
        raise bad
    too_long = _too_many_digits(raw)
    if too_long is not None:
        raise too_long
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str) and _NUMBER.fullmatch(raw.strip()):
        value = float(raw.strip())
    else:
        raise bad
    if not math.isfinite(value):
        raise bad
    return value + 0.0  # -0.0 -> 0.0


def _number(raw: Any) -> float | None:
    value = _finite(raw, "a number", "6.5")
    if value is not None and value < 0:
        raise BadValue(f"{shown(raw)} is negative; it must be 0 or more")
    return value


def _degrees(raw: Any) -> float | None:
    """A latitude or longitude in decimal degrees: '41.8781', -87.6298. Its range is the
    registry's rules' to judge (with the other half of the pair), not the reader's."""
    return _finite(raw, "a number of decimal degrees", "-87.6298")


def _money(raw: Any) -> int | None:
    """Dollars to whole cents: '$395.00', '395', '1,295.50', 395.0; 'free' or 0 is 0."""
    if is_empty(raw):
        return None
    if not isinstance(raw, str):
        _not_a_container(raw, "an amount in US dollars")
    bad = BadValue(
        f"'{shown(raw)}' is not an amount in US dollars; write it like 395.00, "
        "or 0 or free for a free activity"
    )
    if isinstance(raw, bool):
        raise bad
    too_long = _too_many_digits(raw)
    if too_long is not None:
        raise too_long
    if isinstance(raw, int):
        amount = Decimal(raw)
    elif isinstance(raw, float):
        if not math.isfinite(raw):
            raise bad
        amount = Decimal(str(raw))
    elif isinstance(raw, str):
        text = raw.strip()
        if text.casefold() in _FREE:
            return 0
        negative = text.startswith("-")
        if negative and _MONEY.fullmatch(text[1:].strip()):
            raise BadValue("cannot be negative; use 0 for a free activity")
        if not _MONEY.fullmatch(text):
            raise bad
        try:
            amount = Decimal(text.replace("$", "").replace(",", "").strip())
        except InvalidOperation:
            raise bad from None
    else:
        raise bad
    if amount < 0:
        raise BadValue("cannot be negative; use 0 for a free activity")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise BadValue(f"'{shown(raw)}' has fractions of a cent; give at most 2 decimals")
    if cents > MAX_FEE_CENTS:
        raise BadValue(f"'{shown(raw)}' is too large for a fee")
    return int(cents)


def _yes_no(raw: Any) -> bool:
    if is_empty(raw):
        return False
    if isinstance(raw, bool):
        return raw
    if not isinstance(raw, str):
        _not_a_container(raw, "yes or no")
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        text = raw.strip().casefold()
        if text in _YES:
            return True
        if text in _NO:
            return False
    raise BadValue(f"'{shown(raw)}' is not yes or no; write yes or no")


@cache
def _choice_index(spec: FieldSpec) -> dict[str, str]:
    return {value.casefold(): value for value in choices(spec)}


def _choice(raw: Any, spec: FieldSpec) -> str | None:
    if is_empty(raw):
        return None
    if not isinstance(raw, str):
        _not_a_container(raw, "one value")
    if isinstance(raw, str | int | float) and not isinstance(raw, bool):
        found = _choice_index(spec).get(" ".join(_as_text(raw).split()).casefold())
        if found is not None:
            return found
    offered = choices(spec, include_legacy=False)
    raise BadValue(f"'{shown(raw)}' is not one of: {', '.join(offered)}")


def coerce_value(spec: FieldSpec, raw: Any) -> Any:
    """The typed value of one field; raises BadValue with a message for the provider.

    Money comes back as whole cents.
    """
    if raw is None:  # the common case: an empty cell or an absent key
        return empty_value(spec)
    if isinstance(raw, str) and spec.kind not in _CHECKS_ITS_TEXT:
        _valid_text(raw)  # every kind: files and the web service are refused alike
    return _COERCERS[spec.kind](raw, spec)


# Kinds whose reader checks the text itself (`_text`).
_CHECKS_ITS_TEXT = ("text", "long_text")

_COERCERS: dict[str, Callable[[Any, FieldSpec], Any]] = {
    "text": _text,
    "long_text": _text,
    "list": _list,
    "date": lambda raw, spec: _date(raw),
    "number": lambda raw, spec: _number(raw),
    "degrees": lambda raw, spec: _degrees(raw),
    "money": lambda raw, spec: _money(raw),
    "yes_no": lambda raw, spec: _yes_no(raw),
    "choice": _choice,
}


def empty_value(spec: FieldSpec) -> Any:
    return [] if spec.kind == "list" else False if spec.kind == "yes_no" else None


# --- writing one value back -------------------------------------------------------------------


def plain_number(value: float) -> int | float:
    """A number as a spreadsheet cell or JSON number: 7 rather than 7.0."""
    return int(value) if float(value).is_integer() else value


def degrees_text(value: float) -> str:
    """Decimal degrees as text `_degrees` reads back to the same number: "41.8781", not the
    six digits of "{:g}" (which would move a place by up to a hundred metres)."""
    return str(plain_number(value))


def dollars(cents: int) -> str:
    """Whole cents as the dollar text `_money` reads back: "395.00"."""
    return f"{cents / 100:.2f}"
