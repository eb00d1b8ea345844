"""Builders of registry objects for tests: a valid, listed activity, changed one field at a time."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from directory.registry.models import (
    Activity,
    MocRegistration,
    Occurrence,
    Provider,
    RemsRegistration,
)

TODAY = date(2026, 11, 22)
PAIN_PATH = "Pain Medicine > General > Pharmacology of Pain Transmission and Modulation"


def provider(**overrides: Any) -> Provider:
    values: dict[str, Any] = dict(
        id=1, name="Lakeshore University School of Medicine", accreditation_status="Accreditation"
    )
    values.update(overrides)
    # The accreditor's id follows the registry id (unique as it is), unless one is given.
    values.setdefault("accreditor_id", f"{9_000_000 + values['id']:07d}")
    return Provider(**values)


def abim(**overrides: Any) -> MocRegistration:
    values: dict[str, Any] = dict(
        board="ABIM",
        practice_areas=["Cardiovascular Disease"],
        credit_types=["Medical Knowledge"],
        points=2.0,
        content_areas=[],
        claim_deadline=TODAY + timedelta(days=120),
        attested=True,
    )
    values.update(overrides)
    return MocRegistration(**values)


def aba(**overrides: Any) -> MocRegistration:
    values: dict[str, Any] = dict(
        board="ABA",
        practice_areas=["Pain Medicine"],
        credit_types=["Lifelong Learning"],
        points=2.0,
        content_areas=[PAIN_PATH],
        claim_deadline=TODAY + timedelta(days=120),
        attested=True,
    )
    values.update(overrides)
    return MocRegistration(**values)


def rems(**overrides: Any) -> RemsRegistration:
    values: dict[str, Any] = dict(program="Opioid Analgesic REMS", rpc_id="RPC-1234", attested=True)
    values.update(overrides)
    return RemsRegistration(**values)


def activity(**overrides: Any) -> Activity:
    """An Active, listed course that counts for ABIM; override any field."""
    values: dict[str, Any] = dict(
        id=210016939,
        provider_activity_id="LU-2026-001",
        title="Heart Failure with Preserved Ejection Fraction: A Case-Based Review",
        format="Course",
        start_date=TODAY + timedelta(days=30),
        end_date=TODAY + timedelta(days=31),
        status="Active",
        description="Two days of cases on diagnosing and treating HFpEF.",
        objectives=["Apply current criteria to diagnose HFpEF"],
        keywords=["HFpEF"],
        specialties=["Internal Medicine"],
        delivery="in person",
        city="Chicago",
        state="IL",
        country="US",
        cme_credits=2.0,
        providership="direct",
        show_in_directory=True,
        fee_cents=0,
        registration="open to all",
        url="https://cme.example.org/hfpef",
        mips=False,
        completions_reported=0,
    )
    moc = overrides.pop("moc", [abim()])
    rems_list = overrides.pop("rems", [])
    occurrences = overrides.pop("occurrences", [])
    the_provider = overrides.pop("provider", provider())
    values.update(overrides)
    a = Activity(**values)
    a.provider = the_provider
    a.moc = moc
    a.rems = rems_list
    a.occurrences = occurrences
    return a


def occurrence(start: date, end: date, **overrides: Any) -> Occurrence:
    values: dict[str, Any] = dict(
        start_date=start, end_date=end, city="Boston", state="MA", country="US"
    )
    values.update(overrides)
    return Occurrence(**values)


def approval(body: str, **overrides: Any) -> dict[str, str]:
    """A state approval as a provider records it: the approving body's code and its id."""
    values: dict[str, str] = dict(body=body, id=f"{body}-2026-0042")
    values.update(overrides)
    return values
