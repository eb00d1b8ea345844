"""The provider roster: `directory providers add|update|import`, through the command line, with
real CSV and Excel files; good standing refusing activity imports; and a provider put on
probation leaving the directory at the next incremental sync."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.cli import cli
from directory.demo import generate_into
from directory.provider_data import published, roster
from directory.registry.db import make_sessionmaker
from directory.registry.models import Activity, Provider
from directory.search import SearchRequest
from indexer.embedded import EmbeddedEngine
from indexer.sync import full_reindex, incremental_sync
from tests.factories import TODAY

pytestmark = pytest.mark.both_databases  # (also listed in conftest.BOTH_DATABASES)

HEADER = ["Name", "ACCME ID", "Status", "City", "State", "Country", "URL", "Email"]
ROWS = [
    [
        "Lakeshore University School of Medicine",
        "0001234",
        "Accredited",
        "Chicago",
        "il",
        "USA",
        "https://cme.lakeshore.example.org",
        "cme@lakeshore.example.org",
    ],
    [
        "Northfield Academy of Medicine",
        "0005678",
        "accreditation w/ commendation",
        "Toronto",
        "ON",
        "Canada",
        "",
        "mailto:education@northfield.example.org",
    ],
    ["Riverside Children's Hospital", "0009012", "Provisional", "", "", "", "", ""],
]


def csv_bytes(rows, header=HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def write_csv(tmp_path, rows, header=HEADER, name="roster.csv"):
    path = tmp_path / name
    path.write_bytes(csv_bytes(rows, header))
    return str(path)


def write_xlsx(tmp_path, rows, header, name="roster.xlsx"):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Providers"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    path = tmp_path / name
    book.save(path)
    return str(path)


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def invoke(*args):
        return runner.invoke(cli, [str(a) for a in args])

    return invoke


def stored(engine) -> dict[str, Provider]:
    with Session(engine) as session:
        return {p.accreditor_id: p for p in session.scalars(select(Provider))}


def count(engine, model) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


# --- the roster file --------------------------------------------------------------------------


def test_a_roster_creates_providers_then_changes_nothing_then_updates_an_edited_row(
    run, engine, tmp_path
):
    created = run("providers", "import", write_csv(tmp_path, ROWS))
    assert created.exit_code == 0, created.output
    assert "added 3, updated 0, unchanged 0" in created.output
    providers = stored(engine)
    lakeshore, northfield, riverside = (providers[i] for i in ("0001234", "0005678", "0009012"))
    # Aliases, names and spellings become the accreditor's names and ISO codes.
    assert lakeshore.accreditation_status == "Accreditation"
    assert (lakeshore.country, lakeshore.state) == ("US", "IL")
    assert lakeshore.contact_email == "cme@lakeshore.example.org"
    assert northfield.accreditation_status == "Accreditation with Commendation"
    assert northfield.country == "CA"
    assert northfield.url is None
    assert northfield.contact_email == "education@northfield.example.org"
    assert riverside.accreditation_status == "Provisional Accreditation"
    assert riverside.city is None and riverside.country is None

    again = run("providers", "import", write_csv(tmp_path, ROWS))
    assert again.exit_code == 0, again.output
    assert "added 0, updated 0, unchanged 3" in again.output
    assert "directory sync" not in again.output  # nothing to sync
    assert {k: p.updated_at for k, p in stored(engine).items()} == {
        k: p.updated_at for k, p in providers.items()
    }

    edited = [list(r) for r in ROWS]
    edited[1][2] = "On Probation"
    edited[1][4] = "Ontario"
    updated = run("providers", "import", write_csv(tmp_path, edited))
    assert updated.exit_code == 0, updated.output
    assert "added 0, updated 1, unchanged 2" in updated.output
    after = stored(engine)
    assert after["0005678"].accreditation_status == "Probation"
    assert after["0005678"].state == "Ontario"
    assert after["0005678"].updated_at > providers["0005678"].updated_at
    assert after["0001234"].updated_at == providers["0001234"].updated_at
    assert count(engine, Provider) == 3


def test_an_excel_roster_with_other_headers_and_numeric_ids(run, engine, tmp_path):
    header = ["provider name", "Provider ID", "ACCREDITATION", "city", "state", "Country",
              "Website", "Contact E-mail"]  # fmt: skip
    rows = [
        ["Cascadia Health Sciences University", 4321, "Accreditation with Commendation",
         "Portland", "OR", "US", "https://cme.cascadia.example.org", "cme@cascadia.example.org"],
        ["Blue Ridge University College of Medicine", "B-77", "on-probation", "Roanoke", "VA",
         "United States", None, None],
    ]  # fmt: skip
    result = run("providers", "import", write_xlsx(tmp_path, rows, header))
    assert result.exit_code == 0, result.output
    assert "added 2, updated 0, unchanged 0" in result.output
    # Excel held an id as a number: the provider is told its leading zeros may be gone.
    assert "check: file, provider id: the workbook holds provider ids as numbers (row 2" in (
        result.output
    )
    providers = stored(engine)
    assert providers["4321"].accreditation_status == "Accreditation with Commendation"
    assert providers["B-77"].accreditation_status == "Probation"
    assert providers["B-77"].country == "US"


def test_a_roster_with_bad_rows_writes_nothing_and_names_each_row(run, engine, tmp_path):
    assert run("providers", "import", write_csv(tmp_path, ROWS[:1])).exit_code == 0
    before = stored(engine)
    rows = [
        ROWS[0][:2] + ["Withdrawn"] + ROWS[0][3:],  # a valid change, not written either
        ["Northfield Academy of Medicine", "0005678", "Accredted", "", "", "Canda", "", ""],
        ["", "00/12", "Accreditation", "", "", "", "www.example.org", "Dr Smith"],
        ["Riverside Children's Hospital", "0009012", "", "", "", "", "javascript:alert(1)", ""],
        ["Formula Provider", "0003333", "=1+1", "", "", "", "", ""],
    ]
    result = run("providers", "import", write_csv(tmp_path, rows))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    expected = [
        "error: row 3, accreditation status: 'Accredted' is not an accreditation status (did "
        "you mean 'Accreditation'?); use one of: Accreditation with Commendation, Accreditation, "
        "Provisional Accreditation, Probation, Nonaccreditation, Accreditation Withdrawn",
        "error: row 3, country: 'Canda' is not a country we know (did you mean 'Canada'?); "
        "write its two-letter code, such as US or CA",
        "error: row 4, name: required",
        "error: row 4, provider id: '00/12' is not an accreditor's provider id (letters, digits "
        "and hyphens, at most 40)",
        "error: row 4, web site: 'www.example.org' needs http:// or https://; write it as "
        "https://www.example.org",
        "error: row 4, contact e-mail: 'Dr Smith' is not an e-mail address like cme@example.org",
    ]
    for line in expected:
        assert line in lines, result.output
    assert any(line.startswith("error: row 5, accreditation status: required") for line in lines)
    assert any(line.startswith("error: row 5, web site: must be an http") for line in lines)
    assert "error: row 6, accreditation status: formulas are not accepted" in result.output
    assert not any(line.startswith("error: row 2") for line in lines)
    assert "Error: 9 problems; nothing was saved" in lines
    assert stored(engine).keys() == before.keys()
    assert stored(engine)["0001234"].accreditation_status == "Accreditation"


def test_the_same_provider_id_twice_is_an_error_naming_both_rows(run, engine, tmp_path):
    rows = [ROWS[0], ROWS[1], ROWS[2][:1] + ["0001234"] + ROWS[2][2:]]
    result = run("providers", "import", write_csv(tmp_path, rows))
    assert result.exit_code == 1
    assert (
        "error: row 4, provider id: '0001234' appears twice in the file, in row 2 and row 4; "
        "each provider has one row"
    ) in result.output
    assert "Error: 1 problem; nothing was saved" in result.output
    assert count(engine, Provider) == 0


def test_a_dry_run_reports_and_writes_nothing(run, engine, tmp_path):
    result = run("providers", "import", write_csv(tmp_path, ROWS), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run, nothing saved: would add 3, update 0, leave 0 unchanged" in result.output
    assert count(engine, Provider) == 0


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            ["Name", "ACCME ID", "Status", "Phone", "Contct Email"],
            "row 1 (the header): unknown columns: 'Phone', 'Contct Email' (did you mean "
            "'Contact Email'?)",
        ),
        (["Name", "City"], "missing required columns: Provider ID, Accreditation Status"),
        (["Name", "Provider ID", "ACCME ID", "Status"], "columns given twice: 'ACCME ID'"),
    ],
)
def test_a_roster_whose_header_is_wrong_is_refused_whole(run, tmp_path, header, message):
    result = run("providers", "import", write_csv(tmp_path, [["x"] * len(header)], header))
    assert result.exit_code == 1
    assert message in result.output


def test_a_roster_over_the_limits_is_refused_with_a_message(run, engine, tmp_path, monkeypatch):
    monkeypatch.setattr(roster, "MAX_PROVIDERS", 2)
    result = run("providers", "import", write_csv(tmp_path, ROWS))
    assert result.exit_code == 1
    assert "the roster holds more than 2 providers" in result.output
    monkeypatch.setattr(roster, "MAX_ROSTER_BYTES", 100)
    result = run("providers", "import", write_csv(tmp_path, ROWS))
    assert "a roster may be at most 100 bytes" in result.output
    path = tmp_path / "roster.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    assert ".xls files are not accepted" in run("providers", "import", path).output
    path = tmp_path / "roster.xlsx"
    path.write_bytes(b"Name,Provider ID\n")  # a CSV with the wrong name: read as nothing else
    assert "this is not an .xlsx workbook" in run("providers", "import", path).output
    assert count(engine, Provider) == 0


def test_a_roster_row_does_not_add_a_second_provider_beside_one_without_an_id(
    run, engine, tmp_path
):
    with Session(engine) as session:
        session.add(Provider(id=7, name="Lakeshore University School of Medicine",
                             accreditation_status="Accreditation"))  # fmt: skip
        session.commit()
    result = run("providers", "import", write_csv(tmp_path, ROWS[:1]))
    assert result.exit_code == 1
    assert "already in the registry without a provider id (registry id 7)" in result.output
    assert "directory providers update 7 --provider-id 0001234" in result.output
    linked = run("providers", "update", "7", "--provider-id", "0001234")
    assert linked.exit_code == 0, linked.output
    again = run("providers", "import", write_csv(tmp_path, ROWS[:1]))
    assert again.exit_code == 0, again.output
    assert "added 0, updated 1, unchanged 0" in again.output
    assert count(engine, Provider) == 1


def test_read_roster_is_pure_and_normalizes():
    read = roster.read_roster("r.csv", csv_bytes(ROWS))
    assert read.columns == (
        "name", "accreditor_id", "accreditation_status", "city", "state", "country", "url",
        "contact_email",
    )  # fmt: skip
    assert [r.location for r in read.rows] == ["row 2", "row 3", "row 4"]
    assert all(r.problems == [] for r in read.rows)
    assert read.rows[0].values["country"] == "US"


# --- add and update ---------------------------------------------------------------------------


def test_add_then_update_only_what_is_given(run, engine):
    added = run(
        "providers", "add", "--name", "Harbor City Medical Society", "--provider-id", "0002468",
        "--status", "accredited", "--country", "united states", "--email", "cme@harbor.example.org",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "added" in added.output and "0002468" in added.output
    provider = stored(engine)["0002468"]
    assert (provider.accreditation_status, provider.country) == ("Accreditation", "US")

    listing = run("providers")
    assert listing.exit_code == 0
    assert (
        f"{provider.id}  Harbor City Medical Society  (Accreditation)  provider id 0002468  "
        "cme@harbor.example.org"
    ) in listing.output

    again = run("providers", "add", "--name", "Other", "--provider-id", "0002468",
                "--status", "Accreditation")  # fmt: skip
    assert again.exit_code == 1
    assert "provider id 0002468 is already Harbor City Medical Society" in again.output
    assert "directory providers update 0002468" in again.output

    bad = run("providers", "add", "--name", "X", "--provider-id", "1", "--status", "Acreditation",
              "--email", "nobody")  # fmt: skip
    assert bad.exit_code == 1
    assert "2 problems; nothing was saved" in bad.output
    assert "--status: 'Acreditation' is not an accreditation status" in bad.output
    assert "--email: 'nobody' is not an e-mail address" in bad.output

    updated = run("providers", "update", "0002468", "--city", "Baltimore", "--state", "md")
    assert updated.exit_code == 0, updated.output
    assert "city (none) -> Baltimore; state (none) -> MD" in updated.output
    after = stored(engine)["0002468"]
    assert (after.city, after.state, after.name) == ("Baltimore", "MD", provider.name)
    assert after.contact_email == "cme@harbor.example.org"
    assert after.updated_at > provider.updated_at

    by_registry_id = run("providers", "update", f"id:{provider.id}", "--city", "")
    assert by_registry_id.exit_code == 0, by_registry_id.output
    assert stored(engine)["0002468"].city is None

    unchanged = run("providers", "update", "0002468", "--state", "MD")
    assert unchanged.exit_code == 0 and "unchanged" in unchanged.output
    assert run("providers", "update", "0002468").exit_code == 1  # nothing to change
    missing = run("providers", "update", "0009999", "--city", "Austin")
    assert missing.exit_code == 1
    assert "no provider with registry id or provider id '0009999'" in missing.output


# --- good standing ----------------------------------------------------------------------------


def example_file(tmp_path):
    name, _type, data = published.example("csv")
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_a_provider_on_probation_may_not_import_activities(run, engine, tmp_path):
    assert run("providers", "import", write_csv(tmp_path, ROWS[:1])).exit_code == 0
    provider_id = stored(engine)["0001234"].id
    first = run("import", example_file(tmp_path), "--provider", provider_id)
    assert first.exit_code == 0, first.output
    assert "problems" not in first.output and "warning:" not in first.output
    written = count(engine, Activity)
    assert written > 0

    probation = run("providers", "update", "0001234", "--status", "Probation")
    assert probation.exit_code == 0, probation.output
    assert "accreditation status Accreditation -> Probation" in probation.output
    assert "listings leave the directory at the next `directory sync`" in probation.output

    refused = run("import", example_file(tmp_path), "--provider", provider_id)
    assert refused.exit_code == 1
    assert "accreditation status is Probation" in refused.output
    assert "not in good standing" in refused.output
    assert "nothing was saved" in refused.output
    assert count(engine, Activity) == written


def test_the_import_summary_counts_problems_in_words(run, engine, tmp_path):
    assert run("providers", "import", write_csv(tmp_path, ROWS[:1])).exit_code == 0
    provider_id = stored(engine)["0001234"].id
    name, _type, data = published.example("csv")
    lines = data.decode("utf-8-sig").splitlines()
    header = next(csv.reader([lines[0]]))
    row = next(csv.reader([lines[1]]))
    row[header.index("Title")] = ""
    broken = tmp_path / "broken.csv"
    broken.write_bytes(csv_bytes([row], header))
    result = run("import", broken, "--provider", provider_id)
    assert result.exit_code == 1
    assert "error: row 2, title: required, even for a draft" in result.output
    assert "Error: 1 problem" in result.output
    assert "1 problems" not in result.output


# --- probation takes the listings out at the next sync ----------------------------------------


def test_a_provider_put_on_probation_leaves_the_directory_at_the_next_sync(run, engine, tmp_path):
    generate_into(engine, count=600, seed=5, today=TODAY)
    sessions = make_sessionmaker(engine)
    search = EmbeddedEngine(tmp_path / "search.sqlite3")
    key = "roster-sync"
    full_reindex(sessions, search, key, TODAY)

    def listed(provider_id):
        request = SearchRequest(filters={"provider": (str(provider_id),)})
        return search.search(request, TODAY).total

    with Session(engine) as session:
        providers = list(session.scalars(select(Provider).order_by(Provider.id)))
    counts = {p.id: listed(p.id) for p in providers}
    target = max(providers, key=lambda p: counts[p.id])
    assert counts[target.id] > 0
    total = len(search.ids())

    changed = run("providers", "update", target.accreditor_id, "--status", "Probation")
    assert changed.exit_code == 0, changed.output
    incremental_sync(sessions, search, key, TODAY)
    assert listed(target.id) == 0
    assert len(search.ids()) == total - counts[target.id]
    assert all(listed(p.id) == counts[p.id] for p in providers if p.id != target.id)

    # Restored by the accreditor's next roster: the listings come back at the next sync.
    # Columns a roster leaves out change nothing.
    restored = [[target.name, target.accreditor_id, "Accreditation"]]
    result = run("providers", "import", write_csv(tmp_path, restored, HEADER[:3]))
    assert result.exit_code == 0, result.output
    assert "updated 1" in result.output
    incremental_sync(sessions, search, key, TODAY)
    assert listed(target.id) == counts[target.id]
    assert stored(engine)[target.accreditor_id].url == target.url


def test_demo_providers_are_valid_roster_entries_and_new_ones_get_new_ids(run, engine):
    from directory.registry import rules

    generate_into(engine, count=50, seed=2, today=TODAY)
    demo = stored(engine)
    assert all(rules.provider_problems(p) == [] for p in demo.values())
    assert len({p.contact_email for p in demo.values()}) == len(demo)
    added = run("providers", "add", "--name", "Harbor City Medical Society", "--provider-id",
                "0002468", "--status", "Accreditation")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert stored(engine)["0002468"].id == max(p.id for p in demo.values()) + 1
