"""One meaning per construct: every node type of the rule language, on every backend,
against the same expected values (unknowns included).

The explanation (logic.py), durable-rules and polars columns must give the same Kleene
verdict; type checking names each expression's type and finds nothing wrong; generation
finds the criteria to place a profile at and the numbers to draw near. A node type with
no case here, or a backend without a meaning for it, fails.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import polars as pl
import pytest
from test_batch import _frame_of

from engine.backends.durable_backend import DurableRunner, compile_services
from engine.backends.logic import VALUE, VERDICT, Env, evaluate, overrides_of
from engine.language import rules, semantics
from engine.language.facts import CHILD_DERIVED, PROFILE_DERIVED, Unknown, child_facts, profile_facts
from engine.language.loader import load_catalogue
from engine.language.parameters import Parameter, ParameterValue
from engine.language.profile import Profile
from engine.language.rules import (
    All,
    AnyOf,
    Arith,
    Cases,
    Compare,
    Const,
    DateAdd,
    FactRef,
    Literal,
    Not,
    ParamRef,
    SomeChild,
    Switch,
    Text,
    Unencoded,
)
from engine.language.validate import CHECK, TYPE, _Checker
from engine.services.batch import Compiler as ColumnCompiler
from engine.services.columns import normalise
from engine.testing.strategies import CRITERIA, SEEDS, SETTERS, _criteria, _static_values, setter_of

AS_OF = date(2026, 3, 1)

# Three people: one who meets every case, one of whom nothing is known, one who meets none.
PROFILES = {
    "meets": {
        "residence": "taipei",
        "person": {"birth_date": "1990-05-01", "sex": "female"},
        "household": {"size": 3, "monthly_income": 60000},
        "children": [{"birth_date": "2025-01-01"}],
    },
    "unknown": {},
    "fails": {
        "residence": "hualien",
        "person": {"birth_date": "1950-05-01", "sex": "male"},
        "household": {"size": 1, "monthly_income": 0},
        "children": [],
    },
}
ORDER = tuple(PROFILES)


def leaf(cid: str, path: str, op: str, value: Any) -> Compare:
    return Compare(cid, FactRef(path), op, Literal(value))


FEMALE = leaf("female", "person.sex", "eq", "female")
LARGE = leaf("large", "household.size", "gte", 3)
IN_TAIPEI = leaf("in-taipei", "residence", "eq", "taipei")
LIMIT = ParamRef("test.income_floor")  # 50,000 (the catalogue below)


@dataclasses.dataclass(frozen=True)
class Case:
    """A node, the condition it is read in, and what every backend must say of it."""

    node: Any
    condition: Any
    verdicts: tuple[bool | None, bool | None, bool | None]  # meets, unknown, fails
    criteria: tuple[str, ...]  # generation: the criteria found in the condition
    type: str | None = None  # type checking: an expression's type
    seeds: frozenset = frozenset()  # generation: what an expression is drawn near


def _expression(node: Any, condition: Any, verdicts: tuple, type_: str, seeds: set) -> Case:
    return Case(node, condition, verdicts, (condition.id,), type_, frozenset(seeds))


CASES: dict[type, Case] = {
    # conditions
    Const: Case(Const(True), Const(True), (True, True, True), ()),
    Compare: Case(FEMALE, FEMALE, (True, None, False), ("female",)),
    All: Case(All((FEMALE, LARGE)), All((FEMALE, LARGE)), (True, None, False), ("female", "large")),
    AnyOf: Case(AnyOf((FEMALE, LARGE)), AnyOf((FEMALE, LARGE)), (True, None, False), ("female", "large")),
    Not: Case(Not(FEMALE), Not(FEMALE), (False, None, True), ("female",)),
    SomeChild: Case(
        q := SomeChild("young-child", "born", leaf("under-3", "child.age", "lt", 3)),
        q,
        (True, None, False),  # no children at all: no child qualifies
        ("under-3",),
    ),
    Switch: Case(
        s := Switch("residence", (("taipei", LARGE),), Const(False)), s, (True, None, False), ("large",)
    ),
    Unencoded: Case(Unencoded("rules.test"), Unencoded("rules.test"), (None, None, None), ()),
    # expressions, each read in a criterion
    Literal: _expression(
        Literal(2),
        Compare("lit", Literal(2), "lt", FactRef("household.size")),
        (True, None, False),
        "int",
        {2},
    ),
    FactRef: _expression(
        FactRef("household.size"),
        Compare("ref", FactRef("household.monthly_income"), "gt", FactRef("household.size")),
        (True, None, False),
        "int",
        set(),
    ),
    ParamRef: _expression(
        LIMIT,
        Compare("param", FactRef("household.monthly_income"), "gte", LIMIT),
        (True, None, False),
        "float",
        {50000},
    ),
    Arith: _expression(
        a := Arith("div", (FactRef("household.monthly_income"), FactRef("household.size"))),
        Compare("arith", a, "gte", Literal(15000)),
        (True, None, False),
        "float",
        set(),
    ),
    DateAdd: _expression(
        d := DateAdd(FactRef("person.birth_date"), years=Literal(40)),
        Compare("date-add", FactRef("as_of"), "lt", d),
        (True, None, False),
        "date",
        {40},
    ),
    Cases: _expression(
        c := Cases(((IN_TAIPEI, Literal(3)),), Literal(2)),
        Compare("cases", FactRef("household.size"), "gte", c),
        (True, None, False),  # the unknown residence leaves the threshold unknown
        "float",
        {2, 3},
    ),
}


@pytest.fixture(scope="module")
def catalogue():
    floor = Parameter(
        name="test.income_floor",
        description="a test floor",
        label=Text("income floor", "所得下限"),
        unit="TWD",
        reference="test",
        confidence="❓",
        values=(ParameterValue(date(2020, 1, 1), 50000),),
    )
    real = load_catalogue(semantics.__file__.rsplit("/engine/", 1)[0])
    return dataclasses.replace(real, parameters={**real.parameters, floor.name: floor})


@pytest.fixture(scope="module")
def people(catalogue) -> dict[str, tuple[Profile, Env]]:
    out = {}
    for name, data in PROFILES.items():
        profile = Profile.model_validate({"as_of": AS_OF.isoformat(), **data})
        facts = profile_facts(profile, AS_OF)
        children = (
            None
            if profile.children is None
            else [child_facts(profile, i, c, facts) for i, c in enumerate(profile.children)]
        )
        out[name] = (profile, Env(catalogue, AS_OF, facts, children, overrides=overrides_of(catalogue)))
    return out


def test_every_node_type_has_a_conformance_case():
    every = (*rules.CONDITION_NODES, *rules.EXPRESSION_NODES)
    assert set(CASES) == set(every)
    for node_type, case in CASES.items():
        assert type(case.node) is node_type


def test_every_backend_gives_every_node_type_a_meaning():
    semantics.check_complete()
    tables = semantics.all_semantics()
    assert {t.backend for t in tables} == set(semantics.BACKENDS)


def test_a_node_type_without_a_meaning_fails_the_check(monkeypatch):
    @rules.node
    class Fake:
        value: bool

    monkeypatch.setattr(rules, "CONDITION_NODES", (*rules.CONDITION_NODES, Fake))
    with pytest.raises(semantics.IncompleteSemantics) as info:
        semantics.check_complete()
    message = str(info.value)
    for backend in semantics.BACKENDS:
        assert f"{backend} (" in message and "Fake" in message
    with pytest.raises(semantics.IncompleteSemantics, match=r"explanation \(.*\) has no meaning for .*Fake"):
        evaluate(Fake(True), None)  # type: ignore[arg-type]


def test_a_backend_without_a_node_type_fails_the_check(monkeypatch):
    monkeypatch.delitem(VERDICT.table, Switch)
    with pytest.raises(
        semantics.IncompleteSemantics, match=r"explanation \(.*\) lacks the condition node type\(s\) Switch"
    ):
        semantics.check_complete()


@pytest.mark.parametrize("node_type", list(CASES), ids=lambda t: t.__name__)
def test_explanation(node_type, people):
    case = CASES[node_type]
    got = tuple(evaluate(case.condition, people[p][1]).value for p in ORDER)
    assert got == case.verdicts


def test_durable_rules(people):
    plan, _ = compile_services({t.__name__: c.condition for t, c in CASES.items()}, "conformance")
    runner = DurableRunner(plan)
    decided = {p: runner.decide(people[p][1]) for p in ORDER}
    for node_type, case in CASES.items():
        got = tuple(decided[p].get(node_type.__name__) for p in ORDER)
        assert got == case.verdicts, node_type.__name__


def test_polars_columns(catalogue, people):
    chunk = normalise(_frame_of([people[p][0] for p in ORDER]), 0, AS_OF)
    compiler = ColumnCompiler(catalogue, chunk.width)
    columns = {t.__name__: compiler.condition(c.condition) for t, c in CASES.items()}
    frame: pl.DataFrame = compiler.evaluate(chunk.frame, columns)
    for node_type, case in CASES.items():
        assert tuple(frame[node_type.__name__].to_list()) == case.verdicts, node_type.__name__


@pytest.mark.parametrize("node_type", list(CASES), ids=lambda t: t.__name__)
def test_type_checking(node_type, catalogue):
    case = CASES[node_type]
    checker = _Checker(catalogue, {})
    if case.type is not None:
        assert checker.expr_type(case.node, "profile", "conformance.yaml", ()) == case.type
    else:
        checker.condition(case.node, "profile", "conformance.yaml")
    assert checker.problems == []


@pytest.mark.parametrize("node_type", list(CASES), ids=lambda t: t.__name__)
def test_generation(node_type, catalogue):
    case = CASES[node_type]
    assert tuple(c.id for c in _criteria("conformance", case.condition)) == case.criteria
    if case.type is not None:
        assert _static_values(case.node, catalogue) == case.seeds


def test_the_tables_are_the_backends_own():
    # What the suite runs is what the engine runs: the tables the backends dispatch through.
    assert {VALUE.backend, VERDICT.backend} == {"explanation"}
    assert {TYPE.kind, CHECK.kind, SEEDS.kind, CRITERIA.kind} == {"expression", "condition"}


# --- derived facts: declared once, the same value in every backend --------------------------

DERIVED = (*PROFILE_DERIVED, *CHILD_DERIVED)


def test_every_derived_fact_has_one_value_in_python_and_in_columns(catalogue, people):
    chunk = normalise(_frame_of([people[p][0] for p in ORDER]), 0, AS_OF)
    compiler = ColumnCompiler(catalogue, chunk.width)
    child = {d.path: 0 for d in CHILD_DERIVED}
    assert all(d.column is not None for d in DERIVED), "every derived fact has its column form: no row-by-row"
    columns = {d.path: compiler.fact(d.path, child.get(d.path)).expr for d in DERIVED}
    frame = compiler.evaluate(chunk.frame, columns)
    for d in DERIVED:
        expected = []
        for p in ORDER:
            env = people[p][1]
            if d.path in child:
                facts = env.children[0] if env.children else None
                value = facts[d.path] if facts else None
            else:
                value = env.facts[d.path]
            expected.append(None if isinstance(value, Unknown) else value)
        # The meets-person's child is the only child there is; the others have none or unknown.
        assert frame[d.path].to_list() == expected, d.path


def test_every_derived_fact_says_what_the_generator_writes():
    for d in DERIVED:
        assert d.inverse is not None, f"{d.path}: the generator cannot aim at it"
        assert set(d.inputs) >= {d.inverse.writes} or d.inverse.writes == "as_of", d.path
        assert type(SETTERS[d.path]) is type(setter_of(d))
