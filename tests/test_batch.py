"""The batch evaluator against the per-profile engine: same rules, same statuses.

Differential tests: profiles (random ones from engine/testing/sample.py and boundary ones drawn
here from the catalogue's own numbers) go through ``Engine.statuses`` one by one and
through the column path (CSV, JSON Lines, Parquet) in one batch, and every service's
status must agree. A second family draws random condition trees over the whole fact
vocabulary, so that constructs the catalogue does not use yet are checked too.
"""

from __future__ import annotations

import dataclasses
import io
import json
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.backends.logic import Env, evaluate, overrides_of
from engine.interfaces.cli import main
from engine.language.column_forms import py_round
from engine.language.facts import child_facts, fact_types, profile_facts
from engine.language.parameters import Parameter, ParameterValue
from engine.language.profile import EVENT_NAMES, RESIDENCES, Profile, ProfileError, validate_profile
from engine.language.rules import (
    All,
    AnyOf,
    Arith,
    Cases,
    Compare,
    Condition,
    Const,
    DateAdd,
    Expr,
    FactRef,
    Literal,
    Not,
    ParamRef,
    SomeChild,
    Switch,
    Text,
    Unencoded,
    walk,
)
from engine.language.validate import enum_values
from engine.services import batch as batch_module
from engine.services.batch import BatchEvaluator, Compiler, evaluate_profiles, run_batch
from engine.services.columns import cell_text, flatten_profile, normalise, unflatten_row
from engine.services.recommend import guard_events
from engine.testing.sample import random_profile_data

SLOW_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large]
AS_OF_CHOICES = (
    date(2026, 3, 1),
    date(2026, 2, 28),
    date(2025, 12, 31),
    date(2025, 1, 1),
    date(2024, 2, 29),
    date(2027, 6, 30),  # no annual parameters published: unknown
    date(2013, 6, 1),  # before several programmes ended and before parameters took effect
)


@pytest.fixture(scope="module")
def evaluator(catalogue) -> BatchEvaluator:
    return BatchEvaluator(catalogue)


# --- polars' three-valued logic is Kleene's --------------------------------------------


def test_polars_and_or_not_follow_kleene_with_nulls(catalogue):
    values = [True, False, None]
    pairs = [(a, b) for a in values for b in values]
    frame = pl.DataFrame(
        {"a": [a for a, _ in pairs], "b": [b for _, b in pairs]}, schema={"a": pl.Boolean, "b": pl.Boolean}
    )
    out = frame.select(
        (pl.col("a") & pl.col("b")).alias("and"),
        (pl.col("a") | pl.col("b")).alias("or"),
        (~pl.col("a")).alias("not"),
        pl.all_horizontal("a", "b").alias("all"),
        pl.any_horizontal("a", "b").alias("any"),
    )

    def k_and(a, b):
        return False if False in (a, b) else (None if None in (a, b) else True)

    def k_or(a, b):
        return True if True in (a, b) else (None if None in (a, b) else False)

    for (a, b), row in zip(pairs, out.iter_rows(named=True), strict=True):
        assert row["and"] is k_and(a, b) and row["all"] is k_and(a, b), (a, b)
        assert row["or"] is k_or(a, b) and row["any"] is k_or(a, b), (a, b)
        assert row["not"] is (None if a is None else not a)
        # and the reference evaluator says the same
        env = Env(catalogue, date(2026, 3, 1), {}, None)
        assert evaluate(All((_const(a), _const(b))), env).value is k_and(a, b)
        assert evaluate(AnyOf((_const(a), _const(b))), env).value is k_or(a, b)


def _const(value: bool | None) -> Condition:
    return Unencoded("x") if value is None else Const(value)


# --- exact rounding ---------------------------------------------------------------------


@given(st.lists(st.one_of(
    st.floats(-1e9, 1e9, allow_nan=False),
    st.integers(0, 10**9).flatmap(lambda a: st.integers(1, 100).map(lambda b: a / b)),
    st.integers(-10**7, 10**7).map(lambda k: k / 10**5 + 0.000005),
), min_size=1, max_size=50))  # fmt: skip
@settings(max_examples=200, deadline=None)
def test_rounding_is_pythons(values):
    got = py_round(pl.Series(values, dtype=pl.Float64)).to_list()
    assert got == [round(v, 4) for v in values]


# --- the profile path: engine vs batch, statuses of every service ---------------------


def _sample(rng: random.Random, as_of: date, p_unknown: float) -> Profile:
    """A sample profile evaluated at ``as_of`` (the generator itself needs a recent date)."""
    data = random_profile_data(rng, date(2026, 3, 1), p_unknown)
    data["as_of"] = as_of.isoformat()
    return Profile.model_validate(data)


def _frame_of(profiles: list[Profile]) -> pl.DataFrame:
    """Profiles as a CSV file's text, read back as a polars text frame (the CSV path)."""
    rows = [flatten_profile(p) for p in profiles]
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    frame = pl.DataFrame({n: [r.get(n) for r in rows] for n in names}, schema=dict.fromkeys(names, pl.String))
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return pl.read_csv(buffer.getvalue(), infer_schema=False) if names else pl.DataFrame(height=len(rows))


def _batch_statuses(evaluator: BatchEvaluator, profiles: list[Profile], as_of: date | None) -> list[dict]:
    chunk = normalise(_frame_of(profiles), 0, date(2026, 3, 1), as_of)
    assert chunk.problems == []
    return list(evaluator.statuses(chunk).iter_rows(named=True))


def _assert_agree(engine, evaluator, profiles: list[Profile], as_of: date | None = None) -> None:
    got = _batch_statuses(evaluator, profiles, as_of)
    for i, (profile, batch) in enumerate(zip(profiles, got, strict=True)):
        day = as_of or profile.as_of or date(2026, 3, 1)
        expected = engine.statuses(profile, day)
        differ = {s: (expected[s], batch[s]) for s in expected if expected[s] != batch[s]}
        assert not differ, (
            f"profile {i} at {day}: engine vs batch {differ}\n{profile.model_dump_json(exclude_none=True)}"
        )


@given(
    seeds=st.lists(st.integers(0, 2**32 - 1), min_size=10, max_size=40),
    as_of=st.sampled_from(AS_OF_CHOICES),
    p_unknown=st.sampled_from([0.0, 0.15, 0.5]),
    override=st.booleans(),
)
@settings(max_examples=40, deadline=None, suppress_health_check=SLOW_CHECKS)
def test_random_profiles_agree(engine, evaluator, seeds, as_of, p_unknown, override):
    profiles = [_sample(random.Random(s), as_of, p_unknown) for s in seeds]
    _assert_agree(engine, evaluator, profiles, as_of if override else None)


def test_two_thousand_sample_profiles_agree(engine, evaluator):
    rng = random.Random(20260301)
    profiles = [_sample(rng, rng.choice(AS_OF_CHOICES), rng.choice([0.0, 0.15, 0.4])) for _ in range(2000)]
    _assert_agree(engine, evaluator, profiles)


# Boundary profiles: numbers taken from the catalogue itself (every literal and parameter
# value a rule compares with, times the household sizes, ±1), ages at exact birthdays
# and 29 February, children at the age limits, events absent / empty / null.


def _catalogue_numbers(catalogue) -> list[float]:
    numbers: set[float] = {0, 1, 2, 3}
    for sid in catalogue.services:
        for layer in catalogue.rules.get(sid, {}).values():
            for cond in walk(layer.eligibility):
                value = (
                    cond.rhs.value if isinstance(cond, Compare) and isinstance(cond.rhs, Literal) else None
                )
                if isinstance(value, int | float) and not isinstance(value, bool):
                    numbers.add(value)
    for param in catalogue.parameters.values():
        for value in param.values:
            table = value.value if isinstance(value.value, dict) else {"": value.value}
            numbers.update(v for v in table.values() if isinstance(v, int | float))
    return sorted(numbers)


@st.composite
def edge_profile(draw, numbers: list[float]) -> dict[str, Any]:
    as_of = draw(st.sampled_from(AS_OF_CHOICES))

    def years_before(years: int, days: int = 0) -> str:
        try:
            day = as_of.replace(year=as_of.year - years)
        except ValueError:  # 29 February in a common year
            day = date(as_of.year - years, 3, 1)
        return (day + timedelta(days=days)).isoformat()

    def maybe(strategy):
        return draw(st.one_of(st.none(), strategy))

    ages = [0, 1, 2, 3, 5, 6, 7, 14, 15, 18, 20, 45, 65, 66]
    birth = draw(
        st.one_of(
            st.sampled_from(ages).flatmap(
                lambda a: st.sampled_from([-1, 0, 1]).map(lambda d: years_before(a, d))
            ),
            st.sampled_from(["2008-02-29", "1960-02-29", "1961-03-01", "2020-02-29"]),
        )
    )
    size = draw(st.integers(1, 8))
    near = st.sampled_from(numbers).flatmap(lambda v: st.sampled_from([-1, 0, 1]).map(lambda d: v + d))
    money = near.map(lambda v: max(0, int(v)))
    per_head = st.sampled_from(numbers).flatmap(
        lambda v: st.sampled_from([-1, 0, 1]).map(lambda d: max(0, int(v * size + d)))
    )
    person = {
        "birth_date": maybe(st.just(birth)),
        "sex": maybe(st.sampled_from(["female", "male"])),
        "nationality": maybe(st.sampled_from(["roc", "foreign"])),
        "household_registered": maybe(st.booleans()),
        "days_in_taiwan_last_year": maybe(st.sampled_from([0, 182, 183, 184, 365])),
        "residence_registered_since": maybe(
            st.sampled_from([years_before(1), years_before(0, -300), "2025-05-31"])
        ),
        "indigenous": maybe(st.booleans()),
        "disability_level": maybe(st.sampled_from(["none", "mild", "moderate", "severe", "profound"])),
        "employment": maybe(
            st.sampled_from(["employed", "self_employed", "unemployed", "student", "not_working", "retired"])
        ),
        "months_in_current_job": maybe(money.map(lambda v: min(v, 100_000))),
        "labor_insurance_days": maybe(money.map(lambda v: min(v, 100_000))),
        "employment_insurance_months": maybe(money.map(lambda v: min(v, 100_000))),
        "insured_salary": maybe(money),
        "marital_status": maybe(st.sampled_from(["single", "married", "divorced", "widowed"])),
        "special_circumstances": maybe(
            st.lists(
                st.sampled_from(["domestic_violence", "sudden_major_change", "spouse_deceased_or_missing"]),
                max_size=2,
            )
        ),
        "in_residential_care": maybe(st.booleans()),
    }
    household = {
        "size": maybe(st.just(size)),
        "monthly_income": maybe(st.one_of(per_head, money)),
        "movable_assets": maybe(st.one_of(per_head, money)),
        "real_estate_value": maybe(money),
        "welfare_status": maybe(st.sampled_from(["none", "middle_low", "low"])),
        "income_tax_rate": maybe(st.sampled_from([0.05, 0.12, 0.2, 0.3])),
    }
    child = st.fixed_dictionaries(
        {},
        optional={
            "birth_date": st.sampled_from([0, 1, 2, 3, 5, 6, 7, 14, 17, 18]).flatmap(
                lambda a: st.sampled_from([-1, 0, 1]).map(lambda d: years_before(a, d))
            )
            | st.sampled_from([as_of.isoformat(), (as_of + timedelta(days=30)).isoformat(), "2024-02-29"]),
            "order": st.integers(1, 4),
            "childcare": st.sampled_from(["home", "public", "quasi_public"]),
            "disability_level": st.sampled_from(["none", "mild", "severe", "profound"]),
            "gifted_assessed": st.booleans(),
            "nationality": st.sampled_from(["roc", "foreign"]),
        },
    )
    event_date = st.sampled_from([-400, -366, -30, -1, 0, 1, 60]).map(
        lambda d: (as_of + timedelta(days=d)).isoformat()
    )
    event = {
        "birth": st.fixed_dictionaries({}, optional={"date": event_date, "kind": st.sampled_from(["live", "premature", "miscarriage"])}),
        "move": st.fixed_dictionaries({}, optional={"date": event_date, "new_residence": st.sampled_from(RESIDENCES), "within_same_district": st.booleans()}),
        "job_loss": st.fixed_dictionaries({}, optional={"date": event_date, "involuntary": st.booleans(), "registered_job_seeker": st.booleans()}),
        "home_purchase": st.fixed_dictionaries({}, optional={"date": event_date, "land_area_m2": st.sampled_from([100.0, 300.0, 300.01, 700.0, 800.5]), "urban_land": st.booleans(), "registered_at_property": st.booleans(), "rented_or_business_use": st.booleans()}),
        "business_start": st.fixed_dictionaries({}, optional={"date": event_date, "kind": st.sampled_from(["company", "sole_proprietorship", "partnership", "factory"]), "owner_share": st.sampled_from([0.1, 0.2, 1.0]), "years_registered": st.sampled_from([7.99, 8.0]), "entrepreneurship_course_hours": st.sampled_from([19.5, 20.0]), "floor_area_m2": st.sampled_from([149.99, 150.0]), "power_kw": st.sampled_from([74.99, 75.0])}),
    }  # fmt: skip
    data: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "residence": maybe(st.sampled_from(RESIDENCES)),
        "person": {k: v for k, v in person.items() if v is not None},
        "household": {k: v for k, v in household.items() if v is not None},
    }
    children = draw(st.one_of(st.none(), st.lists(child, max_size=4)))
    if children is not None:
        data["children"] = children
    events_kind = draw(st.sampled_from(["absent", "some", "some", "empty"]))
    if events_kind != "absent":
        chosen = (
            draw(st.lists(st.sampled_from(EVENT_NAMES), unique=True, max_size=3))
            if events_kind == "some"
            else []
        )
        events: dict[str, Any] = {}
        for name in chosen:
            events[name] = draw(st.one_of(st.none(), event[name]))  # null: unknown whether it happened
        data["events"] = events
    if data["residence"] is None:
        del data["residence"]
    return data


@given(data=st.data())
@settings(max_examples=60, deadline=None, suppress_health_check=SLOW_CHECKS)
def test_boundary_profiles_agree(engine, evaluator, catalogue, data):
    numbers = _catalogue_numbers(catalogue)
    raw = data.draw(st.lists(edge_profile(numbers), min_size=5, max_size=25))
    profiles = [Profile.model_validate(d) for d in raw]
    _assert_agree(engine, evaluator, profiles)


def test_city_figures_read_at_the_birth_date_agree(engine, evaluator):
    """Issue 17: each city's figures are read at the birth date; around every date a city's
    figures change, with as_of before and after the birth, both evaluators agree."""
    births = ["2018-07-31", "2023-03-31", "2023-04-01", "2024-12-31", "2025-01-01", "2025-06-30",
              "2025-07-01", "2025-12-31", "2026-01-01", "2026-01-20"]  # fmt: skip
    profiles = []
    for i, (city, birth) in enumerate((c, b) for c in RESIDENCES for b in births):
        born = date.fromisoformat(birth)
        since = (born - timedelta(days=[300, 310, 366, 190][i % 4])).isoformat()
        data = {
            "as_of": (born + timedelta(days=[-36, 20, 400][i % 3])).isoformat(),
            "residence": city,
            "person": {"residence_registered_since": since},
            "children": [{"birth_date": birth, "order": 1 + i % 4}],
            "events": {"birth": {"date": birth, "kind": "live"}},
        }
        profiles.append(Profile.model_validate(data))
    _assert_agree(engine, evaluator, profiles)


def test_jsonl_csv_and_parquet_give_the_same_statuses(engine, catalogue, tmp_path):
    rng = random.Random(7)
    datas = [
        random_profile_data(rng, date(2026, 3, 1), 0.2) | {"as_of": rng.choice(AS_OF_CHOICES).isoformat()}
        for _ in range(300)
    ]
    profiles = [Profile.model_validate(d) for d in datas]
    (tmp_path / "in.jsonl").write_text("\n".join(json.dumps(d) for d in datas) + "\n")
    text = _frame_of(profiles)
    text.write_csv(tmp_path / "in.csv")
    text.write_parquet(tmp_path / "in.parquet")
    outputs = {}
    for fmt in ("jsonl", "csv", "parquet"):
        summary = run_batch(
            catalogue, tmp_path / f"in.{fmt}", tmp_path / f"out-{fmt}.csv", chunk_rows=64, err=io.StringIO()
        )
        assert summary.rows == 300 and summary.invalid == 0
        outputs[fmt] = pl.read_csv(tmp_path / f"out-{fmt}.csv")
    assert outputs["jsonl"].equals(outputs["csv"]) and outputs["csv"].equals(outputs["parquet"])
    assert outputs["csv"]["row"].to_list() == list(range(300))  # input order across chunks
    for profile, row in zip(profiles, outputs["csv"].iter_rows(named=True), strict=True):
        expected = engine.statuses(profile, profile.as_of)
        assert {s: row[s] for s in expected} == expected


def test_a_jsonl_file_of_empty_profiles_gets_a_row_per_line(engine, catalogue, tmp_path):
    """``{}`` is a profile with every fact unknown, and a line that is no profile is an
    invalid row: a file of nothing else has no column at all, and is still screened
    (it was an internal error)."""
    (tmp_path / "in.jsonl").write_text("{}\n\n{}\n")
    summary = run_batch(
        catalogue, tmp_path / "in.jsonl", tmp_path / "out.csv", as_of=date(2026, 3, 1), err=io.StringIO()
    )
    assert summary.rows == 3 and summary.invalid == 1
    rows = list(pl.read_csv(tmp_path / "out.csv").iter_rows(named=True))
    expected = engine.statuses(Profile.model_validate({}), date(2026, 3, 1))
    assert [{s: row[s] for s in expected} for row in rows] == [
        expected,
        dict.fromkeys(expected, "invalid"),
        expected,
    ]


# --- random condition trees over the whole vocabulary --------------------------------------

_TYPES = fact_types()
_ENUMS = enum_values()
_NUMBER_POOL = [0, 1, 2, 3, 6, 12, 15, 18, 65, 180, 181, 183, 280, 15515, 30000, 45800, 0.05, 0.2, 2.5, 300.0]
_DATE_POOL = [date(2024, 2, 29), date(2025, 1, 1), date(2026, 2, 28), date(2026, 3, 1), date(2008, 3, 1)]


def _synthetic_catalogue(catalogue):
    """The catalogue plus parameters of every shape: annual and indexed, floor lookup,
    keys written as strings, a rate that changes in the year, and a local override."""

    def param(name, values, **kw) -> Parameter:
        vals = tuple(ParameterValue(d, v) for d, v in values)
        return Parameter(name=name, description=name, label=Text(name, name), unit="x", reference="test",
                         confidence="❓", values=vals, **kw)  # fmt: skip

    extra = [
        param("test.annual_by_area", [(date(2025, 1, 1), {"taipei": 100, "taiwan_province": 50}),
                                       (date(2026, 1, 1), {"taipei": 110, "taiwan_province": 55, "fujian": 40})],
              period="year", index="household.mle_area"),
        param("test.by_order", [(date(2020, 1, 1), {1: 5000, 2: 6000, 3: 7000})], index="child.order", index_lookup="floor"),
        param("test.by_size", [(date(2020, 1, 1), {"1": 1.5, "2": 2.5, 3: 3})], index="household.size"),
        param("test.rate", [(date(2020, 1, 1), 2.5), (date(2026, 2, 1), 3.25)]),
        param("local.taipei.test.rate", [(date(2020, 1, 1), 9.5)], jurisdiction="taipei", overrides="test.rate", priority=1),
        param("local.hualien.test.rate", [(date(2026, 3, 1), 1.0)], jurisdiction="hualien", overrides="test.rate", priority=1),
    ]  # fmt: skip
    return dataclasses.replace(catalogue, parameters={**catalogue.parameters, **{p.name: p for p in extra}})


_PROFILE_PARAMS = ("test.annual_by_area", "test.by_size", "test.rate", "minimum_living_expense")


def _facts_of(scope: str, kinds: tuple[str, ...]) -> list[str]:
    pool = dict(_TYPES["profile"]) | (_TYPES["child"] if scope == "child" else {})
    return sorted(
        p for p, k in pool.items() if k in kinds and (scope == "child" or not p.startswith("child."))
    )


@st.composite
def numeric_expr(draw, scope: str, depth: int = 0) -> Expr:
    params = _PROFILE_PARAMS + (("test.by_order",) if scope == "child" else ())
    leaf = st.one_of(
        st.sampled_from(_NUMBER_POOL).map(Literal),
        st.sampled_from(_facts_of(scope, ("int", "float"))).map(FactRef),
        st.sampled_from(params).map(ParamRef),
    )
    if depth >= 2 or draw(st.booleans()):
        return draw(leaf)
    op = draw(st.sampled_from(["add", "sub", "mul", "div", "min", "max"]))
    n = 2 if op in ("sub", "div") else draw(st.integers(2, 3))
    args = tuple(draw(numeric_expr(scope, depth + 1)) for _ in range(n))
    return Arith(op, args)


@st.composite
def date_expr(draw, scope: str) -> Expr:
    base = draw(
        st.one_of(
            st.sampled_from(_facts_of(scope, ("date",))).map(FactRef),
            st.sampled_from(_DATE_POOL).map(Literal),
        )
    )
    if draw(st.booleans()):
        return base
    part = st.one_of(st.none(), st.integers(-40, 40).map(Literal), st.just(ParamRef("test.rate")))
    return DateAdd(
        base,
        days=draw(part),
        months=draw(part),
        years=draw(st.one_of(st.none(), st.integers(-3, 3).map(Literal))),
    )


@st.composite
def compare(draw, scope: str, cases: bool = True) -> Condition:
    kind = draw(
        st.sampled_from(["num", "num", "date", "enum", "bool", "mixed"] + (["cases"] if cases else []))
    )
    cid = "c"
    if kind == "num":
        op = draw(st.sampled_from(["eq", "neq", "lt", "lte", "gt", "gte"]))
        return Compare(cid, draw(numeric_expr(scope)), op, draw(numeric_expr(scope)))
    if kind == "date":
        op = draw(st.sampled_from(["eq", "neq", "lt", "lte", "gt", "gte"]))
        return Compare(cid, draw(date_expr(scope)), op, draw(date_expr(scope)))
    if kind == "enum":
        fact = draw(
            # Facts of the vocabulary only: enum_values also lists the partner's fields, which no
            # rule reads (a partner is read through the swapped view, engine/services/family.py).
            st.sampled_from(
                sorted(
                    f
                    for f in _ENUMS
                    if ((scope == "child") or not f.startswith("child.")) and not f.startswith("partner")
                )
            )
        )
        values = list(_ENUMS[fact]) + ["nonsense"]
        if draw(st.booleans()):
            return Compare(
                cid,
                FactRef(fact),
                draw(st.sampled_from(["in", "not_in"])),
                Literal(tuple(draw(st.lists(st.sampled_from(values), max_size=3)))),
            )
        return Compare(
            cid, FactRef(fact), draw(st.sampled_from(["eq", "neq"])), Literal(draw(st.sampled_from(values)))
        )
    if kind == "bool":
        fact = draw(st.sampled_from(_facts_of(scope, ("bool",))))
        return Compare(cid, FactRef(fact), draw(st.sampled_from(["eq", "neq"])), Literal(draw(st.booleans())))
    if kind == "member":  # `in` with values of any type: Python's == decides (True is 1, 2 is 2.0)
        fact = draw(st.sampled_from(_facts_of(scope, ("int", "float", "bool", "str"))))
        values = draw(st.lists(st.sampled_from([0, 1, 2, 2.0, 3, True, False, "roc", "x", 183]), max_size=4))
        return Compare(cid, FactRef(fact), draw(st.sampled_from(["in", "not_in"])), Literal(tuple(values)))
    if kind == "mixed":  # types the validator would refuse: Python's == is simply false
        fact = draw(st.sampled_from(_facts_of(scope, ("str", "list"))))
        return Compare(
            cid,
            FactRef(fact),
            draw(st.sampled_from(["eq", "neq"])),
            Literal(draw(st.sampled_from([3, ("a",), 2.5]))),
        )
    branch = st.tuples(compare(scope, cases=False), numeric_expr(scope, 1))
    value = Cases(
        tuple(draw(st.lists(branch, min_size=1, max_size=2))),
        draw(st.one_of(st.none(), numeric_expr(scope, 1))),
    )
    return Compare(cid, draw(numeric_expr(scope)), draw(st.sampled_from(["lt", "gte", "eq"])), value)


@st.composite
def condition(draw, scope: str = "profile", depth: int = 0) -> Condition:
    leaves = [compare(scope), compare(scope), st.booleans().map(Const), st.just(Unencoded("rules.test"))]
    if depth >= 2:
        return draw(st.one_of(*leaves))
    choice = draw(st.sampled_from(["leaf", "leaf", "all", "any", "not", "switch", "some_child"]))
    if choice == "leaf" or (choice == "some_child" and scope == "child"):
        return draw(st.one_of(*leaves))
    sub = condition(scope, depth + 1)
    if choice in ("all", "any"):
        items = tuple(draw(st.lists(sub, min_size=1, max_size=3)))
        return All(items) if choice == "all" else AnyOf(items)
    if choice == "not":
        return Not(draw(sub))
    if choice == "switch":
        fact = draw(st.sampled_from(["residence", "person.sex", "household.mle_area", "household.size"]))
        keys = list(_ENUMS.get(fact, ("1", "2", "3")))
        cases = tuple((k, draw(sub)) for k in draw(st.lists(st.sampled_from(keys), unique=True, max_size=3)))
        return Switch(fact, cases, draw(st.one_of(st.none(), sub)))
    body = draw(condition("child", depth + 1))
    return SomeChild("q", draw(st.sampled_from(["born", "newborn"])), body)


@pytest.fixture(scope="module")
def pool(catalogue):
    """Profiles of every shape with their engine environments, and the same as a typed frame."""
    cat = _synthetic_catalogue(catalogue)
    rng = random.Random(11)
    profiles = [_sample(rng, rng.choice(AS_OF_CHOICES), rng.choice([0.0, 0.2, 0.5])) for _ in range(300)]
    profiles += [
        Profile.model_validate(
            {"as_of": "2026-03-01", "residence": "taipei", "children": [{}], "events": {"birth": None}}
        ),
        Profile.model_validate(
            {"as_of": "2024-02-29", "person": {"birth_date": "2008-02-29"}, "children": []}
        ),
        Profile.model_validate({"as_of": "2026-03-01", "residence": "hualien", "household": {"size": 2}}),
    ]
    overrides = overrides_of(cat)
    envs = []
    for p in profiles:
        facts = profile_facts(p, p.as_of)
        children = (
            None if p.children is None else [child_facts(p, i, c, facts) for i, c in enumerate(p.children)]
        )
        envs.append(Env(cat, p.as_of, facts, children, overrides=overrides))
    chunk = normalise(_frame_of(profiles), 0, date(2026, 3, 1))
    return Pool(cat, envs, chunk)


class Pool:
    """Not a dataclass: hypothesis pretty-prints dataclasses field by field."""

    def __init__(self, catalogue: Any, envs: list[Env], chunk: Any):
        self.catalogue, self.envs, self.chunk = catalogue, envs, chunk

    def __repr__(self) -> str:  # hypothesis prints its arguments
        return f"<pool of {len(self.envs)} profiles>"


@given(cond=condition(), guarded=st.booleans())
@settings(
    max_examples=int(__import__("os").environ.get("BATCH_EXAMPLES", 150)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
def test_random_conditions_agree(pool, cond, guarded):
    cat, envs, chunk = pool.catalogue, pool.envs, pool.chunk
    if guarded:
        cond = guard_events(cond)
    compiler = Compiler(cat, chunk.width)
    got = compiler.evaluate(chunk.frame, {"v": compiler.condition(cond)})["v"].to_list()
    for i, env in enumerate(envs):
        expected = evaluate(cond, env).value
        assert got[i] is expected, f"profile {i}: engine {expected}, batch {got[i]}\n{cond}"


# --- the tabular form: control columns, validation, the command ---------------------------


ROOT = Path(__file__).resolve().parent.parent


def _run(tmp_path: Path, csv_text: str, *args: str) -> tuple[int, pl.DataFrame | None, str]:
    source = tmp_path / "in.csv"
    source.write_text(csv_text)
    target = tmp_path / "out.csv"
    err = io.StringIO()
    import contextlib

    with contextlib.redirect_stderr(err):
        code = main(["--rules", str(ROOT), "batch", str(source), "-o", str(target), *args])
    return code, (pl.read_csv(target) if code == 0 else None), err.getvalue()


def test_events_known_says_what_an_empty_event_group_means(tmp_path, engine):
    csv = (
        "person.sex,events.known,events.birth.listed,events.birth.kind,events.birth.date\n"
        "female,,,,\n"  # events unknown
        "female,true,,,\n"  # events known, birth not listed
        "female,,unknown,,\n"  # birth: null
        "female,,true,,\n"  # birth: {} (listed, details unknown)
        "female,,,live,2026-02-01\n"  # listed by its fields
    )
    code, out, _ = _run(tmp_path, csv, "--as-of", "2026-03-01")
    assert code == 0 and out is not None
    expected_profiles = [
        {"person": {"sex": "female"}},
        {"person": {"sex": "female"}, "events": {}},
        {"person": {"sex": "female"}, "events": {"birth": None}},
        {"person": {"sex": "female"}, "events": {"birth": {}}},
        {"person": {"sex": "female"}, "events": {"birth": {"kind": "live", "date": "2026-02-01"}}},
    ]
    for data, row in zip(expected_profiles, out.iter_rows(named=True), strict=True):
        expected = engine.statuses(Profile.model_validate(data), date(2026, 3, 1))
        assert {s: row[s] for s in expected} == expected
    assert out["birth-registration"].to_list() == ["unknown", "ineligible", "unknown", "unknown", "eligible"]


def test_counted_children_without_cells_are_unknown_children(engine, evaluator):
    # children: [{}, {}] flattens to children.count = 2 and no child column at all.
    profile = Profile.model_validate({"as_of": "2026-03-01", "children": [{}, {}], "events": {}})
    chunk = normalise(pl.DataFrame({"children.count": ["2"], "events.known": ["true"]}), 0, date(2026, 3, 1))
    assert chunk.width == 2
    assert evaluator.statuses(chunk).row(0, named=True) == engine.statuses(profile, date(2026, 3, 1))
    some = SomeChild("q", "born", Compare("a", FactRef("child.age"), "lt", Literal(3)))
    compiler = Compiler(evaluator.catalogue, chunk.width)
    assert compiler.evaluate(chunk.frame, {"v": compiler.condition(some)})["v"][0] is None


def test_children_count_keeps_none_apart_from_unknown():
    cells = [
        {},
        {"children.count": "0"},
        {"children.0.order": "1"},
        {"children.count": "2", "children.0.order": "1"},
    ]
    frame = pl.DataFrame(
        [
            {"children.count": c.get("children.count"), "children.0.order": c.get("children.0.order")}
            for c in cells
        ]
    )
    chunk = normalise(frame, 0, date(2026, 3, 1))
    assert chunk.frame["children.count"].to_list() == [None, 0, 1, 2]
    assert [unflatten_row(c).get("children") for c in cells] == [
        None,
        [],
        [{"order": "1"}],
        [{"order": "1"}, {}],
    ]


def test_invalid_rows_are_reported_and_marked_and_the_rest_go_on(tmp_path):
    csv = (
        "person.sex,household.size,person.birth_date,events.birth.listed,events.birth.kind\n"
        "female,2,1990-01-01,,\n"
        "femal,2,1990-01-01,,\n"
        "male,0,1990-02-30,,\n"
        "male,1,1990-01-01,false,live\n"
    )
    code, out, err = _run(tmp_path, csv, "--as-of", "2026-03-01")
    assert code == 0 and out is not None
    assert out["row"].to_list() == [0, 1, 2, 3]
    statuses = out.drop("row")
    assert set(statuses.row(0)) != {"invalid"}
    for i in (1, 2, 3):
        assert set(statuses.row(i)) == {"invalid"}
    lines = [x for x in err.splitlines() if x.startswith("row ")]
    assert lines[0].startswith('row 1: person.sex: must be one of female, male (got "femal")')
    assert lines[1].startswith("row 2: household.size:") and "(and 1 more problem(s))" in lines[1]
    assert lines[2].startswith(
        "row 3: events.birth.listed: false or unknown, but a field of the event is filled"
    )
    assert "3 invalid" in err.splitlines()[-1]


def test_bad_files_exit_2_with_one_line(tmp_path):
    code, _, err = _run(tmp_path, "person.sexx\nfemale\n")
    assert code == 2 and err.strip().endswith("unknown column 'person.sexx'; did you mean 'person.sex'?")
    assert len(err.strip().splitlines()) == 1
    code, _, err = _run(tmp_path, "children.01.order\n1\n")  # one name per child slot
    assert code == 2 and "unknown column 'children.01.order'; did you mean 'children.0.order'?" in err
    assert main(["batch", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o.csv")]) == 2
    assert main(["batch", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.xlsx")]) == 2


def test_a_column_named_twice_is_named_as_such(tmp_path):
    """Polars renames the second 'person.sex' 'person.sex_duplicated_0': the message
    says what the header holds, not what polars made of it."""
    code, _, err = _run(tmp_path, "person.sex,person.sex\nfemale,male\n")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.strip() == f"{tmp_path / 'in.csv'}:1: column 'person.sex' appears twice (columns 1 and 2)"
    code, _, err = _run(tmp_path, 'as_of,"person.sex",children.count,as_of,person.sex,as_of\n')
    assert code == 2 and err.strip().endswith(":1: column 'as_of' appears 3 times (columns 1, 4 and 6)")
    # A name that only looks like polars' renaming is an unknown column, as any other.
    code, _, err = _run(tmp_path, "person.sex,person.sex_duplicated_0\nfemale,male\n")
    assert code == 2 and "in.csv: unknown column 'person.sex_duplicated_0';" in err


def test_a_parquet_column_named_twice_is_named_by_polars(tmp_path, capsys):
    """Polars writes no such file; pyarrow does, and polars refuses it by name."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    source = tmp_path / "in.parquet"
    pq.write_table(pa.table([["female"], ["male"]], names=["person.sex", "person.sex"]), source)
    assert main(["batch", str(source), "-o", str(tmp_path / "out.csv")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"{source}: cannot read parquet: column with name 'person.sex' has more than one occurrence"
    )


def test_jsonl_rows_are_validated_by_the_profile_model(tmp_path, catalogue):
    lines = [
        '{"person": {"sex": "female"}}',
        "not json",
        '{"person": {"sexx": "female"}}',
        "[1]",
        '{"household": {"size": "2"}}',
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    err = io.StringIO()
    summary = run_batch(
        catalogue, tmp_path / "in.jsonl", tmp_path / "out.jsonl", as_of=date(2026, 3, 1), err=err
    )
    assert summary.rows == 5 and summary.invalid == 4
    out = pl.read_ndjson(tmp_path / "out.jsonl")
    assert out["row"].to_list() == [0, 1, 2, 3, 4]
    messages = err.getvalue().splitlines()
    assert messages[0].startswith("row 1: not valid JSON")
    assert messages[1] == "row 2: person.sexx: unknown key; did you mean 'sex'?"
    assert messages[3].startswith("row 4: household.size:")


def test_jsonl_null_sections_are_unknown_facts_not_invalid_rows(tmp_path, engine, catalogue):
    """profile.md: a null section is a section whose facts are unknown (issue 17)."""
    lines = [
        '{"as_of": "2026-03-01", "person": null}',
        '{"as_of": "2026-03-01", "household": null, "assets": null, "student_loan": null}',
        '{"as_of": "2026-03-01", "household": {"monthly_income": 30000.0, "size": 2.0}}',
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    summary = run_batch(catalogue, tmp_path / "in.jsonl", tmp_path / "out.jsonl", err=io.StringIO())
    assert summary.invalid == 0
    out = pl.read_ndjson(tmp_path / "out.jsonl")
    for i, line in enumerate(lines):
        expected = engine.statuses(validate_profile(json.loads(line)), date(2026, 3, 1))
        assert {s: out[s][i] for s in expected} == expected


# CSV cells against pydantic: a row is invalid exactly when the profile model refuses the
# same values given in JSON.
_BAD_VALUES = {
    "int": [-1, 3.5, 10**13, "x"],
    "float": [-0.5, 0.00001, 1.5, 10**9, "x", 0.12345],
    "enum": ["Female", "nonsense", ""],
    "date": ["2026-02-30", "2026-2-1", "20260301", "x"],
    "bool": ["yes", 1],
}


@given(st.data())
@settings(max_examples=150, deadline=None)
def test_csv_validation_agrees_with_the_profile_model(data):
    from engine.services.columns import CHILD_SPECS, PROFILE_SPECS

    specs = [(p, s) for p, s in PROFILE_SPECS.items() if s.kind != "list"]
    specs += [(f"children.0.{n}", s) for n, s in CHILD_SPECS.items()]
    path, spec = data.draw(st.sampled_from(specs))
    value = data.draw(st.sampled_from(_BAD_VALUES[spec.kind] + _good_values(spec)))
    nested: dict[str, Any] = {}
    if path.startswith("children.0."):
        nested["children"] = [{path.split(".")[2]: value}]
    elif path.startswith("events."):
        _, event, name = path.split(".")
        nested["events"] = {event: {name: value}}
    elif "." in path:
        section, name = path.split(".")
        nested[section] = {name: value}
    else:
        nested[path] = value
    try:
        validate_profile(nested)
        expected_valid = True
    except ProfileError:
        expected_valid = False
    cell = cell_text(value) if not isinstance(value, str) else value
    frame = pl.DataFrame({path: [cell]}, schema={path: pl.String})
    chunk = normalise(frame, 0, date(2026, 3, 1))
    assert chunk.valid[0] is expected_valid, (path, value, chunk.problems)


def _good_values(spec) -> list[Any]:
    if spec.kind == "enum":
        return list(spec.choices[:2])
    if spec.kind == "date":
        return ["2024-02-29", "2026-03-01"]
    if spec.kind == "bool":
        return [True, False]
    low = int(spec.ge or 0)
    return [low, low + 1] if spec.kind == "int" else [float(low), 0.05, 0.12]


# A list cell (docs/batch.md): items separated by ";" or ",", each as written; or, when the
# cell opens with "[", a JSON array of strings.
_LIST_CELLS: dict[str, list[str]] = {
    "[]": [],
    "[ ]": [],
    "domestic_violence": ["domestic_violence"],
    "domestic_violence;unmarried_pregnant": ["domestic_violence", "unmarried_pregnant"],
    "domestic_violence,unmarried_pregnant": ["domestic_violence", "unmarried_pregnant"],
    '["domestic_violence", "unmarried_pregnant"]': ["domestic_violence", "unmarried_pregnant"],
    '["domestic_violence","unmarried_pregnant"]': ["domestic_violence", "unmarried_pregnant"],
    '[\n  "domestic_violence"\n]': ["domestic_violence"],
}
_BROKEN_LIST_CELLS = [
    "[",
    "]",
    "[[",
    "[]]",
    '["domestic_violence"',
    '["domestic_violence",]',
    '[["domestic_violence"]]',
    "[domestic_violence]",
    '["domestic_violence;unmarried_pregnant"]',  # one item in JSON, and not a valid one
    "[1]",
    "[null]",
    '[""]',
    " []",  # cells are not trimmed
    "[] ",
    "domestic_violence; unmarried_pregnant",
    "domestic_violence;",
    ";",
    '"domestic_violence"',
]


def test_list_cells_are_a_separated_list_or_a_json_array():
    cells = [*_LIST_CELLS, *_BROKEN_LIST_CELLS]
    frame = pl.DataFrame(
        {"person.special_circumstances": cells}, schema={"person.special_circumstances": pl.String}
    )
    chunk = normalise(frame, 0, date(2026, 3, 1))
    read = chunk.frame["person.special_circumstances"].to_list()
    assert read[: len(_LIST_CELLS)] == list(_LIST_CELLS.values())
    assert chunk.valid.to_list() == [True] * len(_LIST_CELLS) + [False] * len(_BROKEN_LIST_CELLS)
    assert [row for row, _ in chunk.problems] == list(range(len(_LIST_CELLS), len(cells)))
    for row, message in chunk.problems:
        assert message.startswith(f"row {row}: person.special_circumstances: "), message


def test_a_list_cell_in_json_is_valid_exactly_when_the_profile_model_takes_it():
    # A padded cell apart: JSON allows space around a value, a cell is not trimmed.
    cells = [c for c in [*_LIST_CELLS, *_BROKEN_LIST_CELLS] if c.startswith("[") and c == c.strip()]
    frame = pl.DataFrame(
        {"person.special_circumstances": cells}, schema={"person.special_circumstances": pl.String}
    )
    chunk = normalise(frame, 0, date(2026, 3, 1))
    for cell, valid in zip(cells, chunk.valid, strict=True):
        try:
            validate_profile({"person": {"special_circumstances": json.loads(cell)}})
            expected = True
        except (ValueError, ProfileError):
            expected = False
        assert valid is expected, cell


def test_a_broken_list_cell_makes_its_row_invalid_and_says_why(tmp_path):
    csv = (
        "as_of,person.sex,person.special_circumstances\n"
        "2026-03-01,female,[\n"
        '2026-03-01,female,"[""domestic_violence"""\n'
        "2026-03-01,female,]\n"
        "2026-03-01,female,[[\n"
        '2026-03-01,female,"[""domestic_violence""]"\n'
    )
    code, out, err = _run(tmp_path, csv)
    assert code == 0 and out is not None
    statuses = out.drop("row")
    assert [set(statuses.row(i)) == {"invalid"} for i in range(5)] == [True, True, True, True, False]
    lines = [x for x in err.splitlines() if x.startswith("row ")]
    not_json = 'not a JSON array of strings: ["a", "b"], or [] for none'
    assert lines[0] == f'row 0: person.special_circumstances: {not_json} (got "[")'
    assert lines[1] == f'row 1: person.special_circumstances: {not_json} (got "[\\"domestic_violence\\"")'
    assert lines[2].startswith("row 2: person.special_circumstances: items must be among ")
    assert lines[2].endswith('(got "]")')
    assert lines[3] == f'row 3: person.special_circumstances: {not_json} (got "[[")'
    assert "4 invalid" in err.splitlines()[-1]


# --- ages, as a Taiwanese office counts them ------------------------------------------------


def test_batch_ages_count_from_the_birthday_and_29_february(catalogue):
    frame = pl.DataFrame(
        {
            "person.birth_date": ["2008-03-01", "2008-03-01", "2008-02-29", "2008-02-29", "2008-02-29"],
            "as_of": ["2026-02-28", "2026-03-01", "2026-02-28", "2026-03-01", "2028-02-29"],
        }
    )
    chunk = normalise(frame, 0, date(2026, 3, 1))
    compiler = Compiler(catalogue, chunk.width)
    ages = compiler.evaluate(chunk.frame, {"a": compiler.fact("person.age").expr})["a"]
    assert ages.to_list() == [17, 18, 17, 18, 20]


def test_a_derived_fact_the_compiler_does_not_know_is_computed_by_the_engines_own_function(catalogue):
    # Another engineer may add a derived fact to engine/language/facts.py: it must work (per row).
    from engine.language.facts import Derived

    derived = Derived("person.days_alive", "int", ("person.birth_date", "as_of"), lambda b, a: (a - b).days)
    frame = normalise(pl.DataFrame({"person.birth_date": ["2000-01-01", None]}), 0, date(2026, 3, 1)).frame
    compiler = Compiler(catalogue, 0)
    compiler.profile_derived[derived.path] = derived
    compiler.types["profile"][derived.path] = "int"
    got = compiler.evaluate(frame, {"d": compiler.fact("person.days_alive").expr})["d"].to_list()
    assert got == [(date(2026, 3, 1) - date(2000, 1, 1)).days, None]


# --- families: the partner (profile.md, "Families: the partner") -----------------------------


def _with_partner(rng: random.Random, data: dict[str, Any]) -> dict[str, Any]:
    """The profile with a partner of every kind: absent, null, ``{}``, ``false``, or the
    person of another random profile (the sexes drawn so that the mother is now the
    applicant, now the partner, now unknown)."""
    kind = rng.choice(["absent", "null", "empty", "false", "object", "object", "object"])
    if kind == "null":
        data["partner"] = None
    elif kind == "empty":
        data["partner"] = {}
    elif kind == "false":
        data["partner"] = False
    elif kind == "object":
        other = random_profile_data(rng, date(2026, 3, 1), rng.choice((0.0, 0.2, 0.6)))["person"]
        partner = {k: v for k, v in other.items() if v is not None}
        sexes = rng.choice([("male", "female"), ("female", "male"), ("male", None), (None, "female"), None])
        if sexes is not None:
            for who, sex in zip((data["person"], partner), sexes, strict=True):
                if sex is None:
                    who.pop("sex", None)
                else:
                    who["sex"] = sex
        data["partner"] = partner
    return data


def _family_statuses(engine, profile: Profile) -> dict[str, str]:
    """Engine.recommend's statuses as batch columns: SERVICE and partner:SERVICE."""
    rec = engine.recommend(profile)
    out = {r.service: r.status for r in rec.results}
    return out | {f"partner:{r.service}": r.status for r in rec.partner_results}


def test_families_agree_with_recommend_in_csv_parquet_and_jsonl(engine, catalogue, tmp_path):
    rng = random.Random(11)
    datas = []
    for _ in range(160):
        data = random_profile_data(rng, date(2026, 3, 1), rng.choice((0.0, 0.15, 0.4)))
        data["as_of"] = rng.choice(AS_OF_CHOICES[:3]).isoformat()
        datas.append(_with_partner(rng, data))
    profiles = [Profile.model_validate(d) for d in datas]
    kinds = {type(p.partner).__name__ for p in profiles}
    assert kinds == {"NoneType", "bool", "Person"}
    (tmp_path / "in.jsonl").write_text("\n".join(json.dumps(d) for d in datas) + "\n")
    text = _frame_of(profiles)
    assert "partner.listed" in text.columns
    text.write_csv(tmp_path / "in.csv")
    text.write_parquet(tmp_path / "in.parquet")
    person_level = [s for s in catalogue.services if engine.readings[s] == "person"]
    outputs = {}
    for fmt in ("jsonl", "csv", "parquet"):
        summary = run_batch(
            catalogue, tmp_path / f"in.{fmt}", tmp_path / f"out-{fmt}.csv", chunk_rows=40, err=io.StringIO()
        )
        assert summary.rows == len(datas) and summary.invalid == 0
        outputs[fmt] = pl.read_csv(tmp_path / f"out-{fmt}.csv")
        assert outputs[fmt].columns == ["row", *catalogue.services, *(f"partner:{s}" for s in person_level)]
    assert outputs["jsonl"].equals(outputs["csv"]) and outputs["csv"].equals(outputs["parquet"])
    for i, (profile, row) in enumerate(zip(profiles, outputs["csv"].iter_rows(named=True), strict=True)):
        expected = _family_statuses(engine, profile)
        got = {k: v for k, v in row.items() if k != "row" and (v is not None or k in expected)}
        differ = {
            k: (expected.get(k), got.get(k))
            for k in expected.keys() | got.keys()
            if expected.get(k) != got.get(k)
        }
        assert not differ, f"profile {i}: recommend vs batch {differ}\n{json.dumps(datas[i])}"


@pytest.mark.parametrize("spilled", ["every chunk", "some chunks"])
def test_a_parquet_output_is_the_same_held_in_memory_or_spilled_to_parts(
    catalogue, tmp_path, monkeypatch, spilled
):
    """Parquet chunks are held in memory up to a budget and written to part files beyond
    it (batch.Writer): the output is the same frame either way, rows in input order."""
    rng = random.Random(13)
    datas = [_with_partner(rng, random_profile_data(rng, date(2026, 3, 1), 0.2)) for _ in range(120)]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(d) for d in datas) + "\n")
    run_batch(catalogue, source, tmp_path / "held.parquet", chunk_rows=25, err=io.StringIO())
    held = pl.read_parquet(tmp_path / "held.parquet")
    one_chunk = held.head(25).estimated_size()
    monkeypatch.setattr(
        batch_module, "PARQUET_HELD_BYTES", 0 if spilled == "every chunk" else int(one_chunk * 1.5)
    )
    real_spill, real_close = batch_module.Writer._spill, batch_module.Writer.close
    seen: dict[str, int] = {}

    def counted_spill(self):
        seen["spills"] = seen.get("spills", 0) + 1
        real_spill(self)

    def noted_close(self):
        seen["held at the end"] = len(self.held)
        real_close(self)

    monkeypatch.setattr(batch_module.Writer, "_spill", counted_spill)
    monkeypatch.setattr(batch_module.Writer, "close", noted_close)
    run_batch(catalogue, source, tmp_path / "spilled.parquet", chunk_rows=25, err=io.StringIO())
    parts = pl.read_parquet(tmp_path / "spilled.parquet")
    if spilled == "every chunk":
        assert seen == {"spills": 5, "held at the end": 0}
    else:
        assert 1 <= seen["spills"] < 5 and seen["held at the end"] >= 1
    assert parts.equals(held) and parts.schema == held.schema
    assert held["row"].to_list() == list(range(120)) and "partner.listed" not in held.columns


def test_a_mothers_and_either_parents_service_choose_their_view(engine, evaluator, catalogue):
    """The father answers with his wife's facts: her maternity benefit is hers
    (partner:…), the household's top-up reads her view, and the city's grant is met when
    either parent is registered there."""
    readings = engine.readings
    mother = [s for s in catalogue.services if readings[s] == "mother"]
    either = [s for s in catalogue.services if readings[s] == "either_parent"]
    assert mother and either
    base = {
        "as_of": "2026-03-01",
        "residence": "taichung",
        "person": {"sex": "male", "employment": "employed", "marital_status": "married"},
        "children": [{"birth_date": "2026-02-20", "order": 1}],
        "events": {"birth": {"date": "2026-02-20", "kind": "live"}},
    }
    her = {"sex": "female", "employment": "employed", "labor_insurance_days": 900, "insured_salary": 30000}
    profiles = [
        Profile.model_validate(base | {"partner": p}) for p in (her, {}, False, {"sex": "male"}, None)
    ]
    rows = evaluate_profiles(catalogue, profiles, families=True)
    for profile, row in zip(profiles, rows, strict=True):
        assert {k: v for k, v in row.items() if v is not None} == _family_statuses(engine, profile)
    assert rows[0]["partner:labor-insurance-maternity-benefit"] == "eligible"
    assert rows[2]["partner:labor-insurance-maternity-benefit"] is None  # no partner object


def test_the_applicants_own_job_loss_is_not_the_partners(engine, catalogue, evaluator):
    """A job loss is the applicant's own (family.APPLICANTS_OWN_EVENTS): the partner's
    view reads it as not listed, so an employed partner is no job seeker and an
    unemployed one is, whatever the applicant lost; a claim on the job loss itself stays
    the applicant's. The columns say what recommend says."""
    base = {
        "as_of": "2026-03-01",
        "person": {"employment": "unemployed"},
        "events": {"job_loss": {"date": "2026-02-15", "involuntary": True}},
    }
    profiles = [
        Profile.model_validate(base | {"partner": {"employment": e}})
        for e in ("employed", "unemployed", None)
    ]
    rows = evaluate_profiles(catalogue, profiles, families=True)
    for profile, row in zip(profiles, rows, strict=True):
        assert {k: v for k, v in row.items() if v is not None} == _family_statuses(engine, profile)
    assert [r["job-seeker-registration"] for r in rows] == ["eligible"] * 3
    assert [r["partner:job-seeker-registration"] for r in rows] == ["ineligible", "eligible", "unknown"]
    assert "partner:unemployment-benefit" not in rows[0]


def test_partner_listed_reads_as_events_listed_does(catalogue, evaluator):
    frame = pl.DataFrame(
        {
            "person.sex": ["male", "male", "male", "male", "male", "male", "male"],
            "partner.listed": ["true", "false", None, None, "maybe", "false", "TRUE"],
            "partner.sex": [None, None, "female", None, None, "female", None],
            "partner.insured_salary": [None, None, None, None, None, None, "-5"],
        }
    )
    chunk = normalise(frame, 0, date(2026, 3, 1))
    assert chunk.partner
    assert [r for r, _ in chunk.problems] == [4, 5, 6]
    assert "partner.listed" in chunk.problems[0][1] and "partner.insured_salary" in chunk.problems[2][1]
    assert chunk.frame["partner.listed"].to_list()[:4] == [True, False, True, None]
    cells = frame.head(4).to_dicts()
    assert [unflatten_row(c).get("partner", "absent") for c in cells] == [
        {},
        False,
        {"sex": "female"},
        "absent",
    ]
    statuses = evaluator.statuses(chunk)
    assert statuses["partner:maternity-leave"].to_list() == [
        "unknown",
        None,
        "unknown",
        None,
        *["invalid"] * 3,
    ]
    # the flattened form of each partner kind reads back to the same profile
    for partner in ({}, False, {"sex": "female", "insured_salary": 30000}):
        profile = Profile.model_validate({"partner": partner})
        typed = normalise(_frame_of([profile]), 0, date(2026, 3, 1)).frame.row(0, named=True)
        assert Profile.model_validate(unflatten_row(typed)).partner == profile.partner


def test_without_partner_columns_the_output_is_as_before(catalogue, tmp_path):
    """No partner column: no partner:… column, and the same bytes whether the partner
    columns are left out or the input has none (the old path is untouched)."""
    rng = random.Random(3)
    profiles = [Profile.model_validate(random_profile_data(rng)) for _ in range(50)]
    _frame_of(profiles).write_csv(tmp_path / "in.csv")
    (tmp_path / "in.jsonl").write_text(
        "\n".join(p.model_dump_json(exclude_none=True) for p in profiles) + "\n"
    )
    for fmt in ("csv", "jsonl"):
        run_batch(catalogue, tmp_path / f"in.{fmt}", tmp_path / f"out-{fmt}.csv", err=io.StringIO())
    out = pl.read_csv(tmp_path / "out-csv.csv")
    assert out.columns == ["row", *catalogue.services]
    assert (tmp_path / "out-csv.csv").read_bytes() == (tmp_path / "out-jsonl.csv").read_bytes()
    empty = tmp_path / "empty.csv"
    empty.write_text("person.sex,partner.listed\n")
    run_batch(catalogue, empty, tmp_path / "out-empty.csv", err=io.StringIO())
    assert pl.read_csv(tmp_path / "out-empty.csv").columns[-1].startswith("partner:")


def test_every_case_profile_gets_the_engine_s_answers_from_the_batch_evaluator(engine, catalogue):
    """The worked examples of the spec (tests/cases, 781 of them) through both backends:
    the batch evaluator's polars columns give every service of every case's profile the
    status the per-profile engine gives, with the partner's view (partner:SERVICE, the
    household services choosing between the two adults) as Engine.recommend has it.
    Each backend is checked against the cases' expected outputs elsewhere; this holds
    them to each other on every service, not only those a case names."""
    from collections import defaultdict

    from engine.services.cases import load_cases

    by_day: dict[date, list[Profile]] = defaultdict(list)
    for case in load_cases(ROOT / "tests" / "cases"):
        profile = validate_profile(case.input)
        day = case.as_of or profile.as_of
        assert day is not None, f"{case.file}: case {case.index} has no date"
        by_day[day].append(profile)
    assert sum(map(len, by_day.values())) >= 700
    for day, profiles in sorted(by_day.items()):
        rows = evaluate_profiles(catalogue, profiles, as_of=day, families=True)
        for profile, row in zip(profiles, rows, strict=True):
            rec = engine.recommend(profile, as_of=day)
            expected = {r.service: r.status for r in rec.results} | {
                f"partner:{r.service}": r.status for r in rec.partner_results
            }
            assert {k: v for k, v in row.items() if v is not None} == expected, (day, profile)
