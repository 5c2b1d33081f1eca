"""The YAML test cases themselves: read like profiles, named when broken, required for
every service by ``lifeevents validate``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.services.cases import CaseFileError, check_case, load_cases, read_case_file

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True, text=True, cwd=ROOT)


def _tree(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "catalog.yaml", tmp_path / "catalog.yaml")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    shutil.copytree(ROOT / "tests" / "cases", tmp_path / "tests" / "cases")
    return tmp_path


def test_a_case_reads_yes_as_the_word_as_a_profile_does(tmp_path, engine):
    # YAML 1.1 would read `yes` as true and the case would pass for the wrong reason.
    (tmp_path / "c.yaml").write_text(
        "- name: A word where a boolean belongs is an error, as in a profile.\n"
        "  input: {person: {household_registered: yes}}\n"
        "  output: {police-criminal-record-certificate: {status: eligible}}\n",
        encoding="utf-8",
    )
    [case] = load_cases(tmp_path)
    assert case.input["person"]["household_registered"] == "yes"
    problems = check_case(engine, case)
    assert problems and "person.household_registered" in problems[0]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("- name: x\n  input: {person: {sex: female\n", ":3: not valid YAML"),
        ("name: not a list\n", ":1: a case file is a list of cases"),
        ("- just a string\n", "case 1: a case is a mapping"),
        ("- {name: x, ouput: {}}\n", "case 1: unknown key 'ouput'"),
    ],
)
def test_a_broken_case_file_is_named_with_its_line(tmp_path, text, where):
    broken = tmp_path / "broken.yaml"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(CaseFileError) as caught:
        read_case_file(broken)
    assert str(caught.value).startswith(str(broken)) and where in str(caught.value)


def test_validate_names_a_broken_case_file(tmp_path):
    root = _tree(tmp_path)
    (root / "tests" / "cases" / "birth" / "zz-broken.yaml").write_bytes(b"- name: [\n")
    done = run("validate", str(root))
    assert done.returncode == 1
    assert "zz-broken.yaml:" in done.stdout and "internal error" not in done.stderr


def test_validate_requires_a_case_for_every_service(tmp_path):
    root = _tree(tmp_path)
    for path in (root / "tests" / "cases").rglob("seal-certificate.yaml"):
        path.unlink()
    done = run("validate", str(root))
    assert done.returncode == 1
    assert "seal-certificate: no test case checks this service" in done.stdout
