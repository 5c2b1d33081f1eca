"""Facts: what the rules may read about a citizen, known or unknown.

Two scopes exist. *Profile* facts describe the applicant and household
(``person.age``, ``household.income_per_person``); *child* facts describe one entry of
``children`` (``child.age``) and are read inside a ``some_child`` condition.

Base facts come straight from the profile. Derived facts (ages, income per person, the
coming school year, the newborn) are small pure functions declared here with the base
facts they read, so that an unknown derived fact names the profile fields that would
settle it. Their names and labels are data: ``rules/vocabulary.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel

from engine.language.profile import EVENT_NAMES, Child, Profile
from engine.language.residences import MLE_AREAS


@dataclass(frozen=True, slots=True)
class Unknown:
    """A fact whose value is not known, with the profile paths that would settle it."""

    missing: frozenset[str]

    def __or__(self, other: Unknown) -> Unknown:
        return Unknown(self.missing | other.missing)


FactValue = Any  # int | float | str | bool | date | Unknown

MLE_AREA: Mapping[str, str] = MLE_AREAS
"""Minimum-living-expense areas by residence: rules/residences.yaml (the six
municipalities, 福建省 for Kinmen and Lienchiang, 臺灣省 for every other county)."""


def mle_area(residence: str, areas: Mapping[str, str] = MLE_AREA) -> str:
    return areas.get(residence, "taiwan_province")


def age_on(birth: date, day: date) -> int:
    """Completed years on ``day``, as a Taiwanese office counts them.

    One is N years old from the Nth birthday; a 29 February birthday falls on
    1 March in common years (Civil Code §121, §124), which comparing (month, day)
    tuples does: (2, 29) is after (2, 28).
    """
    years = day.year - birth.year
    if (day.month, day.day) < (birth.month, birth.day):
        years -= 1
    return years


def full_months_between(start: date, end: date) -> int:
    """Whole calendar months from ``start`` to ``end`` (negative when end < start)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if end.day < start.day and not _is_month_end(end, start.day):
        months -= 1
    return months


def _is_month_end(day: date, wanted_day: int) -> bool:
    # A period that starts on the 31st ends on the last day of a shorter month.
    next_day = date.fromordinal(day.toordinal() + 1)
    return next_day.month != day.month and wanted_day > day.day


def add_months(day: date, months: int) -> date:
    """Calendar month arithmetic; the 31st becomes the last day of a shorter month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(f"cannot add {months} months to {day}")


def coming_school_year_start(as_of: date) -> date:
    """The first 1 September on or after ``as_of`` (rules.md, Education)."""
    this_year = date(as_of.year, 9, 1)
    return this_year if as_of <= this_year else date(as_of.year + 1, 9, 1)


# --- base facts ------------------------------------------------------------------

_SECTIONS = ("person", "household", "assets", "student_loan")


def _field_type(model: type[BaseModel], name: str) -> str:
    ann = str(model.model_fields[name].annotation)
    for word in ("date", "bool", "float", "int", "list"):
        if word in ann:
            return "date" if word == "date" else word
    return "str"


def base_fact_types() -> dict[str, str]:
    """Every profile-scope base fact path with its type."""
    types: dict[str, str] = {"as_of": "date", "residence": "str"}
    for section in _SECTIONS:
        model = Profile.model_fields[section].annotation
        assert isinstance(model, type)
        for name in model.model_fields:
            types[f"{section}.{name}"] = _field_type(model, name)
    from engine.language.profile import Events

    for event in EVENT_NAMES:
        model = Events.model_fields[event].annotation.__args__[0]  # type: ignore[union-attr]
        types[f"events.{event}.listed"] = "bool"
        for name in model.model_fields:
            types[f"events.{event}.{name}"] = _field_type(model, name)
    return types


def child_base_fact_types() -> dict[str, str]:
    return {f"child.{name}": _field_type(Child, name) for name in Child.model_fields}


# --- derived facts ---------------------------------------------------------------


@dataclass(frozen=True)
class Inverse:
    """What the profile generator writes to give a derived fact a wanted value
    (engine/testing/strategies.py turns each kind into a setter): ``writes`` is the base field it
    moves, ``on`` the fact the value is taken relative to."""

    kind: str  # age, area, quotient, months_before, days_before, as_of, born, newborn, own
    writes: str
    on: str | None = None


@dataclass(frozen=True)
class Derived:
    """A derived fact, declared once: its type, the facts it reads, its value for one
    profile (``compute``), the same over polars columns for a population (``column``,
    engine/services/batch.py) and what the generator writes to reach a value (``inverse``).

    An unknown input makes the fact unknown, naming what would settle it, unless
    ``reads_unknown``: then ``compute`` receives the unknowns itself (a fallback)."""

    path: str
    type: str
    inputs: tuple[str, ...]
    compute: Callable[..., Any]
    # None: the batch evaluator calls ``compute`` row by row (right, but slow).
    column: Callable[..., Any] | None = None
    # None: the generator cannot aim at it (tests/test_fuzz.py says so).
    inverse: Inverse | None = None
    reads_unknown: bool = False
    # Data of the rules tree the fact reads besides its inputs, by name ("mle_areas":
    # rules/residences.yaml), passed to ``compute`` and ``column`` after the inputs: the
    # tree the answer comes from, which for a staff draft or ``--rules DIR`` is not the
    # default one. Without it (``tree=None``) they read the default tree's.
    tree_data: str | None = None


TreeData = Mapping[str, Any]  # name -> data of one rules tree (Derived.tree_data)


def _age(birth: date, as_of: date) -> int:
    return age_on(birth, as_of)


def _income_per_person(income: int, size: int) -> float:
    return round(income / size, 4)


def _months_registered(since: date, birth: date) -> int:
    return full_months_between(since, birth)


def _days_registered(since: date, birth: date) -> int:
    return birth.toordinal() - since.toordinal()


def _own_else_applicants(own: FactValue, applicants: FactValue) -> FactValue:
    # A child's nationality is the applicant's unless the child's own says otherwise.
    return applicants if isinstance(own, Unknown) else own


# --- their column forms (polars: imported only when a population is evaluated) ----------


def age_column(birth: Any, day: Any) -> Any:
    """Completed years, counted from the birthday; (2, 29) sorts after (2, 28), so a
    29 February birthday falls on 1 March in common years, as ``age_on`` says."""
    import polars as pl

    before = _month_day_column(day) < _month_day_column(birth)
    return (day.dt.year().cast(pl.Int64) - birth.dt.year().cast(pl.Int64)) - before.cast(pl.Int64)


def _month_day_column(day: Any) -> Any:
    import polars as pl

    # dt.month() is an Int8: widen before multiplying, or March becomes -44.
    return day.dt.month().cast(pl.Int32) * 100 + day.dt.day().cast(pl.Int32)


def school_start_column(as_of: Any) -> Any:
    """The first 1 September on or after as_of (``coming_school_year_start``)."""
    import polars as pl

    year = as_of.dt.year()
    this = pl.date(year, 9, 1)
    return pl.when(as_of <= this).then(this).otherwise(pl.date(year + 1, 9, 1))


def months_between_column(start: Any, end: Any) -> Any:
    """``full_months_between``: a period from the 31st ends on a shorter month's last day."""
    import polars as pl

    months = (end.dt.year().cast(pl.Int64) - start.dt.year().cast(pl.Int64)) * 12 + (
        end.dt.month().cast(pl.Int64) - start.dt.month().cast(pl.Int64)
    )
    month_end = end.dt.month_end() == end
    short = (end.dt.day() < start.dt.day()) & ~month_end
    return months - short.cast(pl.Int64)


def days_between_column(start: Any, end: Any) -> Any:
    import polars as pl

    return end.cast(pl.Int64) - start.cast(pl.Int64)


def income_per_person_column(income: Any, size: Any) -> Any:
    import polars as pl

    from engine.language.column_forms import round4  # the engine's rounding, four decimals, as Python rounds

    return round4(income.cast(pl.Float64) / size)


def mle_area_column(residence: Any, areas: Mapping[str, str] = MLE_AREA) -> Any:
    from engine.language.column_forms import mle_area_expr

    return mle_area_expr(residence, areas)


def _own_else_applicants_column(own: Any, applicants: Any) -> Any:
    import polars as pl

    return pl.coalesce(own, applicants)


def _age_on_school_start(birth: date, as_of: date) -> int:
    return age_on(birth, coming_school_year_start(as_of))


def _age_on_school_start_column(birth: Any, as_of: Any) -> Any:
    return age_column(birth, school_start_column(as_of))


def _born(birth: date, as_of: date) -> bool:
    return birth <= as_of


def _born_column(birth: Any, as_of: Any) -> Any:
    return birth <= as_of


def _same_day(birth: date, event: date) -> bool:
    return birth == event


def _same_day_column(birth: Any, event: Any) -> Any:
    return birth == event


def _age_fact(path: str, birth: str, on: str) -> Derived:
    return Derived(path, "int", (birth, on), _age, age_column, Inverse("age", birth, on))


PROFILE_DERIVED: tuple[Derived, ...] = (
    _age_fact("person.age", "person.birth_date", "as_of"),
    _age_fact("person.age_at_job_loss", "person.birth_date", "events.job_loss.date"),
    _age_fact("person.age_at_birth_event", "person.birth_date", "events.birth.date"),
    Derived(
        "household.mle_area",
        "str",
        ("residence",),
        mle_area,
        mle_area_column,
        Inverse("area", "residence"),
        tree_data="mle_areas",
    ),
    Derived(
        "household.income_per_person",
        "float",
        ("household.monthly_income", "household.size"),
        _income_per_person,
        income_per_person_column,
        Inverse("quotient", "household.monthly_income", "household.size"),
    ),
    Derived(
        "person.registered_months_before_birth",
        "int",
        ("person.residence_registered_since", "events.birth.date"),
        _months_registered,
        months_between_column,
        Inverse("months_before", "person.residence_registered_since", "events.birth.date"),
    ),
    Derived(
        "person.registered_days_before_birth",
        "int",
        ("person.residence_registered_since", "events.birth.date"),
        _days_registered,
        days_between_column,
        Inverse("days_before", "person.residence_registered_since", "events.birth.date"),
    ),
    Derived(
        "school_year.start",
        "date",
        ("as_of",),
        coming_school_year_start,
        school_start_column,
        Inverse("as_of", "as_of"),
    ),
)

CHILD_DERIVED: tuple[Derived, ...] = (
    _age_fact("child.age", "child.birth_date", "as_of"),
    Derived(
        "child.born",
        "bool",
        ("child.birth_date", "as_of"),
        _born,
        _born_column,
        Inverse("born", "child.birth_date", "as_of"),
    ),
    Derived(
        "child.age_on_school_start",
        "int",
        ("child.birth_date", "as_of"),
        _age_on_school_start,
        _age_on_school_start_column,
        Inverse("age", "child.birth_date", "school_year.start"),
    ),
    Derived(
        "child.is_newborn",
        "bool",
        ("child.birth_date", "events.birth.date"),
        _same_day,
        _same_day_column,
        Inverse("newborn", "child.birth_date", "events.birth.date"),
    ),
    Derived(
        "child.nationality_effective",
        "str",
        ("child.nationality", "person.nationality"),
        _own_else_applicants,
        _own_else_applicants_column,
        Inverse("own", "child.nationality"),
        reads_unknown=True,
    ),
)


def special_circumstance_facts() -> dict[str, str]:
    from engine.language.profile import SpecialCircumstance

    return {
        f"person.special_circumstances.{item}": "bool"
        for item in SpecialCircumstance.__args__  # type: ignore[attr-defined]
    }


def fact_types() -> dict[str, dict[str, str]]:
    """The whole vocabulary by scope: {"profile": {path: type}, "child": {...}}."""
    profile = base_fact_types() | special_circumstance_facts()
    profile |= {d.path: d.type for d in PROFILE_DERIVED}
    child = child_base_fact_types() | {d.path: d.type for d in CHILD_DERIVED}
    return {"profile": profile, "child": child}


# --- building the fact values of one profile ---------------------------------------


def _get(model: BaseModel | None, name: str) -> Any:
    return None if model is None else getattr(model, name)


def profile_facts(profile: Profile, as_of: date, tree: TreeData | None = None) -> dict[str, FactValue]:
    """All profile-scope facts of ``profile``, unknown ones as :class:`Unknown`; derived
    facts that read data of the rules tree read ``tree``'s (``tree_data``, the default
    tree's without it)."""
    facts: dict[str, FactValue] = {"as_of": as_of}
    facts["residence"] = (
        profile.residence if profile.residence is not None else Unknown(frozenset({"residence"}))
    )
    for section in _SECTIONS:
        model = getattr(profile, section)
        for name in type(model).model_fields:
            value = getattr(model, name)
            path = f"{section}.{name}"
            facts[path] = value if value is not None else Unknown(frozenset({path}))
    sc = profile.person.special_circumstances
    for path in special_circumstance_facts():
        item = path.rsplit(".", 1)[1]
        facts[path] = (item in sc) if sc is not None else Unknown(frozenset({"person.special_circumstances"}))
    _event_facts(profile, facts)
    for derived in PROFILE_DERIVED:
        facts[derived.path] = _derive(derived, facts, tree)
    return facts


def _event_facts(profile: Profile, facts: dict[str, FactValue]) -> None:
    from engine.language.profile import Events

    events = profile.events
    for event in EVENT_NAMES:
        model = Events.model_fields[event].annotation.__args__[0]  # type: ignore[union-attr]
        prefix = f"events.{event}"
        if events is None:
            listed: FactValue = Unknown(frozenset({prefix}))
            record = None
        elif event not in events.model_fields_set:
            listed, record = False, None
        elif getattr(events, event) is None:  # given as null: unknown
            listed, record = Unknown(frozenset({prefix})), None
        else:
            listed, record = True, getattr(events, event)
        facts[f"{prefix}.listed"] = listed
        for name in model.model_fields:
            path = f"{prefix}.{name}"
            value = _get(record, name)
            # Fields of an unlisted event are never read: the compiler guards every
            # event field with its ``listed`` fact. They stay unknown here.
            facts[path] = (
                value if value is not None else Unknown(frozenset({path if record is not None else prefix}))
            )


def _derive(derived: Derived, facts: dict[str, FactValue], tree: TreeData | None = None) -> FactValue:
    values = [facts[p] for p in derived.inputs]
    if not derived.reads_unknown:
        unknown = [v for v in values if isinstance(v, Unknown)]
        if unknown:
            merged = unknown[0]
            for other in unknown[1:]:
                merged = merged | other
            return merged
    if derived.tree_data is not None and tree is not None:
        values.append(tree[derived.tree_data])
    return derived.compute(*values)


def child_facts(
    profile: Profile, index: int, child: Child, facts: dict[str, FactValue], tree: TreeData | None = None
) -> dict[str, FactValue]:
    """The child-scope facts of ``children[index]``."""
    own: dict[str, FactValue] = {}
    for name in Child.model_fields:
        value = getattr(child, name)
        own[f"child.{name}"] = (
            value if value is not None else Unknown(frozenset({f"children[{index}].{name}"}))
        )
    scope = facts | own
    for derived in CHILD_DERIVED:
        own[derived.path] = _derive(derived, scope, tree)
        scope[derived.path] = own[derived.path]
    return own
