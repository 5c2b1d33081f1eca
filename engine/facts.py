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

from engine.profile import EVENT_NAMES, Child, Profile
from engine.residences import MLE_AREAS


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


def mle_area(residence: str) -> str:
    return MLE_AREA.get(residence, "taiwan_province")


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
    from engine.profile import Events

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
class Derived:
    path: str
    type: str
    inputs: tuple[str, ...]
    compute: Callable[..., Any]


def _age(birth: date, as_of: date) -> int:
    return age_on(birth, as_of)


def _income_per_person(income: int, size: int) -> float:
    return round(income / size, 4)


def _months_registered(since: date, birth: date) -> int:
    return full_months_between(since, birth)


def _days_registered(since: date, birth: date) -> int:
    return birth.toordinal() - since.toordinal()


PROFILE_DERIVED: tuple[Derived, ...] = (
    Derived("person.age", "int", ("person.birth_date", "as_of"), _age),
    Derived("person.age_at_job_loss", "int", ("person.birth_date", "events.job_loss.date"), _age),
    Derived("person.age_at_birth_event", "int", ("person.birth_date", "events.birth.date"), _age),
    Derived("household.mle_area", "str", ("residence",), mle_area),
    Derived(
        "household.income_per_person",
        "float",
        ("household.monthly_income", "household.size"),
        _income_per_person,
    ),
    Derived(
        "person.registered_months_before_birth",
        "int",
        ("person.residence_registered_since", "events.birth.date"),
        _months_registered,
    ),
    Derived(
        "person.registered_days_before_birth",
        "int",
        ("person.residence_registered_since", "events.birth.date"),
        _days_registered,
    ),
    Derived("school_year.start", "date", ("as_of",), coming_school_year_start),
)

CHILD_DERIVED: tuple[Derived, ...] = (
    Derived("child.age", "int", ("child.birth_date", "as_of"), _age),
    Derived("child.born", "bool", ("child.birth_date", "as_of"), lambda b, a: b <= a),
    Derived(
        "child.age_on_school_start",
        "int",
        ("child.birth_date", "as_of"),
        lambda b, a: age_on(b, coming_school_year_start(a)),
    ),
    Derived(
        "child.is_newborn",
        "bool",
        ("child.birth_date", "events.birth.date"),
        lambda b, e: b == e,
    ),
    # A child's nationality is the applicant's unless the child's own says otherwise.
    Derived(
        "child.nationality_effective",
        "str",
        ("child.nationality", "person.nationality"),
        lambda c, p: c,
    ),
)


def special_circumstance_facts() -> dict[str, str]:
    from engine.profile import SpecialCircumstance

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


def profile_facts(profile: Profile, as_of: date) -> dict[str, FactValue]:
    """All profile-scope facts of ``profile``, unknown ones as :class:`Unknown`."""
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
        facts[derived.path] = _derive(derived, facts)
    return facts


def _event_facts(profile: Profile, facts: dict[str, FactValue]) -> None:
    from engine.profile import Events

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


def _derive(derived: Derived, facts: dict[str, FactValue]) -> FactValue:
    values = [facts[p] for p in derived.inputs]
    unknown = [v for v in values if isinstance(v, Unknown)]
    if unknown:
        merged = unknown[0]
        for other in unknown[1:]:
            merged = merged | other
        return merged
    return derived.compute(*values)


def child_facts(
    profile: Profile, index: int, child: Child, facts: dict[str, FactValue]
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
        if derived.path == "child.nationality_effective":
            own[derived.path] = (
                child.nationality if child.nationality is not None else facts["person.nationality"]
            )
            continue
        own[derived.path] = _derive(derived, scope)
        scope[derived.path] = own[derived.path]
    return own
