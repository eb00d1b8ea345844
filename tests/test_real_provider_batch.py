"""Four providers' files, written the way providers write them, imported in one pass each.

Each file is what a provider's own system or spreadsheet gives: headers in their own case,
names in their own spelling, a board area our list lacks, a course given in three cities, last
year's course already Closed, an Excel sheet with real date cells, an XML export. One provider
is on probation. Each file goes in with one upload, says what it should (warnings, incomplete
registrations with the nearest names, a refusal naming the accreditation), and the search
index then lists exactly what the registry's rules say, on both engines.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.provider_data.batch import import_records
from directory.provider_data.files import read_records
from directory.registry import rules
from directory.registry.db import make_sessionmaker
from directory.registry.models import Activity, Provider, utcnow, with_children
from directory.registry.reference import Mandate, reference
from directory.search import SearchRequest
from indexer.document import to_document
from indexer.sync import full_reindex, incremental_sync
from tests.factories import TODAY
from tests.test_search_contract import make_engine_for

pytestmark = pytest.mark.both_databases

LAST_YEAR = TODAY.year - 1
NEXT_YEAR = TODAY.year + 1

# A university's export from its own CME system: its own header case, yes/no as Y/N, a fee
# with a dollar sign, an ABOS registration naming an area the ABOS list lacks.
LAKESHORE_CSV = f"""\
your activity id,TITLE,format,Status,start date,end date,Description,delivery,city,State,country,ama pra category 1 credits,providership,show in the public directory,Fee (USD),registration,activity url,Occurrences,ABIM practice areas,ABIM credit types,ABIM points,ABIM claim deadline,ABIM attested,ABOS practice areas,ABOS credit types,ABOS points,ABOS claim deadline,ABOS attested,Learner completions reported
LU-{NEXT_YEAR}-101,Regional Stroke Update,Course,Active,{NEXT_YEAR}-03-05,{NEXT_YEAR}-09-18,"A one-day update on acute stroke care, given in three cities.",in person,,,,6,direct,Y,$150.00,open to all,https://cme.lakeshore.example.org/stroke,"{NEXT_YEAR}-03-05..{NEXT_YEAR}-03-05 Chicago, IL, US | {NEXT_YEAR}-05-14..{NEXT_YEAR}-05-14 Denver, CO, US | {NEXT_YEAR}-09-18..{NEXT_YEAR}-09-18 Toronto, ON, CA",hospital medicine,Medical Knowledge,6,{NEXT_YEAR}-12-31,Y,,,,,,0
LU-{NEXT_YEAR}-102,Total Joint Arthroplasty: Current Practice,Course,Active,{NEXT_YEAR}-04-09,{NEXT_YEAR}-04-10,Two days on hip and knee arthroplasty.,both,Chicago,IL,US,12,direct,Y,"$1,295.00",open to all,https://cme.lakeshore.example.org/tja,,,,,,,Joint Replacement,Accredited CME,12,{NEXT_YEAR}-12-31,Y,0
LU-{LAST_YEAR}-090,Sepsis Bundles {LAST_YEAR},Course,Closed,{LAST_YEAR}-10-10,{LAST_YEAR}-10-11,Sepsis recognition and the hour-one bundle.,in person,Milwaukee,WI,US,8,direct,Y,0,open to all,https://cme.lakeshore.example.org/sepsis,,Critical Care Medicine,Medical Knowledge,8,{LAST_YEAR}-12-31,Y,,,,,,140
"""

RIVERSIDE = {
    "activities": [
        {
            "provider_activity_id": "RCH-PEDS-7",
            "title": "Bronchiolitis in the Emergency Department",
            "format": "Enduring Material",
            "status": "Active",
            "start_date": str(TODAY - timedelta(days=30)),
            "end_date": str(TODAY + timedelta(days=300)),
            "description": "Case-based modules on high-flow oxygen and when to admit.",
            "delivery": "online",
            "cme_credits": 3,
            "providership": "joint",
            "joint_provider": "State Chapter of Pediatrics",
            "show_in_directory": True,
            "fee": 0,
            "registration": "open to all",
            "url": "https://learn.riverside.example.org/bronchiolitis",
            "moc": [
                {
                    "board": "ABP",
                    # Lower case, as typed: the board's own spelling is what is stored.
                    "practice_areas": ["general pediatrics", "Pediatric Emergency Medicine"],
                    "credit_types": ["lifelong learning & self-assessment"],
                    "points": 3,
                    "claim_deadline": str(TODAY + timedelta(days=330)),
                    "attested": True,
                }
            ],
        },
        {
            # Ended last month; moved in from another system already Ready to Close.
            "provider_activity_id": "RCH-GR-2026-10",
            "title": "Pediatric Grand Rounds, October",
            "format": "Regularly Scheduled Series",
            "status": "Ready to Close",
            "start_date": str(TODAY - timedelta(days=60)),
            "end_date": str(TODAY - timedelta(days=25)),
            "description": "Weekly grand rounds.",
            "delivery": "in person",
            "city": "Riverside",
            "state": "CA",
            "country": "US",
            "cme_credits": 4,
            "providership": "direct",
        },
    ]
}


def great_lakes_workbook() -> bytes:
    """An anesthesiology society's spreadsheet: Excel date cells, the content-outline path
    typed without spaces around '>', one registration naming a path the outline lacks."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Activities"
    sheet.append(
        [
            "Your activity id", "Title", "Format", "Status", "Start date", "End date",
            "Description", "Delivery", "AMA PRA Category 1 Credits", "Providership",
            "Show in the public directory", "Fee (USD)", "Registration", "Activity URL",
            "ABA practice areas", "ABA credit types", "ABA points", "ABA content areas",
            "ABA claim deadline", "ABA attested",
        ]
    )  # fmt: skip
    start, end = TODAY - timedelta(days=10), TODAY + timedelta(days=700)
    sheet.append(
        [
            "GLSA-EM-01", "Perioperative Opioid Stewardship", "Enduring Material", "Active",
            start, end, "Modules on multimodal analgesia.", "online", 4, "direct", "yes",
            49, "open to all", "https://glsa.example.org/learn/opioids",
            "pain medicine", "Lifelong Learning",
            4, "Pain Medicine>General>Pharmacology of Pain Transmission and Modulation",
            end, "yes",
        ]
    )  # fmt: skip
    sheet.append(
        [
            "GLSA-EM-02", "Cannabinoids and the Anesthesiologist", "Enduring Material",
            "Active", start, end, "What the evidence says.", "online", 2, "direct", "yes", 0,
            "open to all", "https://glsa.example.org/learn/cannabis", "Pain Medicine",
            "Lifelong Learning", 2, "Pain Medicine > Cannabis Therapeutics", end, "yes",
        ]
    )  # fmt: skip
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


MIDWEST_XML = f"""<?xml version="1.0" encoding="UTF-8"?>
<activities>
  <activity>
    <provider_activity_id>MSEI-{NEXT_YEAR}-01</provider_activity_id>
    <title>Advanced Laparoscopic Hernia Repair</title>
    <format>Course</format>
    <status>Active</status>
    <start_date>{NEXT_YEAR}-02-11</start_date>
    <end_date>{NEXT_YEAR}-02-12</end_date>
    <description>Hands-on laparoscopic and robotic hernia repair.</description>
    <delivery>in person</delivery>
    <city>Columbus</city>
    <state>OH</state>
    <country>US</country>
    <cme_credits>14</cme_credits>
    <providership>direct</providership>
    <show_in_directory>true</show_in_directory>
    <fee>950</fee>
    <registration>open to all</registration>
    <url>https://msei.example.org/hernia</url>
    <moc>
      <registration board="ABS">
        <practice_areas><practice_area>General Surgery</practice_area></practice_areas>
        <credit_types><credit_type>Accredited CME</credit_type></credit_types>
        <points>14</points>
        <claim_deadline>{NEXT_YEAR}-06-30</claim_deadline>
        <attested>true</attested>
      </registration>
    </moc>
  </activity>
</activities>
"""

PROVIDERS = {
    1: ("Lakeshore University School of Medicine", "Accreditation"),
    2: ("Riverside Children's Hospital", "Provisional Accreditation"),
    3: ("Great Lakes Society of Anesthesiologists", "Accreditation with Commendation"),
    4: ("Midwest Surgical Education Institute", "Accreditation"),
}
FILES = {
    1: ("lakeshore-export.csv", LAKESHORE_CSV.encode()),
    2: ("riverside.json", json.dumps(RIVERSIDE).encode()),
    3: ("GLSA activities.xlsx", great_lakes_workbook()),
    4: ("msei.xml", MIDWEST_XML.encode()),
}


@pytest.fixture
def sessions(engine):
    with Session(engine) as session:
        for pid, (name, status) in PROVIDERS.items():
            session.add(
                Provider(id=pid, name=name, accreditation_status=status, accreditor_id=f"00{pid}")
            )
        session.commit()
    return make_sessionmaker(engine)


def upload(sessions, provider_id):
    name, data = FILES[provider_id]
    return import_records(
        sessions, provider_id, lambda: read_records(name, data), TODAY, source="batch"
    )


def listed_by_rules(sessions) -> set[int]:
    with sessions() as session:
        activities = session.scalars(select(Activity).options(*with_children())).all()
        return {a.id for a in activities if rules.is_listed(a, TODAY)}


def found(engine, **filters) -> set[int]:
    request = SearchRequest(
        filters={k: tuple(v) for k, v in filters.items()}, sort="newest", per_page=100
    )
    return {h["id"] for h in engine.search(request, TODAY).hits}


def by_provider_id(sessions) -> dict[str, Activity]:
    with sessions() as session:
        rows = session.scalars(select(Activity).options(*with_children())).all()
        session.expunge_all()
        return {a.provider_activity_id: a for a in rows}


@pytest.mark.parametrize("kind", ["embedded", "opensearch"])
def test_real_providers_files_go_in_in_one_pass_each(sessions, kind, tmp_path_factory):
    reports = {pid: upload(sessions, pid) for pid in FILES}

    # Every file went in whole, in one upload, whatever status its activities are in.
    for pid, report in reports.items():
        assert report.ok and report.written, (pid, [str(m) for m in report.errors])
    assert len(reports[1].created) == 3 and len(reports[2].created) == 2
    assert len(reports[3].created) == 2 and len(reports[4].created) == 1

    # The ABOS area the list lacks: saved, incomplete, with the nearest names.
    [abos] = [m for m in reports[1].warnings if m.field == "ABOS practice areas"]
    assert abos.severity == "incomplete" and abos.location == "row 3"
    assert abos.message.startswith("'Joint Replacement' is not on our list for ABOS; nearest: ")
    assert "'Adult Reconstruction'" in abos.message
    assert abos.message.endswith("does not count for ABOS until it names one from the list")
    # The path the ABA outline lacks: the same, and nothing else in that workbook.
    [aba] = reports[3].warnings
    assert (aba.location, aba.field, aba.severity) == ("row 3", "ABA content areas", "incomplete")
    assert "'Pain Medicine > Cannabis Therapeutics' is not in our copy" in aba.message
    assert aba.nearest and all(p.startswith("Pain Medicine") for p in aba.nearest[:1])
    assert reports[2].warnings == [] and reports[4].warnings == []

    stored = by_provider_id(sessions)
    # Names are stored as the boards spell them, whatever the file's case and spacing.
    peds = stored["RCH-PEDS-7"].moc[0]
    assert peds.practice_areas == ["General Pediatrics", "Pediatric Emergency Medicine"]
    assert peds.credit_types == ["Lifelong Learning & Self-Assessment"]
    assert stored["GLSA-EM-01"].moc[0].content_areas == [
        "Pain Medicine > General > Pharmacology of Pain Transmission and Modulation"
    ]
    assert stored["GLSA-EM-01"].moc[0].practice_areas == ["Pain Medicine"]
    assert stored[f"LU-{LAST_YEAR}-090"].status == "Closed"
    assert stored["RCH-GR-2026-10"].status == "Ready to Close"

    engine, cleanup = make_engine_for(kind, tmp_path_factory)
    try:
        full_reindex(sessions, engine, f"real-{kind}", TODAY)
        everything = found(engine)
        # The index holds exactly what the rules list: the Closed, Ready to Close and
        # unlisted activities are out, and nothing listed is missing.
        assert everything == listed_by_rules(sessions)
        expected_listed = {
            f"LU-{NEXT_YEAR}-101", f"LU-{NEXT_YEAR}-102", "RCH-PEDS-7", "GLSA-EM-01",
            "GLSA-EM-02", f"MSEI-{NEXT_YEAR}-01",
        }  # fmt: skip
        assert everything == {stored[p].id for p in expected_listed}

        # Boards count only complete registrations.
        assert found(engine, board=["ABOS"]) == set()
        assert found(engine, board=["ABA"]) == {stored["GLSA-EM-01"].id}
        assert found(engine, board=["ABP"]) == {stored["RCH-PEDS-7"].id}
        assert found(engine, board=["ABIM"]) == {stored[f"LU-{NEXT_YEAR}-101"].id}
        # The course in three cities is found in each of its places.
        stroke = stored[f"LU-{NEXT_YEAR}-101"].id
        for state in ("IL", "CO", "ON"):
            assert stroke in found(engine, state=[state]), state
        assert stroke not in found(engine, state=["WI"])

        # The accreditor puts one provider on probation: its listing leaves at the next
        # sync, and its next upload is refused whole, saying why.
        with sessions.begin() as session:
            midwest = session.get(Provider, 4)
            midwest.accreditation_status = "Probation"
            midwest.updated_at = utcnow()
        incremental_sync(sessions, engine, f"real-{kind}", TODAY)
        assert (
            found(engine)
            == listed_by_rules(sessions)
            == everything - {stored[f"MSEI-{NEXT_YEAR}-01"].id}
        )
        refused = upload(sessions, 4)
        assert refused.refused and not refused.written
        [message] = refused.errors
        assert "accreditation status is Probation, which is not in good standing" in (
            message.message
        )
        assert message.message.endswith("nothing was saved")
    finally:
        cleanup()


def test_a_closed_course_from_last_year_still_needs_what_it_needed_when_active(sessions):
    lines = LAKESHORE_CSV.splitlines()
    closed = lines[3].replace("Sepsis recognition and the hour-one bundle.", "")
    report = import_records(
        sessions,
        1,
        lambda: read_records("one.csv", "\n".join([lines[0], closed]).encode()),
        TODAY,
        source="batch",
    )
    assert not report.written
    assert [str(m) for m in report.errors] == [
        "row 2, status: a Closed activity was Active once, so it needs what an Active "
        "activity needs: add description"
    ]


def test_a_course_still_to_come_cannot_be_created_closed(sessions):
    lines = LAKESHORE_CSV.splitlines()
    early = lines[1].replace(",Active,", ",Closed,", 1)
    report = import_records(
        sessions,
        1,
        lambda: read_records("one.csv", "\n".join([lines[0], early]).encode()),
        TODAY,
        source="batch",
    )
    assert not report.written
    [message] = report.errors
    assert message.field == "status"
    assert message.message.startswith(
        f"Closed is for an activity that has ended, and it ends {NEXT_YEAR}-09-18"
    )


def test_the_guides_course_in_three_cities_needs_no_place_of_its_own(sessions):
    from directory.provider_data.published import three_cities_example

    data = three_cities_example().encode()
    report = import_records(
        sessions, 1, lambda: read_records("cities.csv", data), TODAY, source="batch"
    )
    # The guide's row shows only the place columns: what else an Active course needs is
    # asked for, and no place is.
    assert [m.message for m in report.errors] == [
        "an Active activity needs: CME credits, description, providership"
    ]


def gulf_coast_csv() -> tuple[str, Mandate]:
    """A Texas hospital's export of a course it gives in two cities: the mandated topics
    written out as names in its own case, the approval it holds named by the approving body's
    full name with a colon, the first city with the coordinates of its venue. The topic and
    the body are those of the first rule that counts only approved courses."""
    ref = reference()
    rule = next(m for m in ref.mandates.values() if m.approved_only)
    topic = ref.topics[rule.topics[0]]
    other = next(t for t in ref.topics.values() if t.code not in rule.topics)
    approver = ref.approvers[str(rule.approver)]
    header = (
        "Your Activity ID,Title,Format,Status,Start Date,End Date,Description,Delivery,"
        "AMA PRA Category 1 Credits,Providership,Show in the Public Directory,Fee (USD),"
        "Registration,Activity URL,Mandated Topics,Approvals,Occurrences"
    )
    row = (
        f"GCH-{NEXT_YEAR}-07,Recognizing Human Trafficking in the Emergency Department,Course,"
        f"Active,{NEXT_YEAR}-02-20,{NEXT_YEAR}-06-12,"
        '"Case-based training on indicators of trafficking, safe assessment and reporting.",'
        "in person,1,direct,Yes,$25,open to all,https://cme.gulfcoast.example.org/trafficking,"
        f'"{topic.name.upper()} | {other.name.lower()}","{approver.name}: HT-{NEXT_YEAR}-0193",'
        f'"{NEXT_YEAR}-02-20..{NEXT_YEAR}-02-20 Memorial Auditorium, Houston, TX, US '
        f'@ 29.7107, -95.3967 | {NEXT_YEAR}-06-12..{NEXT_YEAR}-06-12 Austin, TX, US"'
    )
    return f"{header}\n{row}\n", rule


def test_a_hospitals_tagged_and_approved_course_matches_its_states_rule(sessions):
    data, rule = gulf_coast_csv()
    report = import_records(
        sessions, 1, lambda: read_records("gulf-coast.csv", data.encode()), TODAY, source="batch"
    )
    assert report.ok and report.written, [str(m) for m in report.errors]
    # Names, a full body name and a located city: nothing to warn about.
    assert report.warnings == [], [str(m) for m in report.warnings]

    course = by_provider_id(sessions)[f"GCH-{NEXT_YEAR}-07"]
    ref = reference()
    other = next(t for t in ref.topics.values() if t.code not in rule.topics)
    assert course.topics == [rule.topics[0], other.code]
    assert course.approvals == [{"body": rule.approver, "id": f"HT-{NEXT_YEAR}-0193"}]
    houston, austin = sorted(course.occurrences, key=lambda o: o.start_date)
    assert (houston.venue, houston.latitude, houston.longitude) == (
        "Memorial Auditorium",
        29.7107,
        -95.3967,
    )
    assert (austin.city, austin.latitude) == ("Austin", None)

    # The search document matches the state's rule and places the course in both cities:
    # Houston where the provider said, Austin where the gazetteer has it.
    document = to_document(course, TODAY)
    assert document is not None
    assert rule.id in document["mandate"]
    assert {"lat": 29.7107, "lon": -95.3967} in document["locations"]
    assert len(document["locations"]) == 2
