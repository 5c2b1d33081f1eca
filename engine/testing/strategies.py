"""Hypothesis strategies for citizen profiles, derived from the profile model and the rules.

Testers use them in their own suites::

    from hypothesis import given
    from engine import load_catalogue
    from engine.testing.strategies import edge_profiles, invalid_profiles, partial_profiles

    CATALOGUE = load_catalogue(".")

    @given(edge_profiles(CATALOGUE, service="low-income-household"))
    def test_my_reading(data): ...        # data is a raw profile dict, as JSON would carry it

Nothing here lists services, fields or thresholds by hand. Two sources feed everything,
so a new field or a new threshold is fuzzed the day it is written:

- the profile model (``engine/language/profile.py``): which fields exist, their types, enum values
  and bounds (``FieldSpec``);
- the rules: every comparison (``Criterion``), the context it is read in (a city's branch,
  a child, an event) and its threshold, resolved at the profile's ``as_of`` and index
  (the minimum living expense of the household's own area, for instance).

Each generator is written once against a three-method :class:`Source` (integer, choice,
flag). Hypothesis backs the public strategies, so testers get shrinking; ``random.Random``
backs ``lifeevents fuzz``, which must make 100,000 profiles in minutes (Hypothesis draws
cost ~8 ms per profile of this size; the random source ~0.1 ms).

Shrinking direction: every ``flag`` shrinks to False, and the generators are written so
that False means "the simpler profile" (a field left out, no event, no child).
"""

from __future__ import annotations

import math
import random
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, Protocol

from hypothesis import reject as hypothesis_reject
from hypothesis import strategies as st
from pydantic import BaseModel

from engine.backends.logic import Env, eval_expr, overrides_of
from engine.language.catalog import Catalogue
from engine.language.facts import (
    CHILD_DERIVED,
    MLE_AREA,
    PROFILE_DERIVED,
    Derived,
    Unknown,
    add_months,
    age_on,
    child_facts,
    coming_school_year_start,
    mle_area,
    profile_facts,
)
from engine.language.profile import (
    EARLIEST_DATE,
    EVENT_NAMES,
    LATEST_DATE,
    MAX_CHILDREN,
    RESIDENCES,
    Child,
    Events,
    Profile,
    ProfileError,
    validate_profile,
)
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
    Unencoded,
    expr_parts,
    walk,
)
from engine.language.semantics import Semantics
from engine.services.recommend import effective_condition

# --- sources of randomness -------------------------------------------------------------


class Source(Protocol):
    """Where a generator gets its choices: Hypothesis (shrinkable) or random (fast)."""

    def integer(self, lo: int, hi: int) -> int: ...

    def choice(self, seq: Sequence[Any]) -> Any: ...

    def flag(self, p: float) -> bool: ...

    def permutation(self, seq: Sequence[Any]) -> list[Any]: ...

    def reject(self) -> typing.NoReturn: ...


class Rejected(Exception):
    """A random-backed generator drew something it cannot use; the caller draws again."""


class RandomSource:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, seq: Sequence[Any]) -> Any:
        return seq[self.rng.randrange(len(seq))]

    def flag(self, p: float) -> bool:
        return self.rng.random() < p

    def permutation(self, seq: Sequence[Any]) -> list[Any]:
        return self.rng.sample(list(seq), len(seq))

    def reject(self) -> typing.NoReturn:
        raise Rejected()


class DrawSource:
    """A Source over Hypothesis' ``draw``: every choice is a shrinkable draw."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]):
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def choice(self, seq: Sequence[Any]) -> Any:
        return self.draw(st.sampled_from(list(seq)))

    def flag(self, p: float) -> bool:
        # True with probability p; the draw shrinks to 0, which reads False.
        if p <= 0:
            return False
        if p >= 1:
            return True
        return self.draw(st.integers(0, 999)) >= round(1000 * (1 - p))

    def permutation(self, seq: Sequence[Any]) -> list[Any]:
        return self.draw(st.permutations(list(seq)))

    def reject(self) -> typing.NoReturn:
        hypothesis_reject()
        raise AssertionError("unreachable")  # reject() raises; this keeps type checkers honest


# --- the profile model, read as field specifications -------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One leaf field of the profile: its fact path, type and bounds (from the model)."""

    path: str  # the fact path: "person.sex", "events.birth.date", "child.order"
    kind: str  # enum | bool | int | float | date | list_enum
    values: tuple[Any, ...] = ()
    lo: float | None = None
    hi: float | None = None
    step: float | None = None  # multiple_of

    @property
    def key(self) -> str:
        return self.path.rsplit(".", 1)[-1]


def _unwrap(annotation: Any) -> tuple[Any, dict[str, Any]]:
    """The type under Optional/Annotated, and the constraints pydantic keeps beside it."""
    bounds: dict[str, Any] = {}
    ann = annotation
    while True:
        origin = typing.get_origin(ann)
        args = typing.get_args(ann)
        if origin in (typing.Union, types.UnionType):
            inner = [a for a in args if a is not type(None)]
            ann = inner[0]
            continue
        if origin is typing.Annotated:
            ann = args[0]
            for meta in args[1:]:
                for item in getattr(meta, "metadata", [meta]):
                    for name in ("ge", "le", "gt", "lt", "multiple_of", "max_length"):
                        if hasattr(item, name):
                            bounds[name] = getattr(item, name)
            continue
        return ann, bounds


def _spec(path: str, annotation: Any) -> FieldSpec | None:
    ann, b = _unwrap(annotation)
    origin = typing.get_origin(ann)
    lo = b.get("ge", b.get("gt"))
    hi = b.get("le", b.get("lt"))
    if origin is typing.Literal:
        return FieldSpec(path, "enum", tuple(typing.get_args(ann)))
    if ann is bool:
        return FieldSpec(path, "bool", (True, False))
    if ann is int:
        return FieldSpec(path, "int", lo=lo, hi=hi, step=b.get("multiple_of"))
    if ann is float:
        return FieldSpec(path, "float", lo=lo, hi=hi, step=b.get("multiple_of"))
    if ann is date:
        return FieldSpec(path, "date")
    if origin is list:
        (item,) = typing.get_args(ann)
        if typing.get_origin(item) is typing.Literal:
            return FieldSpec(path, "list_enum", tuple(typing.get_args(item)))
    return None  # a nested model: walked by the caller


def _model_specs(model: type[BaseModel], prefix: str) -> list[FieldSpec]:
    out = []
    for name, info in model.model_fields.items():
        spec = _spec(f"{prefix}{name}", info.annotation)
        if spec is not None:
            out.append(spec)
    return out


@dataclass(frozen=True)
class ProfileShape:
    """The profile model as data: top-level fields, sections, events and the child."""

    top: tuple[FieldSpec, ...]  # as_of, residence
    sections: dict[str, tuple[FieldSpec, ...]]  # person, household, assets, student_loan
    events: dict[str, tuple[FieldSpec, ...]]
    child: tuple[FieldSpec, ...]
    max_children: int

    def all_specs(self) -> Iterable[FieldSpec]:
        yield from self.top
        for specs in self.sections.values():
            yield from specs
        for specs in self.events.values():
            yield from specs
        yield from self.child

    def spec(self, path: str) -> FieldSpec | None:
        for s in self.all_specs():
            if s.path == path:
                return s
        return None


@lru_cache(maxsize=1)
def profile_shape() -> ProfileShape:
    top: list[FieldSpec] = []
    sections: dict[str, tuple[FieldSpec, ...]] = {}
    for name, info in Profile.model_fields.items():
        if name in ("children", "events"):
            continue
        spec = _spec(name, info.annotation)
        if spec is not None:
            top.append(spec)
            continue
        ann, _ = _unwrap(info.annotation)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            sections[name] = tuple(_model_specs(ann, f"{name}."))
    events = {}
    for name in EVENT_NAMES:
        ann, _ = _unwrap(Events.model_fields[name].annotation)
        events[name] = tuple(_model_specs(ann, f"events.{name}."))
    return ProfileShape(
        top=tuple(top),
        sections=sections,
        events=events,
        child=tuple(_model_specs(Child, "child.")),
        max_children=MAX_CHILDREN,
    )


# --- what the rules compare ----------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    """One leaf comparison of a service's effective condition, with where it is read."""

    service: str
    id: str
    compare: Compare
    scope: str  # "profile" or "child"
    quantifier: str | None  # "born" or "newborn" inside some_child / some_newborn
    switches: tuple[tuple[str, str | None, tuple[str, ...]], ...]  # (fact, case or None=default, cases)
    positive: bool  # an even number of `not` lies above it

    @property
    def fact(self) -> str | None:
        """The fact the criterion is about (the FactRef side), or None."""
        if isinstance(self.compare.lhs, FactRef):
            return self.compare.lhs.path
        if isinstance(self.compare.rhs, FactRef):
            return self.compare.rhs.path
        return None

    @property
    def other(self) -> Expr:
        """The threshold side."""
        return self.compare.rhs if isinstance(self.compare.lhs, FactRef) else self.compare.lhs

    @property
    def op(self) -> str:
        """The operator read as ``fact OP threshold``."""
        if isinstance(self.compare.lhs, FactRef):
            return self.compare.op
        mirror = {"lt": "gt", "gt": "lt", "lte": "gte", "gte": "lte"}
        return mirror.get(self.compare.op, self.compare.op)


CRITERIA = Semantics("generation", "condition", "the criteria a profile can be placed at the edge of")
SEEDS = Semantics("generation", "expression", "the numbers and dates worth drawing near")


@dataclass(frozen=True)
class _Place:
    """Where a node is read: what the criteria below it are collected with."""

    service: str
    out: list[Criterion]
    scope: str = "profile"
    quantifier: str | None = None
    switches: tuple = ()
    positive: bool = True


def _criteria(service: str, cond: Condition) -> list[Criterion]:
    out: list[Criterion] = []
    CRITERIA(cond, _Place(service, out))
    return out


@CRITERIA.of(Compare)
def _compare_criteria(node: Compare, at: _Place) -> None:
    at.out.append(Criterion(at.service, node.id, node, at.scope, at.quantifier, at.switches, at.positive))


@CRITERIA.of(All, AnyOf)
def _combination_criteria(node: All | AnyOf, at: _Place) -> None:
    for item in node.items:
        CRITERIA(item, at)


@CRITERIA.of(Not)
def _not_criteria(node: Not, at: _Place) -> None:
    CRITERIA(node.item, replace(at, positive=not at.positive))


@CRITERIA.of(SomeChild)
def _quantifier_criteria(node: SomeChild, at: _Place) -> None:
    CRITERIA(node.body, replace(at, scope="child", quantifier=node.range))


@CRITERIA.of(Switch)
def _switch_criteria(node: Switch, at: _Place) -> None:
    cases = tuple(c for c, _ in node.cases)
    for case, branch in node.cases:
        CRITERIA(branch, replace(at, switches=(*at.switches, (node.fact, case, cases))))
    if node.default is not None:
        CRITERIA(node.default, replace(at, switches=(*at.switches, (node.fact, None, cases))))


@CRITERIA.of(Unencoded, Const)
def _no_criteria(node: Unencoded | Const, at: _Place) -> None:
    """Nothing in a profile moves them: no edge to place it at."""


_DERIVED = {d.path: d for d in (*PROFILE_DERIVED, *CHILD_DERIVED)}


def base_inputs(path: str) -> set[str]:
    """The base facts a fact reads (itself when it is a base fact)."""
    if path.startswith("person.special_circumstances."):
        return {"person.special_circumstances"}
    derived = _DERIVED.get(path)
    if derived is None:
        return {path}
    out: set[str] = set()
    for p in derived.inputs:
        out |= base_inputs(p)
    return out


@dataclass(frozen=True)
class RuleModel:
    """Everything the generators and properties need to know about one catalogue."""

    catalogue: Catalogue
    shape: ProfileShape
    services: tuple[str, ...]
    criteria: tuple[Criterion, ...]
    universe: dict[str, tuple[str, ...]]  # service -> criterion ids, in rule order
    exempt: dict[str, dict[str, str]]  # service -> {criterion id: why}
    targets: tuple[Criterion, ...]  # criteria the edge generator can place a profile on
    untargetable: tuple[Criterion, ...]
    pools: dict[str, tuple[float, ...]]  # fact path -> numbers the rules compare it with
    dates: tuple[date, ...]  # dates the rules and parameters turn on
    full_years: tuple[int, ...]  # years in which every annual parameter has a value
    param_years: dict[str, tuple[int, ...] | None]  # annual parameter -> its years
    reads: dict[str, frozenset[str]]  # service -> base facts its condition reads
    domains: dict[str, tuple[Any, ...]]  # categorical fact -> its values
    overrides: dict[str, list] = field(default_factory=dict)

    def criteria_of(self, service: str) -> list[Criterion]:
        return [c for c in self.criteria if c.service == service]


def _condition_reads(cond: Condition) -> set[str]:
    """Base facts read by a condition: compared facts, parameter indexes, switch keys,
    the children of a quantifier and the events it guards on."""
    out: set[str] = set()
    for node in walk(cond):
        if isinstance(node, Compare):
            for expr in (node.lhs, node.rhs):
                for part in expr_parts(expr):
                    if isinstance(part, FactRef):
                        out |= base_inputs(part.path)
                    elif isinstance(part, ParamRef):
                        out.add(f"param:{part.name}")
        elif isinstance(node, Switch):
            out |= base_inputs(node.fact)
        elif isinstance(node, SomeChild):
            out.add("children")
            out.add("child.birth_date")  # the range: born by as_of, or born on the birth date
    return out


def _static_values(expr: Expr, catalogue: Catalogue) -> set[Any]:
    """Literal numbers and dates and every value a referenced parameter ever takes."""
    return SEEDS(expr, catalogue)


@SEEDS.of(Literal)
def _literal_seeds(expr: Literal, catalogue: Catalogue) -> set[Any]:
    value = expr.value
    return {value} if isinstance(value, int | float | date) and not isinstance(value, bool) else set()


@SEEDS.of(FactRef)
def _fact_seeds(expr: FactRef, catalogue: Catalogue) -> set[Any]:
    return set()  # the profile's own value: what is drawn, not what it is drawn near


@SEEDS.of(ParamRef)
def _param_seeds(expr: ParamRef, catalogue: Catalogue) -> set[Any]:
    out = _static_values(expr.at, catalogue) if expr.at is not None else set()
    param = catalogue.parameters.get(expr.name)
    if param is None:
        return out
    for pv in param.values:
        items = pv.value.values() if isinstance(pv.value, dict) else [pv.value]
        out |= {v for v in items if isinstance(v, int | float) and not isinstance(v, bool)}
    return out


@SEEDS.of(Arith, DateAdd, Cases)
def _composite_seeds(expr: Arith | DateAdd | Cases, catalogue: Catalogue) -> set[Any]:
    out: set[Any] = set()
    for part in _direct_parts(expr):
        out |= _static_values(part, catalogue)
    return out


def _direct_parts(expr: Arith | DateAdd | Cases) -> tuple[Expr, ...]:
    if isinstance(expr, Arith):
        return expr.args
    if isinstance(expr, DateAdd):
        return tuple(p for p in (expr.base, expr.days, expr.months, expr.years) if p is not None)
    return (*(v for _, v in expr.branches), *((expr.otherwise,) if expr.otherwise is not None else ()))


CRITERIA.check_complete()
SEEDS.check_complete()


def _all_compares(catalogue: Catalogue) -> Iterable[Compare]:
    """Every comparison in the rules, eligibility or not (amounts, notes), for the pools."""
    for layer in catalogue.rules.values():
        for rule in layer.values():
            conds: list[Condition] = [rule.eligibility, *(n.when for n in rule.notes)]
            for money in (rule.amount, rule.fee):
                if money is not None and money.where is not None:
                    conds.append(money.where)
            for cond in conds:
                for node in walk(cond):
                    if isinstance(node, Compare):
                        yield node


def _domains() -> dict[str, tuple[Any, ...]]:
    from engine.language.validate import enum_values

    shape = profile_shape()
    out: dict[str, tuple[Any, ...]] = dict(enum_values())
    for spec in shape.all_specs():
        if spec.kind == "bool":
            out[spec.path] = (True, False)
    for event in EVENT_NAMES:
        out[f"events.{event}.listed"] = (True, False)
    for item in out.get("person.special_circumstances", ()):
        out[f"person.special_circumstances.{item}"] = (True, False)
    out["child.born"] = (True, False)
    out["child.is_newborn"] = (True, False)
    return out


_MODELS: dict[str, RuleModel] = {}


def rule_model(catalogue: Catalogue) -> RuleModel:
    """The analysis of ``catalogue`` (cached per rules version)."""
    key = f"{catalogue.root}|{catalogue.version}"
    if key in _MODELS:
        return _MODELS[key]
    services = tuple(catalogue.services)
    criteria: list[Criterion] = []
    universe: dict[str, tuple[str, ...]] = {}
    reads: dict[str, frozenset[str]] = {}
    exempt: dict[str, dict[str, str]] = {}
    for sid in services:
        cond = effective_condition(catalogue, sid)
        found = _criteria(sid, cond)
        criteria.extend(found)
        universe[sid] = tuple(dict.fromkeys(c.id for c in found))
        reads[sid] = frozenset(_condition_reads(cond))
        merged: dict[str, str] = {}
        for rule in catalogue.rules.get(sid, {}).values():
            merged |= {str(k): str(v) for k, v in rule.coverage_exempt.items()}
        exempt[sid] = merged
    pools: dict[str, set[Any]] = {}
    dates: set[date] = set()
    for node in _all_compares(catalogue):
        for fact_side, other in ((node.lhs, node.rhs), (node.rhs, node.lhs)):
            if isinstance(fact_side, FactRef):
                values = _static_values(other, catalogue)
                pools.setdefault(fact_side.path, set()).update(v for v in values if not isinstance(v, date))
                dates |= {v for v in values if isinstance(v, date)}
    param_years: dict[str, tuple[int, ...] | None] = {}
    for name, param in catalogue.parameters.items():
        dates |= {v.effective_from for v in param.values}
        param_years[name] = (
            tuple(sorted({v.effective_from.year for v in param.values})) if param.period == "year" else None
        )
    annual = [set(y) for y in param_years.values() if y]
    full = set.intersection(*annual) if annual else set()
    if not full:
        full = set.union(*annual) if annual else {date.today().year}
    domains = _domains()
    targets = tuple(c for c in criteria if _targetable(c, domains))
    model = RuleModel(
        catalogue=catalogue,
        shape=profile_shape(),
        services=services,
        criteria=tuple(criteria),
        universe=universe,
        exempt=exempt,
        targets=targets,
        untargetable=tuple(c for c in criteria if c not in targets),
        pools={k: tuple(sorted(v)) for k, v in pools.items()},
        dates=tuple(sorted(dates)),
        full_years=tuple(sorted(full)),
        param_years=param_years,
        reads=reads,
        domains=domains,
        overrides=overrides_of(catalogue),
    )
    _MODELS[key] = model
    return model


def _targetable(c: Criterion, domains: dict[str, tuple[Any, ...]]) -> bool:
    fact = c.fact
    if fact is None:
        return False
    if c.op in ("eq", "neq", "in", "not_in") and fact in domains:
        return True
    return fact in SETTERS or _is_base(fact)


# --- building profile dicts --------------------------------------------------------------

DAY = timedelta(days=1)

# Realism hints for dates, in days relative to as_of; any other date field gets DEFAULT.
DATE_WINDOWS: dict[str, tuple[int, int]] = {
    "person.birth_date": (-100 * 365, 0),
    "person.residence_registered_since": (-40 * 365, 0),
    "child.birth_date": (-25 * 365, 270),  # a little in the future: an expected baby
}
EVENT_DATE_WINDOW = (-7 * 365, 365)
DEFAULT_DATE_WINDOW = (-30 * 365, 365)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step) + 1e-9))


def _quantize(value: float, spec: FieldSpec) -> float | int:
    if spec.kind == "int":
        return round(value)
    step = spec.step or 0.01
    return round(round(value / step) * step, _decimals(step))


def _clamp(value: float, spec: FieldSpec) -> float:
    lo = spec.lo if spec.lo is not None else 0
    hi = spec.hi if spec.hi is not None else 10**9
    return min(max(value, lo), hi)


def gen_number(src: Source, spec: FieldSpec, pool: Sequence[float] = ()) -> float | int:
    """A number for ``spec``: near a threshold the rules use, small, at a bound, or log-uniform."""
    lo = spec.lo if spec.lo is not None else 0
    hi = spec.hi if spec.hi is not None else 10**9
    step = 1 if spec.kind == "int" else (spec.step or 0.01)
    if pool and src.flag(0.5):
        t = src.choice(pool)
        return _quantize(_clamp(t + src.choice((0, -1, 1)) * step, spec), spec)
    if src.flag(0.04):
        return _quantize(src.choice((hi, lo)), spec)
    if hi - lo <= 20 * step or src.flag(0.1):
        return _quantize(lo + src.integer(0, int(min(hi - lo, 10 * step) / step)) * step, spec)
    if hi <= 1:
        return _quantize(lo + src.integer(0, int((hi - lo) / step)) * step, spec)
    digits = len(str(int(hi)))
    e = src.integer(0, digits)
    low = 10 ** (e - 1) if e else 0
    whole = src.integer(min(low, int(hi)), min(10**e - 1 if e else 9, int(hi)))
    frac = 0 if spec.kind == "int" else src.integer(0, round(1 / step) - 1) * step
    return _quantize(_clamp(whole + frac, spec), spec)


def within_profile_dates(day: date) -> date:
    """A date the profile model accepts: a birth 100 years before a 1990 as_of would be
    1890, and the day before a parameter dated 1900-01-01 is 1899-12-31."""
    return min(max(day, EARLIEST_DATE), LATEST_DATE)


def gen_date(src: Source, path: str, as_of: date, pool: Sequence[date] = ()) -> date:
    if pool and src.flag(0.1):
        return within_profile_dates(src.choice(pool) + DAY * src.choice((0, -1, 1)))
    if path.startswith("events."):
        lo, hi = EVENT_DATE_WINDOW
    else:
        lo, hi = DATE_WINDOWS.get(path, DEFAULT_DATE_WINDOW)
    return within_profile_dates(as_of + DAY * src.integer(lo, hi))


def gen_value(src: Source, spec: FieldSpec, model: RuleModel | None, as_of: date) -> Any:
    """A valid value for one field, as a profile file carries it (dates as ISO strings)."""
    if spec.kind == "enum":
        return src.choice(spec.values)
    if spec.kind == "bool":
        return src.flag(0.5)
    if spec.kind == "list_enum":
        return [v for v in spec.values if src.flag(0.15)]
    if spec.kind == "date":
        return gen_date(src, spec.path, as_of, model.dates if model else ()).isoformat()
    pool: Sequence[float] = ()
    if model is not None:
        pool = model.pools.get(spec.path, ())
    return gen_number(src, spec, pool)


def gen_as_of(src: Source, model: RuleModel | None, years: Sequence[int] | None = None) -> date:
    """An evaluation date: mostly in a year whose annual parameters are all published, so
    that means tests decide; sometimes anywhere the rules' dates reach, or on one of them."""
    full = list(years or (model.full_years if model else ())) or [date.today().year]
    if years is None and model is not None and src.flag(0.3):
        if model.dates and src.flag(0.5):
            return within_profile_dates(src.choice(model.dates) + DAY * src.choice((0, -1, 1)))
        lo = min(model.dates).year if model.dates else full[0] - 5
        year = src.integer(max(lo, 1990), max(full) + 1)
    else:
        year = src.choice(full)
    return date(year, 1, 1) + DAY * src.integer(0, 364)


def _gen_fields(
    src: Source, specs: Iterable[FieldSpec], model: RuleModel | None, as_of: date, keep: float
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in specs:
        if keep < 1 and not src.flag(keep):
            if src.flag(0.15):
                out[spec.key] = None  # "absent or null is unknown": both spellings occur
            continue
        out[spec.key] = gen_value(src, spec, model, as_of)
    return out


def gen_child(src: Source, model: RuleModel | None, as_of: date, keep: float = 1.0) -> dict[str, Any]:
    return _gen_fields(src, profile_shape().child, model, as_of, keep)


def gen_children(src: Source, model: RuleModel | None, as_of: date, keep: float = 1.0) -> list[dict]:
    n = src.integer(0, 2) + (src.integer(0, 3) if src.flag(0.1) else 0)
    kids = [gen_child(src, model, as_of, keep) for _ in range(n)]
    for i, kid in enumerate(kids):
        # Realism: the first child is usually order 1, the next 2 (drawn, so it shrinks away).
        if "order" in kid and src.flag(0.5):
            kid["order"] = i + 1
    return kids


def gen_event(src: Source, name: str, model: RuleModel | None, as_of: date, keep: float = 1.0) -> dict:
    return _gen_fields(src, profile_shape().events[name], model, as_of, keep)


def gen_events(src: Source, model: RuleModel | None, as_of: date, keep: float = 1.0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in EVENT_NAMES:
        if not src.flag(0.35):
            continue  # not listed: did not happen
        if keep < 1 and src.flag(0.12):
            out[name] = None  # listed as null: unknown whether it happened
        else:
            out[name] = gen_event(src, name, model, as_of, keep)
    return out


def gen_profile(
    src: Source, model: RuleModel | None, keep: float = 1.0, as_of: date | None = None
) -> dict[str, Any]:
    """A valid profile dict. ``keep`` is the chance that a field is known (1: complete)."""
    shape = profile_shape()
    day = as_of or gen_as_of(src, model)
    data: dict[str, Any] = {"as_of": day.isoformat()}
    for spec in shape.top:
        if spec.path == "as_of":
            continue
        if keep < 1 and not src.flag(keep):
            continue
        data[spec.key] = gen_value(src, spec, model, day)
    for section, specs in shape.sections.items():
        if section == "partner":
            continue  # below: a partner is absent, null, {}, false or an object
        fields = _gen_fields(src, specs, model, day, keep)
        if fields or keep == 1 or src.flag(0.5):
            data[section] = fields
    gen_partner(src, model, data, day, keep)
    if keep == 1 or src.flag(0.8):
        data["children"] = gen_children(src, model, day, keep)
    elif src.flag(0.3):
        data["children"] = None
    if keep == 1 or src.flag(0.85):
        data["events"] = gen_events(src, model, day, keep)
    elif src.flag(0.3):
        data["events"] = None
    _newborn_in_children(src, data)
    return data


PARTNER_KINDS = ("absent", "null", "empty", "false", "object", "object", "object")
"""profile.md, "Families": absent or null, not considered; ``{}``, a partner whose facts
are unknown; ``false``, no partner; an object, a partner with some facts."""


def gen_partner(src: Source, model: RuleModel | None, data: dict[str, Any], as_of: date, keep: float) -> None:
    """Give ``data`` a partner of a drawn kind. An object's facts are drawn as the
    person's are (the person's paths, so that the rules' thresholds are met: the partner's
    view reads them as ``person.*``); mostly of the other sex, as in a birth's couple."""
    # A complete profile (keep 1) knows every fact: its partner is not one whose facts are unknown.
    kind = src.choice(PARTNER_KINDS if keep < 1 else tuple(k for k in PARTNER_KINDS if k != "empty"))
    if kind == "absent":
        return
    if kind in ("null", "empty", "false"):
        data["partner"] = {"null": None, "empty": {}, "false": False}[kind]
        return
    partner = _gen_fields(src, profile_shape().sections["person"], model, as_of, keep)
    sex = (data.get("person") or {}).get("sex")
    if sex is not None and partner.get("sex") is not None and src.flag(0.7):
        partner["sex"] = "male" if sex == "female" else "female"
    data["partner"] = partner


def _newborn_in_children(src: Source, data: dict[str, Any]) -> None:
    """rules.md: the newborn of a birth event is listed in children too (the UI does both)."""
    birth = (data.get("events") or {}).get("birth")
    kids = data.get("children")
    if isinstance(birth, dict) and birth.get("date") and kids and src.flag(0.5):
        kids[src.integer(0, len(kids) - 1)]["birth_date"] = birth["date"]


# --- editing a profile so that a fact takes a value -------------------------------------


def _is_base(path: str) -> bool:
    shape = profile_shape()
    if path in ("as_of", "residence"):
        return True
    if path.startswith("person.special_circumstances."):
        return True
    if path.startswith("events.") and path.endswith(".listed"):
        return True
    return shape.spec(path) is not None


class Editor:
    """Sets facts of a profile dict, base or derived, keeping the dict a valid profile."""

    def __init__(self, data: dict[str, Any], model: RuleModel, src: Source, child: int | None = None):
        self.data = data
        self.model = model
        self.src = src
        self.child = child

    # -- reading ----------------------------------------------------------------------------
    @property
    def as_of(self) -> date:
        return date.fromisoformat(self.data["as_of"])

    def container(self, path: str, create: bool = True) -> dict[str, Any] | None:
        """The dict that holds the field of fact ``path``."""
        head = path.split(".")
        if path.startswith("child."):
            kids = self.data.get("children")
            if not kids:
                if not create:
                    return None
                kids = self.data["children"] = [gen_child(self.src, self.model, self.as_of)]
            index = self.child if self.child is not None and self.child < len(kids) else 0
            self.child = index
            return kids[index]
        if head[0] == "events":
            events = self.data.get("events")
            if not isinstance(events, dict):
                if not create:
                    return None
                events = self.data["events"] = {}
            event = events.get(head[1])
            if not isinstance(event, dict):
                if not create:
                    return None
                event = events[head[1]] = gen_event(self.src, head[1], self.model, self.as_of)
            return event
        if len(head) == 1:
            return self.data
        section = self.data.get(head[0])
        if not isinstance(section, dict):
            if not create:
                return None
            section = self.data[head[0]] = {}
        return section

    def get(self, path: str) -> Any:
        box = self.container(path, create=False)
        if box is None:
            return None
        value = box.get(path.rsplit(".", 1)[-1])
        spec = self.model.shape.spec(path)
        if value is not None and spec is not None and spec.kind == "date":
            return date.fromisoformat(value)
        return value

    def known(self, path: str) -> Any:
        """The value of a base field, generating one first when it is unknown."""
        value = self.get(path)
        if value is None:
            spec = self.model.shape.spec(path)
            assert spec is not None, path
            self.set_base(path, gen_value(self.src, spec, self.model, self.as_of))
            value = self.get(path)
        return value

    # -- writing ----------------------------------------------------------------------------
    def set_base(self, path: str, value: Any) -> None:
        if path.startswith("person.special_circumstances."):
            item = path.rsplit(".", 1)[1]
            box = self.container("person.x")
            assert box is not None
            items = [x for x in (box.get("special_circumstances") or []) if x != item]
            box["special_circumstances"] = [*items, item] if value else items
            return
        if path.startswith("events.") and path.endswith(".listed"):
            name = path.split(".")[1]
            events = self.data.get("events")
            if not isinstance(events, dict):
                events = self.data["events"] = {}
            if value:
                if not isinstance(events.get(name), dict):
                    events[name] = gen_event(self.src, name, self.model, self.as_of)
            else:
                events.pop(name, None)
            return
        box = self.container(path)
        assert box is not None
        box[path.rsplit(".", 1)[-1]] = _iso(value)

    def place(self, path: str, value: Any) -> None:
        """Make fact ``path`` equal ``value`` (as near as whole units allow)."""
        setter = SETTERS.get(path)
        if setter is not None:
            setter.place(self, value)
        else:
            self.set_base(path, value)

    def edge(self, path: str, threshold: Any) -> None:
        """Put fact ``path`` just below, at or just above ``threshold``."""
        setter = SETTERS.get(path)
        if setter is not None:
            setter.edge(self, threshold)
            return
        spec = self.model.shape.spec(path)
        if path == "as_of" or (spec is not None and spec.kind == "date"):
            self.set_base(path, threshold + DAY * self.src.choice((0, -1, 1)))
            return
        assert spec is not None, path
        self.set_base(path, self.src.choice(numeric_edges(threshold, spec)))


def numeric_edges(t: float, spec: FieldSpec) -> list[float | int]:
    """t−1, t, t+1 in the field's own unit (and both sides of a fractional threshold)."""
    if spec.kind == "int":
        raw: set[float] = {math.floor(t) - 1, math.floor(t), math.ceil(t), math.ceil(t) + 1}
    else:
        step = spec.step or 0.01
        raw = {t - step, t, t + step}
    lo = spec.lo if spec.lo is not None else -math.inf
    hi = spec.hi if spec.hi is not None else math.inf
    out = sorted({_quantize(v, spec) for v in raw if lo <= v <= hi})
    return out or [_quantize(_clamp(t, spec), spec)]


def whole_edges(t: float) -> list[int]:
    return sorted({math.floor(t) - 1, math.floor(t), math.ceil(t), math.ceil(t) + 1})


def latest_birth_for_age(ref: date, age: int) -> date:
    """The last birth date at which one is ``age`` on ``ref`` (the birthday is ``ref``)."""
    return add_months(ref, -12 * age)


def earliest_birth_for_age(ref: date, age: int) -> date:
    """The first birth date at which one is ``age`` on ``ref`` (turning age+1 tomorrow)."""
    return add_months(ref, -12 * (age + 1)) + DAY


class Setter:
    """The inverse of a derived fact: which base fields to write for a wanted value."""

    def place(self, ed: Editor, value: Any) -> None:
        raise NotImplementedError

    def edge(self, ed: Editor, t: Any) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class AgeSetter(Setter):
    birth: str  # the birth-date field
    ref: Callable[[Editor], date]  # the day the age is taken on

    def place(self, ed: Editor, value: Any) -> None:
        age = max(0, int(value))
        ref = self.ref(ed)
        birth = (latest_birth_for_age if ed.src.flag(0.5) else earliest_birth_for_age)(ref, age)
        ed.set_base(self.birth, birth)

    def edge(self, ed: Editor, t: Any) -> None:
        ages = [a for a in whole_edges(float(t)) if a >= 0] or [0]
        self.place(ed, ed.src.choice(ages))


def _event_date(name: str) -> Callable[[Editor], date]:
    def ref(ed: Editor) -> date:
        ed.set_base(f"events.{name}.listed", True)
        return ed.known(f"events.{name}.date")

    return ref


class IncomePerPersonSetter(Setter):
    """income per person = monthly income / size: move the income, keep the size."""

    def _size(self, ed: Editor) -> int:
        return int(ed.known("household.size"))

    def place(self, ed: Editor, value: Any) -> None:
        ed.set_base("household.monthly_income", max(0, round(float(value) * self._size(ed))))

    def edge(self, ed: Editor, t: Any) -> None:
        total = float(t) * self._size(ed)
        ed.set_base(
            "household.monthly_income", ed.src.choice([v for v in whole_edges(total) if v >= 0] or [0])
        )


@dataclass(frozen=True)
class RegisteredBeforeBirthSetter(Setter):
    unit: str  # "months" or "days"

    def _since(self, birth: date, n: int) -> date:
        return add_months(birth, -n) if self.unit == "months" else birth - DAY * n

    def place(self, ed: Editor, value: Any) -> None:
        birth = _event_date("birth")(ed)
        ed.set_base("person.residence_registered_since", self._since(birth, int(value)))

    def edge(self, ed: Editor, t: Any) -> None:
        self.place(ed, ed.src.choice(whole_edges(float(t))))


class SchoolYearSetter(Setter):
    def place(self, ed: Editor, value: Any) -> None:
        ed.set_base("as_of", value)

    def edge(self, ed: Editor, t: Any) -> None:
        ed.set_base("as_of", t + DAY * ed.src.choice((0, -1, 1)))


class AreaSetter(Setter):
    def place(self, ed: Editor, value: Any) -> None:
        residences = [r for r in RESIDENCES if mle_area(r) == value] or list(RESIDENCES)
        ed.set_base("residence", ed.src.choice(residences))

    def edge(self, ed: Editor, t: Any) -> None:
        self.place(ed, t)


class BornSetter(Setter):
    def place(self, ed: Editor, value: Any) -> None:
        offset = -ed.src.integer(0, 5 * 365) if value else ed.src.integer(1, 270)
        ed.set_base("child.birth_date", ed.as_of + DAY * offset)

    def edge(self, ed: Editor, t: Any) -> None:
        self.place(ed, t)


class NewbornSetter(Setter):
    def place(self, ed: Editor, value: Any) -> None:
        born = _event_date("birth")(ed)
        ed.set_base("child.birth_date", born if value else born + DAY * ed.src.choice((-1, 1, -400)))

    def edge(self, ed: Editor, t: Any) -> None:
        self.place(ed, t)


class ChildNationalitySetter(Setter):
    def place(self, ed: Editor, value: Any) -> None:
        ed.set_base("child.nationality", value)

    def edge(self, ed: Editor, t: Any) -> None:
        self.place(ed, t)


def _day_of(on: str) -> Callable[[Editor], date]:
    """The day an age is taken on, as the generator reaches it."""
    if on == "as_of":
        return lambda ed: ed.as_of
    if on == "school_year.start":
        return lambda ed: coming_school_year_start(ed.as_of)
    if on.startswith("events.") and on.endswith(".date"):
        return _event_date(on.split(".")[1])
    raise ValueError(f"no way to reach an age on '{on}'")


def setter_of(derived: Derived) -> Setter | None:
    """The setter of a derived fact, from what its declaration says the generator needs."""
    inverse = derived.inverse
    if inverse is None:
        return None
    kind = inverse.kind
    if kind == "age":
        assert inverse.on is not None, derived.path
        return AgeSetter(inverse.writes, _day_of(inverse.on))
    if kind in ("months_before", "days_before"):
        return RegisteredBeforeBirthSetter("months" if kind == "months_before" else "days")
    simple: dict[str, type[Setter]] = {
        "area": AreaSetter,
        "quotient": IncomePerPersonSetter,
        "as_of": SchoolYearSetter,
        "born": BornSetter,
        "newborn": NewbornSetter,
        "own": ChildNationalitySetter,
    }
    if kind not in simple:
        raise ValueError(f"{derived.path}: no setter for the inverse kind '{kind}'")
    return simple[kind]()


SETTERS: dict[str, Setter] = {
    d.path: setter for d in (*PROFILE_DERIVED, *CHILD_DERIVED) if (setter := setter_of(d)) is not None
}
"""Every derived fact of engine/language/facts.py gets its inverse from its declaration; a new
kind of inverse needs a setter here (setter_of refuses one it does not know)."""


# --- environments --------------------------------------------------------------------------


def env_of(model: RuleModel, profile: Profile, as_of: date | None = None) -> Env:
    """The evaluation environment of a validated profile (what Engine.env builds)."""
    day = as_of or profile.as_of or date.today()
    facts = profile_facts(profile, day)
    children = None
    if profile.children is not None:
        children = [child_facts(profile, i, c, facts) for i, c in enumerate(profile.children)]
    return Env(model.catalogue, day, facts, children, overrides=model.overrides)


def threshold(model: RuleModel, crit: Criterion, data: dict[str, Any], child: int | None) -> Any:
    """The other side of ``crit`` in the profile ``data`` (Unknown when it cannot be had)."""
    try:
        profile = validate_profile(data)
    except ProfileError:
        return Unknown(frozenset({"invalid"}))
    env = env_of(model, profile)
    if crit.scope == "child":
        if not env.children:
            return Unknown(frozenset({"children"}))
        env = env.in_child(child or 0)
    return eval_expr(crit.other, env)


# --- edge profiles -----------------------------------------------------------------------------


def _years_for(model: RuleModel, crit: Criterion) -> list[int] | None:
    """Years in which every annual parameter the criterion reads has a value."""
    years: set[int] | None = None
    for part in (*expr_parts(crit.compare.lhs), *expr_parts(crit.compare.rhs)):
        if isinstance(part, ParamRef):
            found = model.param_years.get(part.name)
            if found:
                years = set(found) if years is None else years & set(found)
    return sorted(years) if years else None


def _apply_context(ed: Editor, crit: Criterion) -> None:
    """Put the profile where the criterion is read: its branch, its event, its child."""
    for fact, case, cases in crit.switches:
        if case is not None:
            ed.place(fact, case)
        else:
            others = [v for v in ed.model.domains.get(fact, ()) if v not in cases]
            if others:
                ed.place(fact, ed.src.choice(others))
    reads = base_inputs(crit.fact or "") | {
        p for part in expr_parts(crit.other) if isinstance(part, FactRef) for p in base_inputs(part.path)
    }
    for path in sorted(reads):
        if path.startswith("events.") and not path.endswith(".listed"):
            ed.set_base(f"events.{path.split('.')[1]}.listed", True)
    if crit.scope == "child":
        kids = ed.data.get("children")
        if not kids:
            kids = ed.data["children"] = [gen_child(ed.src, ed.model, ed.as_of)]
        index = ed.src.integer(0, len(kids) - 1)
        if ed.src.flag(0.5):
            # A lone child: other children would hide its reasons when one of them qualifies.
            ed.data["children"] = [kids[index]]
            index = 0
        ed.child = index
        if crit.quantifier == "newborn":
            ed.place("child.is_newborn", True)
        elif crit.quantifier == "born" and crit.fact not in ("child.age", "child.born"):
            birth = ed.get("child.birth_date")
            if birth is None or birth > ed.as_of:
                ed.place("child.born", True)


def gen_edge(src: Source, model: RuleModel, crit: Criterion | None = None) -> dict[str, Any]:
    """A complete profile placed at the edge of one criterion (drawn when not given)."""
    if not model.targets:
        return gen_profile(src, model)
    crit = crit or src.choice(model.targets)
    years = _years_for(model, crit)
    data = gen_profile(src, model, keep=1.0, as_of=gen_as_of(src, model, years))
    ed = Editor(data, model, src)
    _apply_context(ed, crit)
    fact = crit.fact
    assert fact is not None
    domain = model.domains.get(fact)
    if crit.op in ("eq", "neq", "in", "not_in") and domain:
        wanted = threshold(model, crit, data, ed.child)
        members = wanted if isinstance(wanted, tuple) else (wanted,)
        inside = [v for v in domain if v in members]
        outside = [v for v in domain if v not in members]
        options = (inside if src.flag(0.5) else outside) or inside or outside
        ed.place(fact, src.choice(options))
    else:
        t = threshold(model, crit, data, ed.child)
        if isinstance(t, Unknown | bool | str | tuple):
            # The threshold cannot be had here: a plain complete profile, but a valid one.
            _check(src, data)
            return data
        ed.edge(fact, t)
    if src.flag(0.3):
        _forget(src, data, keep_paths=_touched(crit))
    _check(src, data)
    return data


def _check(src: Source, data: dict[str, Any]) -> None:
    """An edit that left the profile invalid is drawn again (a setter clamped too little).
    Profiles that only the float-multiple-of known issue rejects are kept: fuzz reports it."""
    try:
        validate_profile(data)
    except ProfileError as exc:
        if "multiple of" not in str(exc):
            src.reject()


def _touched(crit: Criterion) -> set[str]:
    out = base_inputs(crit.fact or "")
    out |= {p for part in expr_parts(crit.other) if isinstance(part, FactRef) for p in base_inputs(part.path)}
    out |= {f for f, _, _ in crit.switches}
    return out


def _forget(src: Source, data: dict[str, Any], keep_paths: set[str]) -> None:
    """Leave some other fields unknown, so that edges are also met with partial knowledge."""
    kept_keys = {p.split(".")[-1] for p in keep_paths}
    for section in profile_shape().sections:
        box = data.get(section)
        if isinstance(box, dict):
            for key in list(box):
                if f"{section}.{key}" not in keep_paths and src.flag(0.3):
                    del box[key]
    for kid in data.get("children") or []:
        for key in list(kid):
            if key not in kept_keys and f"child.{key}" not in keep_paths and src.flag(0.3):
                del kid[key]


# --- invalid profiles --------------------------------------------------------------------------


@dataclass(frozen=True)
class InvalidProfile:
    """A raw profile that breaks the contract in one place, and the key path it breaks at."""

    data: dict[str, Any]
    path: str  # as ProfileError prints it: "person.sex", "children[0].birth_date"
    kind: str  # unknown-key | wrong-type | out-of-range | impossible-date | too-many-children


IMPOSSIBLE_DATES = ("{y}-02-30", "{y}-04-31", "{y}-13-01", "{y}-00-10", "{y}-06-00", "{y}-02-29x")
BAD_DATE_TEXT = ("01/03/{y}", "{y}/03/01", "{y}-3-1", "tomorrow", "", "{y}-03-01 ")


def _typo(key: str, src: Source, taken: set[str]) -> str:
    for _ in range(8):
        i = src.integer(0, max(0, len(key) - 1))
        how = src.integer(0, 2)
        if how == 0:
            word = key[:i] + key[i + 1 :]
        elif how == 1:
            word = key[:i] + key[i] + key[i:]
        else:
            word = key[:i] + key[i + 1 : i + 2] + key[i : i + 1] + key[i + 2 :]
        if word and word not in taken:
            return word
    return key + "_x"


def _wrong_values(spec: FieldSpec, src: Source) -> list[Any]:
    year = 2026
    if spec.kind == "int":
        return ["12", 12.5, True, [1], {"value": 1}]
    if spec.kind == "float":
        return ["0.5", True, [0.5], {"value": 0.5}]
    if spec.kind == "bool":
        return ["yes", 1, "true", 0, [True]]
    if spec.kind == "enum":
        v = str(src.choice(spec.values))
        return [v.upper(), v + "_x", 1, True, [v]]
    if spec.kind == "date":
        # 0 and 86400 are dates to pydantic's lax mode (Unix time), and so is a datetime
        # string: profile.md allows YYYY-MM-DD only (fuzz.KNOWN_ISSUES "lax-dates").
        return [t.format(y=year) for t in BAD_DATE_TEXT] + [
            True,
            [f"{year}-03-01"],
            {"y": year},
            0,
            86400,
            f"{year}-03-01T00:00:00",
        ]
    if spec.kind == "list_enum":
        return ["x", [1], ["no_such_value"], {"a": 1}, True]
    return ["x"]


def _out_of_range(spec: FieldSpec, src: Source) -> list[Any]:
    out: list[Any] = []
    step = 1 if spec.kind == "int" else (spec.step or 0.01)
    if spec.lo is not None:
        out.append(_quantize(spec.lo - step, spec))
    if spec.hi is not None:
        out.append(_quantize(spec.hi + step, spec) if spec.kind == "int" else spec.hi + step)
    if spec.kind == "float" and spec.step:
        base = spec.lo or 0
        out.append(base + spec.step * 1.5)  # between two allowed steps
    return out


def _loc(parts: Sequence[str | int]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text


def gen_invalid(src: Source, model: RuleModel | None) -> InvalidProfile:
    """A valid partial profile broken in exactly one place."""
    shape = profile_shape()
    data = gen_profile(src, model, keep=src.choice((0.3, 0.7, 1.0)))
    kind = src.choice(("unknown-key", "wrong-type", "out-of-range", "impossible-date", "bad-container"))
    where = src.choice(("top", "section", "child", "event"))

    def box_for(where: str) -> tuple[dict[str, Any], list[str | int], list[FieldSpec]]:
        if where == "top":
            return data, [], [s for s in shape.top]
        if where == "section":
            name = src.choice(list(shape.sections))
            if not isinstance(data.get(name), dict):
                data[name] = {}
            return data[name], [name], list(shape.sections[name])
        if where == "child":
            kids = data.get("children")
            if not kids:
                kids = data["children"] = [gen_child(src, model, date.fromisoformat(data["as_of"]))]
            i = src.integer(0, len(kids) - 1)
            return kids[i], ["children", i], list(shape.child)
        name = src.choice(EVENT_NAMES)
        events = data.get("events")
        if not isinstance(events, dict):
            events = data["events"] = {}
        if not isinstance(events.get(name), dict):
            events[name] = {}
        return events[name], ["events", name], list(shape.events[name])

    if kind == "bad-container":
        target = src.choice(("section", "children", "child", "events", "event", "too-many"))
        if target == "section":
            name = src.choice(list(shape.sections))
            data[name] = src.choice(("x", 5, [1], True))
            return InvalidProfile(data, name, kind)
        if target == "children":
            data["children"] = src.choice(("x", {"birth_date": "2020-01-01"}, 3))
            return InvalidProfile(data, "children", kind)
        if target == "child":
            data["children"] = [src.choice(("x", 5, [1], True))]
            return InvalidProfile(data, "children[0]", kind)
        if target == "events":
            data["events"] = src.choice(("x", ["birth"], 5))
            return InvalidProfile(data, "events", kind)
        if target == "event":
            name = src.choice(EVENT_NAMES)
            data["events"] = {name: src.choice(("x", [1], 5, True))}
            return InvalidProfile(data, f"events.{name}", kind)
        data["children"] = [{} for _ in range(shape.max_children + 1)]
        return InvalidProfile(data, "children", "too-many-children")

    box, prefix, specs = box_for(where)
    if kind == "unknown-key":
        taken = {s.key for s in specs} | (
            {"children", "events"} | set(shape.sections) if where == "top" else set()
        )
        key = _typo(src.choice(sorted(taken)), src, taken)
        box[key] = src.choice((1, "x", True, None))
        return InvalidProfile(data, _loc([*prefix, key]), kind)
    if kind == "impossible-date":
        dated = [s for s in specs if s.kind == "date"]
        if not dated:
            dated = [s for s in shape.child if s.kind == "date"]
            box, prefix, _ = box_for("child")
        spec = src.choice(dated)
        box[spec.key] = src.choice(IMPOSSIBLE_DATES).format(y=src.choice((2025, 2026, 2027)))
        return InvalidProfile(data, _loc([*prefix, spec.key]), kind)
    if kind == "out-of-range":
        ranged = [(s, _out_of_range(s, src)) for s in specs]
        ranged = [(s, vals) for s, vals in ranged if vals]
        if not ranged:
            box, prefix, specs = box_for("section")
            ranged = [(s, _out_of_range(s, src)) for s in specs]
            ranged = [(s, vals) for s, vals in ranged if vals]
        if ranged:
            spec, vals = src.choice(ranged)
            box[spec.key] = src.choice(vals)
            return InvalidProfile(data, _loc([*prefix, spec.key]), kind)
    spec = src.choice(specs)
    box[spec.key] = src.choice(_wrong_values(spec, src))
    return InvalidProfile(data, _loc([*prefix, spec.key]), "wrong-type")


# --- the public strategies ------------------------------------------------------------------------


def _model(catalogue: Catalogue | None) -> RuleModel | None:
    return rule_model(catalogue) if catalogue is not None else None


def complete_profiles(
    catalogue: Catalogue | None = None, as_of: date | None = None
) -> st.SearchStrategy[dict]:
    """Profiles with every field known (every event either listed in full or not listed)."""
    model = _model(catalogue)
    return st.composite(lambda draw: gen_profile(DrawSource(draw), model, 1.0, as_of))()


def partial_profiles(
    catalogue: Catalogue | None = None, as_of: date | None = None
) -> st.SearchStrategy[dict]:
    """Profiles with any subset of facts unknown: fields absent or null, ``children``
    absent, null or ``[]``, ``events`` absent, null or ``{}``, an event listed as null.
    Shrinks towards the empty profile."""
    model = _model(catalogue)

    @st.composite
    def build(draw: Any) -> dict:
        src = DrawSource(draw)
        keep = src.choice((0.5, 0.1, 0.3, 0.7, 0.9))
        return gen_profile(src, model, keep, as_of)

    return build()


def edge_profiles(
    catalogue: Catalogue, service: str | None = None, criterion: str | None = None
) -> st.SearchStrategy[dict]:
    """Complete (sometimes partly forgotten) profiles placed at t−1, t or t+1 of one
    comparison in the rules, its threshold resolved at the profile's as_of and index.
    Narrow to one ``service`` and/or ``criterion`` id."""
    model = rule_model(catalogue)
    targets = [
        c
        for c in model.targets
        if (service is None or c.service == service) and (criterion is None or c.id == criterion)
    ]
    if not targets:
        raise ValueError(f"no targetable criterion for service={service!r} criterion={criterion!r}")

    @st.composite
    def build(draw: Any) -> dict:
        src = DrawSource(draw)
        return gen_edge(src, model, src.choice(targets))

    return build()


def valid_profiles(catalogue: Catalogue) -> st.SearchStrategy[dict]:
    """Any valid profile: complete, partial or at an edge."""
    return st.one_of(partial_profiles(catalogue), complete_profiles(catalogue), edge_profiles(catalogue))


def invalid_profiles(catalogue: Catalogue | None = None) -> st.SearchStrategy[InvalidProfile]:
    """Raw dicts that break the contract once: an unknown key, a wrong type, an impossible
    date (2026-02-30), a number out of range, a container of the wrong kind, too many
    children. ``.path`` is the key path the ProfileError must name."""
    model = _model(catalogue)
    return st.composite(lambda draw: gen_invalid(DrawSource(draw), model))()


def random_source(seed: int) -> RandomSource:
    return RandomSource(random.Random(seed))


def draw_with_retry(src: RandomSource, make: Callable[[RandomSource], Any], tries: int = 20) -> Any:
    """Run a generator on the random source, drawing again when it rejects."""
    for _ in range(tries):
        try:
            return make(src)
        except Rejected:
            continue
    raise RuntimeError("the generator rejected 20 draws in a row")


__all__ = [
    "MLE_AREA",
    "SETTERS",
    "Criterion",
    "DrawSource",
    "Editor",
    "FieldSpec",
    "InvalidProfile",
    "RandomSource",
    "RuleModel",
    "Source",
    "age_on",
    "complete_profiles",
    "edge_profiles",
    "gen_edge",
    "gen_invalid",
    "gen_profile",
    "invalid_profiles",
    "partial_profiles",
    "profile_shape",
    "rule_model",
    "valid_profiles",
]
