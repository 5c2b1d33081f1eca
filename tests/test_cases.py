"""The YAML test cases under tests/cases/, in the OpenFisca shape.

Each file is a list of cases::

    - name: A woman insured for 280 days who gives birth to a live baby qualifies.
      as_of: 2026-03-01
      input: {…a profile…}
      output:
        labor-insurance-maternity-benefit:
          status: eligible          # eligible | ineligible | unknown
          amount: 60000             # or null; compared with amount.value
          fee: 100
          deadline: 2031-02-01      # or null
          missing: [person.labor_insurance_days]   # exactly, when given
          reasons_include: ["cannot be combined"]   # substrings of some reason's text

Only the keys a case gives are checked. Cases come in boundary pairs: at the threshold,
one past it, and with the deciding fact unknown.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from engine.profile import parse_profile_text, validate_profile

CASES_DIR = Path(__file__).parent / "cases"


def _load_cases():
    for path in sorted(CASES_DIR.rglob("*.yaml")):
        cases = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        for i, case in enumerate(cases):
            yield pytest.param(path, case, id=f"{path.relative_to(CASES_DIR)}#{i + 1}")


def _as_date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


@pytest.mark.parametrize(("path", "case"), list(_load_cases()))
def test_case(engine, path, case):
    assert set(case) <= {"name", "as_of", "input", "output"}, f"unexpected keys in {path}"
    assert case.get("name"), "every case has a sentence for a name"
    raw = yaml.safe_dump(case["input"], allow_unicode=True)
    profile = validate_profile(parse_profile_text(raw, str(path)), str(path))
    as_of = _as_date(case.get("as_of"))
    result = engine.recommend(profile, as_of=as_of)
    by_service = {r.service: r for r in result.results}
    for service, expected in case["output"].items():
        assert service in by_service, f"{service} is not in the catalogue"
        got = by_service[service]
        where = f"{case['name']} [{service}]"
        reasons = "\n  ".join(r.text for r in got.reasons)
        context = f"{where}\n  missing={got.missing}\n  {reasons}"
        if "status" in expected:
            assert got.status == expected["status"], context
        if "amount" in expected:
            value = got.amount.value if got.amount else None
            assert value == expected["amount"], context
        if "fee" in expected:
            value = got.fee.value if got.fee else None
            assert value == expected["fee"], context
        if "deadline" in expected:
            assert got.deadline == _as_date(expected["deadline"]), context
        if "missing" in expected:
            assert sorted(got.missing) == sorted(expected["missing"]), context
        for fragment in expected.get("reasons_include", []):
            assert any(fragment in r.text for r in got.reasons), f"{context}\n  wanted: {fragment}"
