"""XML: reading a provider's XML file, and writing the XML template and example.

The file is `<activities>` holding one `<activity>` per activity; each field is an element named
as in the layout, lists hold one element per item (`<objectives>` holds `<objective>`s,
`<topics>` holds `<topic>`s), board and REMS registrations name their board or program in an
attribute, and `<approvals>` holds `<approval>`s of a `<body>` and an `<id>`.

Reading streams with `iterparse`, clearing each activity once read, so a large file needs the
memory of one activity; an activity of more than `max_elements` elements is refused when
reading reaches it. It goes through defusedxml with DTDs, entities and external references
all forbidden: such a file is refused before anything is expanded. Each `<activity>` element is
turned into the raw dict `coerce.coerce_activity` reads, with unknown or repeated elements
reported where they are ("activity 3/moc/registration[ABIM]/points"), the first few of an
activity one by one and the rest counted.

Writing is the inverse, made with the standard library's ElementTree (nothing it writes needs
defusing), indented two spaces.
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any
from xml.etree import ElementTree as ET
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from directory.provider_data.coerce import NESTED_KEYS, coerce_activity
from directory.provider_data.layout import LAYOUT, FieldSpec
from directory.provider_data.reading import Activity, FileRejected, Unknowns, first_char
from directory.provider_data.values import degrees_text, dollars, printable
from directory.registry.rules import Problem

DTD_MESSAGE = (
    "XML with a DTD or entities is not accepted: remove the <!DOCTYPE ...> declaration and "
    "write characters directly (UTF-8) or as &amp; &lt; &gt; &quot; &apos;"
)

_FIELDS = {f.name: f for f in LAYOUT.fields}
_OCCURRENCE_FIELDS = {f.name: f for f in LAYOUT.occurrence_fields}
_APPROVAL_FIELDS = {f.name: f for f in LAYOUT.approval_fields}
_MOC_FIELDS = {f.name: f for f in LAYOUT.moc_fields}
# A REMS registration's program is its attribute, not an element.
_REMS_FIELDS = {f.name: f for f in LAYOUT.rems_fields if f.name != "program"}


def item_tag(list_name: str) -> str:
    """The element of one item of a list: objectives/objective, specialties/specialty."""
    return list_name[:-3] + "y" if list_name.endswith("ies") else list_name.removesuffix("s")


def check(data: bytes) -> None:
    """Refuse, before parsing, a file that is not XML at all."""
    if first_char(data) != "<":
        raise FileRejected("this is not an XML file: it should begin with '<'")


# --- reading ----------------------------------------------------------------------------------


def read(data: bytes, *, max_elements: int) -> Iterator[Activity]:
    """The file's activities, "activity 1", "activity 2", ..., as they are parsed; an activity
    of more than `max_elements` elements raises FileRejected."""
    events = SafeET.iterparse(
        io.BytesIO(data),
        events=("start", "end"),
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
    )
    depth = 0
    count = 0
    elements = 0  # in the activity being read
    root: Element | None = None
    try:
        for event, element in events:
            if event == "start":
                depth += 1
                tag = printable(_local(element.tag))
                if depth == 1:
                    if tag != "activities":
                        raise FileRejected(
                            f"the XML's top element must be <activities>, not <{tag}>"
                        )
                    root = element
                elif depth == 2 and tag != "activity":
                    raise FileRejected(
                        f"<activities> holds only <activity> elements; found <{tag}> "
                        f"after activity {count}"
                    )
                elif depth == 2:
                    elements = 0
                else:
                    elements += 1
                    if elements > max_elements:
                        raise FileRejected(
                            f"activity {count + 1} holds more than {max_elements:,} elements; "
                            "an activity needs a few dozen: check what wrote the file"
                        )
                continue
            depth -= 1
            if depth == 1:
                count += 1
                where = f"activity {count}"
                raw, problems = _activity_raw(element, where)
                payload, more = coerce_activity(raw, where=f"{where}/")
                assert root is not None
                root.clear()  # forget the activities already read: constant memory
                yield where, payload, problems + more
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden) as e:
        raise FileRejected(DTD_MESSAGE) from e
    except SafeET.ParseError as e:
        line, column = getattr(e, "position", (0, 0))
        message = str(e).split(":")[0]
        raise FileRejected(
            f"the XML is not well-formed at line {line}, column {column + 1}: {message}"
        ) from e
    except FileRejected:
        raise
    except (ValueError, LookupError) as e:
        # The XML declaration names an encoding the parser cannot read ("multi-byte
        # encodings are not supported", "unknown encoding").
        raise FileRejected(
            "the XML declares an encoding we do not read; save the file as UTF-8 "
            '(<?xml version="1.0" encoding="UTF-8"?>)'
        ) from e


def _local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1]


class _Reader:
    """Reads one <activity>: its raw dict, and its problems, unknown elements capped."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.unknowns = Unknowns("unknown elements")

    def unknown(self, path: str, tag: str, known: Any) -> None:
        def problem() -> Problem:
            hint = difflib.get_close_matches(tag, list(known), n=1)
            return Problem(
                path, "unknown element" + (f" (did you mean <{hint[0]}>?)" if hint else "")
            )

        self.unknowns.add(self.problems, problem)

    def text(self, element: Element, path: str) -> str | None:
        if len(element):
            self.problems.append(Problem(path, "should hold text, not other elements"))
            return None
        return element.text

    def items(self, element: Element, path: str) -> Any:
        name = _local(element.tag)
        if not len(element):
            return element.text  # "a | b" written as text: split like a spreadsheet cell
        items: list[Any] = []
        for n, child in enumerate(element, start=1):
            tag = printable(_local(child.tag))
            if tag != item_tag(name):
                self.unknown(f"{path}/{tag}", tag, [item_tag(name)])
                continue
            items.append(self.text(child, f"{path}/{tag}[{n}]"))
        return items

    def fields(self, element: Element, specs: dict[str, Any], path: str) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        for child in element:
            tag = printable(_local(child.tag))
            child_path = f"{path}/{tag}"
            if tag not in specs:
                self.unknown(child_path, tag, specs)
            elif tag in raw:
                self.problems.append(Problem(child_path, "appears twice; give it once"))
            elif specs[tag].kind == "list":
                raw[tag] = self.items(child, child_path)
            else:
                raw[tag] = self.text(child, child_path)
        return raw

    def group(
        self, element: Element, item: str, key: str | None, specs: dict[str, Any], path: str
    ) -> list[dict[str, Any]]:
        """<occurrences><occurrence>..</occurrence></occurrences>, or <moc>/<rems>
        registrations identified by the attribute `key` (board="ABIM", program="...")."""
        out = []
        for n, child in enumerate(element, start=1):
            tag = printable(_local(child.tag))
            if tag != item:
                self.unknown(f"{path}/{tag}", tag, [item])
                continue
            label = child.get(key) if key else None
            child_path = f"{path}/{item}[{printable(label) if label else n}]"
            raw = self.fields(child, specs, child_path)
            if key is not None:
                raw[key] = label
            out.append(raw)
        return out

    def activity(self, activity: Element, path: str) -> dict[str, Any]:
        known = {**_FIELDS, **dict.fromkeys(NESTED_KEYS)}
        raw: dict[str, Any] = {}
        for child in activity:
            tag = printable(_local(child.tag))
            child_path = f"{path}/{tag}"
            if tag not in known:
                self.unknown(child_path, tag, known)
            elif tag in raw:
                self.problems.append(Problem(child_path, "appears twice; give it once"))
            elif tag == "occurrences":
                raw[tag] = self.group(child, "occurrence", None, _OCCURRENCE_FIELDS, child_path)
            elif tag == "moc":
                raw[tag] = self.group(child, "registration", "board", _MOC_FIELDS, child_path)
            elif tag == "rems":
                raw[tag] = self.group(child, "registration", "program", _REMS_FIELDS, child_path)
            elif tag == "approvals" and not len(child):
                raw[tag] = child.text  # "TX-TMB HT-1 | ..." as text: read like the CSV cell
            elif tag == "approvals":
                raw[tag] = self.group(child, "approval", None, _APPROVAL_FIELDS, child_path)
            elif _FIELDS[tag].kind == "list":
                raw[tag] = self.items(child, child_path)
            else:
                raw[tag] = self.text(child, child_path)
        self.unknowns.finish(self.problems, path)
        return raw


def _activity_raw(activity: Element, path: str) -> tuple[dict[str, Any], list[Problem]]:
    """An <activity> element as the raw dict `coerce_activity` reads, and its problems (unknown
    and repeated elements, elements where text belongs)."""
    reader = _Reader()
    raw = reader.activity(activity, path)
    return raw, reader.problems


# --- writing ----------------------------------------------------------------------------------


def _value_text(spec: FieldSpec, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if spec.kind == "money":
        return dollars(value)
    if spec.kind == "number":
        return f"{value:g}"
    if spec.kind == "degrees":
        return degrees_text(value)
    return str(value)


def _add_fields(
    parent: ET.Element, specs: tuple[FieldSpec, ...], values: Mapping[str, Any]
) -> None:
    for spec in specs:
        value: Any = values.get(spec.name)
        if value in (None, [], ""):
            continue
        element = ET.SubElement(parent, spec.name)
        if spec.kind == "list":
            for item in value:
                ET.SubElement(element, item_tag(spec.name)).text = item
        else:
            element.text = _value_text(spec, value)


def xml_activity(payload: Mapping[str, Any]) -> ET.Element:
    """One activity as an <activity> element, empty values left out."""
    activity = ET.Element("activity")
    values = {**payload, "fee": payload["fee_cents"]}
    _add_fields(activity, LAYOUT.fields, values)
    if payload["occurrences"]:
        occurrences = ET.SubElement(activity, "occurrences")
        for occ in payload["occurrences"]:
            _add_fields(ET.SubElement(occurrences, "occurrence"), LAYOUT.occurrence_fields, occ)
    if payload["moc"]:
        moc = ET.SubElement(activity, "moc")
        for reg in payload["moc"]:
            element = ET.SubElement(moc, "registration", board=reg["board"])
            _add_fields(element, LAYOUT.moc_fields, reg)
    if payload["rems"]:
        rems = ET.SubElement(activity, "rems")
        for reg in payload["rems"]:
            element = ET.SubElement(rems, "registration", program=reg["program"])
            _add_fields(element, tuple(_REMS_FIELDS.values()), reg)
    if payload.get("approvals"):
        approvals = ET.SubElement(activity, "approvals")
        for approval in payload["approvals"]:
            _add_fields(ET.SubElement(approvals, "approval"), LAYOUT.approval_fields, approval)
    return activity


def xml_string(element: ET.Element, level: int = 0) -> str:
    """An element as indented text, starting at `level` (for an element inside another)."""
    ET.indent(element, space="  ", level=level)
    return ET.tostring(element, encoding="unicode")


def write(payloads: list[dict[str, Any]]) -> bytes:
    """An XML file of these activities."""
    root = ET.Element("activities")
    for payload in payloads:
        root.append(xml_activity(payload))
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + xml_string(root).encode() + b"\n"


def template(example: dict[str, Any]) -> bytes:
    """An empty XML file, with `example` (a payload) in a comment to copy out."""
    shown = xml_string(xml_activity(example), level=1)
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<!-- Activities for the CME directory: one <activity> per activity. Every element is\n"
        "     described in the layout documentation (docs/provider-data.md). Leave out what you\n"
        "     do not have. The example below is a comment: copy it out and change it. -->\n"
        "<activities>\n"
        "  <!--\n"
        f"  {shown}\n"
        "  -->\n"
        "</activities>\n"
    )
    return text.encode()
