"""The shipped reference data loads, matches the domain facts, and a broken file is named."""

from __future__ import annotations

import shutil

import pytest

from directory.registry.reference import (
    DATA_DIR,
    ReferenceDataError,
    fold_name,
    load_reference,
    nearest,
    reference,
)

PAIN = "Pain Medicine > General > Pharmacology of Pain Transmission and Modulation"

# The collaborating boards' credit types, from the accreditor's collaborating-boards table.
CREDIT_TYPES = {
    "ABA": {"accredited_cme": "Lifelong Learning", "patient_safety": "Patient Safety"},
    "ABIM": {
        "evaluation_feedback": "Medical Knowledge",
        "improvement": "Practice Assessment",
        "patient_safety": "Patient Safety",
    },
    "ABOHNS": {
        "evaluation_feedback": "Self-Assessment",
        "improvement": "Improvement in Medical Practice",
        "patient_safety": "Patient Safety",
    },
    "ABOS": {
        "accredited_cme": "Accredited CME",
        "evaluation_feedback": "Self-Assessment Examination",
    },
    "ABPath": {
        "accredited_cme": "Lifelong Learning",
        "improvement": "Improvement in Health and Healthcare",
    },
    "ABP": {"evaluation_feedback": "Lifelong Learning & Self-Assessment"},
    "ABS": {"accredited_cme": "Accredited CME", "evaluation_feedback": "Self-Assessment"},
    "ABTS": {
        "accredited_cme": "Accredited CME",
        "evaluation_feedback": "Self-Assessment",
        "improvement": "Practice Assessment",
        "patient_safety": "Patient Safety",
    },
}

ABIM_AREAS = [
    "Adolescent Medicine",
    "Adult Congenital Heart Disease",
    "Advanced Heart Failure and Transplant Cardiology",
    "Cardiovascular Disease",
    "Clinical Cardiac Electrophysiology",
    "Critical Care Medicine",
    "Endocrinology, Diabetes, and Metabolism",
    "Gastroenterology",
    "Geriatric Medicine",
    "Hematology",
    "Hospice and Palliative Medicine",
    "Hospital Medicine",
    "Infectious Disease",
    "Internal Medicine",
    "Interventional Cardiology",
    "Medical Oncology",
    "Nephrology",
    "Pulmonary Disease",
    "Rheumatology",
    "Sleep Medicine",
    "Sports Medicine",
    "Transplant Hepatology",
]


def test_collaborating_boards_and_their_credit_types_match_the_accreditor():
    ref = reference()
    assert {b.code: dict(b.credit_types) for b in ref.collaborating_boards} == CREDIT_TYPES
    assert all(b.practice_areas for b in ref.boards.values())


def test_abpmr_is_a_board_without_a_registration_program():
    abpmr = reference().boards["ABPMR"]
    assert not abpmr.collaborating and not abpmr.credit_types
    assert "Physical Medicine and Rehabilitation" in abpmr.specialties


def test_abim_practice_areas_are_the_registry_list():
    assert list(reference().boards["ABIM"].practice_areas) == ABIM_AREAS


def test_only_aba_requires_content_areas_and_its_outline_has_the_registry_example():
    ref = reference()
    assert [b.code for b in ref.boards.values() if b.requires_content_areas] == ["ABA"]
    assert (
        "Pain Medicine > General > Pharmacology of Pain Transmission and Modulation"
        in ref.aba_outline
    )


def test_a_broken_board_file_is_refused_with_its_name_and_entry(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    boards = data / "boards.toml"
    boards.write_text(
        boards.read_text(encoding="utf-8").replace(
            'evaluation_feedback = "Medical Knowledge"', 'bogus_kind = "Medical Knowledge"'
        ),
        encoding="utf-8",
    )
    with pytest.raises(
        ReferenceDataError, match=r"boards.toml board ABIM: unknown credit kinds \['bogus_kind'\]"
    ):
        load_reference(data)


def test_a_repeated_practice_area_is_refused(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    boards = data / "boards.toml"
    text = boards.read_text(encoding="utf-8")
    boards.write_text(
        text.replace('"Nephrology"', '"Nephrology", "Nephrology"', 1), encoding="utf-8"
    )
    with pytest.raises(ReferenceDataError, match="ABIM practice_areas: repeated: Nephrology"):
        load_reference(data)


# --- names as providers write them: folding, aliases, hints, the nearest names --------------

# Every practice area our lists had before the boards' general domains and the registry's pick
# lists were added (demo data, tests and stored registrations name them): each is still
# accepted, as itself or as an alias of the board's current name.
EARLIER_AREAS = {
    "ABA": [
        "General Operative Anesthesia", "Adult Cardiac Anesthesiology", "Critical Care Medicine",
        "Hospice and Palliative Medicine", "Neurocritical Care", "Pain Medicine",
        "Pediatric Anesthesiology", "Sleep Medicine",
        "Regional Anesthesiology and Acute Pain Medicine", "Obstetric Anesthesiology",
    ],
    "ABIM": ABIM_AREAS,
    "ABOHNS": [
        "Otolaryngology–Head and Neck Surgery", "Allergy",
        "Facial Plastic and Reconstructive Surgery", "Head and Neck", "Laryngology",
        "Otology/Neurotology", "Pediatric Otolaryngology", "Rhinology", "Sleep Medicine",
        "Neurotology", "Complex Pediatric Otolaryngology",
    ],
    "ABOS": [
        "Orthopaedic Surgery", "Adult Reconstruction", "Foot and Ankle", "Hand", "Oncology",
        "Pediatrics", "Shoulder and Elbow", "Spine", "Sports Medicine", "Trauma",
        "Orthopaedic Sports Medicine", "Surgery of the Hand",
    ],
    "ABPath": [
        "Anatomic Pathology", "Clinical Pathology", "Blood Banking/Transfusion Medicine",
        "Clinical Informatics", "Cytopathology", "Dermatopathology", "Forensic Pathology",
        "Hematopathology", "Medical Microbiology", "Molecular Genetic Pathology",
        "Neuropathology", "Chemical Pathology", "Pediatric Pathology",
    ],
    "ABP": [
        "General Pediatrics", "Adolescent Medicine", "Child Abuse Pediatrics",
        "Developmental-Behavioral Pediatrics", "Hospice and Palliative Medicine",
        "Medical Toxicology", "Neonatal-Perinatal Medicine", "Neurodevelopmental Disabilities",
        "Pediatric Cardiology", "Pediatric Critical Care Medicine",
        "Pediatric Emergency Medicine", "Pediatric Endocrinology", "Pediatric Gastroenterology",
        "Pediatric Hematology-Oncology", "Pediatric Hospital Medicine",
        "Pediatric Infectious Diseases", "Pediatric Nephrology", "Pediatric Pulmonology",
        "Pediatric Rheumatology", "Pediatric Transplant Hepatology", "Sleep Medicine",
        "Sports Medicine",
    ],
    "ABS": [
        "General Surgery", "Vascular Surgery", "Pediatric Surgery", "Surgical Critical Care",
        "Complex General Surgical Oncology", "Surgery of the Hand",
        "Hospice and Palliative Medicine",
    ],
    "ABTS": [
        "Thoracic and Cardiac Surgery", "Adult Cardiac Surgery", "General Thoracic Surgery",
        "Congenital Cardiac Surgery",
    ],
    "ABPMR": [
        "Physical Medicine and Rehabilitation", "Brain Injury Medicine",
        "Hospice and Palliative Medicine", "Neuromuscular Medicine", "Pain Medicine",
        "Pediatric Rehabilitation Medicine", "Spinal Cord Injury Medicine", "Sports Medicine",
    ],
}  # fmt: skip


def test_every_earlier_area_is_still_accepted():
    boards = reference().boards
    assert set(EARLIER_AREAS) == set(boards)
    for code, names in EARLIER_AREAS.items():
        for name in names:
            assert boards[code].canonical_area(name) is not None, (code, name)


def test_the_boards_general_practice_domains_are_on_their_lists():
    boards = reference().boards
    general = {
        "ABA": ["General Operative Anesthesia"],
        "ABIM": ["Internal Medicine"],
        "ABOHNS": ["General Otolaryngology", "Otolaryngology–Head and Neck Surgery"],
        "ABOS": ["General Orthopaedics", "Orthopaedic Surgery"],
        "ABPath": ["Anatomic Pathology", "Clinical Pathology"],
        "ABP": ["General Pediatrics"],
        "ABS": ["General Surgery"],
        "ABTS": ["General Thoracic Surgery", "Adult Cardiac Surgery", "Congenital Cardiac Surgery"],
        "ABPMR": ["Physical Medicine and Rehabilitation"],
    }
    for code, names in general.items():
        for name in names:
            assert name in boards[code].practice_areas, (code, name)
    # ABTS's own other name for its congenital subspecialty is accepted as it.
    assert boards["ABTS"].canonical_area("Congenital Heart Surgery") == "Congenital Cardiac Surgery"


def test_aliases_and_hints_point_at_the_boards_own_areas():
    for board in reference().boards.values():
        assert set(board.aliases.values()) <= set(board.practice_areas), board.code
        assert set(board.hints.values()) <= set(board.practice_areas), board.code
        assert not set(board.aliases) & set(board.practice_areas), board.code
        for hint in board.hints:
            assert board.canonical_area(hint) is None, (board.code, hint)


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("  Cardiovascular   Disease ", "cardiovascular disease"),
        ("CARDIOVASCULAR DISEASE", "cardiovascular disease"),
        ("Otolaryngology - Head and Neck Surgery", "otolaryngology head neck surgery"),
        ("Otolaryngology–Head and Neck Surgery", "otolaryngology head neck surgery"),
        ("Otolaryngology—Head & Neck Surgery", "otolaryngology head neck surgery"),
        ("Endocrinology, Diabetes and Metabolism.", "endocrinology diabetes metabolism"),
        ("Orthopaedic Sports Medicine", "orthopedic sports medicine"),
        ("Paediatric Anaesthesia", "pediatric anesthesia"),
        ("Neonatal–Perinatal Médecine", "neonatal perinatal medecine"),
        ("Blood Banking/Transfusion Medicine", "blood banking transfusion medicine"),
        ("Lifelong Learning & Self-Assessment", "lifelong learning self assessment"),
    ],
)
def test_fold_name_ignores_how_a_name_is_written(written, folded):
    assert fold_name(written) == folded


def test_fold_name_keeps_different_words_apart():
    assert fold_name("Infectious Disease") != fold_name("Infectious Diseases")
    assert fold_name("Hand") != fold_name("Surgery of the Hand")
    assert fold_name("Pediatric Hematology-Oncology") == fold_name("Pediatric Hematology Oncology")


def test_canonical_area_exact_then_alias_then_folded():
    boards = reference().boards
    abos, abim, aba = boards["ABOS"], boards["ABIM"], boards["ABA"]
    assert abos.canonical_area("Adult Reconstruction") == "Adult Reconstruction"
    # The ABOS's older short names are aliases of its current practice domains.
    assert abos.canonical_area("Spine") == "Surgery of the Spine"
    assert abos.canonical_area("Trauma") == "Orthopaedic Trauma"
    assert abos.canonical_area("Pediatrics") == "Pediatric Orthopaedic Surgery"
    # Folded, to a current name and to an alias.
    assert abos.canonical_area("orthopedic sports medicine") == "Orthopaedic Sports Medicine"
    assert abos.canonical_area("  SPINE ") == "Surgery of the Spine"
    assert abos.canonical_area("General Orthopedics") == "General Orthopaedics"
    assert boards["ABOHNS"].canonical_area("Otolaryngology - Head & Neck Surgery") == (
        "Otolaryngology–Head and Neck Surgery"
    )
    # The registry pick list's names are aliases of ours.
    assert aba.canonical_area("Pediatric Anesthesia") == "Pediatric Anesthesiology"
    assert aba.canonical_area("regional anesthesia / acute pain") == (
        "Regional Anesthesiology and Acute Pain Medicine"
    )
    assert boards["ABPath"].canonical_area("Blood Bank Transfusion Medicine") == (
        "Blood Banking/Transfusion Medicine"
    )
    assert boards["ABP"].canonical_area("Hospital Medicine") == "Pediatric Hospital Medicine"
    # An alias is the board's: "Trauma" is ABA's own area, and ABOS's older name.
    assert aba.canonical_area("Trauma") == "Trauma"
    # A hint is not accepted; neither is a name on no list.
    assert abos.canonical_area("Joint Replacement") is None
    assert abim.canonical_area("Cardiology") is None
    assert abim.canonical_area("Pediatric Anesthesiology") is None
    assert abim.canonical_area("") is None


MOCA_AREAS = [
    "Fundamental Topics in Anesthesiology",
    "Pharmacology",
    "Clinical Sciences: Anesthesia Procedures, Methods and Techniques",
    "Organ-Based Basic and Clinical Sciences",
    "Clinical Subspecialties",
    "Special Problems or Issues in Anesthesiology",
    "Quality Improvement",
    "Overview of Anesthesiology Topics",
    "Critical Care Medicine",
    "Pain Medicine",
    "Pediatric Anesthesiology",
    "Adult Cardiac Anesthesiology",
]


def test_the_outline_has_every_top_level_area_of_the_moca_outline():
    outline = reference().aba_outline
    top = {p for p in outline if ">" not in p}
    assert set(MOCA_AREAS) <= top
    for area in MOCA_AREAS:
        assert any(p.startswith(area + " > ") for p in outline), area
    assert "Pain Medicine > Assessment and Psychology of Pain" in outline
    assert "Critical Care Medicine > Critical Illness Diagnosis and Management" in outline
    assert all(reference().canonical_outline_path(p) == p for p in outline)


@pytest.mark.parametrize(
    ("written", "current"),
    [
        ("Pain Medicine>General>Pharmacology of Pain Transmission and Modulation", PAIN),
        ("pain medicine  >  general >pharmacology of pain transmission & modulation", PAIN),
        ("PAIN MEDICINE > GENERAL > PHARMACOLOGY OF PAIN TRANSMISSION AND MODULATION", PAIN),
        # Our earlier names of areas and sections, renamed to the MOCA outline's.
        (
            "Anesthesia Procedures, Methods, and Techniques > Airway Management",
            "Clinical Sciences: Anesthesia Procedures, Methods and Techniques > Airway Management",
        ),
        (
            "Anesthesia Procedures, Methods, and Techniques > Preoperative Evaluation and "
            "Preparation > Frailty and Cognitive Screening",
            "Clinical Sciences: Anesthesia Procedures, Methods and Techniques > Patient "
            "Evaluation and Preoperative Preparation > Frailty and Cognitive Screening",
        ),
        (
            "Organ-Based Basic and Clinical Sciences > Gastrointestinal and Hepatic Systems",
            "Organ-Based Basic and Clinical Sciences > Gastrointestinal/Hepatic Systems",
        ),
        (
            "Organ-Based Basic and Clinical Sciences > Neuromuscular Diseases and Disorders > "
            "Malignant Hyperthermia",
            "Organ-Based Basic and Clinical Sciences > Neuromuscular System > Malignant "
            "Hyperthermia",
        ),
        (
            "Clinical Subspecialties > Thoracic Anesthesia > One-Lung Ventilation",
            "Clinical Subspecialties > Thoracic > One-Lung Ventilation",
        ),
        (
            "Pain Medicine > Pain Evaluation > Pain Assessment and Measurement",
            "Pain Medicine > Assessment and Psychology of Pain > Pain Assessment and Measurement",
        ),
    ],
)
def test_canonical_outline_path_tolerates_spacing_case_and_older_names(written, current):
    assert reference().canonical_outline_path(written) == current


def test_canonical_outline_path_is_none_off_the_outline():
    ref = reference()
    for path in [
        "Pain Medicine > Astrology",
        "Pain Medicine > Cannabis Therapeutics",
        "Pain Medicine > > General",
        "Pain Medicine >",
        "",
        "General > Pharmacology of Pain Transmission and Modulation",
    ]:
        assert ref.canonical_outline_path(path) is None, path


def test_nearest_puts_a_hint_first_then_shared_words_then_close_spelling():
    boards = reference().boards
    abos, abim, aba = boards["ABOS"], boards["ABIM"], boards["ABA"]
    assert nearest("Joint Replacement", abos.practice_areas, 3, abos.hints)[0] == (
        "Adult Reconstruction"
    )
    # A hint's words inside a longer term still count.
    assert nearest("Total Joint Arthroplasty", abos.practice_areas, 3, abos.hints)[0] == (
        "Adult Reconstruction"
    )
    assert nearest("Cardiology", abim.practice_areas, 3, abim.hints)[0] == "Cardiovascular Disease"
    assert set(nearest("Pediatric Pain", aba.practice_areas)) == {
        "Pediatric Anesthesiology",
        "Pain Medicine",
        "Regional Anesthesiology and Acute Pain Medicine",
    }
    assert nearest("Nephrolgy", abim.practice_areas) == ["Nephrology"]
    assert nearest("Rheumatolgy", abim.practice_areas)[0] == "Rheumatology"
    assert nearest("Qwxz", abim.practice_areas) == []


def test_nearest_returns_only_given_names_at_most_n():
    names = ["Pain Medicine", "Sleep Medicine"]
    hints = {"Chronic Pain": "Pain Medicine", "Insomnia": "Not A Name"}
    assert nearest("Chronic Pain", names, 3, hints) == ["Pain Medicine"]
    assert nearest("Insomnia", names, 3, hints) == []
    assert nearest("Medicine", names, 1) in (["Pain Medicine"], ["Sleep Medicine"])
    assert nearest("Medicine", names, 0) == []
    assert nearest("Pain", iter(names)) == ["Pain Medicine"]


def test_nearest_outline_paths_match_the_last_segment_and_the_valid_part_of_the_path():
    outline = reference().aba_outline
    assert nearest("Pain Medicine > General > Pharmacology of Pain", outline)[0] == PAIN
    # The topic under the wrong section, or without one, still finds its node.
    assert (
        nearest("Pain Medicine > Pharmacology of Pain Transmission and Modulation", outline)[0]
        == PAIN
    )
    assert nearest("Pharmacology of Pain Transmission and Modulation", outline)[0] == PAIN
    assert nearest("Organ-Based > Cardiovascular > Heart Failur", outline)[0] == (
        "Organ-Based Basic and Clinical Sciences > Cardiovascular System > Heart Failure"
    )
    # A topic the outline lacks under a valid area: nodes of that area first.
    close = nearest("Pain Medicine > Cannabis Therapeutics", outline)
    assert close and all(p.startswith("Pain Medicine") for p in close)
    assert all(p in outline for p in close)


# --- broken reference data is refused with the file and the entry ------------------------------


def _broken(tmp_path, name, old, new):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    target = data / name
    text = target.read_text(encoding="utf-8")
    assert old in text, old
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return data


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '"Spine" = "Surgery of the Spine"',
            '"Spine" = "Spinal Surgery"',
            r"boards.toml board ABOS aliases: 'Spine': 'Spinal Surgery' is not one of its "
            r"practice areas",
        ),
        (
            '"Spine" = "Surgery of the Spine"',
            '"Adult Reconstruction" = "Surgery of the Spine"',
            r"boards.toml board ABOS aliases: 'Adult Reconstruction': is a current practice area",
        ),
        (
            '"Spine" = "Surgery of the Spine"',
            '"surgery of the spine" = "Surgery of the Spine"',
            r"boards.toml board ABOS aliases: 'surgery of the spine': is 'Surgery of the Spine' "
            r"written differently; no alias is needed",
        ),
        (
            '"Spine" = "Surgery of the Spine"',
            '"adult  reconstruction" = "Surgery of the Spine"',
            r"boards.toml board ABOS aliases: 'adult  reconstruction': is 'Adult Reconstruction' "
            r"written differently",
        ),
        (
            '"Joint Replacement" = "Adult Reconstruction"',
            '"Spine" = "Adult Reconstruction"',
            r"boards.toml board ABOS hints: 'Spine': is accepted as 'Surgery of the Spine'",
        ),
        (
            '"Joint Replacement" = "Adult Reconstruction"',
            '"Joint Replacement" = "Joints"',
            r"boards.toml board ABOS hints: 'Joint Replacement': 'Joints' is not one of its "
            r"practice areas",
        ),
        (
            '  "Shoulder and Elbow",\n',
            '  "Shoulder and Elbow",\n  "Shoulder & Elbow",\n',
            r"boards.toml board ABOS practice_areas: 'Shoulder & Elbow' and 'Shoulder and Elbow' "
            r"are the same name written differently",
        ),
        (
            '"Spine" = "Surgery of the Spine"',
            '"Spine" = 3',
            r"boards.toml board ABOS aliases: 'Spine': both names must be text",
        ),
    ],
)
def test_a_broken_alias_or_hint_is_refused_with_its_board_and_entry(tmp_path, old, new, message):
    with pytest.raises(ReferenceDataError, match=message):
        load_reference(_broken(tmp_path, "boards.toml", old, new))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '"Pain Medicine > Pain Evaluation": "Pain Medicine > Assessment and Psychology of Pain"',
            '"Pain Medicine > Pain Evaluation": "Pain Medicine > Pain Appraisal"',
            r"aba_content_outline.json aliases: 'Pain Medicine > Pain Evaluation': "
            r"'Pain Medicine > Pain Appraisal' is not a path in the outline",
        ),
        (
            '"Pain Medicine > Pain Evaluation": "Pain Medicine > Assessment and Psychology of Pain"',
            '"Pain Medicine > General": "Pain Medicine > Assessment and Psychology of Pain"',
            r"aba_content_outline.json aliases: 'Pain Medicine > General': is a current path",
        ),
        (
            '"Pain Medicine > Pain Evaluation": "Pain Medicine > Assessment and Psychology of Pain"',
            '"Pain Med > Pain Evaluation": "Pain Medicine > Assessment and Psychology of Pain"',
            r"aba_content_outline.json aliases: 'Pain Med > Pain Evaluation': its parent "
            r"'Pain Med' is not a current path",
        ),
        (
            '"name": "Visceral Pain"',
            '"name": "Visceral > Pain"',
            r"aba_content_outline.json: 'Visceral > Pain' contains '>'",
        ),
        (
            '"name": "Visceral Pain"',
            '"name": "Tissue  Pain"',
            r"aba_content_outline.json: 'Pain Medicine > Tissue Pain' and 'Pain Medicine > "
            r"Tissue  Pain' are the same path written differently",
        ),
    ],
)
def test_a_broken_outline_alias_or_node_is_refused_with_its_entry(tmp_path, old, new, message):
    with pytest.raises(ReferenceDataError, match=message):
        load_reference(_broken(tmp_path, "aba_content_outline.json", old, new))


# --- state licensure mandates -------------------------------------------------------------------


def test_every_mandate_has_its_source_its_date_checked_and_known_topics():
    ref = reference()
    assert ref.mandates, "the mandates file lists no rules"
    for mandate in ref.mandates.values():
        assert mandate.source.startswith(("https://", "http://")), mandate.id
        assert mandate.checked.year >= 2026, mandate.id
        assert set(mandate.topics) <= set(ref.topics), mandate.id
        assert mandate.jurisdiction == "US" or mandate.jurisdiction in ref.jurisdictions
        assert not mandate.approved_only or mandate.approver in ref.approvers, mandate.id


def test_the_mate_act_is_a_federal_one_time_rule_for_dea_registrants():
    mate = reference().mandates["US-mate-act"]
    assert (mate.jurisdiction, mate.cadence, mate.applies_to) == (
        "US",
        "one_time",
        "dea_registrants",
    )
    assert mate.hours == 8
    assert "substance-use-disorders" in mate.topics


def test_a_states_mandates_come_first_then_the_federal_ones():
    ref = reference()
    state = next(m.jurisdiction for m in ref.mandates.values() if m.jurisdiction != "US")
    listed = ref.mandates_for(state)
    jurisdictions = [m.jurisdiction for m in listed]
    assert jurisdictions == sorted(jurisdictions, key=lambda j: j == "US")
    assert {m.jurisdiction for m in listed} == {state, "US"}
    # A state with no rules of its own still owes the federal ones.
    bare = next(
        c for c in ref.jurisdictions if c not in {m.jurisdiction for m in ref.mandates.values()}
    )
    assert [m.jurisdiction for m in ref.mandates_for(bare)] == ["US"] * len(ref.mandates_for(bare))


def test_an_approved_only_mandate_matches_a_tag_only_with_its_approvers_approval():
    ref = reference()
    rule = next(m for m in ref.mandates.values() if m.approved_only)
    other = next(code for code in ref.approvers if code != rule.approver)
    topic = rule.topics[0]
    assert rule.id not in ref.matched_mandates([topic], [])
    assert rule.id not in ref.matched_mandates([topic], [other])
    assert rule.id in ref.matched_mandates([topic], [rule.approver])
    assert rule.id not in ref.matched_mandates([], [rule.approver])  # an approval is no tag


def test_a_mandate_summary_reads_its_hours_and_cadence():
    ref = reference()
    for mandate in ref.mandates.values():
        summary = mandate.summary
        assert mandate.cadence_label in summary
        if mandate.hours is not None:
            assert summary.startswith(f"{mandate.hours:g} hour")
        if mandate.every:
            assert str(mandate.every) in summary


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        (
            "state_mandates.toml",
            'topics = ["human-trafficking"]',
            'topics = ["trafficking"]',
            "unknown topics",
        ),
        ("state_mandates.toml", 'id = "US-mate-act"', 'id = "mate-act"', "needs an id 'US-'"),
        (
            "state_mandates.toml",
            'jurisdiction = "TX"',
            'jurisdiction = "TEXAS"',
            "is not a state code",
        ),
        (
            "state_mandates.toml",
            'approver = "TX-TMB"',
            'approver = "TX-NOBODY"',
            "approved_only needs an approver",
        ),
        (
            "state_mandates.toml",
            "checked = 2026-12-01",
            'checked = "recently"',
            "checked must be a date",
        ),
        (
            "state_mandates.toml",
            'cadence = "one_time"',
            'cadence = "sometimes"',
            "cadence must be one of",
        ),
        (
            "mandate_topics.toml",
            'code = "human-trafficking"',
            'code = "Human Trafficking"',
            "lower-case words",
        ),
    ],
)
def test_a_broken_mandate_file_is_refused_with_its_entry(tmp_path, name, old, new, message):
    with pytest.raises(ReferenceDataError, match=message) as caught:
        load_reference(_broken(tmp_path, name, old, new))
    assert name in str(caught.value)
