"""Whom to visit at home, and who first: ``rules/outreach.yaml``, read and checked.

The policy is data beside the rules it builds on, so that social workers revise it
without touching code: the services that justify a visit and what each is worth
(``visit_for``), the certified welfare statuses that mean a service is already received
(``certified_by_status``), and the needs that make a visit urgent, each a condition of
the rule language with its points and its words (``needs``).

It is read with the catalogue (engine/language/loader.py calls :func:`parse_outreach_policy`),
checked against it (service ids, facts, parameters, types: the same checker as the
rules'), and every problem is reported as ``file:line: message``. A rules tree without
the file loads; only the outreach list then refuses to run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.language.catalog import Catalogue
from engine.language.i18n import LANGUAGES
from engine.language.rules import Condition, ParseContext, RuleSyntaxError, Text, parse_condition
from engine.language.yamlsafe import CatalogueError, Problem, YamlDoc, read_yaml

OUTREACH_FILE = "rules/outreach.yaml"
LANGS = LANGUAGES  # engine/data/languages.yaml: the one list of languages
KEYS = {"description", "visit_for", "certified_by_status", "needs"}
NEED_KEYS = {"id", "points", "text", "when"}
WELFARE_STATUSES = ("low", "middle_low")  # household.welfare_status values that certify
MAX_POINTS = 100
_NEED_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class VisitService:
    """A service that justifies a home visit by itself, and how much the visit brings."""

    service: str
    value: int
    why: Text


@dataclass(frozen=True)
class Need:
    """What makes a visit urgent: met (``when``), it adds ``points`` to the priority."""

    id: str
    points: int
    text: Text
    when: Condition


@dataclass(frozen=True)
class OutreachPolicy:
    visit_for: dict[str, VisitService]
    certified_by_status: dict[str, tuple[str, ...]]
    needs: tuple[Need, ...]

    def need_text(self, need: str, lang: str) -> str:
        """A need's words (a worklist case keeps the ids); an id no longer in the policy, as is."""
        found = next((n for n in self.needs if n.id == need), None)
        return found.text.get(lang) if found else need

    def certified(self, service: str) -> list[str]:
        """The welfare statuses whose holders already receive ``service``."""
        return [status for status, ids in self.certified_by_status.items() if service in ids]


def _text(raw: Any) -> Text | None:
    if (
        isinstance(raw, dict)
        and set(raw) == set(LANGS)
        and all(isinstance(v, str) and v for v in raw.values())
    ):
        return Text(en=raw["en"], zh=raw["zh-TW"])
    return None


def _whole(raw: Any) -> bool:
    return isinstance(raw, int) and not isinstance(raw, bool) and 0 < raw <= MAX_POINTS


def parse_outreach_policy(doc: YamlDoc, catalogue: Catalogue) -> OutreachPolicy:
    """The policy of ``doc``, checked against ``catalogue``; CatalogueError otherwise."""
    from engine.language.validate import _Checker  # the rules' own type checker, for the needs

    problems: list[Problem] = []

    def problem(path: tuple, message: str) -> None:
        problems.append(Problem(doc.file, doc.line(path), message))

    data = doc.data
    if not isinstance(data, dict):
        raise CatalogueError(
            [Problem(doc.file, 1, "expected a mapping: visit_for, certified_by_status, needs")]
        )
    for key in sorted(set(map(str, data)) - KEYS):
        problem((key,), f"unknown key '{key}' (expected {', '.join(sorted(KEYS))})")
    for key in sorted(KEYS - {"description"} - set(data)):
        problem((), f"'{key}' is missing")

    visit_for: dict[str, VisitService] = {}
    raw_visits = data.get("visit_for") or {}
    if not isinstance(raw_visits, dict):
        problem(("visit_for",), "visit_for maps service ids to {value: points, why: {en, zh-TW}}")
        raw_visits = {}
    for sid, raw in raw_visits.items():
        where: tuple = ("visit_for", sid)
        service = catalogue.services.get(str(sid))
        if service is None:
            problem(where, f"visit_for: '{sid}' is not a service of the catalogue")
            continue
        if not service.home_visit:
            problem(where, f"visit_for: '{sid}' is not a home-visit service (catalogue home_visit: true)")
            continue
        if not isinstance(raw, dict) or set(raw) != {"value", "why"}:
            problem(where, f"visit_for.{sid}: expected {{value: points, why: {{en, zh-TW}}}}")
            continue
        why = _text(raw["why"])
        if not _whole(raw["value"]):
            problem(
                (*where, "value"),
                f"visit_for.{sid}.value: a whole number from 1 to {MAX_POINTS}, got {raw['value']!r}",
            )
        if why is None:
            problem((*where, "why"), f"visit_for.{sid}.why: words in each of {', '.join(LANGS)}")
        if why is not None and _whole(raw["value"]):
            visit_for[str(sid)] = VisitService(str(sid), raw["value"], why)

    certified: dict[str, tuple[str, ...]] = {}
    raw_certified = data.get("certified_by_status") or {}
    if not isinstance(raw_certified, dict):
        problem(
            ("certified_by_status",), "certified_by_status maps a welfare status to a list of service ids"
        )
        raw_certified = {}
    for status, ids in raw_certified.items():
        where = ("certified_by_status", status)
        if status not in WELFARE_STATUSES:
            problem(where, f"certified_by_status: '{status}' is not a certified household.welfare_status "
                    f"({', '.join(WELFARE_STATUSES)})")  # fmt: skip
            continue
        if not isinstance(ids, list) or not all(isinstance(s, str) for s in ids):
            problem(where, f"certified_by_status.{status}: a list of service ids")
            continue
        for sid in ids:
            if sid not in catalogue.services:
                problem(where, f"certified_by_status.{status}: '{sid}' is not a service of the catalogue")
        certified[str(status)] = tuple(ids)

    needs: list[Need] = []
    raw_needs = data.get("needs") or []
    if not isinstance(raw_needs, list):
        problem(("needs",), "needs is a list of {id, points, text, when}")
        raw_needs = []
    checker = _Checker(catalogue, {doc.file: doc})
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_needs):
        where = ("needs", i)
        if not isinstance(raw, dict) or set(raw) != NEED_KEYS:
            problem(where, f"needs[{i}]: expected exactly {', '.join(sorted(NEED_KEYS))}")
            continue
        nid = str(raw["id"])
        if not _NEED_ID.match(nid):
            problem((*where, "id"), f"needs[{i}].id: lower-case letters, digits and _, got {raw['id']!r}")
        elif nid in seen:
            problem((*where, "id"), f"needs[{i}].id: '{nid}' is already needs[{seen[nid]}]")
        seen.setdefault(nid, i)
        if not _whole(raw["points"]):
            problem(
                (*where, "points"),
                f"needs[{i}].points: a whole number from 1 to {MAX_POINTS}, got {raw['points']!r}",
            )
        text = _text(raw["text"])
        if text is None:
            problem((*where, "text"), f"needs[{i}].text: words in each of {', '.join(LANGS)}")
        try:
            when = parse_condition(raw["when"], (*where, "when"), ParseContext(service=f"outreach:{nid}"))
        except RuleSyntaxError as exc:
            problems.append(Problem(doc.file, doc.line(exc.path), f"needs[{i}].when: {exc.message}"))
            continue
        checker.condition(when, "profile", doc.file, (*where, "when"))
        if text is not None and _whole(raw["points"]):
            needs.append(Need(nid, raw["points"], text, when))
    problems.extend(checker.problems)
    if problems:
        raise CatalogueError(problems)
    return OutreachPolicy(visit_for, certified, tuple(needs))


# Read once per rules tree: load_catalogue parses the file and leaves the result here, keyed
# by the tree and its content version (a reloaded tree is a new key).
_LOADED: dict[tuple[str, str], OutreachPolicy] = {}
_KEEP = 8


def remember(catalogue: Catalogue, policy: OutreachPolicy) -> None:
    while len(_LOADED) >= _KEEP:
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[(catalogue.root, catalogue.version)] = policy


def outreach_policy(catalogue: Catalogue) -> OutreachPolicy:
    """The policy of the catalogue's rules tree (CatalogueError when it has none)."""
    key = (catalogue.root, catalogue.version)
    if key not in _LOADED:
        from pathlib import Path

        path = Path(catalogue.root) / OUTREACH_FILE
        if not path.is_file():
            raise CatalogueError(
                [Problem(OUTREACH_FILE, 1, "file not found: the outreach list reads whom to visit from it")]
            )
        remember(catalogue, parse_outreach_policy(read_yaml(path, OUTREACH_FILE), catalogue))
    return _LOADED[key]
