"""Issue 12, items 8 and 9: rule files that used to pass ``validate`` and then break every
evaluation, or crash the loader, are ``file:line`` problems instead (exit 1), and the
staff area's Check lists them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from rule_tree import edit, line_of, problems

from engine.interfaces.cli import main
from engine.language.loader import load_catalogue
from engine.services.versions import RuleStore

ROOT = Path(__file__).resolve().parent.parent
MOVE_RULE = Path("rules/moving/moving-registration.yaml")
MOVE_DAYS = Path("rules/parameters/moving/registration_days.yaml")
TAX_RULE = Path("rules/moving/self-use-land-value-tax-rate.yaml")
BIRTH_RULE = Path("rules/birth/birth-registration.yaml")
MOVE_OFFSET = "days: {param: moving.registration_days}"


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    shutil.copy(ROOT / "catalog.yaml", root / "catalog.yaml")
    shutil.copytree(ROOT / "rules", root / "rules")
    return root


def validate_exits_1_naming(tree: Path, capsys, where: str, words: str) -> None:
    """`lifeevents validate` prints the problem as file:line: message and exits 1."""
    assert main(["validate", str(tree)]) == 1
    out = capsys.readouterr()
    assert "internal error" not in out.err
    found = [line for line in out.out.splitlines() if line.startswith(where)]
    assert found and words in found[0], out.out


# --- item 8: values that break every evaluation -------------------------------------------


@pytest.mark.parametrize(
    ("day", "words"),
    [("02-30", "02-30 is not a day of the year"), ("02-29", "02-29 exists only in leap years")],
)
def test_a_deadline_on_a_day_that_is_missing_in_some_years_is_refused(tree, capsys, day, words):
    edit(tree, TAX_RULE, 'next: "09-22"', f'next: "{day}"')
    line = line_of(tree, TAX_RULE, f'next: "{day}"')
    validate_exits_1_naming(tree, capsys, f"{TAX_RULE.as_posix()}:{line}:", words)


def test_a_deadline_on_the_last_day_of_february_is_accepted(tree):
    edit(tree, TAX_RULE, 'next: "09-22"', 'next: "02-28"')
    assert load_catalogue(tree).rules["self-use-land-value-tax-rate"]["national"].deadline.next_month_day == (
        2,
        28,
    )


@pytest.mark.parametrize("offset", ["years: 100000", "days: -1000000000", "months: 2401", "years: -201"])
def test_a_date_offset_that_could_overflow_is_refused(tree, capsys, offset):
    edit(tree, MOVE_RULE, MOVE_OFFSET, offset)
    line = line_of(tree, MOVE_RULE, "deadline:")
    validate_exits_1_naming(tree, capsys, f"{MOVE_RULE.as_posix()}:{line}:", "outside 1700-01-01..2400-12-31")


@pytest.mark.parametrize("offset", ["years: 200", "years: -200", "months: 2400", "days: -73000"])
def test_a_date_offset_of_at_most_200_years_is_accepted(tree, offset):
    edit(tree, MOVE_RULE, MOVE_OFFSET, offset)
    assert load_catalogue(tree).rules["moving-registration"]["national"].deadline is not None


def test_a_parameter_used_as_an_offset_is_bounded_by_its_values(tree, capsys):
    edit(tree, MOVE_DAYS, "{value: 30,", "{value: 100000000,")
    line = line_of(tree, MOVE_RULE, "deadline:")
    validate_exits_1_naming(tree, capsys, f"{MOVE_RULE.as_posix()}:{line}:", "outside 1700-01-01..2400-12-31")


def test_an_offset_read_from_a_fact_cannot_be_bounded_and_is_refused(tree, capsys):
    edit(tree, MOVE_RULE, MOVE_OFFSET, "days: {fact: person.labor_insurance_days}")
    validate_exits_1_naming(tree, capsys, f"{MOVE_RULE.as_posix()}:", "cannot be bounded")


def test_a_date_add_inside_a_condition_is_bounded_too(tree, capsys):
    rule = Path("rules/employment/unemployment-benefit.yaml")
    edit(tree, rule, "years: {param: employment_insurance.claim_window_years}}}", "years: 100000}}")
    validate_exits_1_naming(tree, capsys, f"{rule.as_posix()}:", "outside 1700-01-01..2400-12-31")


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "1.0e+300"])
def test_a_parameter_value_that_is_not_a_finite_number_of_sane_size_is_refused(tree, capsys, value):
    edit(tree, MOVE_DAYS, "{value: 30,", f"{{value: {value},")
    line = line_of(tree, MOVE_DAYS, "value:")
    words = "too large" if "e+" in value else "not a finite number"
    validate_exits_1_naming(tree, capsys, f"{MOVE_DAYS.as_posix()}:{line}:", words)


def test_a_table_value_that_is_not_finite_is_refused(tree, capsys):
    table = Path("rules/parameters/minimum_living_expense.yaml")
    text = (tree / table).read_text(encoding="utf-8")
    assert "taipei: 20379," in text
    (tree / table).write_text(text.replace("taipei: 20379,", "taipei: .nan,", 1), encoding="utf-8")
    line = line_of(tree, table, "taipei: .nan")
    validate_exits_1_naming(tree, capsys, f"{table.as_posix()}:{line}:", "taipei: not a finite number")


@pytest.mark.parametrize("value", [".nan", ".inf", "1.0e+16"])
def test_a_literal_in_a_criterion_that_is_not_a_finite_number_of_sane_size_is_refused(tree, capsys, value):
    rule = Path("rules/business/employee-insurance-enrolment.yaml")
    edit(
        tree,
        rule,
        "gte: {param: business.employer_insurance.min_employees}",
        f"gte: {value}",
        first=True,
    )
    line = line_of(tree, rule, f"gte: {value}")
    validate_exits_1_naming(tree, capsys, f"{rule.as_posix()}:{line}:", "")


def test_a_list_item_that_is_not_finite_is_refused(tree, capsys):
    edit(tree, BIRTH_RULE, "in: [live, premature]", "in: [live, .nan]")
    line = line_of(tree, BIRTH_RULE, "in: [live, .nan]")
    validate_exits_1_naming(tree, capsys, f"{BIRTH_RULE.as_posix()}:{line}:", "not a finite number")


def test_the_staff_check_lists_the_problems_instead_of_crashing(tree, tmp_path):
    store = RuleStore(tree, history=tmp_path / "history", cases=ROOT / "tests" / "cases")
    rel = MOVE_RULE.as_posix()
    for offset in ("years: 100000", "days: -1000000000"):
        text = (tree / MOVE_RULE).read_text(encoding="utf-8").replace(MOVE_OFFSET, offset)
        proposal = store.propose(rel, text)
        assert not proposal.ok
        assert any(p.startswith(f"{rel}:") and "outside" in p for p in proposal.problems), proposal.problems
    for value in (".nan", ".inf"):
        text = (tree / MOVE_DAYS).read_text(encoding="utf-8").replace("{value: 30,", f"{{value: {value},")
        proposal = store.propose(MOVE_DAYS.as_posix(), text)
        assert any("not a finite number" in p for p in proposal.problems), proposal.problems
    text = (tree / TAX_RULE).read_text(encoding="utf-8").replace('next: "09-22"', 'next: "02-30"')
    proposal = store.propose(TAX_RULE.as_posix(), text)
    assert any("02-30" in p for p in proposal.problems), proposal.problems


def test_the_staff_check_refuses_text_that_is_not_unicode(tree, tmp_path):
    store = RuleStore(tree, history=tmp_path / "history", cases=ROOT / "tests" / "cases")
    text = (tree / MOVE_RULE).read_text(encoding="utf-8") + "# \ud800\n"
    proposal = store.propose(MOVE_RULE.as_posix(), text)
    assert proposal.problems and "not valid Unicode" in proposal.problems[0]


# --- item 9: YAML that costs every request, or crashes the loader --------------------------

BOMB = """\
service: birth-registration
priority: 1
legal_basis: x
eligibility: &c0 {fact: events.birth.listed, eq: true}
a: &c1 {all: [*c0, *c0, *c0, *c0, *c0, *c0, *c0, *c0, *c0, *c0]}
b: &c2 {all: [*c1, *c1, *c1, *c1, *c1, *c1, *c1, *c1, *c1, *c1]}
"""


def test_a_yaml_alias_is_refused_with_its_line(tree, capsys):
    (tree / "rules/birth/bomb.yaml").write_text(BOMB, encoding="utf-8")
    validate_exits_1_naming(tree, capsys, "rules/birth/bomb.yaml:4:", "anchors and aliases are not allowed")


def test_an_alias_bomb_is_refused_before_it_is_expanded(tree):
    # Five levels of ten aliases each: a note over 10^5 criteria, from 700 bytes.
    notes = "".join(
        f"  - when: &a{i + 1} {{all: [{', '.join([f'*a{i}'] * 10)}]}}\n    text: note {i + 1}\n"
        for i in range(5)
    )
    (tree / BIRTH_RULE).write_text(
        "service: birth-registration\nlegal_basis: x\n"
        "eligibility: &a0 {fact: events.birth.listed, eq: true}\nnotes:\n" + notes,
        encoding="utf-8",
    )
    assert len((tree / BIRTH_RULE).read_bytes()) < 1000
    found = problems(tree)
    assert found == [
        f"{BIRTH_RULE.as_posix()}:3: YAML anchor '&a0': anchors and aliases are not allowed "
        "in the rules or the catalogue; write the value out"
    ], found


def test_a_self_referencing_alias_is_refused(tree, capsys):
    edit(tree, BIRTH_RULE, "eligibility:\n  all:", "eligibility:\n  &loop all:")
    (tree / BIRTH_RULE).write_text(
        (tree / BIRTH_RULE)
        .read_text(encoding="utf-8")
        .replace("  &loop all:", "  all: &loop\n    - not: *loop\n"),
        encoding="utf-8",
    )
    validate_exits_1_naming(tree, capsys, f"{BIRTH_RULE.as_posix()}:", "anchors and aliases are not allowed")


def test_an_anchor_in_the_catalogue_is_refused(tree, capsys):
    edit(tree, Path("catalog.yaml"), "  birth-registration:\n", "  birth-registration: &br\n")
    line = line_of(tree, Path("catalog.yaml"), "birth-registration: &br")
    validate_exits_1_naming(tree, capsys, f"catalog.yaml:{line}:", "anchors and aliases are not allowed")


@pytest.mark.parametrize("style", ["flow", "block"])
def test_a_not_nested_900_deep_is_refused_not_a_recursion_error(tree, capsys, style):
    if style == "flow":
        condition = "{not: " * 900 + "{fact: events.birth.listed, eq: true}" + "}" * 900
        body = f"eligibility: {condition}\n"
    else:
        body = "eligibility:\n" + "".join("  " * (i + 1) + "not:\n" for i in range(900))
        body += "  " * 901 + "{fact: events.birth.listed, eq: true}\n"
    (tree / BIRTH_RULE).write_text(f"service: birth-registration\nlegal_basis: x\n{body}", encoding="utf-8")
    validate_exits_1_naming(tree, capsys, f"{BIRTH_RULE.as_posix()}:", "nested deeper than 64 levels")


@pytest.mark.parametrize(("nots", "loads"), [(62, True), (63, False)])
def test_nesting_is_capped_at_64_levels(tree, nots, loads):
    # The file's mapping, the nots, and the criterion's own mapping: nots + 2 levels.
    condition = "{not: " * nots + "{fact: events.birth.listed, eq: true}" + "}" * nots
    (tree / BIRTH_RULE).write_text(
        f"service: birth-registration\nlegal_basis: x\neligibility: {condition}\n", encoding="utf-8"
    )
    if loads:
        assert "birth-registration" in load_catalogue(tree).rules
    else:
        (found,) = problems(tree)
        assert found.startswith(f"{BIRTH_RULE.as_posix()}:3:") and "nested deeper than 64" in found


def test_a_file_that_is_not_utf8_names_the_line_of_the_bad_byte(tree, capsys):
    path = tree / BIRTH_RULE
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:2]) + b"# caf\xe9\n" + b"".join(lines[2:]))
    validate_exits_1_naming(tree, capsys, f"{BIRTH_RULE.as_posix()}:3:", "not UTF-8")


def test_a_nul_byte_names_its_line(tree, capsys):
    path = tree / BIRTH_RULE
    lines = path.read_bytes().splitlines(keepends=True)
    # After a line of Chinese text: libyaml counts bytes, the line is counted in characters.
    path.write_bytes(b"".join(lines[:8]) + b"# \x00\n" + b"".join(lines[8:]))
    validate_exits_1_naming(tree, capsys, f"{BIRTH_RULE.as_posix()}:9:", "U+0000 is not allowed")


def test_a_directory_named_like_a_rule_file_is_a_problem(tree, capsys):
    (tree / "rules" / "x.yaml").mkdir()
    validate_exits_1_naming(tree, capsys, "rules/x.yaml:1:", "not a regular file")


def test_a_dangling_symbolic_link_is_a_problem(tree, capsys):
    os.symlink(tree / "nowhere.yaml", tree / "rules" / "dangling.yaml")
    validate_exits_1_naming(
        tree, capsys, "rules/dangling.yaml:1:", "symbolic link to a file that does not exist"
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_named_like_a_rule_file_is_a_problem_and_never_waited_on(tree, capsys, tmp_path):
    """Opened to be read, a FIFO waits for a writer: neither validate nor recommend (whose
    catalogue cache reads every rule file for its key) may open it that way."""
    import subprocess
    import sys

    os.mkfifo(tree / "rules" / "pipe.yaml")
    validate_exits_1_naming(tree, capsys, "rules/pipe.yaml:1:", "not a regular file")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("LIFEEVENTS_NO_CACHE", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine",
            "--rules",
            str(tree),
            "recommend",
            str(ROOT / "examples" / "newborn.json"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,  # a wait on the pipe fails here instead of hanging the suite
    )
    assert done.returncode != 0 and "internal error" not in done.stderr
    assert (
        "rules/pipe.yaml:1:" in done.stderr + done.stdout
        and "not a regular file" in done.stderr + done.stdout
    )


def test_a_link_to_a_device_is_not_read(tree, capsys):
    os.symlink("/dev/zero", tree / "rules" / "zero.yaml")
    validate_exits_1_naming(tree, capsys, "rules/zero.yaml:1:", "not a regular file")


def test_a_prerequisite_cycle_is_a_problem_of_the_catalogue(tree, capsys):
    # labor-insurance-maternity-benefit already needs birth-registration: close the loop.
    edit(
        tree,
        Path("catalog.yaml"),
        "  birth-registration:\n    events: [birth]\n",
        "  birth-registration:\n    events: [birth]\n    prerequisites: [labor-insurance-maternity-benefit]\n",
    )
    assert main(["validate", str(tree)]) == 1
    out = capsys.readouterr().out
    cycle = [line for line in out.splitlines() if "prerequisite cycle" in line]
    assert len(cycle) == 1, out
    assert "birth-registration → labor-insurance-maternity-benefit → birth-registration" in cycle[0]
    assert cycle[0].startswith("catalog.yaml:")
    line = int(cycle[0].split(":")[1])
    assert "prerequisites:" in (tree / "catalog.yaml").read_text(encoding="utf-8").splitlines()[line - 1]


def test_a_service_that_is_its_own_prerequisite_is_a_cycle(tree, capsys):
    edit(
        tree,
        Path("catalog.yaml"),
        "  birth-registration:\n    events: [birth]\n",
        "  birth-registration:\n    events: [birth]\n    prerequisites: [birth-registration]\n",
    )
    validate_exits_1_naming(
        tree, capsys, "catalog.yaml:", "prerequisite cycle birth-registration → birth-registration"
    )
