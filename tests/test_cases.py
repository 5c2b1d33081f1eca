"""Runs every YAML test case under tests/cases/ (the format: engine/services/cases.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.services.cases import check_case, load_cases

CASES_DIR = Path(__file__).parent / "cases"


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=f"{Path(c.file).relative_to(CASES_DIR)}#{c.index}") for c in load_cases(CASES_DIR)],
)
def test_case(engine, case):
    problems = check_case(engine, case)
    assert not problems, "\n".join(problems)
