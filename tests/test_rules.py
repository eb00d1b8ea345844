"""The registry rules: every validation message and every not-listed reason, each passing and failing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from directory.registry import rules
from tests import factories as f
from tests.factories import TODAY


def messages(activity, severity=None):
    return [
        str(p)
        for p in rules.validate_activity(activity)
        if severity is None or p.severity == severity
    ]


def test_the_base_activity_is_valid_listed_and_counts_for_abim():
    a = f.activity()
    assert rules.validate_activity(a) == []
    assert rules.why_not_listed(a, TODAY) == []
    assert rules.is_listed(a, TODAY)
    assert rules.counted_boards(a, TODAY) == ["ABIM"]


# --- validation messages: (passing change, failing change, expected message fragment) --------

CASES = {
    "points above credits": (
        dict(cme_credits=3.0, moc=[f.abim(points=3.0)]),
        dict(cme_credits=2.0, moc=[f.abim(points=3.0)]),
        "error",
        "ABIM points: 3 exceeds the activity's 2 CME credits",
    ),
    "credit type the board does not offer": (
        dict(moc=[f.aba(credit_types=["Patient Safety"])]),
        dict(moc=[f.aba(credit_types=["Medical Knowledge"])]),
        "error",
        "ABA credit types: ABA does not offer 'Medical Knowledge'; its credit types are Lifelong Learning, Patient Safety",
    ),
    "practice area of another board": (
        dict(moc=[f.abim(practice_areas=["Nephrology"])]),
        dict(moc=[f.abim(practice_areas=["Pediatric Anesthesiology"])]),
        "incomplete",
        "ABIM practice areas: 'Pediatric Anesthesiology' is not on our list for ABIM; ",
    ),
    "no practice area": (
        dict(moc=[f.abim(practice_areas=["Cardiovascular Disease"])]),
        dict(moc=[f.abim(practice_areas=[])]),
        "incomplete",
        "ABIM practice areas: choose at least one ABIM practice area",
    ),
    "no credit type": (
        dict(moc=[f.abim(credit_types=["Patient Safety"])]),
        dict(moc=[f.abim(credit_types=[])]),
        "incomplete",
        "ABIM credit types: choose at least one of",
    ),
    "no points": (
        dict(moc=[f.abim(points=1.0)]),
        dict(moc=[f.abim(points=None)]),
        "incomplete",
        "ABIM points: how many ABIM points",
    ),
    "ABA without content areas": (
        dict(moc=[f.aba(content_areas=[f.PAIN_PATH])]),
        dict(moc=[f.aba(content_areas=[])]),
        "incomplete",
        "ABA content areas: ABA needs 1 or 2 content areas from its content outline",
    ),
    "ABA with three content areas": (
        dict(
            moc=[
                f.aba(
                    content_areas=[
                        f.PAIN_PATH,
                        "Pain Medicine > General > Anatomy and Physiology: Mechanisms of Nociceptive Transmission",
                    ]
                )
            ]
        ),
        dict(
            moc=[
                f.aba(
                    content_areas=[
                        f.PAIN_PATH,
                        "Pain Medicine > General > Anatomy and Physiology: Mechanisms of Nociceptive Transmission",
                        "Pain Medicine",
                    ]
                )
            ]
        ),
        "error",
        "ABA content areas: 3 given; choose 1 or 2",
    ),
    "ABA content area outside the outline": (
        dict(moc=[f.aba(content_areas=[f.PAIN_PATH])]),
        dict(moc=[f.aba(content_areas=["Pain Medicine > Astrology"])]),
        "incomplete",
        "ABA content areas: 'Pain Medicine > Astrology' is not in our copy of the ABA content "
        "outline; nearest: ",
    ),
    "no claim deadline": (
        dict(moc=[f.abim(claim_deadline=TODAY)]),
        dict(moc=[f.abim(claim_deadline=None)]),
        "incomplete",
        "ABIM claim deadline: the last day a learner can claim MOC credit",
    ),
    "no attestation": (
        dict(moc=[f.abim(attested=True)]),
        dict(moc=[f.abim(attested=False)]),
        "incomplete",
        "ABIM attestation: attest that the activity meets ABIM's requirements",
    ),
    "board that takes no registrations": (
        dict(moc=[f.abim()]),
        dict(moc=[f.abim(board="ABPMR")]),
        "error",
        "MOC board: ABPMR has no MOC registration program",
    ),
    "unknown board": (
        dict(moc=[f.abim()]),
        dict(moc=[f.abim(board="ABXYZ")]),
        "error",
        "MOC board: 'ABXYZ' is not a board that takes MOC registrations",
    ),
    "REMS without RPC id": (
        dict(rems=[f.rems(rpc_id="RPC-9")]),
        dict(rems=[f.rems(rpc_id=" ")]),
        "incomplete",
        "Opioid Analgesic REMS RPC id: the RPC activity id is required",
    ),
    "REMS without attestation": (
        dict(rems=[f.rems(attested=True)]),
        dict(rems=[f.rems(attested=False)]),
        "incomplete",
        "Opioid Analgesic REMS attestation: attest to the REMS program requirements",
    ),
    "unknown REMS": (
        dict(rems=[f.rems(program="Mycophenolate REMS")]),
        dict(rems=[f.rems(program="Vitamin REMS")]),
        "error",
        "REMS: 'Vitamin REMS' is not a REMS",
    ),
    "end before start": (
        dict(start_date=TODAY, end_date=TODAY),
        dict(start_date=TODAY, end_date=TODAY - timedelta(days=1)),
        "error",
        "end date: 2026-11-21 is before the start date 2026-11-22",
    ),
    "RSS longer than 12 months": (
        dict(
            format="Regularly Scheduled Series",
            start_date=date(2026, 1, 31),
            end_date=date(2027, 1, 31),
        ),
        dict(
            format="Regularly Scheduled Series",
            start_date=date(2026, 1, 31),
            end_date=date(2027, 2, 1),
        ),
        "error",
        "end date: a Regularly Scheduled Series may run at most 12 months: from 2026-01-31 it must end by 2027-01-31",
    ),
    "enduring material longer than 3 years": (
        dict(format="Enduring Material", start_date=date(2024, 2, 29), end_date=date(2027, 2, 28)),
        dict(format="Enduring Material", start_date=date(2024, 2, 29), end_date=date(2027, 3, 1)),
        "error",
        "end date: an Enduring Material may run at most 3 years",
    ),
    "occurrence outside the activity's dates": (
        dict(occurrences=[f.occurrence(TODAY + timedelta(days=30), TODAY + timedelta(days=31))]),
        dict(occurrences=[f.occurrence(TODAY + timedelta(days=40), TODAY + timedelta(days=41))]),
        "error",
        "occurrence 1: 2027-01-01 to 2027-01-02 falls outside the activity's dates",
    ),
    "occurrence ending before it starts": (
        dict(occurrences=[f.occurrence(TODAY + timedelta(days=30), TODAY + timedelta(days=30))]),
        dict(occurrences=[f.occurrence(TODAY + timedelta(days=31), TODAY + timedelta(days=30))]),
        "error",
        "occurrence 1: ends 2026-12-22, before it starts 2026-12-23",
    ),
    "unknown format": (
        dict(format="Journal-based CME"),
        dict(format="Webinar"),
        "error",
        "format: 'Webinar' is not a format; use one of: Course, Regularly Scheduled Series",
    ),
    "draft without a title": (
        dict(status="Draft", title="Grand Rounds"),
        dict(status="Draft", title="  "),
        "error",
        "title: required, even for a draft",
    ),
    "active without a description": (
        dict(description="Cases."),
        dict(description=None),
        "error",
        "status: an Active activity needs: description",
    ),
    "in person without a city": (
        dict(delivery="online", city=None, state=None, country=None),
        dict(delivery="in person", city=None),
        "error",
        "status: an Active activity needs: city",
    ),
    "shown in the directory without a fee": (
        dict(show_in_directory=False, fee_cents=None),
        dict(show_in_directory=True, fee_cents=None),
        "error",
        "status: an Active activity needs: fee",
    ),
    "negative fee": (
        dict(fee_cents=0),
        dict(fee_cents=-100),
        "error",
        "fee: cannot be negative; use 0 for a free activity",
    ),
    "MIPS with few credits": (
        dict(mips=True, cme_credits=4.0, moc=[f.abim(points=4.0)]),
        dict(mips=True, cme_credits=2.0),
        "warning",
        "MIPS: 2 credits is lower than usual for MIPS",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_validation_message(case):
    passing, failing, severity, expected = CASES[case]
    assert not any(expected in m for m in messages(f.activity(**passing))), case
    found = messages(f.activity(**failing), severity)
    assert any(expected in m for m in found), found


def test_errors_come_before_incomplete_items_and_warnings():
    a = f.activity(
        mips=True,
        end_date=TODAY,
        start_date=TODAY + timedelta(days=2),
        moc=[f.abim(attested=False)],
    )
    severities = [p.severity for p in rules.validate_activity(a)]
    assert severities == sorted(severities, key=["error", "incomplete", "warning"].index)
    assert severities[0] == "error" and "warning" in severities


def test_a_board_registered_twice_is_an_error():
    assert "MOC board: ABIM is registered twice" in messages(f.activity(moc=[f.abim(), f.abim()]))


# --- per-board completeness -------------------------------------------------------------------


def test_complete_registration_summary():
    a = f.activity()
    assert rules.board_status(a.moc[0], a, TODAY).summary() == "registered for ABIM: complete"


def test_incomplete_aba_summary_names_what_is_missing():
    a = f.activity(moc=[f.aba(content_areas=[])])
    status = rules.board_status(a.moc[0], a, TODAY)
    assert not status.complete and not status.counted
    assert status.summary() == "ABA: incomplete, not counted: missing content areas"


def test_several_missing_items_are_all_named():
    a = f.activity(moc=[f.aba(content_areas=[], attested=False, claim_deadline=None)])
    assert rules.board_status(a.moc[0], a, TODAY).summary() == (
        "ABA: incomplete, not counted: missing content areas, claim deadline, attestation"
    )


def test_complete_but_past_claim_deadline_is_not_counted():
    a = f.activity(moc=[f.abim(claim_deadline=TODAY - timedelta(days=1))])
    status = rules.board_status(a.moc[0], a, TODAY)
    assert status.complete and not status.counted
    assert "claim deadline 2026-11-21 has passed" in status.summary()


def test_registration_with_an_invalid_value_is_not_complete():
    a = f.activity(moc=[f.abim(credit_types=["Lifelong Learning"])])
    status = rules.board_status(a.moc[0], a, TODAY)
    assert not status.complete


# --- publishability ---------------------------------------------------------------------------

NOT_LISTED = {
    "provider not in good standing": (
        dict(provider=f.provider(accreditation_status="Provisional Accreditation")),
        dict(provider=f.provider(accreditation_status="Probation")),
        "the provider's accreditation (Probation) is not in good standing",
    ),
    "no provider": (dict(), dict(provider=None), "it has no provider"),
    "not active": (
        dict(status="Active"),
        dict(status="Draft"),
        "its status is Draft, not Active",
    ),
    "ready to close": (
        dict(),
        dict(status="Ready to Close"),
        "its status is Ready to Close, not Active",
    ),
    "not shown in the directory": (
        dict(show_in_directory=True),
        dict(show_in_directory=False),
        "the provider chose not to show it in the public directory",
    ),
    "ended": (
        dict(start_date=TODAY - timedelta(days=3), end_date=TODAY),
        dict(start_date=TODAY - timedelta(days=3), end_date=TODAY - timedelta(days=1)),
        "it ended on 2026-11-21",
    ),
    "missing information": (
        dict(url="https://cme.example.org/a"),
        dict(url=None, description=""),
        "it is missing description, activity URL",
    ),
    "invalid dates": (
        dict(),
        dict(start_date=TODAY + timedelta(days=5), end_date=TODAY + timedelta(days=4)),
        "end date: 2026-11-26 is before the start date 2026-11-27",
    ),
}


@pytest.mark.parametrize("case", NOT_LISTED, ids=list(NOT_LISTED))
def test_not_listed_reason(case):
    passing, failing, expected = NOT_LISTED[case]
    ok = f.activity(**passing)
    assert rules.is_listed(ok, TODAY), rules.why_not_listed(ok, TODAY)
    bad = f.activity(**failing)
    assert not rules.is_listed(bad, TODAY)
    assert expected in rules.why_not_listed(bad, TODAY)
    assert rules.counted_boards(bad, TODAY) == []


def test_every_reason_is_given_at_once():
    a = f.activity(
        status="Draft",
        show_in_directory=False,
        end_date=TODAY - timedelta(days=1),
        start_date=TODAY - timedelta(days=2),
        provider=f.provider(accreditation_status="Nonaccreditation"),
    )
    assert len(rules.why_not_listed(a, TODAY)) == 4


def test_incomplete_aba_counts_for_abim_only():
    a = f.activity(moc=[f.abim(), f.aba(content_areas=[])])
    assert rules.is_listed(a, TODAY)
    assert rules.counted_boards(a, TODAY) == ["ABIM"]


def test_listing_with_every_board_expired_is_still_listed():
    # The listing is current until its end date; boards drop off at their claim deadlines.
    a = f.activity(moc=[f.abim(claim_deadline=TODAY - timedelta(days=1))])
    assert rules.is_listed(a, TODAY)
    assert rules.counted_boards(a, TODAY) == []


def test_board_without_a_program_counts_by_specialty():
    pmr = f.activity(specialties=["Physical Medicine and Rehabilitation"], moc=[])
    assert rules.counted_boards(pmr, TODAY) == ["ABPMR"]
    assert rules.counted_boards(f.activity(specialties=["Internal Medicine"], moc=[]), TODAY) == []


# --- status changes and deletion --------------------------------------------------------------


ENDED = dict(start_date=TODAY - timedelta(days=200), end_date=TODAY - timedelta(days=199))


@pytest.mark.parametrize(
    ("old", "new", "dates", "allowed"),
    [
        ("Draft", "Active", {}, True),
        ("Active", "Active", {}, True),
        ("Draft", "Closed", {}, False),  # it has not ended
        ("Active", "Ready to Close", {}, False),
        ("Active", "Ready to Close", ENDED, True),
        ("Ready to Close", "Closed", ENDED, True),
        ("Draft", "Closed", ENDED, True),  # steps may be skipped
        ("Active", "Closed", ENDED, True),
        ("Draft", "Active", ENDED, False),  # it has ended
        ("Closed", "Active", {}, False),  # never back
        ("Closed", "Ready to Close", ENDED, False),
        ("Active", "Draft", {}, False),
        ("Active", "Archived", {}, False),
    ],
)
def test_statuses_move_forward_as_the_dates_allow(old, new, dates, allowed):
    problems = rules.status_change_problems(f.activity(status=old, **dates), new, TODAY)
    assert (problems == []) is allowed, problems


@pytest.mark.parametrize(
    ("status", "dates", "expected"),
    [
        ("Draft", {}, None),
        ("Draft", ENDED, None),
        ("Active", {}, None),
        ("Active", ENDED, "has passed; an Active activity must end today or later"),
        ("Ready to Close", ENDED, None),
        ("Closed", ENDED, None),
        ("Closed", {}, "Closed is for an activity that has ended, and it ends 2026-12-23"),
        ("Ready to Close", {}, "Ready to Close is for an activity that has ended"),
    ],
)
def test_a_new_activity_starts_in_any_status_its_dates_allow(status, dates, expected):
    found = [
        str(p)
        for p in rules.status_change_problems(
            f.activity(status=status, **dates), status, TODAY, new=True
        )
    ]
    if expected is None:
        assert found == []
    else:
        assert any(expected in m for m in found), found


def test_a_closed_activity_brought_in_needs_what_an_active_one_needs():
    closed = f.activity(status="Closed", description=None, **ENDED)
    [problem] = rules.status_change_problems(closed, "Closed", TODAY, new=True)
    assert problem.message == (
        "a Closed activity was Active once, so it needs what an Active activity needs: "
        "add description"
    )


def test_going_back_names_the_order():
    [problem] = rules.status_change_problems(f.activity(status="Closed"), "Active", TODAY)
    assert problem.message == (
        "cannot go back from Closed to Active; statuses only move forward: "
        "Draft -> Active -> Ready to Close -> Closed"
    )


# --- names a board's list lacks: saved, incomplete, with the nearest names -------------------


def test_an_area_off_the_boards_list_makes_the_registration_incomplete_not_refused():
    a = f.activity(moc=[f.abim(practice_areas=["Cardiovascular Disease", "Cardiology"])])
    problems = rules.validate_activity(a)
    assert rules.errors(problems) == []
    [problem] = problems
    assert problem.severity == "incomplete"
    assert problem.field == "ABIM practice areas"
    assert problem.message.startswith("'Cardiology' is not on our list for ABIM; nearest: ")
    assert problem.message.endswith(
        "this registration does not count for ABIM until it names one from the list"
    )
    assert problem.nearest and "Cardiovascular Disease" in problem.nearest
    status = rules.board_status(a.moc[0], a, TODAY)
    assert not status.complete and not status.counted
    assert "'Cardiology' is not on our list for ABIM" in status.summary()
    assert rules.counted_boards(a, TODAY) == []
    assert rules.is_listed(a, TODAY)  # the activity is listed; it does not count for ABIM


def test_an_area_written_differently_or_by_an_older_name_is_on_the_list():
    variants = ["cardiovascular disease", "  Cardiovascular   Disease ", "CARDIOVASCULAR DISEASE"]
    for name in variants:
        a = f.activity(moc=[f.abim(practice_areas=[name])])
        assert rules.validate_activity(a) == [], name


def test_a_content_area_off_the_outline_names_the_nearest_paths():
    a = f.activity(moc=[f.aba(content_areas=["Pain Medicine > General > Pharmacology of Pain"])])
    [problem] = rules.validate_activity(a)
    assert problem.severity == "incomplete"
    assert problem.nearest and f.PAIN_PATH in problem.nearest
    # The path already has the outline's shape: the message does not explain the shape again.
    assert "written 'Area > Section > Topic'" not in problem.message
    [shapeless] = rules.validate_activity(
        f.activity(moc=[f.aba(content_areas=["pain pharmacology"])])
    )
    assert "written 'Area > Section > Topic'" in shapeless.message


def test_a_credit_type_the_board_does_not_offer_stays_an_error_naming_the_valid_ones():
    a = f.activity(moc=[f.abim(credit_types=["Lifelong Learning"])])
    [problem] = rules.errors(rules.validate_activity(a))
    assert problem.message == (
        "ABIM does not offer 'Lifelong Learning'; its credit types are Medical Knowledge, "
        "Practice Assessment, Patient Safety"
    )


# --- a course given in several cities: the occurrences are its places ------------------------


def test_an_in_person_course_whose_occurrences_carry_the_places_needs_no_city_of_its_own():
    start = TODAY + timedelta(days=30)
    cities = [("Chicago", "IL", "US"), ("Denver", "CO", "US"), ("Toronto", "ON", "CA")]
    occurrences = [
        f.occurrence(
            start + timedelta(days=7 * n), start + timedelta(days=7 * n), city=c, state=s, country=k
        )
        for n, (c, s, k) in enumerate(cities)
    ]
    a = f.activity(
        city=None,
        state=None,
        country=None,
        occurrences=occurrences,
        start_date=start,
        end_date=start + timedelta(days=14),
    )
    assert rules.validate_activity(a) == []
    assert rules.is_listed(a, TODAY)
    occurrences[2].state = None
    assert "the state of occurrence 3" in rules.missing_for_active(a)
    occurrences[2].city = None  # one occurrence without a place: the activity needs its own
    assert {"city", "country"} <= set(rules.missing_for_active(a))


def test_activating_needs_the_active_fields_and_a_future_end():
    draft = f.activity(
        status="Draft",
        description=None,
        end_date=TODAY - timedelta(days=1),
        start_date=TODAY - timedelta(days=2),
    )
    found = [str(p) for p in rules.status_change_problems(draft, "Active", TODAY)]
    assert "status: to make it Active, add: description" in found
    assert any("2026-11-21 has passed" in m for m in found)


def test_activity_with_completions_cannot_be_deleted():
    assert rules.deletion_problems(f.activity(completions_reported=0)) == []
    [problem] = rules.deletion_problems(f.activity(completions_reported=12))
    assert "12 learner completions" in problem.message and "withdraw" in problem.message


# --- the activity URL: only http(s) addresses, so no stored link can run script --------------

SAFE_URLS = [
    "https://cme.example.org/hfpef",
    "http://cme.example.org",
    "HTTPS://CME.EXAMPLE.ORG/Course?id=3&x=%20#top",
    "https://xn--mnchen-3ya.example/kurs",
    "https://münchen.example/kurs",
    "https://[2001:db8::1]:8443/course",
    "https://cme.example.org:443/a(b)",
]

UNSAFE_URLS = [
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    "java\tscript:alert(1)",
    " javascript:alert(1)",
    "\x01javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "ftp://files.example.org/course",
    "//cme.example.org/course",
    "cme.example.org/course",
    "https://",
    "https:///path-only",
    "https://cme.example.org/a b",
    "https://cme.example.org/\nx",
    "https://cme.example.org:port/",
    "https://cme.example.org\\@evil.example/",
    "https://\u200bcme.example.org/",
    "https:\\\\evil.example",
    "",
]


@pytest.mark.parametrize("url", SAFE_URLS)
def test_safe_url_accepts_absolute_http_addresses_with_a_host(url):
    assert rules.safe_url(url) == url
    assert rules.safe_url(f"  {url}\n") == url  # surrounding white space is not part of it
    assert rules.is_safe_url(url)


@pytest.mark.parametrize("url", UNSAFE_URLS)
def test_safe_url_refuses_every_other_kind_of_address(url):
    assert rules.safe_url(url) is None
    assert not rules.is_safe_url(url)


def test_is_safe_url_refuses_what_is_not_text():
    assert not rules.is_safe_url(None) and not rules.is_safe_url(b"https://x.example")


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "vbscript:x"])
def test_an_activity_url_that_is_not_http_is_an_error_and_not_listed(url):
    a = f.activity(url=url)
    assert (
        "activity URL: must be an http:// or https:// address, like https://cme.example.org/course"
        in messages(a, "error")
    )
    assert not rules.is_listed(a, TODAY)
    assert any(r.code == "invalid" for r in rules.not_listed_reasons(a, TODAY))


# --- the provider's own activity id: usable in the web service's addresses -------------------


@pytest.mark.parametrize(
    "activity_id",
    ["LU-2027-014", "12345", "a.b:c_d", "CME 2027 spring", "Kurs-Ü1", "#7?x=1", "x" * 100],
)
def test_ordinary_activity_ids_are_accepted(activity_id):
    assert rules.activity_id_problems(activity_id) == []
    assert rules.validate_activity(f.activity(provider_activity_id=activity_id)) == []


@pytest.mark.parametrize(
    ("activity_id", "message"),
    [
        ("LU/2027/014", "must not contain '/'"),
        ("/", "must not contain '/'"),
        (" LU-1", "must not begin or end with spaces"),
        ("LU-1\t", "must not begin or end with spaces"),
        ("LU\x00-1", "must not contain control characters"),
        ("LU\x1b[31m-1", "must not contain control characters"),
        ("LU-\x85-1", "must not contain control characters"),
    ],
)
def test_an_activity_id_with_a_slash_spaces_around_or_control_characters_is_refused(
    activity_id, message
):
    problems = rules.validate_activity(f.activity(provider_activity_id=activity_id))
    assert [p.field for p in problems if p.severity == "error"] == ["your activity id"]
    assert message in problems[0].message


def test_an_existing_activity_whose_id_has_a_slash_stays_listed():
    # The id rule guards the web service's addresses; it does not take a listing down.
    assert rules.is_listed(f.activity(provider_activity_id="LU/1"), TODAY)


# --- providers: the roster entry and good standing --------------------------------------------


def test_a_roster_entry_needs_a_name_an_id_and_a_known_status():
    good = f.provider(
        accreditor_id="0001234",
        url="https://cme.example.org",
        contact_email="cme@example.org",
        country="US",
    )
    assert rules.provider_problems(good) == []
    bad = f.provider(
        name=" ",
        accreditor_id="12/34",
        accreditation_status="Accredted",
        country="USA",
        url="javascript:alert(1)",
        contact_email="Dr Smith",
    )
    fields = {p.field: p.message for p in rules.provider_problems(bad)}
    assert set(fields) == {
        "name",
        "provider id",
        "accreditation status",
        "country",
        "web site",
        "contact e-mail",
    }
    assert (
        "use one of: Accreditation with Commendation, Accreditation"
        in fields["accreditation status"]
    )


@pytest.mark.parametrize(
    ("status", "may"),
    [
        ("Accreditation with Commendation", True),
        ("Accreditation", True),
        ("Provisional Accreditation", True),
        ("Probation", False),
        ("Nonaccreditation", False),
        ("Accreditation Withdrawn", False),
    ],
)
def test_only_a_provider_in_good_standing_may_register(status, may):
    provider = f.provider(accreditation_status=status)
    assert rules.may_register(provider) is may
    refusal = rules.registration_refused(provider)
    if may:
        assert refusal is None
    else:
        assert refusal is not None and f"accreditation status is {status}" in refusal
        assert "until the accreditor restores its accreditation" in refusal


def test_every_ascii_control_and_space_inside_an_address_is_refused_and_nothing_else():
    """The ASCII fast path of the white-space and control check agrees, character by
    character, with the Unicode categories it stands for (C* and Z*)."""
    for code in range(128):
        ch = chr(code)
        url = f"https://example.org/a{ch}b"
        refused = code < 33 or code == 127 or ch == "\\"
        assert (rules.safe_url(url) is None) == refused, repr(ch)
    assert rules.safe_url("https://example.org/a\u00a0b") is None  # no-break space (Z*)
    assert rules.safe_url("https://example.org/caf\u00e9") == "https://example.org/caf\u00e9"


# --- topic tags, approvals and places -----------------------------------------------------------


def test_topic_tags_are_read_as_codes_however_written():
    from directory.registry.reference import reference

    code, topic = next(iter(reference().topics.items()))
    for written in (
        code,
        topic.name,
        topic.name.upper(),
        code.replace("-", "_"),
        f"  {topic.name} ",
    ):
        assert rules.canonical_topic(written) == code, written
    assert rules.canonical_topic("astrology") is None


def test_an_unknown_tag_is_saved_with_a_warning_naming_the_nearest_tags():
    from directory.registry.reference import reference

    known = next(iter(reference().topics))
    a = f.activity(topics=[known, "human traficking"])
    problems = [p for p in rules.validate_activity(a) if p.field == "topics"]
    assert [p.severity for p in problems] == ["warning"]
    assert "'human traficking' is not a mandated-topic tag" in problems[0].message
    assert problems[0].nearest and "Human trafficking" in problems[0].nearest[0]
    assert rules.errors(rules.validate_activity(a)) == []
    assert rules.is_listed(a, TODAY)


def test_an_approval_needs_a_known_body_an_id_and_a_tag_it_approves():
    from directory.registry.reference import reference

    ref = reference()
    rule = next(m for m in ref.mandates.values() if m.approved_only)
    tagged = dict(topics=[rule.topics[0]])
    assert messages(f.activity(**tagged, approvals=[{"body": rule.approver, "id": "A-1"}])) == []
    unknown = messages(f.activity(**tagged, approvals=[{"body": "XX-NOBODY", "id": "1"}]))
    assert any("'XX-NOBODY' is not a body whose approvals" in m for m in unknown)
    no_id = messages(f.activity(**tagged, approvals=[{"body": rule.approver, "id": ""}]))
    assert any("needs its approval id" in m for m in no_id)
    untagged = messages(f.activity(approvals=[{"body": rule.approver, "id": "A-1"}]))
    assert any("the activity has none of them" in m for m in untagged)
    everything = f.activity(approvals=[{"body": "XX-NOBODY", "id": ""}])
    assert rules.errors(rules.validate_activity(everything)) == []  # never refused for these


@pytest.mark.parametrize(
    ("lat", "lon", "says"),
    [
        (91.0, 10.0, "is not a place"),
        (41.0, -181.0, "is not a place"),
        (41.0, None, "give both latitude and longitude"),
    ],
)
def test_coordinates_out_of_range_or_half_given_are_errors(lat, lon, says):
    a = f.activity(latitude=lat, longitude=lon)
    assert any(says in m for m in messages(a, "error"))
    occ = f.occurrence(
        TODAY + timedelta(days=30), TODAY + timedelta(days=30), latitude=lat, longitude=lon
    )
    b = f.activity(occurrences=[occ])
    assert any(
        m.startswith("occurrence 1 latitude/longitude") and says in m for m in messages(b, "error")
    )


def test_a_place_that_cannot_be_located_is_a_warning_unless_coordinates_are_given():
    lost = f.activity(city="Nowheresville", state="NE")
    warnings = messages(lost, "warning")
    assert any("we could not locate 'Nowheresville, NE, US'" in m for m in warnings)
    assert rules.is_listed(lost, TODAY)
    placed = f.activity(city="Nowheresville", state="NE", latitude=41.2, longitude=-96.0)
    assert messages(placed) == []
    online = f.activity(delivery="online", city="Nowheresville", state="NE")
    assert not any("could not locate" in m for m in messages(online))
    occ = f.occurrence(
        TODAY + timedelta(days=30), TODAY + timedelta(days=30), city="Atlantiss", state="GA"
    )
    assert any(
        m.startswith("occurrence 1") and "could not locate" in m
        for m in messages(f.activity(occurrences=[occ]), "warning")
    )
