"""One refresh of the questionnaire: answers in, results and the next questions out.

Everything here is computed from the engine on every answer: the results of the
services of the chosen life events (the applicant's, the partner's and the household's),
and the questions that can still change one of them, ranked by
``engine.services.questions.next_questions`` alone (issue 14: the next question is decided in one
place, the engine). The UI adds only what the engine cannot rank: whether there is a
partner (asked first when a chosen event has a service decided for each adult, or read
from one parent), and the newborn's birth date, which is the birth's date. Nothing here
keeps state, so the same function serves the citizen page, the counter page, the tests
and the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from engine import (
    EligibilityResult,
    Engine,
    Profile,
    ProfileError,
    Question,
    Recommendation,
    enum_values,
    fact_types,
    family_totals,
    next_questions,
)
from ui.answers import CHILD_FIELD, EVENT_PATH, NEWBORN, PARTNER, PARTNER_FIELD, birth_listed, check
from ui.text import load_text

GROUPS = ("eligible", "unknown", "ineligible")
AUDIENCES = ("person", "partner", "household")
BIRTH_DATE = "events.birth.date"
# Services decided for the household from one parent's facts (the top-up deducts the
# mother's benefit; a city grant needs either parent).
FROM_A_PARENT = ("mother", "either_parent")
# rules.md ("Families, steps and dates") decides every service that reads person.* for the
# partner too: a job-seeker registration for an unemployed partner, the Indigenous fund's
# housing loan. An event with such a service, or one read from a parent, reads both adults,
# so the questionnaire asks first whether there is a partner.
BOTH_ADULTS = ("person", *FROM_A_PARENT)
# How the partner question speaks: of the child's other parent when a chosen event is read
# from a parent (a birth), of a spouse or partner otherwise (a job, a move).
PARENTS, ADULTS = "parents", "adults"


@dataclass(frozen=True)
class Snapshot:
    """What the pages show after one refresh."""

    recommendation: Recommendation | None
    questions: list[Question] = field(default_factory=list)
    error: str | None = None
    # When the best question is an event ("a birth, happened or expected?"), the
    # event's fields that the open services read, asked on the same card after "yes".
    follow_ups: list[Question] = field(default_factory=list)
    # The partner question's wording (PARENTS or ADULTS), for its card and its answer.
    partner_wording: str = ADULTS

    def all_results(self) -> list[EligibilityResult]:
        if self.recommendation is None:
            return []
        return [*self.recommendation.results, *self.recommendation.partner_results]

    def shown(self) -> list[EligibilityResult]:
        """The results to show, urgent first within each status. An applicant's "not
        eligible" is left out where the partner's result for the same service is eligible
        or open (a father's maternity benefit: it is hers, shown for the partner)."""
        rec = self.recommendation
        if rec is None:
            return []
        theirs = {r.service: r.status for r in rec.partner_results}
        mine = [
            r
            for r in rec.results
            if not (r.for_ == "person" and r.status == "ineligible" and theirs.get(r.service) in GROUPS[:2])
        ]
        return sorted([*mine, *rec.partner_results], key=_urgency)

    def group(self, status: str, audience: str | None = None) -> list[EligibilityResult]:
        return [r for r in self.shown() if r.status == status and audience in (None, r.for_)]

    def counts(self) -> dict[str, int]:
        return {status: len(self.group(status)) for status in GROUPS}

    def urgent(self) -> list[EligibilityResult]:
        return [r for r in self.shown() if r.urgent and r.status != "ineligible"]


def _urgency(r: EligibilityResult) -> tuple[int, bool, date]:
    """Status order, then the urgent ones, then the earliest deadline (stable sort)."""
    return (GROUPS.index(r.status), not r.urgent, r.deadline or date.max)


def services_of(engine: Engine, life_events: list[str]) -> list[str]:
    """The services of the chosen life events, in catalogue order, each once."""
    chosen = set(life_events)
    return [sid for sid, s in engine.catalogue.services.items() if chosen.intersection(s.events)]


def refresh(
    engine: Engine,
    life_events: list[str],
    answers: dict[str, Any],
    lang: str,
    as_of: date | None = None,
) -> Snapshot:
    """Results and ranked questions for the answers so far."""
    if not life_events:
        return Snapshot(None)
    wording = partner_wording(engine, life_events)
    try:
        profile = check(answers)
    except ProfileError as exc:
        return Snapshot(None, error=str(exc), partner_wording=wording)
    rec = _recommend(engine, life_events, profile, lang, as_of)
    questions = open_questions(rec, engine, lang, answers)
    family = partner_question(engine, life_events, lang)
    if family is not None and PARTNER not in answers:
        questions.insert(0, family)
    follow_ups: list[Question] = []
    if questions and questions[0].kind == "event":
        follow_ups = event_fields(engine, life_events, answers, questions[0].fact, lang, as_of)
    return Snapshot(rec, questions, follow_ups=follow_ups, partner_wording=wording)


def _recommend(
    engine: Engine, life_events: list[str], profile: Profile, lang: str, as_of: date | None
) -> Recommendation:
    full = engine.recommend(profile, as_of=as_of, lang=lang)
    wanted = set(services_of(engine, life_events))
    results = [r for r in full.results if r.service in wanted]
    partner_results = [r for r in full.partner_results if r.service in wanted]
    # The total of what is shown: the chosen life events' services only.
    return full.model_copy(
        update={
            "results": results,
            "partner_results": partner_results,
            "totals": family_totals([*results, *partner_results], engine.catalogue),
        }
    )


def asks_partner(engine: Engine, life_events: list[str]) -> list[str]:
    """The services of the chosen events that read both adults: decided for each adult,
    or from one parent (empty: no need to ask whether there is a partner)."""
    return [sid for sid in services_of(engine, life_events) if engine.readings.get(sid) in BOTH_ADULTS]


def partner_wording(engine: Engine, life_events: list[str]) -> str:
    """PARENTS when a chosen event has a service read from a parent (a birth: the partner
    is the child's other parent, and "no" means raising the child alone), else ADULTS."""
    services = services_of(engine, life_events)
    return PARENTS if any(engine.readings.get(sid) in FROM_A_PARENT for sid in services) else ADULTS


def partner_question(engine: Engine, life_events: list[str], lang: str) -> Question | None:
    services = asks_partner(engine, life_events)
    if not services:
        return None
    names = ("、" if lang.startswith("zh") else ", ").join(
        engine.catalogue.services[s].name.get(lang) or s for s in services
    )
    why = load_text()["question.why_partner"][lang].format(services=names)
    return Question(PARTNER, PARTNER, PARTNER, [], services, why)


def event_fields(
    engine: Engine,
    life_events: list[str],
    answers: dict[str, Any],
    event_path: str,
    lang: str,
    as_of: date | None,
) -> list[Question]:
    """The fields of an event that would be asked next if the answer were "yes",
    ranked the same way: read from the rules by evaluating that "yes"."""
    supposed = {**answers, event_path: True}
    if event_path == "events.birth" and "children" not in answers:
        supposed["children"] = 1  # a birth brings at least the newborn: ask about it here
    try:
        profile = check(supposed)
    except ProfileError:
        return []
    rec = _recommend(engine, life_events, profile, lang, as_of)
    prefixes = (event_path + ".",)
    fields = [q for q in open_questions(rec, engine, lang, supposed) if q.fact.startswith(prefixes)]
    if event_path == "events.birth" and "children" not in answers:
        # The newborn is the birth's child: how many children there are, and the newborn's
        # order and care, belong on the birth's card.
        newborn = [
            q
            for q in open_questions(rec, engine, lang, supposed)
            if q.fact.startswith(f"children[{NEWBORN}].")
        ]
        fields += [question_for("children"), *newborn]
    return fields


def open_questions(rec: Recommendation, engine: Engine, lang: str, answers: dict[str, Any]) -> list[Question]:
    """The engine's ranked questions (status facts, then amount facts, then deadline
    facts) less those already answered ("I don't know" counts as an answer). With a birth
    listed, the newborn's birth date is the birth's date: it is asked once, as the
    event's field."""
    out: list[Question] = []
    seen: set[str] = set()
    for question in next_questions(rec, engine.catalogue, lang):
        if _is_newborn_birth_date(question.fact, answers):
            question = replace(question, fact=BIRTH_DATE, kind="date")
        if question.fact in answers or question.fact in seen:
            continue
        seen.add(question.fact)
        out.append(question)
    return out


def _is_newborn_birth_date(path: str, answers: dict[str, Any]) -> bool:
    match = CHILD_FIELD.match(path)
    return bool(
        match and birth_listed(answers) and int(match.group(1)) == NEWBORN and match.group(2) == "birth_date"
    )


def question_for(path: str) -> Question:
    """A question for a fact already answered (to change the answer): no ranking, no why."""
    vocab = path
    if match := CHILD_FIELD.match(path):
        vocab = f"child.{match.group(2)}"
    elif match := PARTNER_FIELD.match(path):
        vocab = f"person.{match.group(1)}"  # the partner's facts are the applicant's fields
    if path == PARTNER:
        kind = PARTNER
    elif path == "children":
        kind = "children"
    elif EVENT_PATH.match(path):
        kind = "event"
    else:
        types = fact_types()
        kind = types["child"].get(vocab) or types["profile"].get(vocab) or "str"
    return Question(path, path, kind, list(enum_values().get(vocab, ())), [], "")
