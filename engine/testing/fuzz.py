"""Properties every profile must keep, checked on generated profiles.

One set of check functions serves three callers: pytest (``tests/test_fuzz.py``, through
Hypothesis, which shrinks), ``lifeevents fuzz`` and the staff tester page (both through
:func:`run_fuzz`, on a seeded random source, with our own shrinker).

The properties (``PROPERTIES`` below says each in a sentence):

- valid, partial and edge profiles validate, and ``Engine.recommend`` answers them with a
  result of the contract's shape; invalid ones get one clean one-line ProfileError naming
  the key path, never another exception;
- the answer does not depend on the order the facts arrive in (mapping keys only:
  ``children[i]`` is named in ``missing``, so children keep their order);
- learning a fact never turns a decided result into unknown, nor into the other verdict;
- less household income or fewer assets never loses a means-tested service, more insured
  time never loses an insurance benefit, an older child past a service's age limit never
  gains it (the services are found in the rules, not listed);
- durable-rules (``Engine.statuses``), the Kleene explanation and the batch evaluator
  agree on every profile.

Rule coverage: every criterion (leaf comparison, as reported in reasons) of every service
must be seen both met and unmet across the generated profiles and the written cases of
``tests/cases``, unless the rule file's ``coverage_exempt`` says why not.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import json
import os
import pickle
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from engine.backends.logic import evaluate
from engine.language.profile import Profile, ProfileError, parse_profile_text, validate_profile
from engine.language.rules import NEGATION
from engine.services.recommend import Engine, EngineDisagreement
from engine.services.results import Recommendation
from engine.testing.strategies import (
    Criterion,
    InvalidProfile,
    RandomSource,
    RuleModel,
    Source,
    base_inputs,
    draw_with_retry,
    earliest_birth_for_age,
    gen_children,
    gen_edge,
    gen_event,
    gen_events,
    gen_invalid,
    gen_profile,
    gen_value,
    latest_birth_for_age,
    profile_shape,
    rule_model,
    threshold,
)

RANK = {"ineligible": 0, "unknown": 1, "eligible": 2}
"""Kleene's truth order: a rule that is monotone in a fact keeps this order (F < U < T)."""

PROPERTIES: dict[str, str] = {
    "valid-accepted": "every generated valid, partial or edge profile validates",
    "no-crash": "Engine.recommend answers every valid, partial and edge profile",
    "result-shape": "each result keeps the contract: one per service, missing only when unknown, "
    "no deadline when ineligible, a fee only when eligible, an amount only when eligible or "
    "unknown (already computable), money never negative",
    "invalid-rejected": "every invalid profile gets one clean one-line ProfileError naming the key path",
    "order-independent": "the same profile gives the same answer whatever order its keys arrive in",
    "learning-never-unknowns": "learning a fact never turns a decided result into unknown",
    "learning-keeps-verdict": "a result decided with a fact unknown stays the same whatever the fact is",
    "monotone-means": "less household income, movable assets or real estate never loses a means-tested service",
    "monotone-insurance": "more insured days or months never loses an insurance benefit",
    "child-age-limit": "an older child never gains an age-limited child benefit past its limit",
    "engines-agree": "durable-rules (Engine.statuses) and the Kleene explanation give the same status",
    "batch-agrees": "the batch evaluator gives the same status as Engine.statuses",
    "partner-absent": "a partner absent, null or false gives the results of the profile without the key "
    "and no partner_results; a partner object changes no result but the mother's and either parent's",
    "partner-swap": "swapping person and partner swaps results and partner_results of the services "
    "decided for each adult (status, amount, deadline, missing facts)",
    "steps-never-block": "no result is ineligible only because of a step of applying: the step taken "
    "gives the same status",
    "batch-families-agree": "with partners, the batch's SERVICE and partner:SERVICE equal "
    "Engine.recommend's results and partner_results",
}

# The facts of the monotonicity properties (the issue names them; the services that read
# them are found in the rules). "less" means a smaller value is never worse.
MEANS_FACTS = ("household.monthly_income", "household.movable_assets", "household.real_estate_value")
INSURANCE_FACTS = ("person.labor_insurance_days", "person.employment_insurance_months")
AGE_LIMIT_FACT = "child.age"

# rules.md: "A child's nationality is the applicant's unless children[].nationality says
# otherwise". An absent child nationality is a default, not an unknown, so learning it may
# legitimately change a result; the learning properties do not fill it in.
DEFAULTED_SLOTS = {("children", "*", "nationality")}


@dataclass(frozen=True)
class KnownIssue:
    """A bug the fuzzing found and reported, outside this module's reach. Matching failures
    are counted apart, so that the run stays usable until it is fixed; the report says
    when one is no longer seen, so that the entry is removed."""

    id: str
    properties: tuple[str, ...]
    pattern: str  # a regular expression searched in the failure message
    reported: str  # where and what, for the reader

    def matches(self, failure: Failure) -> bool:
        return failure.property in self.properties and re.search(self.pattern, failure.message) is not None


KNOWN_ISSUES: tuple[KnownIssue, ...] = ()
"""Failures the fuzzer has found and that are tracked, not yet fixed: none today (the
float multiple_of and lax-date findings are fixed in engine/language/profile.py)."""


def unexplained(failures: Iterable[Failure]) -> list[Failure]:
    """The failures no known issue explains: what a tester's own suite should assert on."""
    return [f for f in failures if not any(k.matches(f) for k in KNOWN_ISSUES)]


@dataclass(frozen=True)
class Failure:
    property: str
    message: str
    signature: str  # what must stay the same while shrinking (property and service)
    cases: tuple[dict[str, Any], ...] = ()  # test cases in the engine/services/cases.py format


# --- the checks ------------------------------------------------------------------------------


def _case(name: str, data: dict[str, Any], output: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "as_of": data.get("as_of"), "input": data, "output": output}


def _expect(result: Any) -> dict[str, Any]:
    """What a test case would assert about one result."""
    out: dict[str, Any] = {"status": result.status}
    if result.status == "unknown":
        out["missing"] = list(result.missing)
    if result.amount is not None:
        out["amount"] = result.amount.value
    if result.deadline is not None:
        out["deadline"] = result.deadline.isoformat()
    return out


def _profile(data: dict[str, Any]) -> Profile:
    return validate_profile(data)


def _rejected_valid(exc: ProfileError, data: dict[str, Any]) -> Failure:
    """valid-accepted failed: the model refused a profile the strategies say is valid."""
    case = _case(f"fuzz valid-accepted: {exc}"[:200], data, {})
    return Failure("valid-accepted", f"a valid profile was rejected: {exc}", "valid-accepted", (case,))


def check_recommend(engine: Engine, data: dict[str, Any]) -> tuple[list[Failure], Recommendation | None]:
    """valid-accepted, no-crash, result-shape (and engines-agree, which evaluate raises)."""
    try:
        profile = _profile(data)
    except ProfileError as exc:
        return [_rejected_valid(exc, data)], None
    try:
        rec = engine.recommend(profile)
    except EngineDisagreement as exc:
        sid = str(exc).split(":")[0]
        case = _case(f"fuzz engines-agree: {exc}", data, {})
        return [Failure("engines-agree", str(exc), f"engines-agree:{sid}", (case,))], None
    except Exception as exc:  # the property: nothing else may escape
        message = f"recommend raised {type(exc).__name__}: {exc}"
        case = _case(f"fuzz no-crash: {message}"[:200], data, {})
        return [Failure("no-crash", message, f"no-crash:{type(exc).__name__}", (case,))], None
    return check_shape(engine, data, rec), rec


def check_shape(engine: Engine, data: dict[str, Any], rec: Recommendation) -> list[Failure]:
    out: list[Failure] = []
    cat = engine.catalogue
    seen = [r.service for r in rec.results]
    if sorted(seen) != sorted(cat.services):
        out.append(Failure("result-shape", f"services answered {sorted(seen)}", "result-shape:services"))
    residence = data.get("residence")
    for r in (*rec.results, *rec.partner_results):
        problems = []
        if r.status not in RANK:
            problems.append(f"status {r.status!r}")
        if r.status == "unknown" and not r.missing:
            problems.append("unknown with nothing missing")
        if r.status != "unknown" and r.missing:
            problems.append(f"{r.status} yet missing {r.missing}")
        if r.status == "ineligible" and r.deadline is not None:
            problems.append(f"ineligible with a deadline {r.deadline}")
        # rules.md (Families): an unknown result shows an amount already computable;
        # an ineligible one has none, and a fee is on eligible results only.
        for what, money in (("amount", r.amount), ("fee", r.fee)):
            allowed = ("eligible", "unknown") if what == "amount" else ("eligible",)
            if money is not None and r.status not in allowed:
                problems.append(f"{r.status} with {what} {money.value}")
            if money is not None and money.value < 0:
                problems.append(f"negative {what} {money.value}")
        rule = cat.rule_for(r.service, residence)
        # rules.md: an eligible result whose amount needs an unknown fact says which.
        needs_amount = r.status == "eligible" and rule is not None and rule.amount is not None
        if needs_amount and r.amount is None and not any(x.criterion == "amount" for x in r.reasons):
            problems.append("eligible, amount null and no reason names what it needs")
        if problems:
            message = f"{r.service}: {'; '.join(problems)}"
            case = _case(f"fuzz result-shape: {message}"[:200], data, {r.service: _expect(r)})
            out.append(Failure("result-shape", message, f"result-shape:{r.service}", (case,)))
    return out


def kleene_statuses(engine: Engine, profile: Profile) -> dict[str, str]:
    """The explanation's verdicts, without durable-rules (logic.evaluate on each condition)."""
    env = engine.env(profile, profile.as_of or date.today())
    status = {True: "eligible", False: "ineligible", None: "unknown"}
    return {sid: status[evaluate(cond, env).value] for sid, cond in engine.conditions.items()}


def durable_statuses(engine: Engine, profile: Profile) -> dict[str, str]:
    return engine.statuses(profile, profile.as_of or date.today())


def check_statuses(engine: Engine, data: dict[str, Any]) -> tuple[list[Failure], dict[str, str] | None]:
    """The cheap tier: the profile validates, Engine.statuses answers (no-crash) and agrees
    with the Kleene evaluator run alone (engines-agree). Returns durable-rules' statuses."""
    try:
        profile = _profile(data)
    except ProfileError as exc:
        return [_rejected_valid(exc, data)], None
    try:
        durable = durable_statuses(engine, profile)
    except Exception as exc:  # the property: nothing may escape
        message = f"Engine.statuses raised {type(exc).__name__}: {exc}"
        case = _case(f"fuzz no-crash: {message}"[:200], data, {})
        return [Failure("no-crash", message, f"no-crash:{type(exc).__name__}", (case,))], None
    return guarded(lambda d: check_agreement(engine, d, durable))(data), durable


def check_agreement(
    engine: Engine, data: dict[str, Any], durable: dict[str, str] | None = None
) -> list[Failure]:
    profile = _profile(data)
    durable = durable or durable_statuses(engine, profile)
    kleene = kleene_statuses(engine, profile)
    out = []
    for sid in engine.catalogue.services:
        if durable.get(sid) != kleene.get(sid):
            message = f"{sid}: durable-rules says {durable.get(sid)}, the explanation says {kleene.get(sid)}"
            case = _case(f"fuzz engines-agree: {message}", data, {sid: {"status": kleene.get(sid)}})
            out.append(Failure("engines-agree", message, f"engines-agree:{sid}", (case,)))
    return out


def check_invalid(inv: InvalidProfile, text_route: bool = True) -> list[Failure]:
    """The dict route, and (``text_route``) JSON text read as the CLI reads a file. The text
    route parses with PyYAML (~4 ms a profile), so run_fuzz takes it on a share only."""
    if not _has_path(inv.data, inv.path):
        return []  # shrinking removed the broken part: nothing left to check
    out = []
    text = json.dumps(inv.data, ensure_ascii=False)
    routes: list[tuple[str, Callable[[], Any]]] = [
        ("dict", lambda: validate_profile(copy.deepcopy(inv.data)))
    ]
    if text_route:
        routes.append(("json", lambda: validate_profile(parse_profile_text(text, "profile"), "profile")))
    for route, run in routes:
        try:
            run()
        except ProfileError as exc:
            message = str(exc)
            if "\n" in message:
                out.append(
                    _invalid_failure(inv, "several lines", f"{route}: the error spans lines: {message!r}")
                )
            elif not re.match(rf"profile: {re.escape(inv.path)}[:\[.]", message):
                # The exact path, or a deeper one (special_circumstances[0] for a bad item).
                out.append(
                    _invalid_failure(
                        inv, "wrong path", f"{route}: the error does not name {inv.path}: {message}"
                    )
                )
        except Exception as exc:
            out.append(
                _invalid_failure(inv, type(exc).__name__, f"{route}: raised {type(exc).__name__}: {exc}")
            )
        else:
            value = _value_at(inv.data, inv.path)
            out.append(
                _invalid_failure(inv, "accepted", f"{route}: accepted {value!r} at {inv.path} ({inv.kind})")
            )
    return out


_MISSING = object()


def _walk_path(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            index = int(part[1:-1])
            node = node[index] if isinstance(node, list) and index < len(node) else _MISSING
        else:
            node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
        if node is _MISSING:
            return _MISSING
    return node


def _value_at(data: dict[str, Any], path: str) -> Any:
    node = _walk_path(data, path)
    return None if node is _MISSING else node


def _has_path(data: dict[str, Any], path: str) -> bool:
    return _walk_path(data, path) is not _MISSING


def _invalid_failure(inv: InvalidProfile, what: str, message: str) -> Failure:
    return Failure("invalid-rejected", message, f"invalid-rejected:{inv.kind}:{what}")


# -- order ------------------------------------------------------------------------------------


def shuffle_keys(data: Any, rng: random.Random) -> Any:
    """The same profile with every mapping's keys in another order. Lists keep their order
    (children[i] is a name in `missing`), except the set-valued special_circumstances."""
    if isinstance(data, dict):
        keys = list(data)
        rng.shuffle(keys)
        return {k: _shuffle_value(k, data[k], rng) for k in keys}
    return data


def _shuffle_value(key: str, value: Any, rng: random.Random) -> Any:
    if key == "special_circumstances" and isinstance(value, list):
        items = list(value)
        rng.shuffle(items)
        return items
    if isinstance(value, list):
        return [shuffle_keys(v, rng) for v in value]
    return shuffle_keys(value, rng)


def check_order(
    engine: Engine, data: dict[str, Any], seed: int, first: Recommendation | None = None
) -> list[Failure]:
    shuffled = shuffle_keys(data, random.Random(seed))
    first = first or engine.recommend(_profile(data))
    second = engine.recommend(_profile(shuffled))
    a = {r.service: r for r in first.results}
    b = {r.service: r for r in second.results}
    out = []
    for sid in a:
        if a[sid].model_dump(mode="json") != b[sid].model_dump(mode="json"):
            diff = [
                k
                for k, v in a[sid].model_dump(mode="json").items()
                if b[sid].model_dump(mode="json").get(k) != v
            ]
            message = f"{sid}: the answer changes in {diff} when the keys are reordered"
            cases = (
                _case(f"fuzz order-independent: {sid} (keys as given)", data, {sid: _expect(a[sid])}),
                _case(f"fuzz order-independent: {sid} (keys reordered)", shuffled, {sid: _expect(a[sid])}),
            )
            out.append(Failure("order-independent", message, f"order-independent:{sid}", cases))
    return out


# -- learning a fact ----------------------------------------------------------------------------

Slot = tuple[str | int, ...]


def unknown_slots(data: dict[str, Any]) -> list[Slot]:
    """Every place in ``data`` where a fact is unknown and could be learnt."""
    shape = profile_shape()
    out: list[Slot] = []
    for spec in shape.top:
        if spec.key != "as_of" and data.get(spec.key) is None:
            out.append((spec.key,))
    for section, specs in shape.sections.items():
        box = data.get(section) or {}
        if section == "partner" and not isinstance(data.get(section), dict):
            continue  # absent, null or false: no partner whose facts could be learnt
        out.extend((section, s.key) for s in specs if box.get(s.key) is None)
    kids = data.get("children")
    if kids is None:
        out.append(("children",))
    else:
        for i, kid in enumerate(kids):
            out.extend(
                ("children", i, s.key)
                for s in shape.child
                if kid.get(s.key) is None and ("children", "*", s.key) not in DEFAULTED_SLOTS
            )
    events = data.get("events")
    if events is None:
        out.append(("events",))
    else:
        for name, event in events.items():
            if event is None:
                out.append(("events", name))
            else:
                out.extend(("events", name, s.key) for s in shape.events[name] if event.get(s.key) is None)
    return out


def slot_facts(slot: Slot) -> set[str]:
    """The base facts a slot settles (to aim at facts a decided service reads)."""
    if slot[0] == "children":
        if len(slot) == 1:
            return {"children"} | {s.path for s in profile_shape().child}
        return {f"child.{slot[2]}"}
    if slot[0] == "events":
        if len(slot) == 1:
            return {p for specs in profile_shape().events.values() for p in (s.path for s in specs)}
        if len(slot) == 2:
            return {s.path for s in profile_shape().events[str(slot[1])]}
        return {f"events.{slot[1]}.{slot[2]}"}
    return {".".join(str(s) for s in slot)}


def fill_value(src: Source, model: RuleModel, data: dict[str, Any], slot: Slot) -> Any:
    as_of = date.fromisoformat(data["as_of"])
    shape = profile_shape()
    if slot == ("children",):
        return gen_children(src, model, as_of, src.choice((1.0, 0.5)))
    if slot == ("events",):
        return gen_events(src, model, as_of, src.choice((1.0, 0.5)))
    if slot[0] == "events" and len(slot) == 2:
        return gen_event(src, str(slot[1]), model, as_of, src.choice((1.0, 0.5)))
    path = f"child.{slot[2]}" if slot[0] == "children" else ".".join(str(s) for s in slot)
    spec = shape.spec(path)
    assert spec is not None, path
    return gen_value(src, spec, model, as_of)


def _get_slot(data: dict[str, Any], slot: Slot) -> Any:
    node: Any = data
    for part in slot:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return None
            node = node[part]
        else:
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        if node is None:
            return None
    return node


def set_slot(data: dict[str, Any], slot: Slot, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    node: Any = out
    for part in slot[:-1]:
        if isinstance(part, int):
            node = node[part]
        else:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
    node[slot[-1]] = value
    return out


def _slot_unknown(data: dict[str, Any], slot: Slot) -> bool:
    if _get_slot(data, slot) is not None:
        return False
    # The place must exist for a child's or an event's field (the child, the listed event).
    if slot[0] == "children" and len(slot) == 3:
        kids = data.get("children")
        return isinstance(kids, list) and int(slot[1]) < len(kids)
    if slot[0] == "events" and len(slot) >= 2:
        events = data.get("events")
        if not isinstance(events, dict) or slot[1] not in events:
            return False
        return len(slot) == 2 or isinstance(events[slot[1]], dict)
    return True


@dataclass(frozen=True)
class Fill:
    slot: Slot
    value: Any

    def label(self) -> str:
        return "".join(
            f"[{p}]" if isinstance(p, int) else (("." if i else "") + p) for i, p in enumerate(self.slot)
        )


def plan_learning(
    src: Source, model: RuleModel, data: dict[str, Any], statuses: dict[str, str]
) -> Fill | None:
    """Aim at a fact that a decided service reads, when there is one."""
    slots = unknown_slots(data)
    if not slots:
        return None
    decided = [sid for sid, s in statuses.items() if s != "unknown"]
    if decided and src.flag(0.8):
        sid = src.choice(decided)
        reads = model.reads.get(sid, frozenset())
        aimed = [s for s in slots if slot_facts(s) & reads]
        if aimed:
            slots = aimed
    slot = src.choice(slots)
    return Fill(slot, fill_value(src, model, data, slot))


def check_learning(
    engine: Engine, data: dict[str, Any], fill: Fill, before: dict[str, str] | None = None
) -> list[Failure]:
    if not _slot_unknown(data, fill.slot):
        return []
    learnt = set_slot(data, fill.slot, fill.value)
    try:
        after_profile = _profile(learnt)
    except ProfileError:
        return []  # a fill the model refuses teaches nothing
    before = before or durable_statuses(engine, _profile(data))
    after = durable_statuses(engine, after_profile)
    out = []
    for sid, was in before.items():
        now = after.get(sid)
        if was == "unknown" or now == was:
            continue
        prop = "learning-never-unknowns" if now == "unknown" else "learning-keeps-verdict"
        message = f"{sid}: {was} while {fill.label()} is unknown, {now} once it is {fill.value!r}"
        cases = (
            _case(f"fuzz {prop}: {sid} is {was} with {fill.label()} unknown", data, {sid: {"status": was}}),
            _case(
                f"fuzz {prop}: {sid} stays {was} once {fill.label()} is known", learnt, {sid: {"status": was}}
            ),
        )
        out.append(Failure(prop, message, f"{prop}:{sid}", cases))
    return out


# -- monotonicity -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """Services that a change of one fact in one direction must never make worse."""

    property: str
    fact: str  # the base fact changed ("child.age" moves a child's birth date)
    better: str  # "less": a smaller value never loses; "more": a larger one never loses
    services: tuple[str, ...]
    excluded: dict[str, str] = field(default_factory=dict)  # service -> why it is not monotone
    limits: dict[str, tuple[Criterion, ...]] = field(default_factory=dict)  # child-age: the limits


def _direction(crit: Criterion) -> str | None:
    """Which way the criterion favours its fact: "less", "more", or None (eq, in…)."""
    op = crit.op if crit.positive else NEGATION[crit.op]
    if op in ("lt", "lte"):
        return "less"
    if op in ("gt", "gte"):
        return "more"
    return None


def _occurrences(model: RuleModel, sid: str, base: str) -> list[tuple[Criterion, str | None]]:
    """Criteria of ``sid`` reading ``base``: (criterion, direction) with None when the fact is
    read anywhere but as the compared side (inside arithmetic, an index, a switch)."""
    out = []
    for crit in model.criteria_of(sid):
        sides = {crit.fact} if crit.fact else set()
        other = {p for p in _facts_in(crit.other)}
        if crit.fact and base in base_inputs(crit.fact):
            # A derived fact reading `base` is taken to rise with it (income per person does).
            out.append((crit, _direction(crit)))
        elif any(base in base_inputs(p) for p in other - sides):
            out.append((crit, None))
    return out


def _facts_in(expr: Any) -> Iterable[str]:
    from engine.language.rules import FactRef, expr_parts

    for part in expr_parts(expr):
        if isinstance(part, FactRef):
            yield part.path


def monotone_families(model: RuleModel) -> list[Family]:
    families = []
    for prop, facts, better in (
        ("monotone-means", MEANS_FACTS, "less"),
        ("monotone-insurance", INSURANCE_FACTS, "more"),
    ):
        for fact in facts:
            services, excluded = [], {}
            for sid in model.services:
                occ = _occurrences(model, sid, fact)
                if not occ:
                    continue
                wanted = [c for c, d in occ if d == better]
                if not wanted:
                    continue  # the issue: services that compare the fact the favourable way
                wrong = [c for c, d in occ if d != better]
                if wrong:
                    excluded[sid] = ", ".join(
                        f"{c.id} ({c.fact} {c.op}{'' if c.positive else ' under not'})" for c in wrong
                    )
                else:
                    services.append(sid)
            families.append(Family(prop, fact, better, tuple(services), excluded))
    limits: dict[str, tuple[Criterion, ...]] = {}
    for sid in model.services:
        found = tuple(
            c for c in model.criteria_of(sid) if c.fact == AGE_LIMIT_FACT and _direction(c) == "less"
        )
        if found:
            limits[sid] = found
    families.append(Family("child-age-limit", AGE_LIMIT_FACT, "less", tuple(limits), {}, limits))
    return families


@dataclass(frozen=True)
class Nudge:
    family: Family
    before: Any  # the fact's value before (None: as the profile has it)
    after: Any
    child: int | None = None
    service: str | None = None  # child-age: the service whose limit is passed

    def label(self) -> str:
        if self.child is not None:
            return f"children[{self.child}].birth_date → {self.after}"
        return f"{self.family.fact} {self.before} → {self.after}"


def _path_slot(fact: str) -> Slot:
    return tuple(fact.split("."))


def plan_nudge(src: Source, model: RuleModel, family: Family, data: dict[str, Any]) -> Nudge | None:
    if not family.services:
        return None
    if family.property == "child-age-limit":
        kids = data.get("children")
        if not kids:
            return None
        sid = src.choice(family.services)
        crit = src.choice(family.limits[sid])
        child = src.integer(0, len(kids) - 1)
        limit = threshold(model, crit, data, child)
        if not isinstance(limit, int | float) or isinstance(limit, bool):
            return None
        op = crit.op if crit.positive else NEGATION[crit.op]
        import math

        past = math.ceil(limit) if op == "lt" else math.floor(limit) + 1
        age = max(0, past) + src.integer(0, 5)
        as_of = date.fromisoformat(data["as_of"])
        birth = (latest_birth_for_age if src.flag(0.5) else earliest_birth_for_age)(as_of, age)
        return Nudge(family, None, birth.isoformat(), child, sid)
    spec = profile_shape().spec(family.fact)
    assert spec is not None
    as_of = date.fromisoformat(data["as_of"])
    before = _get_slot(data, _path_slot(family.fact))
    if before is None:
        before = gen_value(src, spec, model, as_of)
    hi = int(spec.hi if spec.hi is not None else 10**9)
    if family.better == "less":
        if before <= 0:
            return None
        after = src.choice((before - 1, before // 2, src.integer(0, before - 1)))
    else:
        if before >= hi:
            return None
        after = src.choice((before + 1, min(hi, before * 2 + 1), src.integer(before + 1, hi)))
    return Nudge(family, before, after)


def check_nudge(engine: Engine, data: dict[str, Any], nudge: Nudge) -> list[Failure]:
    fam = nudge.family
    if nudge.child is not None:
        kids = data.get("children")
        if not isinstance(kids, list) or nudge.child >= len(kids):
            return []
        base = data
        moved = set_slot(data, ("children", nudge.child, "birth_date"), nudge.after)
        services: Iterable[str] = (nudge.service,) if nudge.service else fam.services
    else:
        base = set_slot(data, _path_slot(fam.fact), nudge.before)
        moved = set_slot(data, _path_slot(fam.fact), nudge.after)
        services = fam.services
    try:
        before = durable_statuses(engine, _profile(base))
        after = durable_statuses(engine, _profile(moved))
    except ProfileError:
        return []
    out = []
    for sid in services:
        worse = (
            RANK[after[sid]] > RANK[before[sid]]
            if fam.property == "child-age-limit"
            else (RANK[after[sid]] < RANK[before[sid]])
        )
        if not worse:
            continue
        verb = "gains" if fam.property == "child-age-limit" else "loses"
        message = f"{sid}: {before[sid]} → {after[sid]} ({verb}) when {nudge.label()}"
        cases = (
            _case(f"fuzz {fam.property}: {sid} is {before[sid]}", base, {sid: {"status": before[sid]}}),
            _case(
                f"fuzz {fam.property}: {sid} stays {before[sid]} when {nudge.label()}",
                moved,
                {sid: {"status": before[sid]}},
            ),
        )
        out.append(Failure(fam.property, message, f"{fam.property}:{sid}", cases))
    return out


# -- the batch evaluator --------------------------------------------------------------------------


class BatchUnavailable(Exception):
    """engine.services.batch is not importable, or its API is not wired into _batch_statuses yet."""


def _batch_statuses(engine: Engine, profiles: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The one place that calls engine/services/batch.py.

    Takes raw profile dicts (each carries its as_of) and returns, in input order, one
    ``{service: status}`` per profile. Raises BatchUnavailable, with the reason, while the
    batch evaluator is absent or its entry point below is not the right one.
    """
    try:
        from engine.services.batch import evaluate_profiles
    except ImportError as exc:  # polars is missing: the batch evaluator cannot run here
        raise BatchUnavailable(f"engine.services.batch is not importable ({exc})") from None
    return _batch_rows(evaluate_profiles(engine.catalogue, profiles), len(profiles))


def _batch_rows(result: Any, n: int) -> list[dict[str, str]]:
    rows = result.to_dicts() if hasattr(result, "to_dicts") else list(result)
    if rows and "row" in rows[0]:
        rows = sorted(rows, key=lambda r: r["row"])
    if len(rows) != n:
        raise BatchUnavailable(
            f"engine.services.batch returned {len(rows)} rows for {n} profiles: check the adapter"
        )
    return [{k: v for k, v in dict(r).items() if k != "row"} for r in rows]


def check_batch(
    engine: Engine, datas: list[dict[str, Any]], expected: list[dict[str, str]]
) -> tuple[list[Failure], int]:
    """The batch verdicts against Engine.statuses; returns the failures and rows checked."""
    got = _batch_statuses(engine, datas)
    out = []
    for data, want, row in zip(datas, expected, got, strict=True):
        for sid, status in want.items():
            if row.get(sid) != status:
                message = f"{sid}: Engine.statuses says {status}, the batch evaluator says {row.get(sid)}"
                case = _case(f"fuzz batch-agrees: {message}", data, {sid: {"status": status}})
                out.append(Failure("batch-agrees", message, f"batch-agrees:{sid}", (case,)))
    return out, len(datas)


# -- families (rules.md, "Families, steps and dates") ------------------------------------------


def _by_service(results: Iterable[Any]) -> dict[str, Any]:
    return {r.service: r for r in results}


def _dump(result: Any) -> dict[str, Any]:
    return result.model_dump(mode="json", by_alias=True)


def check_partner_absent(
    engine: Engine, data: dict[str, Any], rec: Recommendation | None = None
) -> list[Failure]:
    """partner-absent: against the same profile without the ``partner`` key."""
    if "partner" not in data:
        return []
    partner = data["partner"]
    rec = rec or engine.recommend(_profile(data))
    bare = {k: v for k, v in data.items() if k != "partner"}
    without = _by_service(engine.recommend(_profile(bare)).results)
    described = isinstance(partner, dict)
    if not described and rec.partner_results:
        message = f"partner {json.dumps(partner)} yet {len(rec.partner_results)} partner_results"
        return [
            Failure("partner-absent", message, "partner-absent:partner_results", (_case(message, data, {}),))
        ]
    out = []
    for r in rec.results:
        if described and engine.readings[r.service] in ("mother", "either_parent"):
            continue  # read from the mother or either parent: the partner may change it
        if _dump(r) != _dump(without[r.service]):
            message = (
                f"{r.service}: partner {json.dumps(partner)[:60]} gives {r.status}, "
                f"without the key {without[r.service].status} (or another field differs)"
            )
            case = _case(
                f"fuzz partner-absent: {message}"[:200], bare, {r.service: _expect(without[r.service])}
            )
            out.append(Failure("partner-absent", message, f"partner-absent:{r.service}", (case,)))
    return out


def _swapped(data: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    out["person"], out["partner"] = data["partner"], data.get("person") or {}
    return out


def _as_seen(result: Any, other_side: bool) -> dict[str, Any]:
    """What must be the same for one adult in either view, the missing facts named as the
    caller's profile names them."""
    from engine.services.family import as_partner_path

    missing = sorted(as_partner_path(m) if other_side else m for m in result.missing)
    amount = result.amount.value if result.amount is not None else None
    return {"status": result.status, "amount": amount, "deadline": result.deadline, "missing": missing}


def check_partner_swap(
    engine: Engine, data: dict[str, Any], rec: Recommendation | None = None
) -> list[Failure]:
    """partner-swap: the profile seen from the partner answers each adult as the profile did.

    A job loss or a business start is the applicant's own: the swapped profile would give
    it to the other adult. So a service that reads one is compared only when the profile
    says neither happened."""
    from engine.services.family import APPLICANTS_OWN_EVENTS, facts_read, is_applicants_own

    if not isinstance(data.get("partner"), dict):
        return []
    rec = rec or engine.recommend(_profile(data))
    swapped = _swapped(data)
    theirs = engine.recommend(_profile(swapped))
    mine_p, mine_q = _by_service(rec.results), _by_service(rec.partner_results)
    their_p, their_q = _by_service(theirs.results), _by_service(theirs.partner_results)
    events = data.get("events")
    own_events_said = not isinstance(events, dict) or any(e in events for e in APPLICANTS_OWN_EVENTS)
    out = []
    for sid, reading in engine.readings.items():
        if reading != "person" or sid not in mine_p:
            continue
        if own_events_said and any(is_applicants_own(p) for p in facts_read(engine.catalogue, sid)):
            continue
        for who, a, b in (
            ("person", mine_p.get(sid), their_q.get(sid)),
            ("partner", mine_q.get(sid), their_p.get(sid)),
        ):
            seen_a = _as_seen(a, False) if a is not None else None
            seen_b = _as_seen(b, True) if b is not None else None
            if seen_a != seen_b:
                message = f"{sid}: the {who} is {seen_a}, and {seen_b} once the adults are swapped"
                case = _case(f"fuzz partner-swap: {message}"[:200], swapped, {})
                out.append(Failure("partner-swap", message, f"partner-swap:{sid}", (case,)))
    return out


def step_criteria_of(engine: Engine) -> list[tuple[str, str, str, Any]]:
    """(service, criterion id, fact path, value that takes the step) of every step of
    applying in the rules, sorted by service and criterion id (not by position)."""
    from engine.language.rules import Compare, FactRef, Literal, walk

    found: set[tuple[str, str, str, Any]] = set()
    for sid, layer in engine.catalogue.rules.items():
        for rule in layer.values():
            for node in walk(rule.eligibility):
                step = isinstance(node, Compare) and node.step is not None and node.op == "eq"
                if step and isinstance(node.lhs, FactRef) and isinstance(node.rhs, Literal):
                    found.add((sid, node.id, node.lhs.path, node.rhs.value))
    return sorted(found, key=lambda t: (t[0], t[1]))


def check_steps(
    engine: Engine, data: dict[str, Any], statuses: dict[str, str] | None = None
) -> list[Failure]:
    """steps-never-block: each step of applying taken (the fact set as the step says) leaves
    every status as it was. Only for a listed event: a step of an event that did not
    happen cannot be taken."""
    statuses = statuses or durable_statuses(engine, _profile(data))
    out = []
    for sid, crit, path, value in step_criteria_of(engine):
        parts = path.split(".")
        if parts[0] != "events" or len(parts) != 3:
            continue
        event = (data.get("events") or {}).get(parts[1])
        if not isinstance(event, dict) or event.get(parts[2]) == value:
            continue
        taken = set_slot(data, tuple(parts), value)
        after = durable_statuses(engine, _profile(taken))
        if after[sid] != statuses[sid]:
            message = f"{sid}: {statuses[sid]} before the step {crit} is taken, {after[sid]} after"
            case = _case(f"fuzz steps-never-block: {message}"[:200], taken, {sid: {"status": after[sid]}})
            out.append(Failure("steps-never-block", message, f"steps-never-block:{sid}:{crit}", (case,)))
    return out


def family_statuses(rec: Recommendation) -> dict[str, str]:
    """Engine.recommend's statuses in the batch's columns: SERVICE and partner:SERVICE."""
    out: dict[str, str] = {r.service: r.status for r in rec.results}
    return out | {f"partner:{r.service}": r.status for r in rec.partner_results}


def check_batch_families(
    engine: Engine, datas: list[dict[str, Any]], expected: list[dict[str, str]]
) -> tuple[list[Failure], int]:
    """batch-families-agree: the batch with partner columns against Engine.recommend."""
    try:
        from engine.services.batch import evaluate_profiles
    except ImportError as exc:
        raise BatchUnavailable(f"engine.services.batch is not importable ({exc})") from None
    got = evaluate_profiles(engine.catalogue, datas, families=True)
    out = []
    for data, want, row in zip(datas, expected, got, strict=True):
        row = {k: v for k, v in row.items() if v is not None}
        for key in sorted(want.keys() | row.keys()):
            if row.get(key) != want.get(key):
                message = (
                    f"{key}: Engine.recommend says {want.get(key)}, the batch evaluator says {row.get(key)}"
                )
                case = _case(f"fuzz batch-families-agree: {message}", data, {})
                out.append(Failure("batch-families-agree", message, f"batch-families-agree:{key}", (case,)))
    return out, len(datas)


# --- rule coverage ---------------------------------------------------------------------------------

_CHILD_PREFIX = re.compile(r"^children\[\d+\]\.")


@dataclass
class ServiceCoverage:
    service: str
    criteria: tuple[str, ...]
    exempt: dict[str, str]
    met: set[str] = field(default_factory=set)
    unmet: set[str] = field(default_factory=set)

    @property
    def covered(self) -> list[str]:
        return [c for c in self.criteria if c in self.met and c in self.unmet]

    @property
    def gaps(self) -> list[str]:
        """Criteria never seen both ways and not exempt, each with what was never seen."""
        out = []
        for c in self.criteria:
            if c in self.exempt or (c in self.met and c in self.unmet):
                continue
            never = [w for w, s in (("met", self.met), ("unmet", self.unmet)) if c not in s]
            out.append(f"{c} (never {' nor '.join(never)})")
        return out

    @property
    def stale_exemptions(self) -> list[str]:
        """Exemptions that no longer exempt anything (covered anyway, or no such criterion)."""
        return [c for c in self.exempt if c not in self.criteria or (c in self.met and c in self.unmet)]

    @property
    def complete(self) -> bool:
        return not self.gaps


class CoverageTracker:
    def __init__(self, model: RuleModel):
        self.services = {
            sid: ServiceCoverage(sid, model.universe[sid], dict(model.exempt.get(sid, {})))
            for sid in model.services
        }
        self._known = {sid: set(model.universe[sid]) for sid in model.services}

    def add(self, service: str, reasons: Iterable[Any]) -> None:
        cov = self.services.get(service)
        if cov is None:
            return
        known = self._known[service]
        for r in reasons:
            if r.met is None:
                continue
            cid = _CHILD_PREFIX.sub("", r.criterion)
            if cid in known:
                (cov.met if r.met else cov.unmet).add(cid)

    def add_recommendation(self, rec: Recommendation) -> None:
        for result in rec.results:
            self.add(result.service, result.reasons)

    def report(self) -> list[ServiceCoverage]:
        return list(self.services.values())


def cases_dir_of(engine: Engine) -> Path:
    return Path(engine.catalogue.root) / "tests" / "cases"


def add_written_cases(engine: Engine, tracker: CoverageTracker, directory: Path | None = None) -> int:
    """Count the criteria the written YAML cases decide; returns how many cases were read."""
    from engine.services.cases import load_cases

    directory = directory or cases_dir_of(engine)
    if not directory.is_dir():
        return 0
    n = 0
    for case in load_cases(directory):
        try:
            profile = validate_profile(case.input)
        except ProfileError:
            continue  # test_cases.py reports it
        day = case.as_of or profile.as_of or date.today()
        try:
            evaluations = engine.evaluate(profile, day)
        except Exception:
            continue  # test_cases.py fails on it, with the case's name
        for ev in evaluations:
            tracker.add(ev.service, ev.outcome.reasons)
        n += 1
    return n


# --- shrinking --------------------------------------------------------------------------------------

PROTECTED = {("as_of",)}  # without it a case would depend on the day it runs


def _paths(data: Any, prefix: Slot = ()) -> list[Slot]:
    """Every key and list item, outermost first (whole sections go before their fields)."""
    out: list[Slot] = []
    level: list[tuple[Slot, Any]] = [(prefix, data)]
    while level:
        nxt = []
        for path, node in level:
            if isinstance(node, dict):
                for k, v in node.items():
                    out.append((*path, k))
                    nxt.append(((*path, k), v))
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    out.append((*path, i))
                    nxt.append(((*path, i), v))
        level = nxt
    return out


def _delete(data: dict[str, Any], path: Slot) -> dict[str, Any]:
    out = copy.deepcopy(data)
    node: Any = out
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return out


def _simpler(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return [False] if value else []
    if isinstance(value, int):
        return [v for v in (0, 1, value // 2) if v != value and abs(v) < abs(value)]
    if isinstance(value, float):
        return [v for v in (0.0, round(value / 2, 2)) if v != value]
    return []


def shrink(
    data: dict[str, Any], fails: Callable[[dict[str, Any]], bool], budget: int = 600
) -> dict[str, Any]:
    """The smallest profile found that still fails: delete keys and list items while the
    failure persists, then make numbers smaller. Greedy, deterministic, bounded."""
    current = copy.deepcopy(data)
    changed = True
    while changed and budget > 0:
        changed = False
        for path in _paths(current):
            if path in PROTECTED or budget <= 0:
                continue
            candidate = _delete(current, path)
            budget -= 1
            if _fails(fails, candidate):
                current, changed = candidate, True
                break
    for path in _paths(current):
        if budget <= 0:
            break
        for simpler in _simpler(_get_slot(current, path) if path else None):
            budget -= 1
            candidate = set_slot(current, path, simpler)
            if _fails(fails, candidate):
                current = candidate
                break
    return current


def _fails(fails: Callable[[dict[str, Any]], bool], candidate: dict[str, Any]) -> bool:
    try:
        return fails(candidate)
    except ProfileError:
        return False


# --- the report ------------------------------------------------------------------------------------


@dataclass
class PropertyResult:
    name: str
    description: str
    examples: int = 0
    failures: int = 0
    known: dict[str, int] = field(default_factory=dict)  # known issue id -> failures it explains
    skipped: str | None = None  # why the property could not run
    note: str = ""  # its scope: which services, which share of the profiles
    seconds: float = 0.0

    @property
    def held(self) -> bool:
        return self.failures == 0


@dataclass
class Counterexample:
    property: str
    message: str
    profile: dict[str, Any]  # shrunk
    original: dict[str, Any]
    cases: list[dict[str, Any]]

    @builtins.property  # the field above is named `property`: a type checker reads the name as it
    def yaml(self) -> str:
        """Ready to paste into tests/cases/…/*.yaml (the engine/services/cases.py format)."""
        head = f"# {self.property}: {self.message}\n"
        if not self.cases:
            body = yaml.safe_dump(self.profile, sort_keys=False, allow_unicode=True, default_flow_style=None)
            return head + "# (an input that must be rejected with a ProfileError; not a case)\n" + body
        return head + yaml.safe_dump(
            self.cases, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100
        )


@dataclass
class FuzzReport:
    n: int
    seed: int
    rules_version: str
    services: int
    written_cases: int
    seconds: float
    properties: list[PropertyResult]
    coverage: list[ServiceCoverage]
    counterexamples: list[Counterexample]
    notes: list[str] = field(default_factory=list)
    stopped: str | None = None  # why the run ended early (the rule engine crashed the process)

    @property
    def properties_held(self) -> bool:
        return all(p.held for p in self.properties)

    @property
    def coverage_complete(self) -> bool:
        return self.stopped is None and all(c.complete for c in self.coverage)

    @property
    def ok(self) -> bool:
        return self.properties_held and self.coverage_complete

    def render(self) -> str:
        lines = [
            f"lifeevents fuzz: {self.n} profiles, seed {self.seed}, {self.services} services, "
            f"rules version {self.rules_version}, {self.seconds:.1f} s",
            "",
            f"{'property':<26}{'examples':>10}{'failures':>10}{'seconds':>9}  scope",
        ]
        for p in self.properties:
            if p.skipped:
                lines.append(f"{p.name:<26}{'-':>10}{'-':>10}{'':>9}  skipped: {p.skipped}")
                continue
            mark = "" if p.held else "  FAILED"
            known = "".join(f"  (+{c} known: {k})" for k, c in p.known.items())
            lines.append(
                f"{p.name:<26}{p.examples:>10}{p.failures:>10}{p.seconds:>9.1f}  {p.note}{mark}{known}"
            )
        if self.stopped:
            lines += ["", f"STOPPED: {self.stopped}"]
        total = sum(len(c.criteria) for c in self.coverage)
        both = sum(len(c.covered) for c in self.coverage)
        lines += [
            "",
            f"coverage: {both}/{total} criteria seen met and unmet "
            f"(generated profiles and {self.written_cases} written cases)",
        ]
        for c in self.coverage:
            status = "ok" if c.complete else "GAPS"
            row = f"  {c.service:<40}{len(c.covered):>3}/{len(c.criteria):<3} {status}"
            if c.exempt:
                row += f"  exempt: {', '.join(sorted(c.exempt))}"
            lines.append(row)
            lines += [f"      missing: {g}" for g in c.gaps]
            lines += [f"      stale exemption: {s}" for s in c.stale_exemptions]
        lines += [f"note: {n}" for n in self.notes]
        seen = {k for p in self.properties for k in p.known}
        for issue in KNOWN_ISSUES:
            if issue.id in seen:
                lines.append(f"known issue {issue.id} (reported, not counted as a failure): {issue.reported}")
        if self.counterexamples:
            lines += ["", "counterexamples (shrunk; paste into tests/cases/ as regression tests):"]
            for ce in self.counterexamples:
                lines += ["", ce.yaml.rstrip()]
        lines += ["", "all properties held" if self.properties_held else "PROPERTIES FAILED"]
        if self.stopped:
            lines += ["coverage not measured: the run stopped"]
        else:
            lines += ["coverage complete" if self.coverage_complete else "COVERAGE HAS GAPS"]
        return "\n".join(lines)


# --- running everything ----------------------------------------------------------------------------

Progress = Callable[[int, int, str], None]
KINDS = ("partial", "edge", "complete")
KIND_WEIGHTS = (4, 4, 2)


@dataclass
class _Recorder:
    """Counts per property and keeps the first failures, with how to replay them."""

    results: dict[str, PropertyResult]
    keep: int
    found: dict[str, list[tuple[Failure, dict[str, Any], Callable[[dict[str, Any]], list[Failure]]]]] = field(
        default_factory=dict
    )

    def ran(self, prop: str, seconds: float = 0.0) -> None:
        self.results[prop].examples += 1
        self.results[prop].seconds += seconds

    def failed(
        self, failures: list[Failure], data: dict[str, Any], replay: Callable[[dict[str, Any]], list[Failure]]
    ) -> None:
        for f in failures:
            issue = next((k for k in KNOWN_ISSUES if k.matches(f)), None)
            if issue is not None:
                known = self.results[f.property].known
                known[issue.id] = known.get(issue.id, 0) + 1
                continue
            self.results[f.property].failures += 1
            kept = self.found.setdefault(f.property, [])
            if len(kept) < self.keep and all(k[0].signature != f.signature for k in kept):
                kept.append((f, copy.deepcopy(data), replay))


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def guarded(check: Callable[[dict[str, Any]], list[Failure]]) -> Callable[[dict[str, Any]], list[Failure]]:
    """A check whose engine calls may raise (durable-rules, once its heap is damaged, refuses
    later facts): the exception becomes a no-crash failure instead of ending the run."""

    def run(data: dict[str, Any]) -> list[Failure]:
        try:
            return check(data)
        except ProfileError:
            return []  # a shrunk or filled variant the model refuses: nothing to say
        except Exception as exc:
            message = f"the engine raised {type(exc).__name__}: {exc}"
            case = _case(f"fuzz no-crash: {message}"[:200], data, {})
            return [Failure("no-crash", message, f"no-crash:{type(exc).__name__}", (case,))]

    return run


def example_data(model: RuleModel, seed: int, k: int) -> tuple[dict[str, Any], RandomSource]:
    """Example ``k`` of seed ``seed``, and the source to draw its checks' plans from."""
    src = RandomSource(random.Random(f"{seed}:{k}"))
    kind = src.rng.choices(KINDS, KIND_WEIGHTS)[0]
    if kind == "edge":
        data = draw_with_retry(src, lambda s: gen_edge(s, model))
    else:
        keep = 1.0 if kind == "complete" else src.choice((0.1, 0.3, 0.5, 0.7, 0.9))
        data = draw_with_retry(src, lambda s: gen_profile(s, model, keep))
    return data, src


def default_full_every(n: int) -> int:
    """How often the recommend-based checks run: every profile up to 2,000, then every
    4th, then every 10th from 20,000 (a full recommend costs ~8–13 ms on 46 services)."""
    return 1 if n <= 2000 else 4 if n <= 20000 else 10


def run_fuzz(
    engine: Engine,
    n: int,
    seed: int = 0,
    progress: Progress | None = None,
    *,
    full_every: int | None = None,
    text_route_every: int = 10,
    batch_chunk: int = 1000,
    cases_dir: Path | None = None,
    keep_counterexamples: int = 2,
    trace: Callable[[int], None] | None = None,
) -> FuzzReport:
    """Generate ``n`` valid profiles (partial, edge, complete) from ``seed``, check every
    property, and report what held, the rule coverage and shrunk counterexamples.

    Two tiers, because a full ``recommend`` is the dominant cost (measured on 46 services:
    recommend ~8–13 ms, Engine.statuses ~3 ms, the Kleene evaluator alone ~1 ms,
    generating a profile ~0.2 ms, an invalid dict ~0.15 ms):

    - every profile: validation, ``Engine.statuses`` (durable-rules, where the crashes
      were found) against the Kleene evaluator, the batch evaluator (in chunks), and one
      invalid dict;
    - every ``full_every``-th profile (:func:`default_full_every`): ``recommend`` (no crash,
      result shape, rule coverage, and Engine.evaluate's own durable/Kleene check), order
      independence, learning a fact, the monotonicity families, and the invalid dict also
      as JSON text through the CLI's parser on every ``text_route_every``-th of those.

    Example ``k`` of seed ``S`` is drawn from ``random.Random(f"{S}:{k}")``, so any one can
    be regenerated alone (:func:`example_data`); ``trace(k)`` is called as each starts, so
    that a parent process can say which one a crash of the C rule engine interrupted.
    """
    start = time.perf_counter()
    every = full_every or default_full_every(n)
    model = rule_model(engine.catalogue)
    results = {name: PropertyResult(name, text) for name, text in PROPERTIES.items()}
    rec = _Recorder(results, keep_counterexamples)
    tracker = CoverageTracker(model)
    families = monotone_families(model)
    notes: list[str] = []
    batch_rows: list[tuple[dict[str, Any], dict[str, str]]] = []
    family_rows: list[tuple[dict[str, Any], dict[str, str]]] = []
    batch_error: str | None = None

    def flush_batch() -> None:
        nonlocal batch_error
        if batch_rows and not batch_error:
            datas = [d for d, _ in batch_rows]
            try:
                (failures, checked), took = _timed(
                    lambda: check_batch(engine, datas, [s for _, s in batch_rows])
                )
            except BatchUnavailable as exc:
                batch_error = str(exc)
            except Exception as exc:  # the batch evaluator (or durable-rules) failed on this chunk
                notes.append(f"the batch check raised {type(exc).__name__} on a chunk: {exc}")
            else:
                results["batch-agrees"].examples += checked
                results["batch-agrees"].seconds += took
                for f in failures:
                    rec.failed([f], f.cases[0]["input"], _batch_replay(engine))
        batch_rows.clear()

    def flush_families() -> None:
        nonlocal batch_error
        if family_rows and not batch_error:
            datas = [d for d, _ in family_rows]
            try:
                (failures, checked), took = _timed(
                    lambda: check_batch_families(engine, datas, [s for _, s in family_rows])
                )
            except BatchUnavailable as exc:
                batch_error = str(exc)
            except Exception as exc:
                notes.append(f"the batch families check raised {type(exc).__name__} on a chunk: {exc}")
            else:
                results["batch-families-agree"].examples += checked
                results["batch-families-agree"].seconds += took
                for f in failures:
                    rec.failed([f], f.cases[0]["input"], _batch_families_replay(engine))
        family_rows.clear()

    def run_check(
        props: tuple[str, ...], data: dict[str, Any], check: Callable[[dict], list[Failure]]
    ) -> None:
        """Run one metamorphic check (the failure replays it on shrunk profiles)."""
        safe = guarded(check)
        failures, took = _timed(lambda: safe(data))
        for prop in props:
            rec.ran(prop, took / len(props))
        rec.failed(failures, data, safe)

    for k in range(n):
        if trace is not None:
            trace(k)
        if progress is not None and k and k % max(1, n // 100) == 0:
            progress(k, n, "profiles")
        data, src = example_data(model, seed, k)
        full = k % every == 0

        inv = gen_invalid(src, model)
        text = full and (k // every) % text_route_every == 0
        failures, took = _timed(lambda inv=inv, text=text: check_invalid(inv, text))
        rec.ran("invalid-rejected", took)
        rec.failed(
            failures, inv.data, lambda d, inv=inv: check_invalid(InvalidProfile(d, inv.path, inv.kind))
        )

        # -- every profile: validation, durable-rules against Kleene, the batch evaluator
        (failures, statuses), took = _timed(lambda data=data: check_statuses(engine, data))
        rec.ran("valid-accepted", took)
        rec.failed(failures, data, guarded(lambda d: check_statuses(engine, d)[0]))
        if statuses is None:
            continue
        rec.ran("engines-agree")
        batch_rows.append((data, statuses))
        if len(batch_rows) >= batch_chunk:
            flush_batch()
        if not full:
            continue

        # -- every `every`-th profile: the full answer and the metamorphic properties
        (failures, recommendation), took = _timed(lambda data=data: check_recommend(engine, data))
        rec.ran("no-crash", took / 2)
        rec.ran("result-shape", took / 2)
        rec.failed(failures, data, guarded(lambda d: check_recommend(engine, d)[0]))
        if recommendation is None:
            continue
        tracker.add_recommendation(recommendation)

        # Families: the partner's kinds, the swapped view, steps; the batch with partners.
        run_check(
            ("partner-absent",),
            data,
            lambda d, r=recommendation, base=data: check_partner_absent(engine, d, r if d is base else None),
        )
        run_check(
            ("partner-swap",),
            data,
            lambda d, r=recommendation, base=data: check_partner_swap(engine, d, r if d is base else None),
        )
        run_check(
            ("steps-never-block",),
            data,
            lambda d, st=statuses, base=data: check_steps(engine, d, st if d is base else None),
        )
        family_rows.append((data, family_statuses(recommendation)))
        if len(family_rows) >= batch_chunk:
            flush_families()

        order_seed = src.integer(0, 2**31)
        run_check(
            ("order-independent",),
            data,
            lambda d, s=order_seed, r=recommendation, base=data: check_order(
                engine, d, s, r if d is base else None
            ),
        )

        fill = plan_learning(src, model, data, statuses)
        if fill is not None:
            run_check(
                ("learning-never-unknowns", "learning-keeps-verdict"),
                data,
                lambda d, fill=fill, st=statuses, base=data: check_learning(
                    engine, d, fill, st if d is base else None
                ),
            )

        for prop in dict.fromkeys(f.property for f in families):
            # One fact of each family per profile (income, or assets, or real estate…).
            fams = [f for f in families if f.property == prop and f.services]
            if not fams:
                continue
            nudge = plan_nudge(src, model, src.choice(fams), data)
            if nudge is not None:
                run_check((prop,), data, lambda d, nudge=nudge: check_nudge(engine, d, nudge))
    flush_batch()
    flush_families()
    if batch_error:
        results["batch-agrees"].skipped = batch_error
        results["batch-families-agree"].skipped = batch_error

    written = add_written_cases(engine, tracker, cases_dir)

    # Scope notes: what each property covered, so that a reader knows how strong "held" is.
    tier = f"every {every}th profile" if every > 1 else "every profile"
    results["valid-accepted"].note = "every profile"
    results[
        "engines-agree"
    ].note = f"every profile (Engine.statuses vs Kleene); Engine.evaluate's own check on {tier}"
    results["batch-agrees"].note = "every profile"
    results[
        "invalid-rejected"
    ].note = f"one per profile; as JSON text too on every {every * text_route_every}th"
    for prop in ("no-crash", "result-shape", "order-independent", "partner-absent", "partner-swap"):
        results[prop].note = f"{tier} (Engine.recommend)"
    results["steps-never-block"].note = f"{tier}, each step of a listed event taken (Engine.statuses)"
    results["batch-families-agree"].note = f"{tier} (Engine.recommend against the batch with partners)"
    results["no-crash"].note += "; Engine.statuses on every profile"
    results["learning-never-unknowns"].note = f"{tier}, one unknown fact learnt"
    results["learning-keeps-verdict"].note = results["learning-never-unknowns"].note
    for prop in ("monotone-means", "monotone-insurance", "child-age-limit"):
        fams = [f for f in families if f.property == prop]
        checked = sorted({s for f in fams for s in f.services})
        results[prop].note = f"{tier}; {len(checked)} services: {', '.join(checked) or '-'}"
        for f in fams:
            for sid, why in sorted(f.excluded.items()):
                notes.append(
                    f"{prop}: {sid} is not checked for {f.fact}, its rule is not monotone in it: {why}"
                )
        if not checked:
            results[prop].skipped = "no service in the rules compares the fact that way"

    counterexamples = []
    for prop, kept in rec.found.items():
        for failure, data, replay in kept:
            if progress is not None:
                progress(0, 0, f"shrinking a {prop} counterexample")
            counterexamples.append(_shrunk(failure, data, replay))

    return FuzzReport(
        n=n,
        seed=seed,
        rules_version=engine.catalogue.version,
        services=len(engine.catalogue.services),
        written_cases=written,
        seconds=time.perf_counter() - start,
        properties=list(results.values()),
        coverage=tracker.report(),
        counterexamples=counterexamples,
        notes=notes,
    )


def _batch_replay(engine: Engine) -> Callable[[dict[str, Any]], list[Failure]]:
    def replay(d: dict[str, Any]) -> list[Failure]:
        try:
            return check_batch(engine, [d], [durable_statuses(engine, _profile(d))])[0]
        except Exception:  # unavailable, or the engine refused the shrunk profile
            return []

    return replay


def _batch_families_replay(engine: Engine) -> Callable[[dict[str, Any]], list[Failure]]:
    def replay(d: dict[str, Any]) -> list[Failure]:
        try:
            want = family_statuses(engine.recommend(_profile(d)))
            return check_batch_families(engine, [d], [want])[0]
        except Exception:  # unavailable, or the engine refused the shrunk profile
            return []

    return replay


def _shrunk(
    failure: Failure, data: dict[str, Any], replay: Callable[[dict[str, Any]], list[Failure]]
) -> Counterexample:
    safe = guarded(replay)

    def fails(candidate: dict[str, Any]) -> bool:
        return any(f.signature == failure.signature for f in safe(candidate))

    small = shrink(data, fails) if fails(data) else data
    final = next((f for f in safe(small) if f.signature == failure.signature), failure)
    return Counterexample(failure.property, final.message, small, data, list(final.cases))


# --- crash isolation ---------------------------------------------------------------------------
#
# durable-rules is C. Measured on this catalogue: some profiles make it segfault or abort
# ("free(): invalid pointer"; see tests/test_fuzz.py, "durable-rules limits"), which no
# `except` can catch and which would take pytest, the CLI or a Streamlit server down with it. The isolated runner puts the engine in a child
# process, learns from its "@k" trace lines which example was running, and shrinks that
# profile with a crash oracle: a child that answers one profile per line and is restarted
# whenever a profile kills it.


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _died(returncode: int | None) -> bool:
    """Killed by a signal (negative on POSIX; 128+n through a shell)."""
    return returncode is not None and (returncode < 0 or returncode >= 128)


class CrashOracle:
    """Does this profile kill the rule engine's process? Asked of a long-lived child,
    restarted after each death; a death counts only when it repeats in a fresh child, so
    that heap damage left by an earlier profile is not blamed on this one."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.proc: subprocess.Popen[str] | None = None
        self.asked = 0

    def _start(self) -> subprocess.Popen[str]:
        self.close()
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine.testing.fuzz_child", "oracle", str(self.root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=_child_env(),
        )
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the crash oracle did not start ({self.root})")
        self.proc = proc
        return proc

    def _ask(self, data: dict[str, Any]) -> str:
        """``died``, or the child's answer: ``ok``, ``invalid``, ``error: TYPE``."""
        proc = self.proc if self.proc is not None and self.proc.poll() is None else self._start()
        assert proc.stdin is not None and proc.stdout is not None
        self.asked += 1
        try:
            proc.stdin.write(json.dumps(data, ensure_ascii=False) + "\n")
            proc.stdin.flush()
            answer = proc.stdout.readline().strip()
        except BrokenPipeError:
            answer = ""
        if answer:
            return answer
        self.close()
        return "died"

    def fails(self, data: dict[str, Any], engine_errors: bool = False) -> bool:
        """The profile kills the process (or, with ``engine_errors``, makes durable-rules
        refuse it: the same heap damage caught one step earlier), in a fresh child too."""

        def bad(answer: str) -> bool:
            return answer == "died" or (engine_errors and answer.startswith("error: DurableError"))

        if not bad(self._ask(data)):
            return False
        self.close()
        return bad(self._ask(data))  # again, first thing in a fresh process

    def crashes(self, data: dict[str, Any]) -> bool:
        return self.fails(data)

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        for pipe in (proc.stdin, proc.stdout):
            with contextlib.suppress(Exception):
                if pipe is not None:
                    pipe.close()
        with contextlib.suppress(Exception):
            proc.wait(timeout=10)


def run_fuzz_isolated(
    root: Path | str,
    n: int,
    seed: int = 0,
    progress: Progress | None = None,
    shrink_budget: int = 60,
) -> FuzzReport:
    """:func:`run_fuzz` on the catalogue under ``root``, in a child process.

    What the CLI and the staff page call: a crash of the C rule engine becomes a shrunk
    no-crash counterexample in the report instead of the end of the caller's process.
    """
    root = Path(root)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.pickle"
        with subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine.testing.fuzz_child",
                "run",
                str(root),
                str(n),
                str(seed),
                str(out),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_child_env(),
        ) as proc:
            last = -1
            step = max(1, n // 100)
            assert proc.stdout is not None and proc.stderr is not None
            for line in proc.stdout:
                if line.startswith("@"):
                    last = int(line[1:])
                    if progress is not None and last and last % step == 0:
                        progress(last, n, "profiles")
            stderr = proc.stderr.read()
            proc.wait()
        if proc.returncode == 0 and out.exists():
            with out.open("rb") as fh:
                report: FuzzReport = pickle.load(fh)  # our own child's report, written just now
            _reshrink_engine_errors(root, report, progress, shrink_budget)
            return report
    if not _died(proc.returncode):
        tail = stderr.strip().splitlines()[-1:] or ["no message"]
        raise RuntimeError(f"the fuzz child failed (exit {proc.returncode}): {tail[0]}")
    return _crash_report(root, n, seed, last, proc.returncode, stderr, progress, shrink_budget)


def _reshrink_engine_errors(root: Path, report: FuzzReport, progress: Progress | None, budget: int) -> None:
    """A DurableError is heap damage caught before it kills: which profile did it depends on
    what ran before, so shrinking in the fuzz process is unreliable. Shrink it again, one
    fresh process per verdict."""
    todo = [ce for ce in report.counterexamples if ce.property == "no-crash" and "DurableError" in ce.message]
    if not todo:
        return
    oracle = CrashOracle(root)
    try:
        for ce in todo:
            if not oracle.fails(ce.original, engine_errors=True):
                report.notes.append(f"{ce.message}: does not recur alone in a fresh process")
                continue
            if progress is not None:
                progress(0, 0, "shrinking a profile that broke the rule engine, in fresh processes")
            ce.profile = shrink(ce.original, lambda d: oracle.fails(d, engine_errors=True), budget=budget)
            if ce.profile == ce.original:
                # Measured: the damage comes from how many rules the fact matches at once (more
                # than 64), so removing any one field can hide it. The profile is shown whole.
                ce.message += " (crashes alone in a fresh process; no smaller profile does)"
            else:
                ce.message += " (shrunk in fresh processes, where it crashes or is refused alike)"
            ce.cases = [_case(f"fuzz no-crash: {ce.message}"[:200], ce.profile, {})]
    finally:
        oracle.close()


def _crash_report(
    root: Path,
    n: int,
    seed: int,
    last: int,
    returncode: int,
    stderr: str,
    progress: Progress | None,
    budget: int,
) -> FuzzReport:
    from engine.language.loader import load_catalogue

    catalogue = load_catalogue(root)
    model = rule_model(catalogue)
    oracle = CrashOracle(root)
    counterexamples = []
    found: tuple[int, dict[str, Any]] | None = None
    try:
        # Heap damage can surface a little after the profile that did it: look back.
        for k in range(last, max(-1, last - 5), -1):
            data, _ = example_data(model, seed, k)
            if oracle.crashes(data):
                found = (k, data)
                break
        if found is not None:
            if progress is not None:
                progress(0, 0, "shrinking the profile that crashed the rule engine")
            k, data = found
            small = shrink(data, oracle.crashes, budget=budget)
            signal = f"signal {-returncode}" if returncode < 0 else f"exit {returncode}"
            message = f"the rule engine crashed the process ({signal}) on example {k} of seed {seed}"
            case = _case(f"fuzz no-crash: {message}", small, {})
            counterexamples.append(Counterexample("no-crash", message, small, data, [case]))
    finally:
        oracle.close()
    results = {name: PropertyResult(name, text) for name, text in PROPERTIES.items()}
    for prop in results.values():
        prop.skipped = None if prop.name == "no-crash" else "the run stopped"
    results["no-crash"].examples = last + 1
    results["no-crash"].failures = 1
    results["no-crash"].note = "crashed the process: see the counterexample"
    notes = [f"the child's last words: {ln.strip()}" for ln in stderr.splitlines() if "File" in ln][:3]
    if found is None:
        notes.append(f"no single example of {max(0, last - 4)}..{last} crashes alone: heap damage builds up")
    return FuzzReport(
        n=n,
        seed=seed,
        rules_version=catalogue.version,
        services=len(catalogue.services),
        written_cases=0,
        seconds=0.0,
        properties=list(results.values()),
        coverage=[],
        counterexamples=counterexamples,
        notes=notes,
        stopped=f"the rule engine crashed the process at example {last} of {n}",
    )


__all__ = [
    "PROPERTIES",
    "BatchUnavailable",
    "Counterexample",
    "CoverageTracker",
    "CrashOracle",
    "Failure",
    "FuzzReport",
    "PropertyResult",
    "ServiceCoverage",
    "check_agreement",
    "check_invalid",
    "check_learning",
    "check_nudge",
    "check_order",
    "check_recommend",
    "check_statuses",
    "default_full_every",
    "example_data",
    "guarded",
    "monotone_families",
    "plan_learning",
    "plan_nudge",
    "run_fuzz",
    "run_fuzz_isolated",
    "shrink",
    "unexplained",
]
