"""Reading ``catalog.yaml`` and ``rules/`` into the validated :class:`Catalogue`.

YAML is read with ``yaml.safe_load`` semantics only (a SafeLoader subclass that also
refuses duplicate keys, which PyYAML would silently overwrite). Every problem is
reported as ``file:line: message``; the line is found by walking the composed YAML node
tree along the key path the problem was found at.
"""

from __future__ import annotations

import hashlib
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from engine.catalog import CatalogFile, Catalogue, ServiceRule
from engine.parameters import CONFIDENCE, Parameter, ParameterValue
from engine.profile import RESIDENCES
from engine.rules import (
    MAX_NUMBER,
    Note,
    ParseContext,
    RuleSyntaxError,
    Text,
    number_problem,
    parse_amount,
    parse_condition,
    parse_date,
    parse_deadline,
    parse_expr,
    parse_text,
)
from engine.yamlsafe import YamlShapeError, check_shape, decode_yaml_text, error_line, yaml12_booleans

PARAMETERS_DIR = "parameters"
VOCABULARY_FILE = "vocabulary.yaml"
# Data beside the rules, each read by its own module (not a service's rule):
# engine/outreach_policy.py and engine/residences.py.
OUTREACH_FILE = "outreach.yaml"
RESIDENCES_FILE = "residences.yaml"


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class CatalogueError(ValueError):
    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster


class _Loader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """safe_load semantics, refusing duplicate keys, with YAML 1.2 booleans."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}' (first on line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
yaml12_booleans(_Loader)


@dataclass
class YamlDoc:
    file: str
    data: Any
    node: yaml.Node | None

    def line(self, path: tuple[Any, ...]) -> int:
        """1-based line of the value at ``path`` (the nearest known ancestor's line)."""
        node = self.node
        line = node.start_mark.line + 1 if node is not None else 1
        for part in path:
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if str(key_node.value) == str(part):
                        line = key_node.start_mark.line + 1
                        node = value_node
                        break
                else:
                    return line
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line


def read_source(path: Path, shown: str) -> bytes:
    """The bytes of a rule or catalogue file; anything but a readable regular file is a
    problem of that file (a dangling link, a directory named ``x.yaml``, a device)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise CatalogueError(
                [Problem(shown, 1, "not a regular file (a directory or a device named .yaml?)")]
            )
        return path.read_bytes()
    except FileNotFoundError:
        message = "a symbolic link to a file that does not exist" if path.is_symlink() else "file not found"
        raise CatalogueError([Problem(shown, 1, message)]) from None
    except OSError as exc:
        raise CatalogueError(
            [Problem(shown, 1, f"cannot be read: {exc.strerror or type(exc).__name__}")]
        ) from None


def read_yaml(path: Path, shown: str, raw: bytes | None = None) -> YamlDoc:
    """Parse once: the node tree (for line numbers) and the data built from it.

    Before anything is built, the text must be UTF-8 and free of anchors, aliases and
    nesting deeper than MAX_DEPTH (see ``yamlsafe.check_shape``): these are the inputs
    that made one small file cost every request, or crash the loader.
    """
    if raw is None:
        raw = read_source(path, shown)
    try:
        text = decode_yaml_text(raw)
    except YamlShapeError as exc:
        raise CatalogueError([Problem(shown, exc.line, exc.message)]) from None
    try:
        check_shape(text, _BASE_LOADER)
    except YamlShapeError as exc:
        raise CatalogueError([Problem(shown, exc.line, exc.message)]) from None
    except yaml.YAMLError as exc:
        raise CatalogueError(
            [Problem(shown, error_line(exc, text), f"YAML syntax: {_yaml_problem(exc)}")]
        ) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise CatalogueError(
            [Problem(shown, error_line(exc, text), f"YAML syntax: {_yaml_problem(exc)}")]
        ) from None
    finally:
        loader.dispose()
    return YamlDoc(shown, data, node)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        return str(exc.problem or exc)
    return str(exc).splitlines()[0]


def _pydantic_problems(doc: YamlDoc, exc: ValidationError, prefix: tuple = ()) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = prefix + tuple(err["loc"])
        where = ".".join(str(p) for p in loc)
        out.append(Problem(doc.file, doc.line(loc), f"{where}: {err['msg']}"))
    return out


def _source_files(root: Path) -> list[Path]:
    catalog_path = root / "catalog.yaml"
    if not catalog_path.is_file():
        raise CatalogueError([Problem(str(catalog_path), 1, "catalog.yaml not found")])
    return [catalog_path, *sorted((root / "rules").rglob("*.yaml"))]


def content_version(root: Path | str) -> str:
    """The version ``load_catalogue(root)`` would give (the content hash of the files),
    without parsing anything: whether the rules on disk are the ones in use."""
    root = Path(root)
    digest = hashlib.sha256()
    for path in _source_files(root):
        shown = str(path.relative_to(root))
        digest.update(shown.encode() + b"\0" + read_source(path, shown))
    return digest.hexdigest()[:12]


def load_catalogue(root: Path | str = ".") -> Catalogue:
    """Load, parse and validate the catalogue under ``root``; raise CatalogueError."""
    from engine.validate import validate_catalogue

    root = Path(root)
    problems: list[Problem] = []
    digest = hashlib.sha256()
    catalog_path = root / "catalog.yaml"
    rules_dir = root / "rules"
    docs: dict[Path, YamlDoc] = {}
    for path in _source_files(root):
        shown = str(path.relative_to(root))
        try:
            raw = read_source(path, shown)
            digest.update(shown.encode() + b"\0" + raw)
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
    for path, doc in docs.items():
        if path == catalog_path:
            continue
        rel = path.relative_to(rules_dir)
        try:
            if rel.parts[0] == PARAMETERS_DIR or (
                len(rel.parts) > 2 and rel.parts[0] == "local" and rel.parts[2] == PARAMETERS_DIR
            ):
                parameter = parse_parameter(doc, rel)
                parameters[parameter.name] = parameter
            elif rel.as_posix() == VOCABULARY_FILE:
                labels = parse_vocabulary(doc)
            elif rel.as_posix() in (OUTREACH_FILE, RESIDENCES_FILE):
                continue
            else:
                rule = parse_rule_file(doc, rel)
                layer = rules.setdefault(rule.service, {})
                if rule.jurisdiction in layer:
                    other = layer[rule.jurisdiction]
                    winner, _loser = _by_priority(other, rule)
                    if winner is None:
                        problems.append(
                            Problem(
                                doc.file,
                                doc.line(("service",)),
                                f"two rules for '{rule.service}' in {rule.jurisdiction} both apply without a "
                                f"priority: {other.file} and {rule.file}",
                            )
                        )
                        continue
                    layer[rule.jurisdiction] = winner
                else:
                    layer[rule.jurisdiction] = rule
        except RuleSyntaxError as exc:
            problems.append(Problem(doc.file, doc.line(exc.path), exc.message))
    if problems or catalog is None:
        raise CatalogueError(problems)
    catalogue = Catalogue(
        root=str(root),
        version=digest.hexdigest()[:12],
        events=dict(catalog.events),
        agencies=dict(catalog.agencies),
        documents=dict(catalog.documents),
        services=dict(catalog.services),
        rules=rules,
        parameters=parameters,
        labels=labels,
    )
    problems = validate_catalogue(catalogue, docs={d.file: d for d in docs.values()})
    problems += _data_beside_rules(
        catalogue, docs.get(rules_dir / OUTREACH_FILE), rules_dir / RESIDENCES_FILE
    )
    if problems:
        raise CatalogueError(problems)
    return catalogue


def _data_beside_rules(catalogue: Catalogue, outreach: YamlDoc | None, residences: Path) -> list[Problem]:
    """The outreach policy and the residences of the tree, checked with the rules (so that
    ``lifeevents validate`` reports them); the policy is parsed once, here, and kept."""
    from engine.outreach_policy import parse_outreach_policy, remember
    from engine.residences import ResidencesError, read_residences

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


NOTE_KEYS = {"id", "when", "text", "on", "values"}
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
    return Note(
        id=str(raw.get("id") or f"note-{i + 1}"),
        when=parse_condition(raw.get("when", True), (*where, "when"), ctx),
        text=parse_text(raw["text"], (*where, "text")),
        on=tuple(on),
        values=tuple((str(k), parse_expr(v, (*where, "values", k), ctx)) for k, v in values.items()),
    )


_RULE_KEYS = {
    "service",
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
