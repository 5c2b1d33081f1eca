"""A broken rule file gets one clear ``file:line: message``; nothing loads half-way."""

from __future__ import annotations

from pathlib import Path

import pytest
from rule_tree import copy_tree, edit, line_of, problems

from engine.language.loader import load_catalogue

ROOT = Path(__file__).resolve().parent.parent
RULE = Path("rules/birth/birth-registration.yaml")


@pytest.fixture
def tree(tmp_path) -> Path:
    return copy_tree(tmp_path)


def test_the_repository_catalogue_loads():
    catalogue = load_catalogue(ROOT)
    assert catalogue.services and catalogue.parameters


def test_yaml_syntax_error_names_file_and_line(tree):
    edit(tree, RULE, "in: [live, premature]", "in: [live, premature")
    (found,) = problems(tree)
    assert found.startswith(f"{RULE.as_posix()}:") and "YAML syntax" in found


def test_unknown_fact_is_named_with_its_line_and_a_suggestion(tree):
    edit(tree, RULE, "fact: events.birth.kind", "fact: events.birth.knd")
    (found,) = problems(tree)
    line = line_of(tree, RULE, "events.birth.knd")
    assert found.startswith(f"{RULE.as_posix()}:{line}:")
    assert "unknown fact 'events.birth.knd'" in found and "did you mean 'events.birth.kind'" in found


def test_unknown_parameter_is_named(tree):
    edit(tree, RULE, "household_registration.birth_registration_days", "household_registration.birth_days")
    (found,) = problems(tree)
    assert "unknown parameter 'household_registration.birth_days'" in found


def test_missing_legal_basis_is_refused(tree):
    edit(tree, RULE, 'legal_basis: "戶籍法 §6, §29, §48；施行細則 §13"\n', "")
    (found,) = problems(tree)
    assert found.startswith(RULE.as_posix()) and "legal_basis" in found


def test_unknown_operator_suggests_the_right_one(tree):
    edit(tree, RULE, "in: [live, premature]", "inn: [live, premature]")
    (found,) = problems(tree)
    assert "unknown key 'inn'" in found and "did you mean 'in'" in found


def test_value_outside_an_enum_is_refused(tree):
    edit(tree, RULE, "in: [live, premature]", "in: [live, premture]")
    (found,) = problems(tree)
    assert "'premture' is not a value of events.birth.kind" in found


def test_ordering_a_string_is_refused(tree):
    edit(tree, RULE, "in: [live, premature]", "gt: live")
    (found,) = problems(tree)
    assert "compares numbers or dates" in found


def test_duplicate_keys_are_refused(tree):
    edit(
        tree,
        RULE,
        "service: birth-registration\n",
        "service: birth-registration\nservice: birth-registration\n",
    )
    (found,) = problems(tree)
    assert "duplicate key 'service'" in found


def test_unknown_service_in_catalogue_reference(tree):
    edit(
        tree,
        Path("catalog.yaml"),
        "prerequisites: [birth-registration]",
        "prerequisites: [birth-registraton]",
        first=True,
    )
    assert any("unknown service 'birth-registraton'" in p for p in problems(tree))


def test_parameter_without_reference_is_refused(tree):
    rel = Path("rules/parameters/household_registration/birth_registration_days.yaml")
    edit(tree, rel, "  reference: 戶籍法 §48\n", "")
    (found,) = problems(tree)
    assert found.startswith(rel.as_posix()) and "reference" in found


def test_gap_in_an_annual_parameter_is_refused(tree):
    rel = Path("rules/parameters/minimum_living_expense.yaml")
    edit(tree, rel, "  2026-01-01:", "  2028-01-01:")
    assert any("gap between 2025 and 2028" in p for p in problems(tree))


def test_household_record_must_be_verified_electronically(tree):
    edit(
        tree,
        Path("catalog.yaml"),
        "    household_record: true\n    verified_electronically: true\n",
        "    household_record: true\n    verified_electronically: false\n",
        first=True,
    )
    assert any("免附戶籍謄本" in p for p in problems(tree))


# --- criterion texts quote parameters (issue 14, item 3) --------------------------------

MATERNITY = Path("rules/birth/labor-insurance-maternity-benefit.yaml")
CLAIM_WINDOW = "{param:labor_insurance.claim_window_years}"


def test_a_text_that_copies_the_parameter_it_reads_is_refused_with_its_line(tree):
    edit(tree, MATERNITY, f'"Claimed within {CLAIM_WINDOW} years', '"Claimed within 5 years')
    edit(tree, MATERNITY, f'"分娩後 {CLAIM_WINDOW} 年內', '"分娩後五年內')
    line = line_of(tree, MATERNITY, "Claimed within 5 years")
    found = problems(tree)
    assert len(found) == 2, found
    assert all(p.startswith(f"{MATERNITY.as_posix()}:{line}:") for p in found)
    assert "the en text copies the figure '5'" in found[0] and CLAIM_WINDOW in found[0]
    assert "the zh-TW text copies the figure '五'" in found[1]


def test_a_stale_copy_of_an_earlier_value_is_refused_too(tree):
    # The parameter was 4 before 2027: a text saying 4 is as stale as one saying 5.
    edit(
        tree,
        Path("rules/parameters/labor_insurance/claim_window_years.yaml"),
        "values:\n",
        "values:\n  1800-01-01: {value: 4}\n",
    )
    edit(tree, MATERNITY, f'"Claimed within {CLAIM_WINDOW} years', '"Claimed within 4 years')
    (found,) = problems(tree)
    assert "copies the figure '4'" in found


def test_figures_that_are_no_copy_pass(tree):
    # A figure equal to the value of a parameter the criterion does not read, a date, a
    # year, an article number and 一 inside a word are not copies.
    edit(
        tree,
        MATERNITY,
        f'"Claimed within {CLAIM_WINDOW} years of the birth"',
        f'"Claimed within {CLAIM_WINDOW} years of the birth (§30, 2025, 5 May, 2025-05-05; 180 days)"',
    )
    edit(
        tree,
        MATERNITY,
        f'"分娩後 {CLAIM_WINDOW} 年內請領"',
        f'"下一年度起，分娩後 {CLAIM_WINDOW} 年內請領（第 5 條，五月五日）"',
    )
    assert load_catalogue(tree).services


def test_the_figures_a_text_states():
    from decimal import Decimal

    from engine.language.figures import figures

    def values(text: str) -> list[Decimal]:
        return [v for _, v in figures(text)]

    assert values("at most 2.5 million, plus 250,000 each") == [Decimal("2500000.0"), 250000]
    assert values("未超過 200 萬元，每增加一人增加 25 萬元") == [2000000, 250000, 1]
    assert values("年滿六十五歲，十五日內，二百五十萬") == [65, 15, 2500000]
    assert values("{param:x} on 1 September 2025 (§12–13, 第 4 條, 九月一日)") == []


def _claim_window_reason(catalogue, day: str, lang: str) -> str:
    from datetime import date

    from engine.language.profile import validate_profile
    from engine.services.recommend import Engine

    profile = validate_profile(
        {
            "person": {"sex": "female", "labor_insurance_days": 300, "insured_salary": 30000},
            "events": {"birth": {"date": "2026-02-01", "kind": "live"}},
        }
    )
    result = Engine(catalogue).recommend(profile, as_of=date.fromisoformat(day), lang=lang)
    (found,) = [r for r in result.results if r.service == "labor-insurance-maternity-benefit"]
    (reason,) = [r.text for r in found.reasons if r.criterion == "claim-window"]
    return reason


def test_a_text_follows_its_parameter_when_the_dated_value_changes(tree):
    edit(
        tree,
        Path("rules/parameters/labor_insurance/claim_window_years.yaml"),
        "values:\n",
        "values:\n  2027-01-01: {value: 6}\n",
    )
    catalogue = load_catalogue(tree)
    assert _claim_window_reason(catalogue, "2026-03-01", "en").startswith("Claimed within 5 years")
    assert _claim_window_reason(catalogue, "2027-03-01", "en").startswith("Claimed within 6 years")
    assert _claim_window_reason(catalogue, "2027-03-01", "zh-TW").startswith("分娩後 6 年內請領")


def test_a_childs_quantifier_text_quotes_its_parameter():
    from datetime import date

    from engine.language.profile import validate_profile
    from engine.services.recommend import Engine

    catalogue = load_catalogue(ROOT)
    profile = validate_profile({"children": [{"birth_date": "2025-06-01", "order": 1}]})
    result = Engine(catalogue).recommend(profile, as_of=date(2026, 3, 1), lang="zh-TW")
    (found,) = [r for r in result.results if r.service == "child-medical-subsidy"]
    texts = [r.text for r in found.reasons]
    assert any(t.startswith("有未滿 3 歲之子女") for t in texts), texts
    assert not any("{param:" in t for t in texts), texts


# --- dated rules: versions in force one after another (issue 14, item 3) ----------------

REGISTRATION = Path("rules/birth/birth-registration.yaml")
OLD_REGISTRATION = Path("rules/birth/birth-registration-until-2025.yaml")


def _dated_registration(tree: Path, until: str, start: str) -> None:
    """birth-registration in two versions: live births only until ``until``, live or
    premature from ``start``."""
    text = (tree / REGISTRATION).read_text(encoding="utf-8")
    old = text.replace("in: [live, premature]", "in: [live]")
    (tree / OLD_REGISTRATION).write_text(
        old.replace("eligibility:", f"effective_until: {until}\neligibility:", 1), encoding="utf-8"
    )
    edit(tree, REGISTRATION, "eligibility:", f"effective_from: {start}\neligibility:")


def _registration(catalogue, day: str, kind: str) -> str:
    from datetime import date

    from engine.language.profile import validate_profile
    from engine.services.recommend import Engine

    profile = validate_profile({"events": {"birth": {"date": "2025-06-01", "kind": kind}}})
    result = Engine(catalogue).recommend(profile, as_of=date.fromisoformat(day))
    (found,) = [r for r in result.results if r.service == "birth-registration"]
    return found.status


def test_the_version_of_a_rule_in_force_on_the_evaluation_date_decides(tree):
    _dated_registration(tree, "2025-12-31", "2026-01-01")
    catalogue = load_catalogue(tree)
    assert _registration(catalogue, "2025-12-31", "premature") == "ineligible"
    assert _registration(catalogue, "2025-12-31", "live") == "eligible"
    assert _registration(catalogue, "2026-01-01", "premature") == "eligible"
    # Both versions keep the deadline: it is the version in force that gives it.
    assert catalogue.rules["birth-registration"]["national"].deadline is not None


def test_a_rule_in_force_from_a_date_applies_to_nothing_before_it(tree):
    edit(tree, REGISTRATION, "eligibility:", "effective_from: 2026-01-01\neligibility:")
    catalogue = load_catalogue(tree)
    assert _registration(catalogue, "2025-12-31", "live") == "ineligible"
    assert _registration(catalogue, "2026-01-01", "live") == "eligible"


def test_overlapping_versions_are_refused(tree):
    _dated_registration(tree, "2026-01-01", "2026-01-01")
    (found,) = problems(tree)
    line = line_of(tree, REGISTRATION, "effective_from")
    assert found.startswith(f"{REGISTRATION.as_posix()}:{line}:") and "overlap" in found


def test_a_gap_between_versions_is_refused(tree):
    _dated_registration(tree, "2025-12-30", "2026-01-01")
    (found,) = problems(tree)
    assert found.startswith(REGISTRATION.as_posix()) and "gap" in found and "2025-12-31" in found


def test_dated_versions_beside_an_undated_rule_are_refused(tree):
    text = (tree / REGISTRATION).read_text(encoding="utf-8")
    (tree / OLD_REGISTRATION).write_text(
        text.replace("eligibility:", "effective_until: 2025-12-31\neligibility:", 1), encoding="utf-8"
    )
    (found,) = problems(tree)
    assert found.startswith(OLD_REGISTRATION.as_posix()) and "undated rule" in found


def test_a_problem_in_a_later_version_names_its_own_file_and_line(tree):
    _dated_registration(tree, "2025-12-31", "2026-01-01")
    edit(tree, REGISTRATION, "fact: events.birth.kind", "fact: events.birth.knd")
    (found,) = problems(tree)
    line = line_of(tree, REGISTRATION, "events.birth.knd")
    assert found.startswith(f"{REGISTRATION.as_posix()}:{line}:") and "unknown fact" in found


# --- the tree's own data: the minimum-living-expense areas ---------------------------------


def test_an_engine_reads_the_mle_areas_of_its_own_tree_not_the_default_one(tree):
    """rules/residences.yaml is data of a rules tree: an engine answering from another tree
    (a staff draft, ``--rules DIR``) places a city in that tree's minimum-living-expense
    area. Here a draft moves Taipei into 臺灣省's area."""
    from datetime import date

    from engine.language.profile import validate_profile
    from engine.services.recommend import Engine

    taipei = "taipei: {name: {en: Taipei City, zh-TW: 臺北市}, mle_area: taipei}"
    edit(
        tree,
        Path("rules/residences.yaml"),
        taipei,
        taipei.replace("mle_area: taipei", "mle_area: taiwan_province"),
    )

    profile = validate_profile(
        {
            "residence": "taipei",
            "household": {"size": 2, "monthly_income": 36000, "welfare_status": "none"},
        }
    )
    day = date(2026, 3, 1)
    default, draft = Engine(load_catalogue(ROOT)), Engine(load_catalogue(tree))
    assert default.env(profile, day).facts["household.mle_area"] == "taipei"
    assert draft.env(profile, day).facts["household.mle_area"] == "taiwan_province"

    def income_reason(engine: Engine) -> bool | None:
        (result,) = [
            r for r in engine.recommend(profile, as_of=day).results if r.service == "low-income-household"
        ]
        (reason,) = [r for r in result.reasons if r.criterion == "income-per-person"]
        return reason.met

    # NT$18,000 a head: under Taipei's line (20,744), over 臺灣省's (15,515).
    assert income_reason(default) is True
    assert income_reason(draft) is False
    # The batch evaluator reads the same tree's areas: its verdict of the service is the
    # engine's, for either tree (the draft's household is ineligible on income alone).
    from engine.services.batch import evaluate_profiles

    for engine in (default, draft):
        (row,) = evaluate_profiles(engine.catalogue, [profile], as_of=day)
        assert row["low-income-household"] == engine.statuses(profile, day)["low-income-household"]
    assert evaluate_profiles(draft.catalogue, [profile], as_of=day)[0]["low-income-household"] == "ineligible"
