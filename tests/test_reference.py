"""The shipped reference data loads, matches the domain facts, and a broken file is named."""

from __future__ import annotations

import shutil

import pytest

from directory.registry.reference import DATA_DIR, ReferenceDataError, load_reference, reference

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
