"""One refresh of the questionnaire: answers in, results and the next questions out.

Everything here is computed from the engine on every answer: the results of the
services of the chosen life events, grouped by status, and the questions that can still
change one of them, ranked by ``engine.questions.next_questions`` (the fact that
settles the most open services first). Nothing here keeps state, so the same function
serves the citizen page, the counter page, the tests and the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from engine import Engine, Profile, ProfileError
from engine.facts import fact_types
from engine.questions import Question, next_questions
from engine.results import EligibilityResult, Recommendation
from engine.validate import enum_values
from ui.answers import CHILD_FIELD, EVENT_PATH, NEWBORN, birth_listed, check
from ui.text import load_text

GROUPS = ("eligible", "unknown", "ineligible")
BIRTH_DATE = "events.birth.date"


@dataclass(frozen=True)
class Snapshot:
    """What the pages show after one refresh."""

    recommendation: Recommendation | None
    questions: list[Question] = field(default_factory=list)
    error: str | None = None
    # When the best question is an event ("a birth, happened or expected?"), the
    # event's fields that the open services read, asked on the same card after "yes".
    follow_ups: list[Question] = field(default_factory=list)

    def group(self, status: str) -> list[EligibilityResult]:
        if self.recommendation is None:
            return []
        return [r for r in self.recommendation.results if r.status == status]

    def counts(self) -> dict[str, int]:
        return {status: len(self.group(status)) for status in GROUPS}


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
    try:
        profile = check(answers)
    except ProfileError as exc:
        return Snapshot(None, error=str(exc))
    rec = _recommend(engine, life_events, profile, lang, as_of)
    questions = open_questions(rec, engine, lang, answers)
    follow_ups: list[Question] = []
    if questions and questions[0].kind == "event":
        follow_ups = event_fields(engine, life_events, answers, questions[0].fact, lang, as_of)
    return Snapshot(rec, questions, follow_ups=follow_ups)


def _recommend(
    engine: Engine, life_events: list[str], profile: Profile, lang: str, as_of: date | None
) -> Recommendation:
    full = engine.recommend(profile, as_of=as_of, lang=lang)
    wanted = set(services_of(engine, life_events))
    return Recommendation(
        as_of=full.as_of,
        rules_version=full.rules_version,
        results=[r for r in full.results if r.service in wanted],
    )


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
    """The engine's ranked questions less those already answered ("I don't know" counts
    as an answer). With a birth listed, the newborn's birth date is the birth's date:
    it is asked once, as the event's field."""
    out: list[Question] = []
    seen: set[str] = set()
    for question in [*next_questions(rec, engine.catalogue, lang), *amount_questions(rec, lang)]:
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
    if path == "children":
        kind = "children"
    elif EVENT_PATH.match(path):
        kind = "event"
    else:
        types = fact_types()
        kind = types["child"].get(vocab) or types["profile"].get(vocab) or "str"
    return Question(path, path, kind, list(enum_values().get(vocab, ())), [], "")


# The engine lists ``missing`` facts only for unknown results; an eligible result whose
# amount needs a fact says so in a reason ("Amount: unknown (needs person.insured_salary)").
# Until the engine exposes those facts as data, they are read from that reason's text.
def amount_questions(rec: Recommendation, lang: str) -> list[Question]:
    """Questions for the facts an eligible service's amount (or fee) still needs,
    after every question that can change a status."""
    settles: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for result in rec.results:
        if result.status != "eligible":
            continue
        for path in result.amount_missing:
            if not path.startswith(("parameters.", "rules.")):
                settles.setdefault(path, []).append(result.service)
                names[result.service] = result.name
    why = load_text()["question.why_amount"][lang]
    out = []
    for path, services in sorted(settles.items(), key=lambda item: (-len(item[1]), item[0])):
        question = question_for(path)
        out.append(
            replace(
                question,
                services=services,
                why=why.format(
                    services=("、" if lang.startswith("zh") else ", ").join(names[s] for s in services)
                ),
            )
        )
    return out
