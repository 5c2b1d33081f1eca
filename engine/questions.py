"""Which question to ask next: only facts that can still change a result, the one that
settles the most open services first.

A fact is worth asking when some result is ``unknown`` and lists it as missing: by the
engine's contract, ``missing`` holds exactly the facts that could decide the result.
Parameters and unencoded rules are missing too, but no citizen can answer them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.catalog import Catalogue
from engine.facts import fact_types
from engine.results import Recommendation
from engine.validate import enum_values

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
    match = _CHILD.match(path)
    return f"child.{match.group(2)}" if match else path


def _askable(path: str) -> bool:
    return not path.startswith(("parameters.", "rules.")) and " " not in path


def _kind(path: str, types: dict[str, dict[str, str]]) -> str:
    if path == "children":
        return "children"
    if re.fullmatch(r"events\.[a-z_]+", path):
        return "event"
    vocab = _vocabulary_path(path)
    return types["child"].get(vocab) or types["profile"].get(vocab) or "str"


def next_questions(
    rec: Recommendation, catalogue: Catalogue, lang: str = "en", limit: int | None = None
) -> list[Question]:
    """Questions ranked by how many open services each one can settle."""
    settles: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for result in rec.results:
        if result.status != "unknown":
            continue
        names[result.service] = result.name
        for path in result.missing:
            if _askable(path):
                settles.setdefault(path, []).append(result.service)
    types = fact_types()
    enums = enum_values()
    ranked = sorted(settles.items(), key=lambda item: (-len(item[1]), item[0]))
    out = []
    why_word = catalogue.labels.get("phrase.asked_because")
    for path, services in ranked[:limit]:
        vocab = _vocabulary_path(path)
        label_text = catalogue.labels.get(vocab) or catalogue.labels.get(path)
        label = label_text.get(lang) if label_text else path
        match = _CHILD.match(path)
        if match:
            label = f"{label} (#{int(match.group(1)) + 1})"
        service_names = ("、" if lang.startswith("zh") else ", ").join(names[s] for s in services)
        why = f"{why_word.get(lang) if why_word else 'Asked because it decides'}: {service_names}"
        out.append(Question(path, label, _kind(path, types), list(enums.get(vocab, ())), services, why))
    return out
