"""Which question to ask next: only facts that can still change a result, the one that
settles the most open services first.

A fact is worth asking when some result is ``unknown`` and lists it as missing: by the
engine's contract, ``missing`` holds exactly the facts that could decide the result.
Parameters and unencoded rules are missing too, but no citizen can answer them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.backends.logic import Describer
from engine.language.catalog import Catalogue
from engine.language.facts import fact_types
from engine.language.validate import enum_values
from engine.services.results import EligibilityResult, Recommendation

_CHILD = re.compile(r"^children\[(\d+)\]\.(.+)$")


@dataclass(frozen=True)
class Question:
    fact: str  # the profile path to answer, e.g. person.birth_date, children[0].order
    label: str
    kind: str  # date | int | float | bool | str | list | event | children
    choices: list[str]
    services: list[str]  # the open services the answer can settle
    why: str


def _vocabulary_path(path: str) -> str:
    """The vocabulary's name of a profile path: a child's field, or a partner's, is
    named like the applicant's."""
    match = _CHILD.match(path)
    if match:
        return f"child.{match.group(2)}"
    if path.startswith("partner."):
        return "person." + path[len("partner.") :]
    return path


def _askable(path: str) -> bool:
    return not path.startswith(("parameters.", "rules.")) and " " not in path


def _kind(path: str, types: dict[str, dict[str, str]]) -> str:
    if path == "children":
        return "children"
    if re.fullmatch(r"events\.[a-z_]+", path):
        return "event"
    vocab = _vocabulary_path(path)
    return types["child"].get(vocab) or types["profile"].get(vocab) or "str"


_STAGES = ("status", "amount", "deadline")


def _yearly_worth(result: EligibilityResult) -> int:
    """What a result is worth in a year when its amount is known (0 when it is not):
    the ranking's measure of value."""
    if result.amount is None:
        return 0
    return result.amount.value * (12 if result.amount.unit.endswith("/month") else 1)


def next_questions(
    rec: Recommendation, catalogue: Catalogue, lang: str = "en", limit: int | None = None
) -> list[Question]:
    """The facts worth asking, for the applicant, the partner and the household: first
    those that can still change a status, then those an eligible amount needs, then
    those a deadline needs (the move's date); within each, the one that settles the
    most value first, then the most services."""
    settles: dict[str, list[str]] = {}
    stage_of: dict[str, int] = {}
    worth: dict[str, int] = {}
    names: dict[str, str] = {}
    for result in (*rec.results, *rec.partner_results):
        open_facts = (
            result.missing if result.status == "unknown" else [],
            result.amount_missing if result.status == "eligible" else [],
            result.deadline_missing if result.status != "ineligible" else [],
        )
        for stage, paths in enumerate(open_facts):
            for path in paths:
                if not _askable(path):
                    continue
                names[result.service] = result.name
                if result.service not in settles.setdefault(path, []):
                    settles[path].append(result.service)
                stage_of[path] = min(stage_of.get(path, stage), stage)
                worth[path] = worth.get(path, 0) + _yearly_worth(result)
    types = fact_types()
    enums = enum_values()
    ranked = sorted(
        settles.items(), key=lambda item: (stage_of[item[0]], -worth[item[0]], -len(item[1]), item[0])
    )
    out = []
    # Every word from the vocabulary (the pseudo-locale test checks it): the label, a
    # child's number, the list separator and "asked because".
    d = Describer(catalogue, lang)
    for path, services in ranked[:limit]:
        vocab = _vocabulary_path(path)
        listed = f"{path}.listed" if re.fullmatch(r"events\.[a-z_]+", path) else path
        label_text = catalogue.labels.get(listed) or catalogue.labels.get(vocab)
        label = label_text.get(lang) if label_text else path
        match = _CHILD.match(path)
        if match:
            label = d.phrase("child.of", what=label, child=d.phrase("child.nth", n=int(match.group(1)) + 1))
        service_names = d.phrase("list_sep").join(names[s] for s in services)
        why = d.phrase("asked_because") + d.phrase("label_sep") + service_names
        out.append(Question(path, label, _kind(path, types), list(enums.get(vocab, ())), services, why))
    return out
