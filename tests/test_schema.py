"""The rule language's JSON Schema (``lifeevents schema``) accepts every rule file of
rules/ and refuses what the loader refuses, so an editor marks a mistake where it is typed."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from engine.interfaces.cli import main
from engine.language.loader import OUTREACH_FILE, RESIDENCES_FILE, VOCABULARY_FILE, read_source, read_yaml

ROOT = Path(__file__).resolve().parent.parent


# Files of rules/ that are data beside the rules, each with its own reader and checks.
NOT_RULES = {VOCABULARY_FILE, OUTREACH_FILE, RESIDENCES_FILE}


def rule_files() -> list[Path]:
    rules = ROOT / "rules"
    return sorted(
        p
        for p in rules.rglob("*.yaml")
        if "parameters" not in p.relative_to(rules).parts and p.relative_to(rules).as_posix() not in NOT_RULES
    )


def as_an_editor_reads(path: Path) -> object:
    """The file's data as a YAML language server sees it: dates are strings."""
    shown = str(path.relative_to(ROOT))
    data = read_yaml(path, shown, read_source(path, shown)).data
    return json.loads(json.dumps(data, default=str))


@pytest.fixture(scope="module")
def validator(tmp_path_factory) -> jsonschema.Draft202012Validator:
    out = tmp_path_factory.mktemp("schema") / "rule-file.schema.json"
    assert main(["schema", "--output", str(out)]) == 0
    schema = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_schema_goes_to_standard_output(capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "lifeevents rule file"


def test_every_rule_file_meets_the_schema(validator):
    files = rule_files()
    assert len(files) > 40
    for path in files:
        problems = [e.message for e in validator.iter_errors(as_an_editor_reads(path))]
        assert not problems, f"{path}: {problems[:1]}"


BIRTH = ROOT / "rules/birth/birth-registration.yaml"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("in: [live, premature]", "inn: [live, premature]"),  # a misspelt operator
        ("in: [live, premature]", "in: [live, premature]\n      gte: 3"),  # two operators
        ("fact: events.birth.kind", "fakt: events.birth.kind"),  # neither fact nor value
    ],
)
def test_a_broken_rule_is_refused(validator, tmp_path, old, new):
    text = BIRTH.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    data = json.loads(json.dumps(read_yaml(broken, "broken.yaml").data, default=str))
    assert not validator.is_valid(data)


def test_a_rule_file_without_eligibility_is_refused(validator):
    data = as_an_editor_reads(BIRTH)
    assert isinstance(data, dict)
    assert validator.is_valid(data)
    del data["eligibility"]
    assert not validator.is_valid(data)
