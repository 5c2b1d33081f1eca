"""Reading ``catalog.yaml`` and ``rules/`` into the validated :class:`Catalogue`.

YAML is read with ``yaml.safe_load`` semantics only (a SafeLoader subclass that also
refuses duplicate keys, which PyYAML would silently overwrite). Every problem is
reported as ``file:line: message``; the line is found by walking the composed YAML node
tree along the key path the problem was found at.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.language.catalog import EVENTS, CatalogFile, Catalogue, ServiceRule
from engine.language.parameters import CONFIDENCE, Parameter, ParameterValue
from engine.language.profile import RESIDENCES
from engine.language.rules import (
    MAX_NUMBER,
    All,
    AmountRule,
    AnyOf,
    Cases,
    Compare,
    Condition,
    Const,
    DeadlineRule,
    Expr,
    FactRef,
    Literal,
    Note,
    ParseContext,
    RuleSyntaxError,
    Text,
    Unencoded,
    number_problem,
    parse_amount,
    parse_condition,
    parse_date,
    parse_deadline,
    parse_expr,
    parse_text,
)
from engine.language.rulesroot import RulesVersion, source_files
from engine.language.yamlsafe import (
    CatalogueError,
    Problem,
    YamlDoc,
    read_source,
    read_yaml,
)

PARAMETERS_DIR = "parameters"
VOCABULARY_FILE = "vocabulary.yaml"
# Data beside the rules, each read by its own module (not a service's rule):
# engine/language/outreach_policy.py and engine/language/residences.py.
OUTREACH_FILE = "outreach.yaml"
RESIDENCES_FILE = "residences.yaml"


def _pydantic_problems(doc: YamlDoc, exc: ValidationError, prefix: tuple = ()) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = prefix + tuple(err["loc"])
        where = ".".join(str(p) for p in loc)
        out.append(Problem(doc.file, doc.line(loc), f"{where}: {err['msg']}"))
    return out


def content_version(root: Path | str) -> str:
    """The version ``load_catalogue(root)`` would give (the content hash of the files),
    without parsing anything: whether the rules on disk are the ones in use."""
    root = Path(root)
    version = RulesVersion()
    for path in source_files(root):
        shown = str(path.relative_to(root))
        version.add(shown, read_source(path, shown))
    return version.value


def load_catalogue(root: Path | str = ".") -> Catalogue:
    """Load, parse and validate the catalogue under ``root``; raise CatalogueError."""
    from engine.language.validate import validate_catalogue

    root = Path(root)
    problems: list[Problem] = []
    version = RulesVersion()
    catalog_path = root / "catalog.yaml"
    rules_dir = root / "rules"
    docs: dict[Path, YamlDoc] = {}
    for path in source_files(root):
        shown = str(path.relative_to(root))
        try:
            raw = read_source(path, shown)
            version.add(shown, raw)
            docs[path] = read_yaml(path, shown, raw)
        except CatalogueError as exc:
            problems.extend(exc.problems)
    catalog_doc = docs.get(catalog_path)
    catalog: CatalogFile | None = None
    if catalog_doc is not None:
        try:
            catalog = CatalogFile.model_validate(catalog_doc.data)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(catalog_doc, exc))
    parameters: dict[str, Parameter] = {}
    rules: dict[str, dict[str, ServiceRule]] = {}
    labels: dict[str, Text] = {}
    versions: dict[tuple[str, str], list[RuleVersion]] = {}
    for path, doc in docs.items():
        if path == catalog_path:
            continue
        rel = path.relative_to(rules_dir)
        try:
            if is_breakdown_file(rel):
                for parameter in parse_breakdown(doc, rel):
                    problems.extend(_add_parameter(parameters, parameter, doc))
                continue
            if is_local_definition(rel):
                for rule, place_doc in expand_local_definition(doc, rel):
                    problems.extend(_add_rule(rules, rule, place_doc))
                continue
            if rel.parts[0] == PARAMETERS_DIR or (
                len(rel.parts) > 2 and rel.parts[0] == "local" and rel.parts[2] == PARAMETERS_DIR
            ):
                parameter = parse_parameter(doc, rel)
                problems.extend(_add_parameter(parameters, parameter, doc))
            elif rel.as_posix() == VOCABULARY_FILE:
                labels = parse_vocabulary(doc)
            elif rel.as_posix() in (OUTREACH_FILE, RESIDENCES_FILE):
                continue
            else:
                rule = parse_rule_file(doc, rel)
                dated = effective_dates(doc)
                if dated is not None:
                    versions.setdefault((rule.service, rule.jurisdiction), []).append(
                        RuleVersion(dated[0], dated[1], rule, doc)
                    )
                    continue
                problems.extend(_add_rule(rules, rule, doc))
        except RuleSyntaxError as exc:
            problems.append(Problem(doc.file, doc.line(exc.path), exc.message))
    for (service, jurisdiction), dated_rules in sorted(versions.items()):
        layer = rules.setdefault(service, {})
        found = version_problems(dated_rules, layer.get(jurisdiction))
        if found:
            problems.extend(found)
            continue
        layer[jurisdiction] = merge_versions(dated_rules, labels)
    if catalog is not None and tuple(catalog.events) != EVENTS:
        # The command line's --event and the API's schema are built from EVENTS before any
        # catalogue loads; a catalogue with other events would offer what they refuse.
        problems.append(
            Problem(
                docs[catalog_path].file,
                docs[catalog_path].line(("events",)),
                f"events must be, in this order: {', '.join(EVENTS)} (engine/language/catalog.py EVENTS)",
            )
        )
    if problems or catalog is None:
        raise CatalogueError(problems)
    catalogue = Catalogue(
        root=str(root),
        version=version.value,
        events=dict(catalog.events),
        agencies=dict(catalog.agencies),
        documents=dict(catalog.documents),
        services=dict(catalog.services),
        rules=rules,
        parameters=parameters,
        labels=labels,
    )
    # Dated versions are checked one by one, so that a problem names its own file and line.
    # The merged rule stays for the catalogue's own checks (its legal basis), without the
    # versions' parts, which are checked where they are written.
    checked = {sid: dict(layer) for sid, layer in rules.items()}
    for (service, jurisdiction), dated_rules in versions.items():
        merged = checked[service][jurisdiction]
        checked[service][jurisdiction] = replace(
            merged, eligibility=Const(True), amount=None, fee=None, deadline=None, notes=()
        )
        for i, rule_version in enumerate(dated_rules):
            checked[service][f"{jurisdiction}@{i}"] = rule_version.rule
    problems = validate_catalogue(replace(catalogue, rules=checked), docs={d.file: d for d in docs.values()})
    problems += _data_beside_rules(
        catalogue, docs.get(rules_dir / OUTREACH_FILE), rules_dir / RESIDENCES_FILE
    )
    if problems:
        raise CatalogueError(problems)
    return catalogue


def _add_parameter(parameters: dict[str, Parameter], parameter: Parameter, doc: YamlDoc) -> list[Problem]:
    """One home for each figure: a place's parameter written both in a breakdown file and
    in the place's own folder is an error naming both files."""
    other = parameters.get(parameter.name)
    if other is not None:
        return [
            Problem(
                doc.file,
                doc.line(("values", parameter.jurisdiction)) if other.file != doc.file else 1,
                f"parameter '{parameter.name}' is written twice: {other.file} and {parameter.file}",
            )
        ]
    parameters[parameter.name] = parameter
    return []


def _add_rule(rules: dict[str, dict[str, ServiceRule]], rule: ServiceRule, doc: YamlDoc) -> list[Problem]:
    """Put ``rule`` in its service's layer; a second rule for the same place needs a
    priority that settles which one applies."""
    layer = rules.setdefault(rule.service, {})
    other = layer.get(rule.jurisdiction)
    if other is None:
        layer[rule.jurisdiction] = rule
        return []
    winner, _loser = _by_priority(other, rule)
    if winner is None:
        return [
            Problem(
                doc.file,
                doc.line(("service",)),
                f"two rules for '{rule.service}' in {rule.jurisdiction} both apply without a "
                f"priority: {other.file} and {rule.file}",
            )
        ]
    layer[rule.jurisdiction] = winner
    return []


def _data_beside_rules(catalogue: Catalogue, outreach: YamlDoc | None, residences: Path) -> list[Problem]:
    """The outreach policy and the residences of the tree, checked with the rules (so that
    ``lifeevents validate`` reports them); the policy is parsed once, here, and kept."""
    from engine.language.outreach_policy import parse_outreach_policy, remember
    from engine.language.residences import ResidencesError, read_residences

    problems: list[Problem] = []
    if outreach is not None:
        try:
            remember(catalogue, parse_outreach_policy(outreach, catalogue))
        except CatalogueError as exc:
            problems += exc.problems
    if residences.is_file():
        try:
            read_residences(residences.parent.parent)
        except ResidencesError as exc:
            problems += [Problem(exc.file, line, message) for line, message in exc.problems]
    return problems


def _by_priority(a: ServiceRule, b: ServiceRule) -> tuple[ServiceRule | None, ServiceRule | None]:
    """Two rules for one service and place: the higher stated priority wins; none or a
    tie is an error (Catala's rule: no silent pick between two applicable rules)."""
    if a.priority is None or b.priority is None or a.priority == b.priority:
        return None, None
    return (a, b) if a.priority > b.priority else (b, a)


def parse_parameter(doc: YamlDoc, rel: Path) -> Parameter:
    data = doc.data
    if not isinstance(data, dict):
        raise RuleSyntaxError((), "a parameter file is a mapping with description, metadata and values")
    extra = set(data) - {"description", "label", "metadata", "values"}
    if extra:
        raise RuleSyntaxError((sorted(extra)[0],), f"unknown key '{sorted(extra)[0]}' in a parameter file")
    for key in ("description", "metadata", "values"):
        if key not in data:
            raise RuleSyntaxError((), f"a parameter needs '{key}'")
    meta = data["metadata"]
    if not isinstance(meta, dict):
        raise RuleSyntaxError(("metadata",), "metadata is a mapping")
    allowed = {
        "unit",
        "reference",
        "confidence",
        "period",
        "index",
        "index_lookup",
        "source",
        "jurisdiction",
        "overrides",
        "priority",
        "note",
    }
    extra = set(meta) - allowed
    if extra:
        raise RuleSyntaxError(("metadata", sorted(extra)[0]), f"unknown metadata key '{sorted(extra)[0]}'")
    for key in ("unit", "reference", "confidence"):
        if not meta.get(key):
            raise RuleSyntaxError(
                ("metadata",), f"metadata needs '{key}' (the unit, the law it comes from, how sure it is)"
            )
    if meta["confidence"] not in CONFIDENCE:
        raise RuleSyntaxError(("metadata", "confidence"), f"confidence is one of {' '.join(CONFIDENCE)}")
    if meta.get("index_lookup", "exact") not in ("exact", "floor"):
        raise RuleSyntaxError(("metadata", "index_lookup"), "index_lookup is 'exact' or 'floor'")
    if meta.get("priority") is not None and (
        not isinstance(meta["priority"], int) or isinstance(meta["priority"], bool)
    ):
        raise RuleSyntaxError(("metadata", "priority"), "priority is a whole number")
    if meta.get("period") not in (None, "year"):
        raise RuleSyntaxError(("metadata", "period"), "period is 'year' (annual) or absent")
    values_raw = data["values"]
    if not isinstance(values_raw, dict) or not values_raw:
        raise RuleSyntaxError(("values",), "values maps effective dates to {value: …}")
    values = []
    for key, entry in values_raw.items():
        when = parse_date(key, ("values", key))
        if not isinstance(entry, dict) or "value" not in entry:
            raise RuleSyntaxError(("values", key), "each date maps to {value: …}")
        extra = set(entry) - {"value", "confidence", "reference", "note"}
        if extra:
            raise RuleSyntaxError(("values", key, sorted(extra)[0]), f"unknown key '{sorted(extra)[0]}'")
        value = entry["value"]
        if isinstance(value, dict):
            if meta.get("index") is None:
                raise RuleSyntaxError(("values", key, "value"), "a table of values needs metadata.index")
            bad = [k for k, v in value.items() if not _is_number(v)]
            if bad:
                raise RuleSyntaxError(("values", key, "value", bad[0]), "table values must be numbers")
            for k, v in value.items():
                if meta.get("index_lookup") == "floor" and not _is_whole(k):
                    raise RuleSyntaxError(
                        ("values", key, "value", k), f"a floor lookup's keys are whole numbers, got {k!r}"
                    )
                if number_problem(v) is not None:
                    raise RuleSyntaxError(("values", key, "value", k), f"{k}: {number_problem(v)}")
        elif not _is_number(value):
            raise RuleSyntaxError(("values", key, "value"), f"a value must be a number, got {value!r}")
        elif number_problem(value) is not None:
            raise RuleSyntaxError(("values", key, "value"), str(number_problem(value)))
        if entry.get("confidence") not in (None, *CONFIDENCE):
            raise RuleSyntaxError(
                ("values", key, "confidence"), f"confidence is one of {' '.join(CONFIDENCE)}"
            )
        values.append(
            ParameterValue(when, value, entry.get("confidence"), entry.get("reference"), entry.get("note"))
        )
    values.sort(key=lambda v: v.effective_from)
    parts = list(rel.with_suffix("").parts)
    jurisdiction = "national"
    if parts[0] == "local":
        jurisdiction = parts[1]
        parts = parts[3:]
        name = f"local.{jurisdiction}." + ".".join(parts)
    else:
        name = ".".join(parts[1:])
    label = (
        parse_text(data["label"], ("label",))
        if "label" in data
        else Text(str(data["description"]), str(data["description"]))
    )
    return Parameter(
        name=name,
        description=str(data["description"]),
        label=label,
        unit=str(meta["unit"]),
        reference=str(meta["reference"]),
        confidence=meta["confidence"],
        values=tuple(values),
        period=meta.get("period"),
        index=meta.get("index"),
        index_lookup=meta.get("index_lookup", "exact"),
        file=doc.file,
        jurisdiction=jurisdiction,
        overrides=meta.get("overrides"),
        priority=meta.get("priority"),
    )


def _is_whole(key: Any) -> bool:
    if isinstance(key, str):
        return key.isascii() and key.lstrip("-").isdigit() and len(key) <= 16
    return isinstance(key, int) and not isinstance(key, bool) and abs(key) <= MAX_NUMBER


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_vocabulary(doc: YamlDoc) -> dict[str, Text]:
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("facts"), dict):
        raise RuleSyntaxError((), "vocabulary.yaml maps facts: {path: {en: …, zh-TW: …}}")
    return {str(k): parse_text(v, ("facts", k)) for k, v in data["facts"].items()}


NOTE_KEYS = {"id", "when", "text", "on", "values", "coincidences"}
STATUSES = ("eligible", "ineligible", "unknown")


def parse_note(raw: Any, i: int, ctx: ParseContext) -> Note:
    """A sentence for the reasons: ``{id, when: condition, text, on: [statuses],
    values: {name: expression}}`` (the text quotes values as ``{value:name}``)."""
    where = ("notes", i)
    if not isinstance(raw, dict) or "text" not in raw:
        raise RuleSyntaxError(
            where, "a note is {id: …, when: condition, text: …, on: [statuses], values: {…}}"
        )
    extra = set(raw) - NOTE_KEYS
    if extra:
        raise RuleSyntaxError((*where, sorted(extra)[0]), f"unknown key '{sorted(extra)[0]}' in a note")
    on = raw.get("on", list(STATUSES))
    on = [on] if isinstance(on, str) else on
    if not isinstance(on, list) or set(on) - set(STATUSES):
        raise RuleSyntaxError((*where, "on"), "on lists statuses: eligible, ineligible, unknown")
    values = raw.get("values") or {}
    if not isinstance(values, dict):
        raise RuleSyntaxError((*where, "values"), "values maps names to expressions")
    coincidences = raw.get("coincidences") or []
    if not isinstance(coincidences, list):
        raise RuleSyntaxError((*where, "coincidences"), "coincidences lists {figure: NUMBER, why: TEXT}")
    for k, item in enumerate(coincidences):
        if (
            not isinstance(item, dict)
            or set(item) != {"figure", "why"}
            or not _is_number(item["figure"])
            or not isinstance(item["why"], str)
            or not item["why"].strip()
        ):
            raise RuleSyntaxError(
                (*where, "coincidences", k),
                "a coincidence is {figure: NUMBER, why: TEXT}: a figure the text states that "
                "equals a parameter's value by coincidence, and why it is another quantity",
            )
    return Note(
        id=str(raw.get("id") or f"note-{i + 1}"),
        when=parse_condition(raw.get("when", True), (*where, "when"), ctx),
        text=parse_text(raw["text"], (*where, "text")),
        on=tuple(on),
        values=tuple((str(k), parse_expr(v, (*where, "values", k), ctx)) for k, v in values.items()),
        coincidences=tuple((Decimal(str(c["figure"])), c["why"].strip()) for c in coincidences),
    )


_RULE_KEYS = {
    "service",
    "effective_from",
    "effective_until",
    "jurisdiction",
    "legal_basis",
    "eligibility",
    "amount",
    "fee",
    "deadline",
    "notes",
    "priority",
    "confidence",
    "confidence_note",
    "coverage_exempt",
    "same_visit_as",
}


def parse_rule_file(doc: YamlDoc, rel: Path) -> ServiceRule:
    data = doc.data
    if not isinstance(data, dict):
        raise RuleSyntaxError((), "a rule file is a mapping with service, legal_basis and eligibility")
    extra = set(data) - _RULE_KEYS
    if extra:
        raise RuleSyntaxError((sorted(extra)[0],), f"unknown key '{sorted(extra)[0]}' in a rule file")
    for key in ("service", "eligibility"):
        if key not in data:
            raise RuleSyntaxError((), f"a rule file needs '{key}'")
    if not data.get("legal_basis"):
        raise RuleSyntaxError(
            ("legal_basis",) if "legal_basis" in data else (),
            "missing legal_basis: every rule names the law it comes from",
        )
    service = str(data["service"])
    jurisdiction = str(data.get("jurisdiction", "national"))
    if jurisdiction != "national" and jurisdiction not in RESIDENCES:
        raise RuleSyntaxError(
            ("jurisdiction",), f"jurisdiction is 'national' or one of the 22 residences, got '{jurisdiction}'"
        )
    if rel.parts[0] == "local" and (len(rel.parts) < 3 or rel.parts[1] != jurisdiction):
        raise RuleSyntaxError(
            ("jurisdiction",),
            f"a file under rules/local/{rel.parts[1] if len(rel.parts) > 1 else '?'}/ must say jurisdiction: {rel.parts[1] if len(rel.parts) > 1 else '?'}",
        )
    if rel.parts[0] != "local" and jurisdiction != "national":
        raise RuleSyntaxError(
            ("jurisdiction",), f"a {jurisdiction} rule lives under rules/local/{jurisdiction}/"
        )
    ctx = ParseContext(service)
    notes = []
    for i, raw in enumerate(data.get("notes") or []):
        notes.append(parse_note(raw, i, ctx))
    priority = data.get("priority")
    if priority is not None and (not isinstance(priority, int) or isinstance(priority, bool)):
        raise RuleSyntaxError(("priority",), "priority is a whole number")
    confidence = data.get("confidence")
    if confidence is not None and confidence not in CONFIDENCE:
        raise RuleSyntaxError(("confidence",), f"confidence is one of {' '.join(CONFIDENCE)}")
    exempt = data.get("coverage_exempt") or {}
    if not isinstance(exempt, dict):
        raise RuleSyntaxError(("coverage_exempt",), "coverage_exempt maps criterion ids to the reason")
    return ServiceRule(
        service=service,
        file=doc.file,
        jurisdiction=jurisdiction,
        legal_basis=str(data["legal_basis"]),
        eligibility=parse_condition(data["eligibility"], ("eligibility",), ctx),
        amount=parse_amount(data["amount"], ("amount",), ctx) if "amount" in data else None,
        fee=parse_amount(data["fee"], ("fee",), ctx) if "fee" in data else None,
        deadline=parse_deadline(data["deadline"], ("deadline",), ctx) if "deadline" in data else None,
        notes=tuple(notes),
        priority=priority,
        confidence=confidence,
        confidence_note=parse_text(data["confidence_note"], ("confidence_note",))
        if "confidence_note" in data
        else None,
        coverage_exempt={str(k): str(v) for k, v in exempt.items()},
        same_visit_as=str(data["same_visit_as"]) if data.get("same_visit_as") else None,
    )


# --- dated rules: versions of one rule, each in force for a period ------------------------


@dataclass(frozen=True)
class RuleVersion:
    """One rule file in force from ``start`` to ``end`` (both days included; None: open)."""

    start: date | None
    end: date | None
    rule: ServiceRule
    doc: YamlDoc


def effective_dates(doc: YamlDoc) -> tuple[date | None, date | None] | None:
    """A rule file's ``effective_from`` / ``effective_until``; None when it gives neither
    (an undated rule, in force on every date)."""
    data = doc.data
    if "effective_from" not in data and "effective_until" not in data:
        return None
    start = parse_date(data["effective_from"], ("effective_from",)) if "effective_from" in data else None
    end = parse_date(data["effective_until"], ("effective_until",)) if "effective_until" in data else None
    if start is not None and end is not None and end < start:
        raise RuleSyntaxError(("effective_until",), f"effective_until {end} is before effective_from {start}")
    return start, end


def version_problems(dated: list[RuleVersion], undated: ServiceRule | None) -> list[Problem]:
    """Versions of one rule must follow each other day after day: an overlap would make
    two rules apply on the same date, a gap would leave dates with none (say so with an
    explicit version instead, e.g. one whose eligibility is ``unencoded``)."""
    out: list[Problem] = []
    first = dated[0]
    where = f"'{first.rule.service}' in {first.rule.jurisdiction}"
    if undated is not None:
        for version in dated:
            out.append(
                Problem(
                    version.doc.file,
                    version.doc.line(("service",)),
                    f"{where} has dated versions and an undated rule ({undated.file}), which would apply "
                    "on every date: give it effective_from / effective_until too",
                )
            )
        return out
    ordered = sorted(dated, key=lambda v: v.start or date.min)
    for before, after in pairwise(ordered):
        line = after.doc.line(("effective_from",))
        if before.end is None or after.start is None or before.end >= after.start:
            out.append(
                Problem(
                    after.doc.file,
                    line,
                    f"versions of {where} overlap: {before.doc.file} is in force until "
                    f"{before.end or 'further notice'}, this one from {after.start or 'any date'}",
                )
            )
        elif before.end + timedelta(days=1) != after.start:
            out.append(
                Problem(
                    after.doc.file,
                    line,
                    f"versions of {where} leave a gap: {before.doc.file} ends on {before.end}, this one "
                    f"starts on {after.start}; no rule would be in force from {before.end + timedelta(days=1)}",
                )
            )
    return out


def _in_force(version: RuleVersion, labels: dict[str, Text]) -> Condition:
    """The evaluation date lies within the version's period: a criterion on ``as_of``."""

    def said(key: str, day: date) -> Text:
        phrase = labels.get(f"phrase.{key}")
        if phrase is None:
            return Text(day.isoformat(), day.isoformat())
        return Text(phrase.en.format(date=day.isoformat()), phrase.zh.format(date=day.isoformat()))

    tests: list[Condition] = []
    if version.start is not None:
        tests.append(
            Compare(
                id=f"rules-in-force-from-{version.start.isoformat()}",
                lhs=FactRef("as_of"),
                op="gte",
                rhs=Literal(version.start),
                text=said("rules_in_force_from", version.start),
            )
        )
    if version.end is not None:
        tests.append(
            Compare(
                id=f"rules-in-force-until-{version.end.isoformat()}",
                lhs=FactRef("as_of"),
                op="lte",
                rhs=Literal(version.end),
                text=said("rules_in_force_until", version.end),
            )
        )
    if not tests:
        return Const(True)
    return tests[0] if len(tests) == 1 else All(tuple(tests))


def _when(force: Condition, cond: Condition | None) -> Condition:
    if cond is None:
        return force
    return cond if isinstance(force, Const) else All((force, cond))


def _by_period(parts: list[tuple[Condition, Expr | None]]) -> Expr | None:
    """One expression per version, the one in force chosen by the evaluation date."""
    given = [(force, expr) for force, expr in parts if expr is not None]
    if not given:
        return None
    if len(given) == 1 and isinstance(given[0][0], Const):
        return given[0][1]
    return Cases(tuple(given), None)


def _merge_amounts(rules: list[tuple[Condition, AmountRule | None]], service: str) -> AmountRule | None:
    """The amount of the version in force. A version without one, beside versions with
    one, leaves the amount of its period unknown (``rules.SERVICE``): not encoded, never 0."""
    given = [(force, amount) for force, amount in rules if amount is not None]
    if not given:
        return None
    first = given[0][1]
    value = _by_period(
        [
            (force, a.value) if a is not None else (All((force, Unencoded(f"rules.{service}"))), Literal(0))
            for force, a in rules
        ]
    )
    assert value is not None
    wheres = [_when(force, a.where if a is not None else None) for force, a in rules]
    return AmountRule(
        unit=first.unit,
        value=value,
        per_child=first.per_child,
        where=wheres[0] if len(wheres) == 1 else AnyOf(tuple(wheres)),
        at=first.at,
    )


def _merge_deadlines(rules: list[tuple[Condition, DeadlineRule | None]]) -> DeadlineRule | None:
    given = [(force, deadline) for force, deadline in rules if deadline is not None]
    if not given:
        return None
    if len(given) == 1 and given[0][1].next_month_day is not None:
        return given[0][1]
    whens = [_when(force, d.when) for force, d in given]
    return DeadlineRule(
        base=_by_period([(force, d.base) for force, d in given]),
        days=_by_period([(force, d.days or Literal(0)) for force, d in given]),
        months=_by_period([(force, d.months or Literal(0)) for force, d in given]),
        years=_by_period([(force, d.years or Literal(0)) for force, d in given]),
        when=whens[0] if len(whens) == 1 else AnyOf(tuple(whens)),
    )


def merge_versions(dated: list[RuleVersion], labels: dict[str, Text]) -> ServiceRule:
    """The versions of one rule as one rule whose every part is the version in force on
    the evaluation date: the eligibility of the version in force (none in force:
    ineligible), its amount, fee and deadline, and its notes. Every backend reads it as
    an ordinary rule."""
    ordered = sorted(dated, key=lambda v: v.start or date.min)
    forces = [_in_force(v, labels) for v in ordered]
    rules = [v.rule for v in ordered]
    latest = rules[-1]
    # The newest version first: its reasons lead the explanation.
    eligibility = [_when(force, r.eligibility) for force, r in zip(forces, rules, strict=True)][::-1]
    marks = [r.confidence for r in rules if r.confidence]
    bases = list(dict.fromkeys(r.legal_basis for r in rules))
    return ServiceRule(
        service=latest.service,
        file=latest.file,  # the newest version: where the rule is read and edited
        jurisdiction=latest.jurisdiction,
        legal_basis="；".join(bases),
        eligibility=eligibility[0] if len(eligibility) == 1 else AnyOf(tuple(eligibility)),
        amount=_merge_amounts(list(zip(forces, (r.amount for r in rules), strict=True)), latest.service),
        fee=_merge_amounts(list(zip(forces, (r.fee for r in rules), strict=True)), latest.service),
        deadline=_merge_deadlines(list(zip(forces, (r.deadline for r in rules), strict=True))),
        notes=tuple(
            replace(note, when=_when(force, note.when))
            for force, r in zip(forces, rules, strict=True)
            for note in r.notes
        ),
        priority=latest.priority,
        confidence=max(marks, key=CONFIDENCE.index) if marks else None,
        confidence_note=latest.confidence_note,
        coverage_exempt={k: v for r in rules for k, v in r.coverage_exempt.items()},
        same_visit_as=latest.same_visit_as,
    )


# --- the local layer as one definition: breakdowns by place, labelled exceptions ---------
#
# rules/local/<service>.yaml is one rule for every place it lists (PolicyEngine's
# breakdown, Catala's exceptions): the general rule's keys, then
#   places:     {<residence>: {legal_basis, confidence, confidence_note, same_visit_as,
#                              priority, words: {place: …, born_from: …}}}
#   exceptions: [{label, places: [...], priority, criteria: {id: item | null},
#                 notes: {id: note | null}, deadline: … | null, amount: … | null}]
# ``${word}`` in any string is the place's word (``${jurisdiction}`` is its id). Each place
# gets an ordinary rule (as if written in rules/local/<residence>/), so every backend reads
# it unchanged. rules/local/parameters/<topic>/<name>.yaml is one parameter broken down by
# place: ``metadata: {breakdown: residence}`` and ``values: {<residence>: <a parameter>}``,
# named local.<residence>.<topic>.<name> as if written under each place's folder.

_WORD = re.compile(r"\$\{([a-z_]+)\}")
_PLACE_KEYS = {"legal_basis", "confidence", "confidence_note", "same_visit_as", "priority", "words"}
_EXCEPTION_KEYS = {"label", "places", "priority", "criteria", "notes", "deadline", "amount", "fee"}


def is_breakdown_file(rel: Path) -> bool:
    return len(rel.parts) > 2 and rel.parts[0] == "local" and rel.parts[1] == PARAMETERS_DIR


def is_local_definition(rel: Path) -> bool:
    return len(rel.parts) == 2 and rel.parts[0] == "local"


def parse_breakdown(doc: YamlDoc, rel: Path) -> list[Parameter]:
    """One parameter per place of a breakdown file."""
    data = doc.data
    meta = data.get("metadata") if isinstance(data, dict) else None
    if not isinstance(meta, dict) or meta.get("breakdown") != "residence":
        raise RuleSyntaxError(
            ("metadata",),
            "a parameter under rules/local/parameters/ is broken down: metadata: {breakdown: residence}",
        )
    if not isinstance(data.get("values"), dict) or not data["values"]:
        raise RuleSyntaxError(("values",), "values maps each residence to its parameter")
    shared = {k: v for k, v in meta.items() if k != "breakdown"}
    out = []
    for place, entry in data["values"].items():
        where = ("values", place)
        if place not in RESIDENCES:
            raise RuleSyntaxError(where, f"'{place}' is not one of the 22 residences")
        if not isinstance(entry, dict) or "values" not in entry:
            raise RuleSyntaxError(where, "each place holds {label, metadata, values} like a parameter file")
        one = {
            "description": entry.get("description", data.get("description")),
            "metadata": {**shared, **(entry.get("metadata") or {})},
            "values": entry["values"],
        }
        if "label" in entry:
            one["label"] = entry["label"]
        try:
            out.append(
                parse_parameter(
                    YamlDoc(doc.file, one, None), Path("local", place, PARAMETERS_DIR, *rel.parts[2:])
                )
            )
        except RuleSyntaxError as exc:
            raise RuleSyntaxError((*where, *exc.path), f"{place}: {exc.message}") from None
    return out


def _words(raw: Any, words: dict[str, Any], place: str) -> Any:
    """``raw`` with every ``${word}`` replaced by the place's word."""
    if isinstance(raw, dict):
        return {k: _words(v, words, place) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_words(v, words, place) for v in raw]
    if not isinstance(raw, str) or "${" not in raw:
        return raw

    def word(match: re.Match) -> str:
        name = match.group(1)
        if name not in words:
            raise RuleSyntaxError(
                (), f"{place}: no word '{name}' for '${{{name}}}' (give it under places.{place}.words)"
            )
        return str(words[name])

    return _WORD.sub(word, raw)


def _item_id(item: Any) -> str | None:
    """A criterion's id; for an all/any group, the id of its first criterion."""
    if not isinstance(item, dict):
        return None
    if "id" in item:
        return str(item["id"])
    for key in ("all", "any"):
        if isinstance(item.get(key), list) and item[key]:
            return _item_id(item[key][0])
    return None


def _targets(exception: dict) -> set[tuple[str, ...]]:
    """What an exception changes: criteria and notes by id, the deadline, the amount, the fee."""
    out: set[tuple[str, ...]] = set()
    for kind in ("criteria", "notes"):
        out |= {(kind, str(key)) for key in exception.get(kind) or {}}
    out |= {(key,) for key in ("deadline", "amount", "fee") if key in exception}
    return out


def chosen_exceptions(exceptions: list[dict], place: str) -> tuple[list[dict], list[str]]:
    """The exceptions that apply in ``place``, and the conflicts: two that change the same
    part of the rule there need distinct priorities (the higher one applies there); without
    them it is an error, not a silent pick (Catala)."""
    applying = [e for e in exceptions if place in e.get("places", [])]
    conflicts = []
    for target in sorted(set().union(*(_targets(e) for e in applying)) if applying else ()):
        rivals = [e for e in applying if target in _targets(e)]
        priorities = [r.get("priority") for r in rivals]
        if len(rivals) > 1 and (None in priorities or len(set(priorities)) < len(priorities)):
            labels = " and ".join(f"'{r['label']}'" for r in rivals)
            conflicts.append(
                f"exceptions {labels} both change {' '.join(target)} in {place} without distinct priorities"
            )
    return applying, conflicts


def _apply(rule: dict, exception: dict, skip: set[tuple[str, ...]]) -> None:
    items = rule["eligibility"]["all"]
    for key, item in (exception.get("criteria") or {}).items():
        if ("criteria", str(key)) in skip:
            continue
        at = next((i for i, old in enumerate(items) if _item_id(old) == str(key)), None)
        if at is None:
            if item is not None:
                items.append(item)
        elif item is None:
            del items[at]
        else:
            items[at] = item
    notes = rule.setdefault("notes", [])
    for key, note in (exception.get("notes") or {}).items():
        if ("notes", str(key)) in skip:
            continue
        at = next((i for i, old in enumerate(notes) if isinstance(old, dict) and old.get("id") == key), None)
        if at is None:
            if note is not None:
                notes.append({"id": key, **note} if "id" not in note else note)
        elif note is None:
            del notes[at]
        else:
            notes[at] = {"id": key, **note} if "id" not in note else note
    for key in ("deadline", "amount", "fee"):
        if key in exception and (key,) not in skip:
            if exception[key] is None:
                rule.pop(key, None)
            else:
                rule[key] = exception[key]


def expand_local_definition(doc: YamlDoc, rel: Path) -> list[tuple[ServiceRule, YamlDoc]]:
    """The rule of every place of a local definition, with its exceptions applied."""
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("places"), dict) or not data["places"]:
        raise RuleSyntaxError(
            (), "a rule under rules/local/ itself is one definition for many places: it needs places: {…}"
        )
    exceptions = data.get("exceptions") or []
    if not isinstance(exceptions, list):
        raise RuleSyntaxError(("exceptions",), "exceptions is a list of {label, places, …}")
    labels: set[str] = set()
    for i, exception in enumerate(exceptions):
        where = ("exceptions", i)
        if not isinstance(exception, dict) or not exception.get("label"):
            raise RuleSyntaxError(where, "an exception is labelled: {label: …, places: [...], …}")
        extra = set(exception) - _EXCEPTION_KEYS
        if extra:
            raise RuleSyntaxError(
                (*where, sorted(extra)[0]), f"unknown key '{sorted(extra)[0]}' in an exception"
            )
        if exception["label"] in labels:
            raise RuleSyntaxError((*where, "label"), f"two exceptions are labelled '{exception['label']}'")
        labels.add(exception["label"])
        unknown = [p for p in exception.get("places") or [] if p not in data["places"]]
        if not exception.get("places") or unknown:
            raise RuleSyntaxError(
                (*where, "places"), f"an exception lists places of this definition, got {unknown or 'none'}"
            )
    general = {k: v for k, v in data.items() if k not in ("places", "exceptions")}
    if not isinstance(general.get("eligibility"), dict) or not isinstance(
        general["eligibility"].get("all"), list
    ):
        raise RuleSyntaxError(
            ("eligibility",), "a local definition's eligibility is all: [criteria with ids]"
        )
    out = []
    for place, own in data["places"].items():
        where = ("places", place)
        if not isinstance(own, dict) or set(own) - _PLACE_KEYS:
            raise RuleSyntaxError(where, f"a place holds {', '.join(sorted(_PLACE_KEYS))}")
        applying, conflicts = chosen_exceptions(exceptions, place)
        if conflicts:
            raise RuleSyntaxError(("exceptions",), "; ".join(conflicts))
        rule = copy.deepcopy(general)
        skip_by_exception = _yielding(applying)
        for exception in applying:
            _apply(rule, copy.deepcopy(exception), skip_by_exception.get(id(exception), set()))
        rule.update({k: v for k, v in own.items() if k != "words"})
        rule["jurisdiction"] = place
        words = {"jurisdiction": place, **(own.get("words") or {})}
        try:
            rule = _words(rule, words, place)
        except RuleSyntaxError as exc:
            raise RuleSyntaxError((*where, "words"), exc.message) from None
        place_doc = YamlDoc(doc.file, rule, doc.node)
        out.append((parse_rule_file(place_doc, Path("local", place, rel.name)), place_doc))
    return out


def _yielding(applying: list[dict]) -> dict[int, set[tuple[str, ...]]]:
    """For each exception, the parts it yields to a higher-priority exception."""
    out: dict[int, set[tuple[str, ...]]] = {}
    for exception in applying:
        for target in _targets(exception):
            rivals = [r for r in applying if target in _targets(r)]
            top = max(rivals, key=lambda r: r.get("priority") or 0)
            if top is not exception:
                out.setdefault(id(exception), set()).add(target)
    return out
