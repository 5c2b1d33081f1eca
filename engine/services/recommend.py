"""The engine: a profile in, every service's status, reasons, amount and deadline out.

The status comes from durable-rules (``durable_backend``); the reasons come from the
Kleene evaluator (``logic``), and the two are checked against each other on every
evaluation. Amounts, fees and deadlines are plain arithmetic over dated parameters.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from engine.backends.durable_backend import DurableRunner, compile_catalogue
from engine.backends.logic import (
    Describer,
    Env,
    KeptText,
    Outcome,
    Reason,
    Verdict,
    eval_expr,
    evaluate,
    exact,
    overrides_of,
    shift_date,
    verdict_of,
)
from engine.language.catalog import Bilingual, Catalogue, Service, ServiceRule
from engine.language.facts import (
    CHILD_DERIVED,
    PROFILE_DERIVED,
    TreeData,
    Unknown,
    child_facts,
    profile_facts,
)
from engine.language.i18n import round_half_up  # amounts are rounded as they are shown
from engine.language.profile import Profile
from engine.language.rules import (
    All,
    AmountRule,
    AnyOf,
    Compare,
    Condition,
    Const,
    DeadlineRule,
    FactRef,
    Literal,
    Not,
    ParamRef,
    SomeChild,
    Switch,
    Text,
    Unencoded,
    expr_parts,
    params_read,
    walk,
)
from engine.services.family import (
    as_partner_path,
    either_parent,
    family_totals,
    mother_is_partner,
    readings,
    seen_from_partner,
)
from engine.services.results import (
    ChannelOut,
    DocumentOut,
    EligibilityResult,
    For,
    Money,
    ReasonOut,
    Recommendation,
    StepOut,
)

STATUS = {True: "eligible", False: "ineligible", None: "unknown"}
URGENT_WITHIN_DAYS = "plan.urgent_within_days"


class EngineDisagreement(RuntimeError):
    """durable-rules and the explanation gave different answers: a bug, never hidden."""


# --- the effective condition of a service ----------------------------------------------

_DERIVED_INPUTS = {d.path: d.inputs for d in (*PROFILE_DERIVED, *CHILD_DERIVED)}


def _events_read(expr_or_path: Any) -> set[str]:
    """The events whose fields an expression reads (directly or through a derived fact)."""
    paths: list[str] = []
    if isinstance(expr_or_path, str):
        paths = [expr_or_path]
    else:
        paths = [p.path for p in expr_parts(expr_or_path) if isinstance(p, FactRef)]
    out: set[str] = set()
    while paths:
        path = paths.pop()
        if path.startswith("events.") and not path.endswith(".listed"):
            out.add(path.split(".")[1])
        paths.extend(_DERIVED_INPUTS.get(path, ()))
    return out


def _listed(event: str) -> Compare:
    return Compare(
        id=f"events.{event}.listed", lhs=FactRef(f"events.{event}.listed"), op="eq", rhs=Literal(True)
    )


def guard_events(cond: Condition) -> Condition:
    """Wrap every criterion that reads an event's field in "and the event is listed".

    rules.md: an event that is not listed did not happen. Its fields are then not
    unknown but meaningless; the guard makes such a criterion unmet, so that a rule
    author cannot forget it.
    """
    if isinstance(cond, Compare):
        events = _events_read(cond.lhs) | _events_read(cond.rhs)
        if not events:
            return cond
        return All((*(_listed(e) for e in sorted(events)), cond))
    if isinstance(cond, All):
        return All(tuple(guard_events(c) for c in cond.items))
    if isinstance(cond, AnyOf):
        return AnyOf(tuple(guard_events(c) for c in cond.items))
    if isinstance(cond, Not):
        return Not(guard_events(cond.item))
    if isinstance(cond, SomeChild):
        guarded = SomeChild(cond.id, cond.range, guard_events(cond.body), cond.text, cond.where)
        return All((_listed("birth"), guarded)) if cond.range == "newborn" else guarded
    if isinstance(cond, Switch):
        return Switch(
            cond.fact,
            tuple((k, guard_events(c)) for k, c in cond.cases),
            guard_events(cond.default) if cond.default else None,
            cond.where,
        )
    return cond


def assume_steps_taken(cond: Condition) -> Condition:
    """The condition with every step of applying read as taken.

    rules.md: a step the citizen can still take (registering as a job seeker) never
    makes a result ineligible; the status is what it would be once the step is taken,
    and the result lists the step. Done here, in the one condition every backend
    compiles, so that durable-rules, the explanations and the column evaluator agree.
    """
    if isinstance(cond, Compare):
        return Const(True) if cond.step is not None else cond
    if isinstance(cond, All):
        return All(tuple(assume_steps_taken(c) for c in cond.items))
    if isinstance(cond, AnyOf):
        return AnyOf(tuple(assume_steps_taken(c) for c in cond.items))
    if isinstance(cond, Not):
        return Not(assume_steps_taken(cond.item))
    if isinstance(cond, SomeChild):
        return SomeChild(cond.id, cond.range, assume_steps_taken(cond.body), cond.text, cond.where)
    if isinstance(cond, Switch):
        return Switch(
            cond.fact,
            tuple((k, assume_steps_taken(c)) for k, c in cond.cases),
            assume_steps_taken(cond.default) if cond.default else None,
            cond.where,
        )
    return cond


def step_criteria(rule: ServiceRule | None) -> list[Compare]:
    """The criteria of a rule that are steps of applying, in rule order."""
    if rule is None:
        return []
    return [n for n in walk(rule.eligibility) if isinstance(n, Compare) and n.step is not None]


def note_reads(rule: ServiceRule, when: Condition) -> dict[str, ParamRef]:
    """How a note's ``{param:NAME}`` reads NAME: as the note's own condition reads it,
    else as the rule's amount or fee does (``at: events.birth.date``), else on the day
    of the answer. A note explains its rule, so it quotes the very figure the rule uses:
    the birth grant's total for a birth in 2025 is the 2025 figure, even asked in 2024."""
    out = params_read(when)
    for money in (rule.amount, rule.fee):
        if money is not None:
            for part in expr_parts(money.value):
                if isinstance(part, ParamRef):
                    out.setdefault(part.name, part)
    return out


def _conjuncts(cond: Condition) -> tuple[Condition, ...]:
    """The items a condition requires, nested ``all``s flattened."""
    if isinstance(cond, All):
        return tuple(c for item in cond.items for c in _conjuncts(item))
    return (cond,)


def _conjunction(items: tuple[Condition, ...]) -> Condition:
    if not items:
        return Const(True)
    return items[0] if len(items) == 1 else All(items)


def hoist_common(cond: Condition) -> Condition:
    """Take the requirements every branch of a switch shares out of the switch.

    A switch whose key is unknown is unknown: the branch cannot be chosen. Yet when every
    branch requires something that is false, the answer is false whatever the key (an
    ``all`` with a false item is false): with no birth listed, every city's birth grant is
    unmet, so the grant is unmet with the residence unknown too. Written as a conjunction
    outside the switch, the shared requirement decides it in all three backends alike:
    ``switch(k, {c: A and Bc}, default: D)`` is ``A and switch(k, {c: Bc}, default: D')``
    when every branch and the default require A; a false default (no national rule)
    requires anything, and stays false.
    """
    if isinstance(cond, All | AnyOf):
        return type(cond)(tuple(hoist_common(c) for c in cond.items))
    if isinstance(cond, Not):
        return Not(hoist_common(cond.item))
    if not isinstance(cond, Switch):
        return cond
    cases = tuple((k, hoist_common(c)) for k, c in cond.cases)
    default = hoist_common(cond.default) if cond.default is not None else None
    requirements = [_conjuncts(c) for _, c in cases]
    if default is not None and default != Const(False):
        requirements.append(_conjuncts(default))
    shared = tuple(dict.fromkeys(c for c in requirements[0] if all(c in r for r in requirements[1:])))
    if not cases or not shared:
        return Switch(cond.fact, cases, default, cond.where)

    def rest(branch: Condition) -> Condition:
        return _conjunction(tuple(c for c in _conjuncts(branch) if c not in shared))

    if default is not None and default != Const(False):
        default = rest(default)
    return All((*shared, Switch(cond.fact, tuple((k, rest(c)) for k, c in cases), default, cond.where)))


def ended_condition(service_id: str, service: Service, catalogue: Catalogue | None = None) -> Condition:
    """An ended programme: ineligible after its end date; unknown before it, because
    its historic rules are not encoded (rules.md, "Ended programmes"). The reason names
    the successor by its name, in the vocabulary's words."""
    assert service.ended is not None
    end = service.ended.on
    successor = service.ended.successor
    found = catalogue.services.get(successor) if catalogue else None
    phrase = catalogue.labels.get("phrase.ended") if catalogue else None

    def said(lang: str) -> str:
        name = found.name.get(lang) if found else successor
        if phrase is None:
            return f"{end.isoformat()}: {name}"
        return phrase.get(lang).format(date=end.isoformat(), successor=name)

    text = Text(en=said("en"), zh=said("zh-TW"))
    return All(
        (
            Compare(id="programme-running", lhs=FactRef("as_of"), op="lte", rhs=Literal(end), text=text),
            Unencoded(missing=f"rules.{service_id}"),
        )
    )


def effective_condition(catalogue: Catalogue, service_id: str) -> Condition:
    service = catalogue.services[service_id]
    if service.ended is not None:
        return ended_condition(service_id, service, catalogue)
    layer = catalogue.rules.get(service_id, {})
    national = layer.get("national")
    local = sorted((j, r) for j, r in layer.items() if j != "national")
    base: Condition = national.eligibility if national else Const(False)
    if local:
        cond: Condition = Switch("residence", tuple((j, r.eligibility) for j, r in local), base)
    else:
        cond = base
    return hoist_common(assume_steps_taken(guard_events(cond)))


# --- the engine -----------------------------------------------------------------------------


def tree_data(catalogue: Catalogue) -> TreeData | None:
    """The data beside the rules that derived facts read (``Derived.tree_data``), from the
    catalogue's own tree; None (the default tree's) for a catalogue without one."""
    from engine.language.residences import RESIDENCES_FILE, residences

    if not catalogue.root or not (Path(catalogue.root) / RESIDENCES_FILE).is_file():
        return None
    return {"mle_areas": residences(catalogue.root).mle_area_of()}


def _known(value: Any) -> Any:
    return None if isinstance(value, Unknown) else value


def _same_path(path: str) -> str:
    return path


@dataclass(frozen=True)
class Evaluation:
    """One service's verdict with its explanation, before formatting."""

    service: str
    status: str
    outcome: Outcome
    rule: ServiceRule | None


@dataclass(frozen=True, slots=True)
class NotePlan:
    """A rule's note as the engine shows it, made once per catalogue."""

    on: frozenset[str]  # the statuses it is shown on
    holds: Verdict  # its condition, compiled
    # Its text; the {value:…} placeholders are the note's own, its {param:…} read as
    # note_reads says.
    words: KeptText


@dataclass(frozen=True)
class View:
    """One adult's view of the family: the facts with that adult as ``person``, and the
    verdicts read from them."""

    env: Env
    by_id: dict[str, Evaluation]


class Engine:
    """A compiled catalogue. Thread-safe; build one per catalogue version and share it."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        self.conditions = {sid: effective_condition(catalogue, sid) for sid in catalogue.services}
        # From the catalogue cache when it holds this very compilation (a warm command).
        self.plan = compile_catalogue(self.conditions, catalogue)
        self.runner = DurableRunner(self.plan)
        self.overrides = overrides_of(catalogue)
        # The data of the catalogue's own tree that derived facts read (the MLE areas):
        # an engine on a staff draft or on --rules DIR reads that tree's, not the default's.
        self.tree = tree_data(catalogue)
        self._static_cache: dict[tuple[str, str], tuple[list[DocumentOut], list[ChannelOut]]] = {}
        self._describers: dict[tuple[str, bool], Describer] = {}
        self._service_fields_cache: dict[tuple[str, str | None, str, bool], dict[str, Any]] = {}
        # A rule's deadline condition and its steps of applying, guarded by their events,
        # built once here: building nodes costs more than evaluating them. Keyed by service
        # and jurisdiction, which name one rule of the catalogue (rule_for).
        self._deadline_when: dict[tuple[str, str], Condition] = {}
        self._steps_guarded: dict[tuple[str, str], list[tuple[Compare, Condition]]] = {}
        # A rule's notes, each with the statuses it is shown on, its condition compiled and
        # how its placeholders read their parameters (note_reads): made the first time the
        # rule is formatted, since one answer reads one city's of the 22 local layers.
        self._notes: dict[tuple[str, str], tuple[NotePlan, ...]] = {}
        for sid, layer in catalogue.rules.items():
            for jurisdiction, rule in layer.items():
                if rule.deadline is not None and rule.deadline.when is not None:
                    self._deadline_when[sid, jurisdiction] = guard_events(rule.deadline.when)
                self._steps_guarded[sid, jurisdiction] = [(c, guard_events(c)) for c in step_criteria(rule)]

        # The compiled catalogue lives as long as the process: move it out of the cyclic
        # garbage collector's way, whose full collections otherwise cost ~30 ms pauses.
        gc.freeze()
        # After the freeze: deciding whom each service is for compiles a few conditions,
        # and the keys compiled then are shared by the describers' caches; frozen, the
        # collector would never stop tracking them (test_explanation_caches).
        self.readings = readings(catalogue, self.conditions)

    # -- evaluation ---------------------------------------------------------------------

    def env(self, profile: Profile, as_of: date) -> Env:
        facts = profile_facts(profile, as_of, self.tree)
        children = None
        if profile.children is not None:
            children = [child_facts(profile, i, c, facts, self.tree) for i, c in enumerate(profile.children)]
        return Env(self.catalogue, as_of, facts, children, overrides=self.overrides)

    def statuses(self, profile: Profile, as_of: date) -> dict[str, str]:
        """durable-rules' decision for every service (no explanation)."""
        decided = self.runner.decide(self.env(profile, as_of))
        return {sid: STATUS[decided.get(sid)] for sid in self.catalogue.services}

    def describer(self, lang: str, partner: bool = False) -> Describer:
        """One per language and view, kept: its word cache is the same for every profile."""
        key = (lang, partner)
        found = self._describers.get(key)
        if found is None:
            found = self._describers[key] = Describer(self.catalogue, lang, partner)
        return found

    def evaluate(
        self,
        profile: Profile,
        as_of: date,
        lang: str = "en",
        services: list[str] | None = None,
        env: Env | None = None,
        partner: bool = False,
    ) -> list[Evaluation]:
        env = env or self.env(profile, as_of)
        decided = self.runner.decide(env)
        describer = self.describer(lang, partner)
        out = []
        for sid in services or list(self.catalogue.services):
            outcome = evaluate(self.conditions[sid], env, describer)
            durable_verdict = decided.get(sid)
            if durable_verdict != outcome.value:
                raise EngineDisagreement(
                    f"{sid}: durable-rules says {STATUS[durable_verdict]}, "
                    f"the explanation says {STATUS[outcome.value]}"
                )
            residence = env.facts["residence"]
            rule = self.catalogue.rule_for(sid, None if isinstance(residence, Unknown) else residence)
            out.append(Evaluation(sid, STATUS[outcome.value], outcome, rule))
        return out

    def recommend(
        self, profile: Profile, as_of: date | None = None, event: str | None = None, lang: str = "en"
    ) -> Recommendation:
        day = as_of or profile.as_of or date.today()
        wanted = self.catalogue.services_for(event)
        own = self._view(profile, day, lang, wanted)
        partner_profile = seen_from_partner(profile)
        theirs = None
        if partner_profile is not None:
            for_partner = [s for s in wanted if self.readings[s] in ("person", "mother", "either_parent")]
            theirs = self._view(partner_profile, day, lang, for_partner, partner=True)
        results: list[EligibilityResult] = []
        partner_results: list[EligibilityResult] = []
        for sid in wanted:
            reading = self.readings[sid]
            whose: For = "person" if reading in ("person", "applicant") else "household"
            if theirs is not None and reading == "mother" and mother_is_partner(profile):
                results.append(self._result(theirs.by_id[sid], theirs, lang, whose, from_partner=True))
            elif theirs is not None and reading == "either_parent":
                results.append(self._either_parent(sid, own, theirs, lang))
            else:
                results.append(self._result(own.by_id[sid], own, lang, whose))
            if theirs is not None and reading == "person":
                partner_results.append(
                    self._result(theirs.by_id[sid], theirs, lang, "partner", from_partner=True)
                )
        return Recommendation(
            as_of=day,
            rules_version=self.catalogue.version,
            results=results,
            partner_results=partner_results,
            totals=family_totals(results + partner_results, self.catalogue),
        )

    def _view(self, profile: Profile, day: date, lang: str, wanted: list[str], partner: bool = False) -> View:
        """One adult's view of the family: its facts and the verdicts of what is shown,
        with what their exclusions compare them with."""
        env = self.env(profile, day)
        needed = set(wanted)
        for sid in wanted:
            needed.update(self.catalogue.services[sid].excluded())
        evaluations = self.evaluate(
            profile, day, lang, [s for s in self.catalogue.services if s in needed], env, partner
        )
        return View(env, {e.service: e for e in evaluations})

    def _either_parent(self, sid: str, own: View, theirs: View, lang: str) -> EligibilityResult:
        """A household service met when either parent meets it: the better of the two
        views; when both are unknown, the facts of both would settle it."""
        mine = self._result(own.by_id[sid], own, lang, "household")
        other = self._result(theirs.by_id[sid], theirs, lang, "household", from_partner=True)
        if either_parent(mine.status, other.status) == "partner":
            return other
        if mine.status == other.status == "unknown":
            return mine.model_copy(update={"missing": sorted(set(mine.missing) | set(other.missing))})
        return mine

    # -- formatting --------------------------------------------------------------------------

    def _result(
        self, ev: Evaluation, view: View, lang: str, whose: For = "person", from_partner: bool = False
    ) -> EligibilityResult:
        env, by_id = view.env, view.by_id
        named = as_partner_path if from_partner else _same_path
        rule = ev.rule
        describer = self.describer(lang, from_partner)
        shown = self._service_fields(ev.service, rule, describer)
        legal = shown["legal_basis"]
        agency = shown["agency"]
        reasons = self._reasons(ev.outcome.reasons, legal, agency, describer)
        amount = fee = None
        deadline = None
        amount_missing: set[str] = set()
        if ev.status == "eligible" and rule is not None:
            for what in ("amount", "fee"):
                money, extra, missing = self._money(getattr(rule, what), env, describer, what)
                reasons += extra
                amount_missing |= missing
                if what == "amount":
                    amount = money
                else:
                    fee = money
        elif ev.status == "unknown" and rule is not None:
            # An amount that is already computable is shown even before the status is
            # settled (the Taichung grant for a first child); one that is not stays null.
            amount = self._money(rule.amount, env, describer, "amount")[0]
        steps: list[StepOut] = []
        deadline_missing: frozenset[str] = frozenset()
        if ev.status != "ineligible":
            deadline, deadline_missing = self._deadline(ev.service, rule, env)
            step_reasons, steps = self._steps(ev.service, rule, env, describer, deadline)
            reasons += step_reasons
        # Notes are caveats, not criteria: they go in `notes`, never among the reasons
        # as a met criterion.
        notes: list[str] = []
        if rule is not None:
            for note in self._notes_of(rule):
                if ev.status in note.on and note.holds(env, None).value is True:
                    notes.append(note.words.render(env, describer))
        if ev.status == "eligible":
            reasons += self._exclusions(ev.service, env, by_id, describer)
        fields = dict(shown)
        for name in _SERVICE_LISTS:  # kept as tuples; each result owns its lists
            fields[name] = list(shown[name])
        return EligibilityResult.construct_all(
            **fields,
            status=ev.status,
            reasons=reasons,
            missing=_named(ev.outcome.missing, named) if ev.status == "unknown" else [],
            deadline=deadline,
            amount=amount,
            fee=fee,
            children=list(ev.outcome.witnesses) or _witnesses(ev.outcome),
            what_would_change=_what_would_change(ev, env, describer) if ev.status == "ineligible" else [],
            notes=notes,
            amount_missing=_named(amount_missing, named),
            deadline_missing=_named(deadline_missing, named),
            for_=whose,
            steps=steps,
            urgent=deadline is not None and (deadline - env.as_of).days <= self._urgent_days(env),
        )

    def _notes_of(self, rule: ServiceRule) -> tuple[NotePlan, ...]:
        key = (rule.service, rule.jurisdiction)
        found = self._notes.get(key)
        if found is None:  # two threads may both make it: the same plan either way
            found = self._notes[key] = tuple(
                NotePlan(
                    frozenset(note.on),
                    verdict_of(note.when),
                    KeptText(note.text, note_reads(rule, note.when), dict(note.values)),
                )
                for note in rule.notes
            )
        return found

    def _service_fields(self, sid: str, rule: ServiceRule | None, d: Describer) -> dict[str, Any]:
        """The fields of a result that its service and rule decide, in the describer's
        language: the same for every profile, so made once. Keyed by the service, the rule's
        jurisdiction, the language and the view: all finite, so is this cache."""
        key = (sid, rule.jurisdiction if rule else None, d.lang, d.partner)
        found = self._service_fields_cache.get(key)
        if found is not None:
            return found
        cat = self.catalogue
        lang = d.lang
        service = cat.services[sid]
        agency = cat.agencies[service.agency]
        confidence_note = (
            rule.confidence_note.get(lang)
            if rule and rule.confidence_note
            else service.confidence_note.get(lang)
            if isinstance(service.confidence_note, Bilingual)
            else service.confidence_note
        )
        documents, channels = self._static(sid, lang)
        fields = {
            "service": sid,
            "agency": agency.name.get(lang),
            "documents": tuple(documents),
            "name": service.name.get(lang),
            "events": tuple(service.events),
            "office": agency.office.get(lang),
            "channels": tuple(channels),
            "home_visit": service.home_visit,
            "legal_basis": rule.legal_basis if rule else (service.legal_basis or ""),
            "confidence": rule.confidence if rule and rule.confidence else service.confidence,
            "confidence_note": d.plain(confidence_note) if confidence_note else confidence_note,
            "jurisdiction": rule.jurisdiction if rule else "national",
            "prerequisites": tuple(service.prerequisites),
            "ended_on": service.ended.on if service.ended else None,
            "successor": service.ended.successor if service.ended else None,
            "same_visit_as": rule.same_visit_as if rule and rule.same_visit_as else service.same_visit_as,
        }
        self._service_fields_cache[key] = fields
        return fields

    @staticmethod
    def _reasons(reasons: tuple[Reason, ...], legal: str, agency: str, d: Describer) -> list[ReasonOut]:
        """The reasons as the result gives them: one per criterion (the event guards
        repeat wherever an event is read), each with its article or the service's."""
        seen: set[str] = set()
        out: list[ReasonOut] = []
        for reason in reasons:
            criterion = reason.criterion
            if criterion in seen:
                continue
            seen.add(criterion)
            text = reason.text
            if reason.met is None and criterion.startswith("rules."):
                # A part of the law this tool does not check: say where to ask.
                ask_word = d.phrase("ask", agency="").strip()
                if ask_word.lower() not in text.lower():
                    text = f"{text.rstrip('.。')}{d.phrase('clause_sep')}{d.phrase('ask', agency=agency)}"
            # Positional, the dataclass's own order (criterion, met, text, legal_basis): a
            # recommendation builds a few hundred, and keywords through model_construct
            # cost twice as much.
            out.append(ReasonOut(criterion, reason.met, text, reason.legal_basis or legal))
        return out

    def _money(
        self, rule: AmountRule | None, env: Env, d: Describer, what: str
    ) -> tuple[Money | None, list[ReasonOut], set[str]]:
        if rule is None:
            return None, [], set()
        value = money_value(rule, env)
        if isinstance(value, Unknown):
            text = d.phrase("money_unknown", what=d.phrase(what), facts=d.facts(value.missing, env))
            reason = ReasonOut.model_construct(criterion=what, met=None, text=text)
            return None, [reason], set(value.missing)
        return Money.model_construct(value=value, unit=rule.unit), [], set()

    def _deadline(self, sid: str, rule: ServiceRule | None, env: Env) -> tuple[date | None, frozenset[str]]:
        """The deadline, or None with the facts it still needs."""
        if rule is None or rule.deadline is None:
            return None, frozenset()
        if rule.deadline.when is not None:
            applies = evaluate(self._deadline_when[sid, rule.jurisdiction], env)
            if applies.value is not True:
                return None, applies.missing
        found = deadline_value(rule.deadline, env)
        return (None, found.missing) if isinstance(found, Unknown) else (found, frozenset())

    def _steps(
        self, sid: str, rule: ServiceRule | None, env: Env, d: Describer, deadline: date | None
    ) -> tuple[list[ReasonOut], list[StepOut]]:
        """The steps of applying not yet taken, each with the last day it still helps
        (the service's own deadline: a job-seeker registration helps until the claim
        window closes)."""
        reasons: list[ReasonOut] = []
        steps: list[StepOut] = []
        names = self.catalogue.services
        for criterion, guarded in self._steps_guarded[sid, rule.jurisdiction] if rule else ():
            outcome = evaluate(guarded, env)
            if outcome.value is True:
                continue
            assert criterion.step is not None
            step_name = names[criterion.step].name.get(d.lang)
            text = d.phrase("step_then").format(step=step_name, service=names[sid].name.get(d.lang))
            own = criterion.text.get(d.lang) if criterion.text else step_name
            reasons.append(
                ReasonOut.model_construct(
                    criterion=criterion.id,
                    met=outcome.value,
                    text=f"{own}: {d.phrase('step_still_open')}",
                    legal_basis=criterion.legal_basis or (rule.legal_basis if rule else None),
                )
            )
            steps.append(
                StepOut.model_construct(service=criterion.step, name=step_name, text=text, deadline=deadline)
            )
        return reasons, steps

    def _urgent_days(self, env: Env) -> int:
        found = env.parameter(URGENT_WITHIN_DAYS)
        value = found.lookup(env.as_of) if not isinstance(found, Unknown) else found
        return value if isinstance(value, int) else -(10**6)

    def service_materials(self, sid: str, lang: str) -> tuple[list[DocumentOut], list[ChannelOut]]:
        """A service's documents and channels in one language, for a plan made without a
        profile (a worklist case keeps its services, not the profile: engine/services/worklist_plan.py)."""
        return self._static(sid, lang)

    def _static(self, sid: str, lang: str) -> tuple[list[DocumentOut], list[ChannelOut]]:
        """A service's documents and channels in one language: the same for every profile."""
        key = (sid, lang)
        found = self._static_cache.get(key)
        if found is None:
            service = self.catalogue.services[sid]
            channels = [
                ChannelOut.model_construct(
                    kind=c.kind,
                    url=c.url,
                    where=c.where.get(lang) if c.where else None,
                    confidence=c.confidence,
                )
                for c in service.channels
            ]
            found = (self._documents(service, lang), channels)
            self._static_cache[key] = found
        # Results are frozen models, so sharing the lists' items is safe; the lists are copied.
        return list(found[0]), list(found[1])

    def _documents(self, service: Service, lang: str) -> list[DocumentOut]:
        out = []
        for use in service.document_uses():
            doc = self.catalogue.documents[use.doc]
            verified = (
                use.verified_electronically
                if use.verified_electronically is not None
                else doc.verified_electronically
            )
            note = use.note or doc.note
            out.append(
                DocumentOut.model_construct(
                    name=doc.name.get(lang),
                    verified_electronically=verified,
                    note=note.get(lang) if note else None,
                )
            )
        return out

    def _exclusions(self, sid: str, env: Env, by_id: dict[str, Evaluation], d: Describer) -> list[ReasonOut]:
        out = []
        service = self.catalogue.services[sid]
        for other in service.excluded():
            ev = by_id.get(other)
            if ev is None or ev.status != "eligible":
                continue
            mine_children, their_children = set(by_id[sid].outcome.witnesses), set(ev.outcome.witnesses)
            if mine_children and their_children and not mine_children & their_children:
                continue  # exclusive for the same child only: these are about different children
            mine = self._monthly(by_id[sid], env)
            theirs = self._monthly(ev, env)
            name = self.catalogue.services[other].name.get(d.lang)
            if mine is not None and theirs is not None and mine != theirs:
                better = self.catalogue.services[sid if mine > theirs else other].name.get(d.lang)
                tail = d.phrase("pays_more", name=better)
            else:
                tail = ""
            out.append(
                ReasonOut.model_construct(
                    criterion=f"exclusion.{other}",
                    met=True,
                    text=d.phrase("not_combinable", name=name) + tail,
                    legal_basis=self.catalogue.legal_basis(sid, _known(env.facts["residence"])),
                )
            )
        return out

    def _monthly(self, ev: Evaluation, env: Env) -> int | None:
        if ev.rule is None or ev.rule.amount is None:
            return None
        value = money_value(ev.rule.amount, env)
        return None if isinstance(value, Unknown) else value


_SERVICE_LISTS = ("documents", "events", "channels", "prerequisites")
_ORDERING = ("lt", "lte", "gt", "gte")
# The way a threshold is crossed: more (gte), above (gt), less (lte), below (lt).
_DIRECTION = {"gte": "more", "gt": "above", "lte": "less", "lt": "below"}


def _what_would_change(ev: Evaluation, env: Env, d: Describer) -> list[str]:
    """What would turn each unmet criterion, said as something a person can do
    ("register as a job seeker", "apply from 2027-01-01") or, where nothing can be
    done, as a plain sentence ("you would qualify from 2027-05-01, when your child
    turns 2"). The words are the vocabulary's; a criterion may carry its own."""
    out = []
    for reason in ev.outcome.reasons:
        if reason.met is not False or reason.negated:
            continue  # under a `not`, meeting the criterion would not help
        text = _change(reason, env, d)
        if text and text not in out:
            out.append(text)
    return out


def _change(reason: Reason, env: Env, d: Describer) -> str | None:
    if reason.action:
        return reason.action
    subject = reason.subject
    if subject is None:
        return None
    # The words depend on the criterion's subject, operator, threshold and limit only,
    # except when an age is reached (the birth date's): kept, as the worded verdicts are,
    # for every profile that fails it alike; an age's entry says to word it afresh.
    try:
        key = (subject, reason.op, exact(reason.threshold), reason.limit)
        found = d.changes.get(key, _NOT_WORDED)
    except TypeError:  # an unhashable threshold: worded afresh
        return _worded_change(reason, env, d)
    if found is _NOT_WORDED:
        if d.kind(subject) in ("age", "child_age"):
            d.changes[key] = _BY_BIRTH_DATE
            return _worded_change(reason, env, d)
        found = d.changes[key] = _worded_change(reason, env, d)
    elif found == _BY_BIRTH_DATE:
        return _worded_change(reason, env, d)
    return found


_NOT_WORDED = object()
# Kept for an age's criterion: a string, so that the cache holds nothing the garbage
# collector tracks; no vocabulary phrase is made of a control character.
_BY_BIRTH_DATE = "\x00by birth date"


def _worded_change(reason: Reason, env: Env, d: Describer) -> str | None:
    subject = reason.subject
    assert subject is not None
    threshold = reason.threshold
    wanted = threshold if reason.op in ("eq", "in") else None
    for value in wanted if isinstance(wanted, tuple) else (wanted,):
        if value is not None and not isinstance(value, bool) and d.has(f"action.{subject}.{value}"):
            return d.label(f"action.{subject}.{value}")
    if reason.op == "eq" and threshold is True and d.has(f"action.{subject}"):
        return d.label(f"action.{subject}")
    if reason.op not in _ORDERING or isinstance(threshold, bool):
        return None
    if not isinstance(threshold, int | float | date):
        return None
    direction = _DIRECTION[reason.op]
    if subject == "as_of" and isinstance(threshold, date):
        if reason.op in ("lt", "lte"):
            return None  # a window that has closed: the reason already says its last day
        return d.phrase(f"change.today.{direction}", threshold=d.date(threshold))
    kind = d.kind(subject)
    if kind in ("age", "child_age") and isinstance(threshold, int | float):
        return _age_change(reason, kind, int(threshold), direction, env, d)
    if isinstance(threshold, date):
        return d.phrase(
            f"change.date.{direction}", subject=d.mid(d.label(subject)), threshold=reason.limit or threshold
        )
    return d.phrase(
        f"change.{direction}", subject=d.mid(d.label(subject)), threshold=d.value(threshold, kind)
    )


def _age_change(reason: Reason, kind: str, age: int, direction: str, env: Env, d: Describer) -> str:
    """An age cannot be changed: say when it will be reached, or that it is a limit."""
    if reason.op in ("lt", "lte"):
        return d.phrase(f"change.{kind}.{'under' if reason.op == 'lt' else 'limit'}", threshold=age)
    turns = age if reason.op == "gte" else age + 1
    if kind == "child_age" and reason.child is not None and env.children is not None:
        born = env.children[reason.child].get("child.birth_date")
        child = d.child(env, reason.child)
    else:
        born, child = env.facts.get("person.birth_date"), ""
    if reason.subject in ("person.age", "child.age") and isinstance(born, date):
        day = shift_date(born, years=turns)
        if day > env.as_of:
            return d.phrase(f"change.{kind}.{direction}", date=d.date(day), threshold=age, child=child)
    return d.phrase(f"change.{kind}.nodate", threshold=age)


def _named(paths: Collection[str], named: Callable[[str], str]) -> list[str]:
    """Fact paths as the caller's profile names them, sorted (most results have none)."""
    return sorted(map(named, paths)) if paths else []


def _witnesses(outcome: Outcome) -> list[int]:
    if not outcome.value:
        return []
    found: list[int] = []
    for reason in outcome.reasons:
        if reason.criterion.startswith("children[") and reason.met:
            index = int(reason.criterion[len("children[") : reason.criterion.index("]")])
            if index not in found:
                found.append(index)
    return found


_QUALIFYING: dict[int, tuple[AmountRule, Condition]] = {}


def _qualifying_child(rule: AmountRule) -> Condition:
    """Which children a per-child amount counts, built once per rule (nodes are validated
    when built, too slow to build on every evaluation)."""
    cached = _QUALIFYING.get(id(rule))
    if cached is not None and cached[0] is rule:
        return cached[1]
    from engine.backends.logic import quantifier_range

    quantifier = SomeChild("amount", "born" if rule.per_child == "some_child" else "newborn", Const(True))
    qualifies = All((quantifier_range(quantifier), guard_events(rule.where or Const(True))))
    _QUALIFYING[id(rule)] = (rule, qualifies)
    return qualifies


def money_value(rule: AmountRule, env: Env) -> int | Unknown:
    """The amount of a rule: one value, or the sum over the qualifying children."""
    if rule.per_child is None:
        value = eval_expr(rule.value, env)
        return value if isinstance(value, Unknown) else round_half_up(value)
    if env.children is None:
        return Unknown(frozenset({"children"}))
    qualifies = _qualifying_child(rule)
    total = 0.0
    unknown: Unknown | None = None
    for i in range(len(env.children)):
        child_env = env.in_child(i)
        outcome = evaluate(qualifies, child_env)
        if outcome.value is False:
            continue
        if outcome.value is None:
            unknown = unknown | Unknown(outcome.missing) if unknown else Unknown(outcome.missing)
            continue
        value = eval_expr(rule.value, child_env)
        if isinstance(value, Unknown):
            unknown = unknown | value if unknown else value
            continue
        total += value
    if unknown:
        return unknown
    return round_half_up(total)


def deadline_value(rule: DeadlineRule, env: Env) -> date | Unknown:
    if rule.next_month_day is not None:
        month, day = rule.next_month_day
        this_year = date(env.as_of.year, month, day)
        return this_year if this_year >= env.as_of else date(env.as_of.year + 1, month, day)
    assert rule.base is not None
    base = eval_expr(rule.base, env)
    parts = {
        k: eval_expr(v, env)
        for k, v in (("days", rule.days), ("months", rule.months), ("years", rule.years))
        if v is not None
    }
    unknowns = [v for v in (base, *parts.values()) if isinstance(v, Unknown)]
    if unknowns:
        return unknowns[0]
    return shift_date(base, parts.get("days", 0), parts.get("months", 0), parts.get("years", 0))


__all__ = ["Engine", "EngineDisagreement", "Evaluation", "effective_condition"]
