"""Families: whom each service is decided for, and the profile seen from each adult.

rules.md, "Families, steps and dates": a service whose rules read ``person.*`` is
decided for the person and, when the profile describes a partner, again for the
partner, by reading the same rules over the profile with the partner in the person's
place. A service that reads only the household, the children, the events and the
residence is decided once, for the household. A few household services still read one
adult's facts, and the catalogue says whose (``decided_from``): the mother's (the
birth-grant top-up deducts *her* maternity benefit) or either parent's (a city's birth
grant needs one parent registered there).

Every backend gets families from the same two moves: a profile with the adults swapped
(``seen_from_partner``), and a choice among the results of the two views. None of them
learns a new fact path.

A job loss and a business start are the applicant's own events, not the family's: the
partner's view reads them as not listed (the profile cannot describe the partner's own).
A service that only such an event can meet (unemployment benefit) is decided for the
applicant alone; one the partner can meet another way (registering as a job seeker while
out of work) is decided for each adult.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Literal

from engine.backends.logic import Env, evaluate
from engine.language.catalog import Catalogue
from engine.language.facts import Unknown, profile_facts
from engine.language.profile import EVENT_NAMES, Events, Profile
from engine.language.rules import Compare, Condition, Expr, FactRef, expr_parts, walk
from engine.services.results import EligibilityResult, Totals

For = Literal["person", "partner", "household"]
Reading = Literal["person", "applicant", "household", "mother", "either_parent"]

APPLICANTS_OWN_EVENTS = ("job_loss", "business_start")
"""Events that happen to the one who answers, not to the family: a job loss is the
applicant's, and so is the business they start. The partner's view reads them as not
listed; a service that cannot be met without them is decided for the applicant only
(``applicant``): the partner's facts cannot meet a claim on the applicant's job loss. A
birth, a move and a home purchase are the household's."""

_OWN_EVENT_PREFIXES = tuple(f"events.{e}." for e in APPLICANTS_OWN_EVENTS)


def is_applicants_own(path: str) -> bool:
    """Whether a fact path (or a batch column) belongs to an event of the applicant's own."""
    return path.startswith(_OWN_EVENT_PREFIXES)


def _paths_of(rule_parts: Iterable[Expr | None]) -> set[str]:
    paths: set[str] = set()
    for part in rule_parts:
        if part is None:
            continue
        if isinstance(part, FactRef):
            paths.add(part.path)
        else:
            for node in expr_parts(part):
                if isinstance(node, FactRef):
                    paths.add(node.path)
    return paths


def _condition_paths(cond: Condition | None) -> set[str]:
    if cond is None:
        return set()
    paths: set[str] = set()
    for node in walk(cond):
        if isinstance(node, Compare):
            paths |= _paths_of((node.lhs, node.rhs))
    return paths


def facts_read(catalogue: Catalogue, service_id: str) -> set[str]:
    """Every fact path a service's rules read, in every jurisdiction."""
    paths: set[str] = set()
    for rule in catalogue.rules.get(service_id, {}).values():
        paths |= _condition_paths(rule.eligibility)
        for money in (rule.amount, rule.fee):
            if money is not None:
                paths |= _paths_of((money.value,)) | _condition_paths(money.where)
        if rule.deadline is not None:
            d = rule.deadline
            paths |= _paths_of((d.base, d.days, d.months, d.years)) | _condition_paths(d.when)
        for note in rule.notes:
            paths |= _condition_paths(note.when) | _paths_of(e for _, e in note.values)
    return paths


def reading_of(catalogue: Catalogue, service_id: str, condition: Condition) -> Reading:
    """How a service meets a family: for each adult, or once for the household.
    ``condition`` is the service's condition as the engine compiles it."""
    service = catalogue.services[service_id]
    if service.decided_from is not None:
        return service.decided_from
    paths = facts_read(catalogue, service_id)
    if service.ended is not None or not any(p.startswith("person.") for p in paths):
        return "household"
    if any(is_applicants_own(p) for p in paths) and only_applicants_events_meet(condition, catalogue):
        return "applicant"
    return "person"


def readings(catalogue: Catalogue, conditions: Mapping[str, Condition]) -> dict[str, Reading]:
    return {sid: reading_of(catalogue, sid, conditions[sid]) for sid in catalogue.services}


def only_applicants_events_meet(condition: Condition, catalogue: Catalogue) -> bool:
    """Whether nothing but an event of the applicant's own can meet ``condition``: its
    Kleene verdict is unmet over a profile of which nothing is known except that those
    events are not listed, which is how the partner's view reads them. The explanation
    backend decides it, so every node type keeps its one meaning (a date, a parameter, a
    child: all unknown here, so none of them can settle it)."""
    facts = profile_facts(Profile.model_construct(), _ANY_DAY, None)
    probe = {
        path: False if path.endswith(".listed") and is_applicants_own(path) else Unknown(frozenset({path}))
        for path in facts
    }
    return evaluate(condition, Env(catalogue, _ANY_DAY, probe, None)).value is False


_ANY_DAY = date(2000, 1, 1)  # what the probe's parameters are read at: every fact is unknown


# --- the profile seen from each adult ------------------------------------------------------


def seen_from_partner(profile: Profile) -> Profile | None:
    """The profile with the partner in the applicant's place (None without a partner).

    The applicant becomes the partner of this view, so that the view is a complete
    profile of the same family. The household's events stay; the applicant's own (a job
    loss, a business start) are not the partner's and are read as not listed."""
    partner = profile.partner_person
    if partner is None:
        return None
    return profile.model_copy(
        update={"person": partner, "partner": profile.person, "events": partners_events(profile.events)}
    )


def partners_events(events: Events | None) -> Events:
    """The events as the partner's view reads them: the household's as given (unknown
    when the profile gives none), the applicant's own not listed."""
    given = EVENT_NAMES if events is None else events.model_fields_set
    # model_construct records the keys given as set: a key with None is "unknown", a key
    # left out "not listed", as the profile's own events say it (Events).
    return Events.model_construct(
        **{e: None if events is None else getattr(events, e) for e in given if e not in APPLICANTS_OWN_EVENTS}
    )


def mother_is_partner(profile: Profile) -> bool:
    """Whether the mother of the birth is the partner rather than the applicant.

    rules.md: the mother is the adult whose sex is female. When the applicant is a man
    and his partner's sex is not given, the partner is still the only one who can be
    the mother, so her view is read and her unknown facts are named."""
    partner = profile.partner_person
    if partner is None or profile.person.sex == "female":
        return False
    if partner.sex == "female":
        return True
    return profile.person.sex == "male" and partner.sex is None


def as_partner_path(path: str) -> str:
    """A fact path of the swapped view, named as the caller's profile names it."""
    if path == "person" or path.startswith("person."):
        return "partner" + path[len("person") :]
    if path == "partner" or path.startswith("partner."):
        return "person" + path[len("partner") :]
    return path


_RANK = {"eligible": 0, "unknown": 1, "ineligible": 2}


def either_parent(person_status: str, partner_status: str | None) -> Literal["person", "partner"]:
    """The view whose result stands for the household when either parent may qualify:
    the better status, the applicant's on a tie (Kleene's ``or`` over the two adults)."""
    if partner_status is None:
        return "person"
    return "partner" if _RANK[partner_status] < _RANK[person_status] else "person"


# --- the family's total ----------------------------------------------------------------------


def _has_amount(catalogue: Catalogue, service_id: str) -> bool:
    return any(r.amount is not None for r in catalogue.rules.get(service_id, {}).values())


def _outranked(
    result: EligibilityResult, eligible: dict[tuple[For, str], EligibilityResult], cat: Catalogue
) -> bool:
    """Whether an excluded alternative of the same adult pays more (rules.md: two services
    that exclude each other are both eligible, but only one is paid)."""
    assert result.amount is not None
    for other_id in cat.services[result.service].excluded():
        other = eligible.get((result.for_, other_id))
        if other is None or other.amount is None or other.amount.unit != result.amount.unit:
            continue
        if result.children and other.children and not set(result.children) & set(other.children):
            continue  # exclusive for the same child only
        if (other.amount.value, other_id) > (result.amount.value, result.service):
            return True
    return False


def family_totals(results: list[EligibilityResult], catalogue: Catalogue) -> Totals:
    """One-off and monthly sums of the eligible amounts; an eligible result without its
    amount, or an unknown one whose service pays an amount, is counted as unknown."""
    eligible = {(r.for_, r.service): r for r in results if r.status == "eligible" and r.amount is not None}
    one_off = monthly = unknown = 0
    for r in results:
        if r.status == "ineligible" or not _has_amount(catalogue, r.service):
            continue
        if r.status == "unknown" or r.amount is None:
            unknown += 1
            continue
        if _outranked(r, eligible, catalogue):
            continue
        if r.amount.unit == "TWD/month":
            monthly += r.amount.value
        elif r.amount.unit == "TWD":
            one_off += r.amount.value
    return Totals(one_off=one_off, monthly=monthly, unknown=unknown)
