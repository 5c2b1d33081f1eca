"""The YAML test cases of tests/cases/, in the OpenFisca shape, runnable from anywhere.

pytest runs them all; the staff editor runs the affected services' cases before a save.
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
          amount_missing: [person.insured_salary]  # what an eligible amount still needs, exactly
          reasons_include: ["cannot be combined"]   # substrings of some reason's or note's text
          steps: [job-seeker-registration]   # the services of the steps still to take
          urgent: true
          for: household                     # person | partner | household
      partner_output:                       # the same, for the partner's results
        labor-insurance-maternity-benefit: {status: eligible, amount: 60000}
      totals: {one_off: 100000, monthly: 5000, unknown: 0}

Only the keys a case gives are checked. A service absent from ``partner_results`` is
checked against ``partner_output`` as absent: expect ``absent: true`` there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from engine.language.profile import ProfileError, parse_profile_text, validate_profile
from engine.language.yamlsafe import without_timestamps, yaml12_booleans
from engine.services.recommend import Engine
from engine.services.results import EligibilityResult

CASE_KEYS = {"name", "as_of", "input", "output", "partner_output", "totals"}
OUTPUT_KEYS = {
    "status",
    "amount",
    "fee",
    "deadline",
    "missing",
    "amount_missing",
    "reasons_include",
    "steps",
    "urgent",
    "for",
    "absent",
}


@dataclass(frozen=True)
class Case:
    file: str
    index: int
    name: str
    as_of: date | None
    input: dict[str, Any]
    output: dict[str, dict[str, Any]]
    partner_output: dict[str, dict[str, Any]] | None = None
    totals: dict[str, int] | None = None


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


class CaseFileError(ValueError):
    """A case file that cannot be read: ``file:line: problem``."""


class _CaseLoader(yaml.SafeLoader):
    """Cases are read as profiles are (YAML 1.2 booleans, dates as strings), so that a
    case's input means what the same text means to ``lifeevents recommend``."""


yaml12_booleans(_CaseLoader)
without_timestamps(_CaseLoader)


def read_case_file(path: Path) -> list[dict[str, Any]]:
    """The raw cases of one file; a CaseFileError names the file and line otherwise."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_CaseLoader)
    except UnicodeDecodeError as exc:
        raise CaseFileError(f"{path}:1: not UTF-8 text ({exc.reason})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise CaseFileError(f"{path}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise CaseFileError(f"{path}:1: a case file is a list of cases")
    for i, case in enumerate(raw):
        if not isinstance(case, dict):
            raise CaseFileError(f"{path}: case {i + 1}: a case is a mapping of {sorted(CASE_KEYS)}")
        extra = set(case) - CASE_KEYS
        if extra:
            raise CaseFileError(f"{path}: case {i + 1}: unknown key {sorted(extra)[0]!r}")
    return raw


def load_cases(directory: Path, services: set[str] | None = None) -> list[Case]:
    """The cases under ``directory`` (those that check one of ``services``, if given)."""
    out = []
    for path in sorted(directory.rglob("*.yaml")):
        for i, case in enumerate(read_case_file(path)):
            checked = set(case.get("output") or {}) | set(case.get("partner_output") or {})
            if services is not None and not checked & services:
                continue
            out.append(
                Case(
                    str(path),
                    i + 1,
                    case.get("name", ""),
                    _as_date(case.get("as_of")),
                    case.get("input") or {},
                    case.get("output") or {},
                    case.get("partner_output"),
                    case.get("totals"),
                )
            )
    return out


def services_without_cases(directory: Path, services: list[str]) -> list[str]:
    """The services no case checks (``lifeevents validate`` requires one for each)."""
    checked: set[str] = set()
    for case in load_cases(directory):
        checked |= set(case.output) | set(case.partner_output or {})
    return [s for s in services if s not in checked]


def check_case(engine: Engine, case: Case) -> list[str]:
    """The failures of one case, each a sentence naming the service and what differed."""
    problems: list[str] = []
    where = f"{case.file}#{case.index} ({case.name})"
    if not case.name:
        problems.append(f"{where}: every case has a sentence for a name")
    try:
        text = yaml.safe_dump(case.input, allow_unicode=True)
        profile = validate_profile(parse_profile_text(text, where), where)
    except ProfileError as exc:
        return [str(exc)]
    result = engine.recommend(profile, as_of=case.as_of)
    unknown_case_keys = set(case.totals or {}) - {"one_off", "monthly", "unknown"}
    if unknown_case_keys:
        problems.append(f"{where}: totals: unknown expectation {sorted(unknown_case_keys)}")
    for key, wanted in (case.totals or {}).items():
        actual = getattr(result.totals, key, None)
        if actual != wanted:
            problems.append(f"{where}: totals: {key} is {actual!r}, expected {wanted!r}")
    problems += _check_results(where, {r.service: r for r in result.results}, case.output, "")
    if case.partner_output is not None:
        by_partner = {r.service: r for r in result.partner_results}
        problems += _check_results(where, by_partner, case.partner_output, "partner: ")
    return problems


def _check_results(
    where: str, by_service: dict[str, EligibilityResult], output: dict[str, dict[str, Any]], side: str
) -> list[str]:
    problems: list[str] = []
    for service, expected in output.items():
        got = by_service.get(service)
        if expected.get("absent"):
            if got is not None:
                problems.append(f"{where}: {side}{service} is listed, expected absent")
            continue
        if got is None:
            problems.append(f"{where}: {side}{service} is not among the results")
            continue
        unknown_keys = set(expected) - OUTPUT_KEYS
        if unknown_keys:
            problems.append(f"{where}: {side}{service}: unknown expectation {sorted(unknown_keys)}")
        checks = {
            "status": got.status,
            "amount": got.amount.value if got.amount else None,
            "fee": got.fee.value if got.fee else None,
            "deadline": got.deadline,
            "steps": [s.service for s in got.steps],
            "urgent": got.urgent,
            "for": got.for_,
        }
        for key, actual in checks.items():
            if key not in expected:
                continue
            wanted = _as_date(expected[key]) if key == "deadline" else expected[key]
            if actual != wanted:
                problems.append(f"{where}: {side}{service}: {key} is {actual!r}, expected {wanted!r}")
        if "missing" in expected and sorted(got.missing) != sorted(expected["missing"] or []):
            problems.append(
                f"{where}: {side}{service}: missing is {got.missing}, expected {expected['missing']}"
            )
        if "amount_missing" in expected and sorted(got.amount_missing) != sorted(
            expected["amount_missing"] or []
        ):
            problems.append(
                f"{where}: {side}{service}: amount_missing is {got.amount_missing}, "
                f"expected {expected['amount_missing']}"
            )
        # A result's notes are shown beside its reasons: a fragment may be in either.
        said = [r.text for r in got.reasons] + list(got.notes)
        for fragment in expected.get("reasons_include", []):
            if not any(fragment in text for text in said):
                problems.append(f"{where}: {side}{service}: no reason mentions {fragment!r}")
    return problems
