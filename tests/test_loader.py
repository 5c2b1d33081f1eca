"""A broken rule file gets one clear ``file:line: message``; nothing loads half-way."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.loader import CatalogueError, load_catalogue

ROOT = Path(__file__).resolve().parent.parent
RULE = Path("rules/birth/birth-registration.yaml")


@pytest.fixture
def tree(tmp_path) -> Path:
    shutil.copy(ROOT / "catalog.yaml", tmp_path / "catalog.yaml")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    return tmp_path


def problems(tree: Path) -> list[str]:
    with pytest.raises(CatalogueError) as info:
        load_catalogue(tree)
    return [str(p) for p in info.value.problems]


def edit(tree: Path, rel: Path, old: str, new: str) -> None:
    path = tree / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(tree: Path, rel: Path, fragment: str) -> int:
    for n, line in enumerate((tree / rel).read_text(encoding="utf-8").splitlines(), 1):
        if fragment in line:
            return n
    raise AssertionError(fragment)


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
    )
    assert any("免附戶籍謄本" in p for p in problems(tree))
