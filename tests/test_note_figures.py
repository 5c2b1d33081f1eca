"""A note quotes the parameters of its rule instead of copying their figures (issue 14,
item 3, for the notes): ``lifeevents validate`` refuses the copy with its file and line,
and the placeholder renders the same figure the copy stated."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from rule_tree import copy_tree, edit, line_of, problems, the_problem_at

from engine.language.loader import load_catalogue
from engine.language.profile import validate_profile
from engine.services.recommend import Engine

ROOT = Path(__file__).resolve().parent.parent
TOP_UP = Path("rules/birth/birth-grant-top-up.yaml")
LOCAL = Path("rules/local/local-birth-grant.yaml")
TOTAL = "{param:birth_grant.total_per_birth}"


@pytest.fixture
def tree(tmp_path) -> Path:
    return copy_tree(tmp_path)


# --- the lint ------------------------------------------------------------------------------


def test_a_note_that_copies_its_rules_amount_is_refused_with_its_line(tree):
    # The note's own condition never reads the grant: the amount does, and the note
    # explains the amount, so the copy counts.
    edit(tree, TOP_UP, f"so the full {TOTAL} is shown.", "so the full NT$100,000 is shown.")
    edit(tree, TOP_UP, f"故以{TOTAL}全額計算。", "故以 10 萬元全額計算。")
    en = line_of(tree, TOP_UP, "so the full NT$100,000 is shown.")
    found = problems(tree)
    assert len(found) == 2, found
    assert found[0].startswith(f"{TOP_UP.as_posix()}:{en}: the en text of note 'no-insurance-benefit'")
    assert found[1].startswith(f"{TOP_UP.as_posix()}:{en + 1}: the zh-TW text of note 'no-insurance-benefit'")
    assert "copies the figure '100,000' of parameter 'birth_grant.total_per_birth'" in found[0]
    assert "copies the figure '10 萬'" in found[1] and TOTAL in found[1]


def test_a_figure_in_chinese_numerals_is_a_copy_too(tree):
    rel = Path("rules/birth/child-medical-subsidy.yaml")
    edit(
        tree,
        rel,
        "住院期間滿 {param:health_insurance.child_medical_subsidy_max_age} 歲者",
        "住院期間滿三歲者",
    )
    found = the_problem_at(tree, rel, "住院期間滿三歲者")
    assert (
        "note 'hospital' copies the figure '三' of parameter 'health_insurance.child_medical_subsidy_max_age'"
        in found
    )


def test_a_stale_copy_of_an_earlier_value_is_refused(tree):
    # Registration within 15 days before an imagined change to 30: a note saying 15 is stale.
    edit(
        tree,
        Path("rules/parameters/moving/registration_days.yaml"),
        "values:\n",
        "values:\n  1800-01-01: {value: 15}\n",
    )
    rel = Path("rules/moving/moving-registration.yaml")
    edit(tree, rel, "office within {param:moving.registration_days} days", "office within 15 days")
    (found,) = problems(tree)
    assert (
        "the en text of note 'three-months' copies the figure '15' of parameter 'moving.registration_days'"
        in found
    )


def test_a_figure_of_a_parameter_the_rule_does_not_read_is_no_copy(tree):
    # 100,000 is the birth grant's figure, but the seal certificate's rule never reads it;
    # dates and article numbers are no figures either.
    edit(
        tree,
        Path("rules/moving/seal-certificate.yaml"),
        "for a registration, change or certificate).",
        "for a registration, change or certificate; 100,000 seals a year, §20, 2014-01-20).",
    )
    assert load_catalogue(tree).services


def test_a_place_s_note_is_found_in_the_exception_that_gives_it(tree):
    edit(
        tree,
        LOCAL,
        "more than the {value:per_baby} per baby counted",
        "more than the 20,000 per baby counted",
    )
    found = the_problem_at(tree, LOCAL, "more than the 20,000 per baby")
    assert (
        "note 'multiples' copies the figure '20,000' of parameter 'local.kinmen.birth_grant.amount'" in found
    )


def test_an_allowed_coincidence_holds_for_its_own_note_only(tree):
    # Kaohsiung's postpartum-care service is worth 30,000 like its cash grant, which its
    # note may say; the same figure in another Kaohsiung note is a copy of the grant.
    edit(
        tree,
        LOCAL,
        "which the profile does not record: the office may check it.",
        "which the profile does not record: the office may check it before paying 30,000.",
    )
    found = problems(tree)
    assert any("note 'living-there'" in p and "'local.kaohsiung.birth_grant.amount'" in p for p in found), (
        found
    )
    assert not any("postpartum-care-instead" in p for p in found)


def test_the_parameters_a_rule_reads_include_its_amount_deadline_and_notes():
    from engine.language.validate import rule_parameters

    catalogue = load_catalogue(ROOT)
    top_up = rule_parameters(catalogue.rules["birth-grant-top-up"]["national"])
    # the amount's value, a table branch's condition, the note's condition
    assert {
        "birth_grant.total_per_birth",
        "labor_insurance.maternity_benefit_months",
        "labor_insurance.maternity_min_days_premature",
    } <= top_up
    company = rule_parameters(catalogue.rules["company-registration"]["national"])
    # the deadline's days, the fee, a note's condition
    assert {
        "business.company.registration_deadline_days",
        "business.company.registration_fee_minimum",
        "business.company.central_registration_capital",
    } <= company


# --- what the notes say ---------------------------------------------------------------------


def notes(catalogue, service: str, profile: dict[str, Any], as_of: str, lang: str) -> list[str]:
    result = Engine(catalogue).recommend(
        validate_profile(profile), as_of=date.fromisoformat(as_of), lang=lang
    )
    (found,) = [r for r in result.results if r.service == service]
    return found.notes


MOTHER = {
    "person": {"sex": "female", "nationality": "roc", "labor_insurance_days": 300, "insured_salary": 30000},
    "events": {"birth": {"date": "2026-02-01", "kind": "live"}},
}
INFANT_IN_PUBLIC_CARE = {
    "person": {"nationality": "roc"},
    "children": [{"birth_date": "2025-06-01", "order": 2, "childcare": "public"}],
}


def born_in(place: str, registered_since: str) -> dict[str, Any]:
    return {
        "residence": place,
        "person": {"sex": "female", "nationality": "roc", "residence_registered_since": registered_since},
        "children": [{"birth_date": "2026-02-01", "order": 1}],
        "events": {"birth": {"date": "2026-02-01", "kind": "live"}},
    }


RENDERED = [
    # money in the Describer's words in each language
    (
        "birth-grant-top-up",
        MOTHER,
        "en",
        "The top-up is NT$100,000 minus the Labor Insurance maternity benefit (2 months of insured salary); "
        "together they make NT$100,000.",
    ),
    (
        "birth-grant-top-up",
        MOTHER,
        "zh-TW",
        "補助差額為新臺幣 100,000 元減勞保生育給付（2 個月平均月投保薪資），合計新臺幣 100,000 元。",
    ),
    # an age as a plain number
    ("child-medical-subsidy", INFANT_IN_PUBLIC_CARE, "zh-TW", "住院期間滿 3 歲者，補助至出院為止。"),
    # table entries read by their keys, whatever the household's own tier
    (
        "childcare-subsidy",
        INFANT_IN_PUBLIC_CARE,
        "en",
        "Public care 7,000 / 9,000 (middle-low-income) / 11,000 (low-income) a month; quasi-public "
        "13,000 / 15,000 / 17,000; plus 1,000 for a 2nd child and 2,000 for a 3rd or later.",
    ),
    (
        "childcare-subsidy",
        INFANT_IN_PUBLIC_CARE,
        "zh-TW",
        "公共化托育每月 7,000／9,000（中低收入戶）／11,000（低收入戶）元；準公共托育 13,000／15,000／17,000 元；"
        "第二名子女加 1,000 元，第三名以上加 2,000 元。",
    ),
    # a city's figure read at the birth date, and a sum of it
    (
        "local-birth-grant",
        born_in("hsinchu_city", "2020-01-01"),
        "en",
        "Twins get 60,000 (30,000 each, as shown); triplets or more, or a second set of twins, get 100,000 "
        "in total, which differs from the amount shown (🟡): ask Hsinchu City Government or the household "
        "registration office.",
    ),
    (
        "local-birth-grant",
        born_in("kinmen", "2025-08-01"),
        "zh-TW",
        "2026 年之每名加碼須於出生前設籍滿 12 個月：上列金額僅為基本補助。",
    ),
]


@pytest.mark.parametrize(
    ("service", "profile", "lang", "said"), RENDERED, ids=lambda v: v if isinstance(v, str) else ""
)
def test_a_note_says_the_figure_its_placeholder_quotes(catalogue, service, profile, lang, said):
    assert said in notes(catalogue, service, profile, "2026-03-01", lang)


def test_a_note_follows_its_parameter_when_the_dated_value_changes(tree):
    edit(
        tree,
        Path("rules/parameters/birth_grant/total_per_birth.yaml"),
        "values:\n",
        "values:\n  2027-01-01: {value: 120000}\n",
    )
    catalogue = load_catalogue(tree)
    father = {
        "person": {"sex": "male", "nationality": "roc"},
        "events": {"birth": {"date": "2026-02-01", "kind": "live"}},
    }
    born_2027 = {**father, "events": {"birth": {"date": "2027-02-01", "kind": "live"}}}
    before = notes(catalogue, "birth-grant-top-up", father, "2026-03-01", "en")
    after = notes(catalogue, "birth-grant-top-up", born_2027, "2027-03-01", "zh-TW")
    assert any("the top-up is NT$100,000 minus that benefit" in n for n in before), before
    assert any("差額補助為新臺幣 120,000 元減該給付" in n for n in after), after
    # The figure is the birth's, as the amount reads it: a 2026 birth asked about in 2027
    # keeps the 2026 figure.
    later = notes(catalogue, "birth-grant-top-up", father, "2027-03-01", "en")
    assert any("the top-up is NT$100,000 minus that benefit" in n for n in later), later


def test_a_note_quotes_the_figure_of_the_birth_it_is_about_before_that_figure_starts(catalogue):
    # Asked in December 2024 about a birth expected in January 2025: the NT$100,000 total
    # starts with 2025 births. The amount and the notes read it on the birth date, as the
    # rule does: not "?" (the figure on the day asked, which had no value yet).
    mother = {
        "person": {
            "sex": "female",
            "nationality": "roc",
            "labor_insurance_days": 300,
            "insured_salary": 30000,
        },
        "events": {"birth": {"date": "2025-01-10", "kind": "live"}},
    }
    said = notes(catalogue, "birth-grant-top-up", mother, "2024-12-20", "en")
    assert any("The top-up is NT$100,000 minus the Labor Insurance maternity benefit" in n for n in said), (
        said
    )
    assert not any("?" in n or "not known yet" in n for n in said), said


def test_a_figure_a_text_cannot_quote_yet_says_what_it_needs_instead_of_a_question_mark(catalogue):
    # Kinmen's note quotes the grant per baby on the birth date, which is not given.
    profile = {
        "residence": "kinmen",
        "person": {"nationality": "roc"},
        "events": {"birth": {"kind": "live"}},
    }
    (said,) = [
        n for n in notes(catalogue, "local-birth-grant", profile, "2026-03-01", "en") if "per baby" in n
    ]
    assert "more than the [not known yet: it needs date of the birth] per baby" in said, said


# --- coincidences, declared in the note -------------------------------------------------------

PARENTAL = Path("rules/birth/parental-leave.yaml")
DECLARED = '      - figure: 3\n        why: "the own share of the premiums can be deferred 3 years, not the child\'s age limit of 3"\n'


def test_a_coincidence_declared_in_its_note_is_no_copy_and_without_the_declaration_it_is(tree):
    # Declared: the catalogue loads (the real tree does too). Without it, the figure 3 of
    # "deferred up to 3 years" is the child's age limit of 3 copied.
    edit(tree, PARENTAL, "    coincidences:\n" + DECLARED, "")
    found = problems(tree)
    assert any(
        p.startswith(f"{PARENTAL.as_posix()}:") and "note 'insurance' copies the figure '3'" in p
        for p in found
    ), found


def test_a_coincidence_the_text_no_longer_states_is_refused_with_its_line(tree):
    edit(tree, PARENTAL, "yours can be deferred up to 3 years.", "yours can be deferred.")
    edit(tree, PARENTAL, "得遞延三年繳納", "得遞延繳納")
    lines = (tree / PARENTAL).read_text(encoding="utf-8").splitlines()
    note = lines.index("  - id: insurance")
    declared = next(n for n in range(note, len(lines)) if lines[n].strip() == "coincidences:") + 1
    found = [p for p in problems(tree) if "coincidence" in p]
    assert found, problems(tree)
    assert found[0].startswith(f"{PARENTAL.as_posix()}:{declared}:"), found
    assert "note 'insurance' declares the figure 3 a coincidence, but its text does not state it" in found[0]


def test_a_malformed_coincidence_names_its_file_and_line(tree):
    edit(tree, PARENTAL, DECLARED, "      - figure: three\n        why: a birth order\n")
    found = problems(tree)
    assert any(
        p.startswith(f"{PARENTAL.as_posix()}:") and "a coincidence is {figure: NUMBER, why: TEXT}" in p
        for p in found
    ), found
