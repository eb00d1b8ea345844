"""The accreditor's roster of providers: read from a CSV or Excel file, written all or nothing.

A roster has one provider a row under a header row: name, the accreditor's provider id,
accreditation status, city, state, country, web site and contact e-mail. Headers are matched
ignoring case, spacing and punctuation, with the usual synonyms ("ACCME ID", "Status",
"URL", "Email"); the first three columns are required, the others may be left out, and a
column left out changes nothing on a provider already in the registry (an empty cell, in a
column that is there, clears the value).

Values are read the way a person wrote them: the status by the accreditor's name or one of
its aliases in `registry.toml` (ignoring case, spacing and punctuation: "accredited",
"On Probation"), the country as a two-letter code or a common name ("USA", "Canada"), the web
site through `rules.safe_url`. Each row is then judged by `rules.provider_problems`, the one
rule for a provider's entry, which the command line's `providers add|update` use too.

`read_roster` only reads (no database); `import_roster` is the one write: in one transaction
it finds each row's provider by its accreditor's id, and if no row has an error it creates
the new ones and updates the changed ones, or else writes nothing and reports every error with
its row number ("row 7, accreditation status: 'Accredted' is not an accreditation status ...").
A provider whose row changes gets a new `updated_at`, so the next incremental sync re-reads
its activities: a provider put on probation leaves the directory then.

The work is bounded: a file over `MAX_ROSTER_BYTES` or of more than `MAX_PROVIDERS` providers
is refused at once, and the report lists the first `batch.MAX_REPORTED_PROBLEMS` errors,
counting the rest, as an activity file's does. The CSV and Excel readers' safety is the activity files' own: the encoding is
settled before any row is read, a workbook is checked as a zip before openpyxl opens it, and
a formula is an error on its row, never calculated.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from directory.provider_data import files
from directory.provider_data.batch import BatchReport, Message
from directory.provider_data.formats import csv_format, xlsx_format
from directory.provider_data.formats.rows import FORMULA_MESSAGE, Cell
from directory.provider_data.reading import FileRejected, human_size
from directory.provider_data.values import is_empty, printable, text_problem
from directory.registry import rules
from directory.registry.models import Provider, utcnow
from directory.registry.reference import Reference, reference

__all__ = [
    "FIELDS",
    "MAX_PROVIDERS",
    "MAX_ROSTER_BYTES",
    "FileRejected",
    "Roster",
    "RosterField",
    "RosterReport",
    "RosterRow",
    "apply_values",
    "clean_values",
    "entry_problems",
    "import_roster",
    "namesake_problem",
    "unlinked_namesake",
    "read_roster",
]

# Read when a file is read, so a test can lower them here. A roster of every accredited
# provider of a large accreditor is a few thousand rows and well under a megabyte.
MAX_ROSTER_BYTES = 5 * 1024 * 1024
MAX_PROVIDERS = 20_000
# Rows read, empty ones included, and cells of a sheet (openpyxl gives a row every cell up to
# its last): a sheet of a million empty rows is refused in a moment.
MAX_ROSTER_ROWS = 2 * MAX_PROVIDERS
MAX_ROSTER_CELLS = 50 * MAX_ROSTER_ROWS
ACCEPTED_EXTENSIONS = (".csv", ".xlsx")
CHUNK = 500


@dataclass(frozen=True)
class RosterField:
    """One roster column: the Provider attribute, the label problems name it by (the same as
    `rules.provider_problems`), the template's header, and other headers that mean it."""

    name: str
    label: str
    header: str
    max_length: int
    synonyms: tuple[str, ...] = ()
    required: bool = False


FIELDS = (
    RosterField(
        "name",
        "name",
        "Name",
        300,
        ("provider name", "provider", "organization", "organization name", "provider organization"),
        required=True,
    ),
    RosterField(
        "accreditor_id",
        "provider id",
        "Provider ID",
        40,
        (
            "ACCME ID",
            "ACCME provider id",
            "accreditor id",
            "accreditor's id",
            "accreditor provider id",
            "accreditor's provider id",
            "provider number",
            "provider no",
            "provider #",
        ),
        required=True,
    ),
    RosterField(
        "accreditation_status",
        "accreditation status",
        "Accreditation Status",
        60,
        ("status", "accreditation", "accreditation decision", "provider status"),
        required=True,
    ),
    RosterField("city", "city", "City", 120),
    RosterField("state", "state", "State", 60, ("province", "state/province", "state or province")),
    RosterField("country", "country", "Country", 60, ("country code",)),
    RosterField(
        "url",
        "web site",
        "Website",
        500,
        ("web site", "URL", "web address", "home page", "homepage", "site"),
    ),
    RosterField(
        "contact_email",
        "contact e-mail",
        "Contact Email",
        254,
        (
            "email",
            "e-mail",
            "contact e-mail",
            "email address",
            "e-mail address",
            "contact email address",
        ),
    ),
)
_BY_NAME = {f.name: f for f in FIELDS}
_ORDER = {f.label: i for i, f in enumerate(FIELDS)}


def _key(text: str) -> str:
    """Text as headers and statuses are compared: case, spacing and punctuation ignored."""
    return re.sub(r"[^0-9a-z]+", "", text.casefold())


_HEADERS = {_key(text): f for f in FIELDS for text in (f.header, f.name, f.label, *f.synonyms)}

# Countries by the names and codes rosters use; any other two letters are taken as a code.
_COUNTRIES = {
    "usa": "US",
    "us": "US",
    "unitedstates": "US",
    "unitedstatesofamerica": "US",
    "can": "CA",
    "canada": "CA",
    "mex": "MX",
    "mexico": "MX",
    "pr": "PR",
    "puertorico": "PR",
    "uk": "GB",
    "gbr": "GB",
    "unitedkingdom": "GB",
    "greatbritain": "GB",
}
_COUNTRY_NAMES = ("United States", "USA", "Canada", "Mexico", "Puerto Rico", "United Kingdom")


# --- the roster as read -----------------------------------------------------------------------


@dataclass
class RosterRow:
    """One provider as read: where it is ("row 7"), the values of the columns the file has
    (normalized: the accreditor's status name, an ISO country code), and the problems found
    reading it."""

    location: str
    values: dict[str, Any]
    problems: list[rules.Problem] = field(default_factory=list)


@dataclass
class Roster:
    filename: str
    # The Provider attributes the file has a column for, in roster order.
    columns: tuple[str, ...]
    rows: list[RosterRow]
    # About the whole file (the encoding it was read with, ids Excel held as numbers).
    warnings: list[rules.Problem] = field(default_factory=list)


def _text(raw: Any, spec: RosterField) -> tuple[str | None, str | None]:
    """A cell as one line of text (runs of white space made one space), or a problem."""
    if raw is None:
        return None, None
    if isinstance(raw, bool):
        return None, "must be text, not yes/no"
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # an id typed into Excel as a number: 1234, not 1234.0
    try:
        text = raw if isinstance(raw, str) else str(raw)
    except ValueError:  # an integer of thousands of digits
        return None, "has too many digits"
    problem = text_problem(text)
    if problem is not None:
        return None, problem
    text = " ".join(text.split())
    if not text:
        return None, None
    if len(text) > spec.max_length:
        return None, (
            f"{len(text):,} characters is too long; the limit is {spec.max_length:,} "
            f"(it starts '{printable(text)}')"
        )
    return text, None


def _status(text: str, ref: Reference) -> tuple[str | None, str | None]:
    index = {_key(s): s for s in ref.accreditation_statuses}
    for alias, name in ref.accreditation_aliases.items():
        index.setdefault(_key(alias), name)
    found = index.get(_key(text))
    if found is not None:
        return found, None
    close = difflib.get_close_matches(_key(text), list(index), n=1, cutoff=0.6)
    hint = f" (did you mean '{index[close[0]]}'?)" if close else ""
    return None, (
        f"'{printable(text)}' is not an accreditation status{hint}; use one of: "
        + ", ".join(ref.accreditation_statuses)
    )


def _country(text: str) -> tuple[str | None, str | None]:
    key = _key(text)
    if key in _COUNTRIES:
        return _COUNTRIES[key], None
    if re.fullmatch(r"[A-Za-z]{2}", text):
        return text.upper(), None
    close = difflib.get_close_matches(text, _COUNTRY_NAMES, n=1, cutoff=0.7)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return None, (
        f"'{printable(text)}' is not a country we know{hint}; write its two-letter code, "
        "such as US or CA"
    )


def _url(text: str) -> tuple[str | None, str | None]:
    url = rules.safe_url(text)
    if url is not None:
        return url, None
    if "://" not in text and "." in text and " " not in text and ":" not in text:
        shown = printable(text)
        return None, f"'{shown}' needs http:// or https://; write it as https://{shown}"
    return text, None  # `rules.provider_problems` says what is wrong with it


def clean_values(
    raw: Mapping[str, Any], ref: Reference | None = None
) -> tuple[dict[str, Any], list[rules.Problem]]:
    """The values of a roster row (or of the command line's options), by Provider attribute,
    normalized as they will be stored; empty ones are None. Problems are named by the
    field's label. Only the attributes in `raw` are in the result."""
    ref = ref or reference()
    values: dict[str, Any] = {}
    problems: list[rules.Problem] = []
    for name, cell in raw.items():
        spec = _BY_NAME[name]
        text, problem = _text(cell, spec)
        if problem is None and text is not None:
            if name == "accreditation_status":
                text, problem = _status(text, ref)
            elif name == "country":
                text, problem = _country(text)
            elif name == "url":
                text, problem = _url(text)
            elif name == "contact_email":
                text = re.sub(r"(?i)^mailto:", "", text).strip() or None
            elif name == "state" and re.fullmatch(r"[A-Za-z]{2}", text):
                text = text.upper()
        if problem is not None:
            problems.append(rules.Problem(spec.label, problem))
        values[name] = text
    return values, problems


def _header(cells: list[Cell]) -> list[RosterField | None]:
    """Row 1 as roster fields by position, or FileRejected naming every unknown, repeated and
    missing column at once."""
    width = max((c.position for c in cells), default=-1) + 1
    columns: list[RosterField | None] = [None] * width
    unknown, repeated = [], []
    headers = {t.casefold(): t for f in FIELDS for t in (f.header, *f.synonyms)}
    for cell in cells:
        text = "" if is_empty(cell.value) else " ".join(str(cell.value).split())
        if not text:
            continue
        found = _HEADERS.get(_key(text))
        if found is None:
            close = difflib.get_close_matches(text[:100].casefold(), headers, n=1, cutoff=0.7)
            hint = f" (did you mean '{headers[close[0]]}'?)" if close else ""
            unknown.append(f"'{printable(text)}'{hint}")
        elif found in columns:
            repeated.append(f"'{printable(text)}'")
        else:
            columns[cell.position] = found
    problems = []
    if unknown:
        problems.append(
            f"unknown columns: {', '.join(unknown[:20])}"
            + (f" and {len(unknown) - 20} more" if len(unknown) > 20 else "")
            + "; a roster has the columns "
            + ", ".join(f.header for f in FIELDS)
            + " (delete other columns)"
        )
    if repeated:
        problems.append(f"columns given twice: {', '.join(repeated)}")
    missing = [f.header for f in FIELDS if f.required and f not in columns]
    if missing:
        problems.append(f"missing required columns: {', '.join(missing)}")
    if problems:
        raise FileRejected("row 1 (the header): " + "; ".join(problems))
    return columns


def _csv_rows(data: bytes, warnings: list[rules.Problem]) -> Iterator[tuple[int, list[Cell]]]:
    encoding = csv_format.encoding(data, warnings)
    return csv_format.cells(data, encoding, max_rows=MAX_ROSTER_ROWS)


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[Cell]]]:
    xlsx_format.check(
        data,
        max_unpacked=files.MAX_XLSX_UNCOMPRESSED_BYTES,
        max_entries=files.MAX_XLSX_ENTRIES,
        max_shared_string_bytes=files.MAX_XLSX_SHARED_STRING_BYTES,
        max_shared_strings=files.MAX_XLSX_SHARED_STRINGS,
        max_unsized_sheet_bytes=files.MAX_XLSX_UNSIZED_SHEET_BYTES,
    )
    return xlsx_format.cells(data, max_rows=MAX_ROSTER_ROWS, max_cells=MAX_ROSTER_CELLS)


def _extension(filename: str) -> str:
    extension = os.path.splitext(filename)[1].lower()
    if extension in ACCEPTED_EXTENSIONS:
        return extension
    shown = extension or "a file without an extension"
    if extension in (".xls", ".xlsm", ".xlsb", ".ods", ".numbers"):
        raise FileRejected(
            f"{extension} files are not accepted; in Excel choose Save As > 'Excel Workbook "
            "(.xlsx)' (or 'CSV UTF-8')"
        )
    raise FileRejected(f"{shown} is not a type we read; send the roster as .csv or .xlsx")


def _row(
    number: int, columns: list[RosterField | None], cells: list[Cell], ref: Reference
) -> RosterRow:
    raw: dict[str, Any] = {f.name: None for f in columns if f is not None}
    problems: list[rules.Problem] = []
    for cell in cells:
        spec = columns[cell.position] if cell.position < len(columns) else None
        where = f" (cell {cell.column}{number})" if cell.column.isalpha() else ""
        label = spec.label if spec is not None else f"column {cell.column}"
        if cell.kind == "formula":
            problems.append(rules.Problem(label, FORMULA_MESSAGE + where))
        elif cell.kind == "error":
            problems.append(
                rules.Problem(
                    label, f"holds the spreadsheet error {printable(str(cell.value))}{where}"
                )
            )
        elif spec is not None:
            raw[spec.name] = cell.value
        elif not is_empty(cell.value):
            problems.append(
                rules.Problem(label, "has a value but no header; add the header or clear it")
            )
    values, more = clean_values(raw, ref)
    return RosterRow(f"row {number}", values, problems + more)


def read_roster(filename: str, data: bytes, ref: Reference | None = None) -> Roster:
    """Every provider in a roster file, read and normalized, with its row's problems; a
    provider id given twice is an error on its second row, naming both. A file that cannot be
    read as a roster at all (type, size, encoding, header) raises FileRejected."""
    ref = ref or reference()
    extension = _extension(filename)
    name = os.path.basename(filename) or "the file"
    if len(data) > MAX_ROSTER_BYTES:
        raise FileRejected(
            f"{name} is {human_size(len(data))}; a roster may be at most "
            f"{human_size(MAX_ROSTER_BYTES)}: split it into smaller files"
        )
    if not data.strip():
        raise FileRejected("the file is empty")
    warnings: list[rules.Problem] = []
    rows_in = _csv_rows(data, warnings) if extension == ".csv" else _xlsx_rows(data)
    header = next(rows_in, None)
    if header is None:
        raise FileRejected("the file is empty: row 1 should hold the headers")
    columns = _header(header[1])
    rows: list[RosterRow] = []
    seen: dict[str, str] = {}
    numeric_ids: list[int] = []
    id_column = next(i for i, f in enumerate(columns) if f and f.name == "accreditor_id")
    for number, cells in rows_in:
        if all(c.kind == "value" and is_empty(c.value) for c in cells):
            continue
        if len(rows) >= MAX_PROVIDERS:
            raise FileRejected(
                f"the roster holds more than {MAX_PROVIDERS:,} providers, the most one file "
                f"may hold: split it into files of at most {MAX_PROVIDERS:,}"
            )
        row = _row(number, columns, cells, ref)
        accreditor_id = row.values.get("accreditor_id")
        if accreditor_id:
            first = seen.setdefault(accreditor_id, row.location)
            if first != row.location:
                row.problems.append(
                    rules.Problem(
                        "provider id",
                        f"'{printable(accreditor_id)}' appears twice in the file, in {first} and "
                        f"{row.location}; each provider has one row",
                    )
                )
        if any(c.position == id_column and isinstance(c.value, int | float) for c in cells):
            numeric_ids.append(number)
        rows.append(row)
    if numeric_ids and extension == ".xlsx":
        warnings.append(
            rules.Problem(
                "provider id",
                f"the workbook holds provider ids as numbers (row {numeric_ids[0]} first); if "
                "the accreditor's ids begin with zeros, Excel has dropped them: format the "
                "column as Text and type the ids again",
                "warning",
            )
        )
    present = tuple(f.name for f in FIELDS if f in columns)
    return Roster(filename, present, rows, warnings)


# --- judging and writing ----------------------------------------------------------------------


@dataclass
class RosterReport(BatchReport):
    """What a roster import did (or, for a dry run or a roster with errors, would do): an
    activity import's report, listing and counting problems the same way, with accreditor's
    provider ids, in file order, in `created`, `updated` and `unchanged`."""

    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "dry_run": self.dry_run}


def _stored(provider: Provider | None) -> dict[str, Any]:
    return {f.name: getattr(provider, f.name) if provider else None for f in FIELDS}


def entry_problems(
    values: Mapping[str, Any], already: Iterable[rules.Problem] = (), ref: Reference | None = None
) -> list[rules.Problem]:
    """`rules.provider_problems` for a provider with `values` (every roster field), after the
    problems found reading them (`already`); a field with a reading problem is not judged
    again. In roster order."""
    problems = list(already)
    read_wrong = {p.field for p in problems}
    candidate = cast(Provider, SimpleNamespace(**{f.name: values.get(f.name) for f in FIELDS}))
    if not values.get("accreditation_status") and "accreditation status" not in read_wrong:
        ref = ref or reference()
        problems.append(
            rules.Problem(
                "accreditation status",
                "required; use one of: " + ", ".join(ref.accreditation_statuses),
            )
        )
        read_wrong.add("accreditation status")
    problems += [p for p in rules.provider_problems(candidate, ref) if p.field not in read_wrong]
    return sorted(problems, key=lambda p: _ORDER.get(p.field, len(_ORDER)))


def _name_key(name: str | None) -> str:
    return " ".join((name or "").split()).casefold()


def namesake_problem(provider: Provider, accreditor_id: str) -> rules.Problem:
    """A new provider named as one already in the registry without a provider id: most likely
    the same provider, which would be listed twice."""
    return rules.Problem(
        "name",
        f"'{printable(provider.name)}' is already in the registry without a provider id "
        f"(registry id {provider.id}); give it this provider id first (`directory providers "
        f"update {provider.id} --provider-id {accreditor_id}`) so that this updates it rather "
        "than adding the provider a second time",
    )


def _unlinked(session: Session) -> dict[str, Provider]:
    """Providers without an accreditor's id, by name as compared (case and spacing ignored)."""
    rows = session.scalars(select(Provider).where(Provider.accreditor_id.is_(None)))
    return {_name_key(p.name): p for p in rows}


def unlinked_namesake(session: Session, name: str | None) -> Provider | None:
    """The provider without an accreditor's id that has this name (case and spacing ignored)."""
    return _unlinked(session).get(_name_key(name))


def apply_values(provider: Provider, values: Mapping[str, Any]) -> list[str]:
    """Set `values` on `provider`; the labels of the fields that changed. A change moves
    `updated_at`, so the next incremental sync re-reads the provider's activities."""
    changed = [
        _BY_NAME[name].label for name, value in values.items() if getattr(provider, name) != value
    ]
    if changed:
        for name, value in values.items():
            setattr(provider, name, value)
        provider.updated_at = utcnow()
    return changed


def import_roster(
    sessions: sessionmaker[Session],
    roster: Roster,
    *,
    dry_run: bool = False,
    ref: Reference | None = None,
) -> RosterReport:
    """Check every row of `roster` against the registry, then, if none has an error and this
    is not a dry run, create and update the providers, all in one transaction."""
    ref = ref or reference()
    report = RosterReport(dry_run=dry_run)
    for w in roster.warnings:
        report.add(Message("file", w.field, w.message, "warning"), "warning")
    with sessions.begin() as session:
        ids = sorted(
            {r.values["accreditor_id"] for r in roster.rows if r.values.get("accreditor_id")}
        )
        existing: dict[str, Provider] = {}
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            query = select(Provider).where(Provider.accreditor_id.in_(chunk))
            for provider in session.scalars(query):
                existing[provider.accreditor_id or ""] = provider
        namesakes = _unlinked(session)
        plans: list[tuple[str, Provider | None, dict[str, Any]]] = []
        for row in roster.rows:
            accreditor_id = row.values.get("accreditor_id")
            found = existing.get(accreditor_id) if accreditor_id else None
            merged = {**_stored(found), **row.values}
            problems = entry_problems(merged, row.problems, ref)
            namesake = namesakes.get(_name_key(merged["name"])) if found is None else None
            if namesake is not None and accreditor_id:
                problems.append(namesake_problem(namesake, accreditor_id))
            for p in problems:
                report.add(Message(row.location, p.field, p.message, p.severity), p.severity)
            plans.append((accreditor_id or "", found, merged))
        report.close()
        for accreditor_id, found, merged in plans:
            if found is None:
                report.created.append(accreditor_id)
            elif any(getattr(found, k) != v for k, v in merged.items()):
                report.updated.append(accreditor_id)
            else:
                report.unchanged.append(accreditor_id)
        if report.errors or dry_run:
            return report
        for _accreditor_id, found, merged in plans:
            if found is None:
                session.add(Provider(**merged))
            else:
                apply_values(found, merged)
    report.written = True
    return report
