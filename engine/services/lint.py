"""Lint: rules that load and type-check but cannot be what the author meant.

- a condition that can never hold, or always holds (over every possible profile);
- services declared exclusive whose conditions overlap, with no stated way to choose;
- (the loader and validator already catch unknown facts or parameters, a missing legal
  basis and gaps in yearly parameters).

Satisfiability is decided on the same DNF the durable-rules compiler builds: a formula
holds for some profile when one of its conjunctions is consistent, and a conjunction is
consistent when, operand by operand, its literal comparisons leave a value possible.
Comparisons between two operands are assumed satisfiable (a sound over-approximation:
lint never reports a false "can never hold" because of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.backends.durable_backend import Compiler, Conjunction
from engine.language.catalog import Catalogue
from engine.services.recommend import effective_condition


@dataclass(frozen=True)
class LintProblem:
    service: str
    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:1: {self.service}: {self.message}"


def _consistent(conj: Conjunction) -> bool:
    """Can some assignment of the operands satisfy every literal test of ``conj``?"""
    by_key: dict[str, list[tuple[str, Any]]] = {}
    for atom in conj:
        if atom[0] == "cmp":
            by_key.setdefault(atom[1], []).append((atom[2], atom[3]))
    return all(_satisfiable(tests) for tests in by_key.values())


def _satisfiable(tests: list[tuple[str, Any]]) -> bool:
    equal = {v for op, v in tests if op == "eq"}
    if len(equal) > 1:
        return False
    unequal = {v for op, v in tests if op == "neq"}
    if equal:
        (value,) = equal
        if value in unequal:
            return False
        return all(_holds(op, value, bound) for op, bound in tests if op not in ("eq", "neq"))
    numeric = [(op, v) for op, v in tests if op in ("lt", "lte", "gt", "gte")]
    if not numeric:
        return True
    low, low_open, high, high_open = float("-inf"), False, float("inf"), False
    for op, v in numeric:
        if isinstance(v, bool) or not isinstance(v, int | float):
            return True  # mixed types: leave it to the validator
        if op in ("gt", "gte") and (v > low or (v == low and op == "gt")):
            low, low_open = v, op == "gt"
        if op in ("lt", "lte") and (v < high or (v == high and op == "lt")):
            high, high_open = v, op == "lt"
    if low > high or (low == high and (low_open or high_open)):
        return False
    if low == high:  # a single point: it must not be excluded by a neq
        return low not in unequal
    return True


def _holds(op: str, value: Any, bound: Any) -> bool:
    try:
        return {"lt": value < bound, "lte": value <= bound, "gt": value > bound, "gte": value >= bound}[op]
    except TypeError:
        return True


def satisfiable(dnf: list[Conjunction]) -> bool:
    return any(_consistent(c) for c in dnf)


def lint_catalogue(catalogue: Catalogue) -> list[LintProblem]:
    compiler = Compiler()
    problems: list[LintProblem] = []
    met: dict[str, list[Conjunction]] = {}
    for sid, service in catalogue.services.items():
        if service.ended is not None:
            continue  # generated: unknown before the end, ineligible after, by design
        layer = catalogue.rules.get(sid, {})
        file = next(iter(layer.values())).file if layer else "catalog.yaml"
        cond = effective_condition(catalogue, sid)
        met[sid] = compiler.dnf(cond, True, "profile")
        if not satisfiable(met[sid]):
            problems.append(LintProblem(sid, file, "the eligibility condition can never hold"))
        if not satisfiable(compiler.dnf(cond, False, "profile")):
            problems.append(LintProblem(sid, file, "the eligibility condition always holds"))
    for sid, service in catalogue.services.items():
        for other in service.excluded():
            if other not in met or sid not in met or sid > other:
                continue  # each pair once
            overlap = [a | b for a in met[sid] for b in met[other]]
            choose = service.exclusion_rule(other) or catalogue.services[other].exclusion_rule(sid)
            if satisfiable(overlap) and choose is None:
                problems.append(
                    LintProblem(
                        sid,
                        "catalog.yaml",
                        f"declared exclusive with {other}, both can be eligible at once, and no rule says "
                        "which to choose (give `choose:` on the exclusion)",
                    )
                )
    return problems
