"""The local layer's validation: two rules for one service and city need distinct
priorities (Catala's rule: no silent pick between two applicable rules), and so do two
labelled exceptions of the one birth-grant definition that change the same part of one
city's rule; a city's exception to a national parameter needs a stated priority too.

Each test copies the repository's catalogue to a temporary directory and edits the copy.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from engine import Engine, load_catalogue
from engine.language.loader import CatalogueError
from engine.language.profile import parse_profile_text, validate_profile

ROOT = Path(__file__).resolve().parent.parent
TAIPEI = Path("rules/local/taipei")
# The one definition of the birth grant for every place (its Taipei rule among them).
ORIGINAL = Path("rules/local/local-birth-grant.yaml")
COPY = TAIPEI / "local-birth-grant-copy.yaml"

# A Taipei first child born 2026-02-01 to a parent registered there since 2020:
# the real rule pays 40,000.
PROFILE = """
residence: taipei
person: {residence_registered_since: 2020-01-01}
children: [{birth_date: 2026-02-01, order: 1}]
events: {birth: {date: 2026-02-01, kind: live}}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "catalog.yaml", tmp_path / "catalog.yaml")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    # Taipei has no folder of its own (its rule is a place of the one definition): a
    # second Taipei rule is written where a city's own rules live.
    (tmp_path / TAIPEI).mkdir(parents=True, exist_ok=True)
    return tmp_path


def _rival(amount: int, priority: int | None) -> str:
    """A second Taipei rule for the same service: everyone with a birth, a flat amount."""
    lines = [
        "service: local-birth-grant",
        "jurisdiction: taipei",
        "legal_basis: a test rule",
        "eligibility: {id: any-birth, fact: events.birth.kind, in: [live, premature]}",
        f"amount: {{unit: TWD, value: {amount}}}",
    ]
    if priority is not None:
        lines.append(f"priority: {priority}")
    return "\n".join(lines) + "\n"


def _set_priority(path: Path, priority: int) -> None:
    path.write_text(path.read_text(encoding="utf-8") + f"priority: {priority}\n", encoding="utf-8")


def _amount(root: Path) -> int | None:
    engine = Engine(load_catalogue(root))
    profile = validate_profile(parse_profile_text(PROFILE, "profile"), "profile")
    result = engine.recommend(profile, as_of=date(2026, 3, 1), event="birth")
    (grant,) = [r for r in result.results if r.service == "local-birth-grant"]
    assert grant.status == "eligible"
    return grant.amount.value if grant.amount else None


def test_the_real_catalogue_loads_with_one_rule_per_city():
    catalogue = load_catalogue(ROOT)
    layer = catalogue.rules["local-birth-grant"]
    assert "national" not in layer
    assert len(layer) == 22
    assert _amount(ROOT) == 40000


def test_two_rules_for_one_city_without_priority_are_an_error_naming_both_files(repo: Path):
    (repo / COPY).write_text(_rival(99999, None), encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(repo)
    message = str(caught.value)
    assert ORIGINAL.as_posix() in message
    assert COPY.as_posix() in message
    assert "without a priority" in message


def test_a_priority_on_only_one_of_the_two_rules_is_still_an_error(repo: Path):
    (repo / COPY).write_text(_rival(99999, 5), encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(repo)
    assert COPY.as_posix() in str(caught.value)


def test_equal_priorities_are_an_error(repo: Path):
    _set_priority(repo / ORIGINAL, 3)
    (repo / COPY).write_text(_rival(99999, 3), encoding="utf-8")
    with pytest.raises(CatalogueError):
        load_catalogue(repo)


def test_with_distinct_priorities_the_higher_one_wins(repo: Path):
    _set_priority(repo / ORIGINAL, 1)
    (repo / COPY).write_text(_rival(99999, 2), encoding="utf-8")
    catalogue = load_catalogue(repo)
    assert catalogue.rules["local-birth-grant"]["taipei"].file == COPY.as_posix()
    assert _amount(repo) == 99999


def test_with_the_priorities_swapped_the_original_wins(repo: Path):
    _set_priority(repo / ORIGINAL, 2)
    (repo / COPY).write_text(_rival(99999, 1), encoding="utf-8")
    catalogue = load_catalogue(repo)
    assert catalogue.rules["local-birth-grant"]["taipei"].file == ORIGINAL.as_posix()
    assert _amount(repo) == 40000


# A city may also override a national parameter: an exception with a stated priority.

OVERRIDE = TAIPEI / "parameters" / "household_registration" / "birth_registration_days.yaml"


def _override(priority: int | None) -> str:
    meta = "  overrides: household_registration.birth_registration_days\n"
    if priority is not None:
        meta += f"  priority: {priority}\n"
    return (
        "description: A test exception to the national birth-registration period\n"
        "metadata:\n  unit: days\n  reference: a test\n  confidence: ❓\n"
        + meta
        + "values:\n  2015-01-21: {value: 90}\n"
    )


def _registration_deadline(root: Path, residence: str) -> date | None:
    engine = Engine(load_catalogue(root))
    text = PROFILE.replace("residence: taipei", f"residence: {residence}")
    profile = validate_profile(parse_profile_text(text, "profile"), "profile")
    result = engine.recommend(profile, as_of=date(2026, 3, 1), event="birth")
    (registration,) = [r for r in result.results if r.service == "birth-registration"]
    return registration.deadline


def test_a_city_exception_to_a_national_parameter_applies_only_there(repo: Path):
    (repo / OVERRIDE).parent.mkdir(parents=True, exist_ok=True)
    (repo / OVERRIDE).write_text(_override(1), encoding="utf-8")
    assert _registration_deadline(repo, "taipei") == date(2026, 5, 2)  # 90 days
    assert _registration_deadline(repo, "kaohsiung") == date(2026, 4, 2)  # the national 60


def test_a_city_exception_without_a_priority_is_an_error(repo: Path):
    (repo / OVERRIDE).parent.mkdir(parents=True, exist_ok=True)
    (repo / OVERRIDE).write_text(_override(None), encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(repo)
    assert OVERRIDE.as_posix() in str(caught.value)
    assert "priority" in str(caught.value)


def test_every_city_figure_of_the_birth_grant_is_read_at_the_birth_date(catalogue):
    """A city's figures apply by the birth date, not by the day of the question (issue 17):
    every local parameter a local-birth-grant rule reads says ``at: events.birth.date``."""
    from engine.language.rules import FactRef, ParamRef, expr_parts, walk

    def exprs(rule):
        for cond in [rule.eligibility, *(n.when for n in rule.notes)]:
            for node in walk(cond):
                for side in (getattr(node, "lhs", None), getattr(node, "rhs", None)):
                    if side is not None:
                        yield side
        for money in (rule.amount, rule.fee):
            if money is not None:
                yield money.value
        if rule.deadline is not None:
            yield from (p for p in (rule.deadline.days, rule.deadline.months, rule.deadline.years) if p)
        for note in rule.notes:
            yield from (v for _, v in note.values)

    wrong = []
    for city, rule in catalogue.rules["local-birth-grant"].items():
        for expr in exprs(rule):
            for part in expr_parts(expr):
                local = isinstance(part, ParamRef) and part.name.startswith("local.")
                if local and part.at != FactRef("events.birth.date"):
                    wrong.append(f"{city}: {part.name}")
    assert not wrong, wrong


# One definition for the 22 places: parameters broken down by place, labelled exceptions.

EXCEPTIONS = "\nexceptions:\n"


def _exception(label: str, text: str, priority: int | None) -> str:
    """An exception rewording Taipei's residence criterion."""
    lines = [
        f"  - label: {label}",
        "    places: [taipei]",
        *([f"    priority: {priority}"] if priority is not None else []),
        "    criteria:",
        "      residence-period:",
        "        id: residence-period",
        "        fact: person.registered_months_before_birth",
        "        gte: {param: 'local.${jurisdiction}.birth_grant.residence_months', at: events.birth.date}",
        f"        text: {{en: '{text}', zh-TW: '{text}'}}",
    ]
    return "\n".join(lines) + "\n"


def _add_exceptions(root: Path, *exceptions: str) -> None:
    text = (root / ORIGINAL).read_text(encoding="utf-8")
    assert EXCEPTIONS in text
    (root / ORIGINAL).write_text(
        text.replace(EXCEPTIONS, EXCEPTIONS + "".join(exceptions), 1), encoding="utf-8"
    )


def _residence_text(root: Path, city: str) -> str | None:
    rule = load_catalogue(root).rules["local-birth-grant"][city]
    (item,) = [i for i in rule.eligibility.items if getattr(i, "id", None) == "residence-period"]
    return item.text.en if item.text else None


def test_each_place_gets_the_general_rule_with_its_own_words_and_figures(catalogue):
    layer = catalogue.rules["local-birth-grant"]
    taipei, kaohsiung = layer["taipei"], layer["kaohsiung"]
    assert taipei.file == kaohsiung.file == ORIGINAL.as_posix()
    assert "Taipei City" in str(taipei.eligibility) and "Kaohsiung City" in str(kaohsiung.eligibility)
    # The breakdown: one file, one parameter per place, each with its own dated values.
    months = catalogue.parameters["local.kaohsiung.birth_grant.residence_months"]
    assert months.jurisdiction == "kaohsiung" and months.file.endswith(
        "parameters/birth_grant/residence_months.yaml"
    )
    assert [v.value for v in months.values] == [12, 10]
    assert catalogue.parameters["local.taipei.birth_grant.residence_months"].file == months.file


def test_an_exception_replaces_the_general_criterion_only_where_it_applies(repo: Path):
    _add_exceptions(repo, _exception("taipei-test-wording", "A Taipei wording", None))
    assert _residence_text(repo, "taipei") == "A Taipei wording"
    assert _residence_text(repo, "kaohsiung") == (
        "One parent registered in Kaohsiung City for the required period before the birth"
    )


def test_two_exceptions_changing_the_same_criterion_without_priorities_are_an_error(repo: Path):
    _add_exceptions(repo, _exception("first", "One", None), _exception("second", "Two", None))
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(repo)
    message = str(caught.value)
    assert ORIGINAL.as_posix() in message
    assert "'first' and 'second' both change criteria residence-period in taipei" in message


def test_equal_exception_priorities_are_an_error_too(repo: Path):
    _add_exceptions(repo, _exception("first", "One", 1), _exception("second", "Two", 1))
    with pytest.raises(CatalogueError):
        load_catalogue(repo)


def test_between_two_exceptions_the_higher_priority_applies(repo: Path):
    _add_exceptions(repo, _exception("first", "One", 2), _exception("second", "Two", 1))
    assert _residence_text(repo, "taipei") == "One"


def test_a_figure_in_a_breakdown_and_in_the_place_folder_is_an_error(repo: Path):
    own = repo / TAIPEI / "parameters" / "birth_grant" / "amount.yaml"
    own.parent.mkdir(parents=True)
    own.write_text(
        "description: A second home for Taipei's amount\n"
        "metadata: {unit: TWD, reference: a test, confidence: ❓}\n"
        "values:\n  2023-01-01: {value: 1}\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(repo)
    assert "parameter 'local.taipei.birth_grant.amount' is written twice" in str(caught.value)
