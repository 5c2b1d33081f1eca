"""The rule language: conditions and expressions read from ``rules/*.yaml``.

A condition is data, never code::

    all:                         # every item met        (any: one met; not: negation)
      - fact: person.sex
        eq: female
      - fact: person.labor_insurance_days
        gte: {param: labor_insurance.maternity.min_insured_days_live}
      - some_child:              # some entry of `children` (born by as_of) meets it
          all: [{fact: child.age, lt: 2}, {fact: child.childcare, eq: home}]
      - switch: residence        # the local layer: one branch per city or county
        cases: {taipei: {...}}
      - unencoded: rules.childcare-subsidy   # always unknown, naming what is missing

An expression (the right-hand side of a comparison, an amount) is a literal, a
``{fact: path}``, a ``{param: name}``, ``{date: YYYY-MM-DD}``, arithmetic
(``add``, ``sub``, ``mul``, ``div``, ``min``, ``max``), ``{date_add: {date: …, days|months|years: …}}``
or ``{cases: [{when: condition, value: …}, …, {else: …}]}``.

One typed model
---------------
Every node is a frozen dataclass that pydantic validates (its config in
``__pydantic_config__``; the validators are built once, when the first rule file is
read), and ``Condition`` and ``Expr`` are discriminated unions of them: the discriminator reads which keys a YAML mapping has
(``all``, ``fact`` + an operator, ``cases`` …), and each node reads its own YAML form in
``_read`` (its checks, with the messages a rule author sees) and declares that form as
JSON Schema in ``surface_schema`` (``lifeevents schema``). Code builds nodes
positionally as before (``Compare("adult", FactRef("person.age"), "gte", Literal(18))``).

While loading, every raw YAML value travels wrapped in :class:`At` with its key path in
the file, so that each node knows where it was written (``where``) and every error names
that path, which the loader turns into ``file:line``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass as plain_dataclass
from dataclasses import field
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, TypeVar, dataclass_transform

from pydantic import (
    ConfigDict,
    Discriminator,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from engine.language.messages import did_you_mean
from engine.language.profile import EARLIEST_DATE, LATEST_DATE

OPERATORS = ("eq", "neq", "lt", "lte", "gt", "gte", "in", "not_in")
NEGATION = {
    "eq": "neq",
    "neq": "eq",
    "lt": "gte",
    "gte": "lt",
    "lte": "gt",
    "gt": "lte",
    "in": "not_in",
    "not_in": "in",
}
SYMBOL = {"eq": "=", "neq": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥", "in": "∈", "not_in": "∉"}
ARITHMETIC = ("add", "sub", "mul", "div", "min", "max", "days_between")
QUANTIFIERS = ("some_child", "some_newborn")

Path = tuple[str | int, ...]


class RuleSyntaxError(ValueError):
    def __init__(self, path: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.path = path
        self.message = message


@plain_dataclass(frozen=True, slots=True)
class At:
    """A raw YAML value and its key path in the file, on its way into a node."""

    raw: Any
    path: Path = ()
    part: str = ""  # at the top of a rule file's part: condition, expression, amount …


def _unwrap(data: Any) -> tuple[Any, Path] | None:
    """The raw YAML value and its path, or None when a node is built in code (or its
    fields are being filled after its own ``_read``)."""
    return (data.raw, data.path) if isinstance(data, At) else None


def _raw(data: Any) -> Any:
    return data.raw if isinstance(data, At) else data


@plain_dataclass
class ParseContext:
    """What a parser needs to know while reading one rule file."""

    service: str
    counter: dict[str, int] = field(default_factory=dict)

    def fresh_id(self, stem: str) -> str:
        n = self.counter.get(stem, 0)
        self.counter[stem] = n + 1
        return stem if n == 0 else f"{stem}#{n + 1}"


def _context(info: ValidationInfo) -> ParseContext:
    ctx = (info.context or {}).get("parse") if info.context else None
    return ctx if ctx is not None else ParseContext("")


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Numbers in rules and parameters. durable-rules refuses floats that JSON writes in
# exponent form (|x| >= 1e16: error 204) and Infinity (error 202), and NaN never
# compares; a NaN or infinite offset broke every evaluation with a ValueError.
MAX_NUMBER = 10**15

# Dates. A profile's dates lie in 1900-01-01..2200-12-31 (the profile model's bounds,
# issue 12 item 5). A date expression may move such a date by at most 200 years, so every
# date the engine computes stays within 1700..2400, far inside what Python's dates hold
# (years 1..9999): `years: 100000` or `days: -1000000000` overflowed on every request.
PROFILE_DATES = (EARLIEST_DATE, LATEST_DATE)  # one home: the profile model's bounds
COMPUTED_DATES = (date(1700, 1, 1), date(2400, 12, 31))


def number_problem(value: Any) -> str | None:
    """Why ``value`` (an int or float, not a bool) cannot be a number in a rule, or None."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return f"not a finite number: {value!r}"
    if abs(value) > MAX_NUMBER:
        return f"{value!r} is too large: numbers in rules stay within ±10^15"
    return None


def _number(raw: Any, path: Path) -> Any:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        problem = number_problem(raw)
        if problem is not None:
            raise RuleSyntaxError(path, problem)
    return raw


def parse_date(raw: Any, path: Path) -> date:
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str) and _DATE.match(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise RuleSyntaxError(path, f"not a valid date (YYYY-MM-DD): {raw!r}")


def parse_literal_item(raw: Any, path: Path) -> Any:
    if isinstance(raw, bool | int | float | str):
        return _number(raw, path)
    raise RuleSyntaxError(path, f"list items must be plain values, got {raw!r}")


def _opt(raw: dict, key: str, path: Path) -> At | None:
    return At(raw[key], (*path, key)) if key in raw else None


_NODE_CONFIG = ConfigDict(arbitrary_types_allowed=True)
_Node = TypeVar("_Node")


@dataclass_transform(frozen_default=True)  # so that a type checker knows each node's constructor
def node(cls: type[_Node]) -> type[_Node]:
    """A node of the rule language: frozen, hashable, validated when read from YAML.

    Read from YAML, a node is validated (``_read`` and its fields' types) by the reader's
    TypeAdapter, which builds the validation of every node the first time a rule file is
    read. Built in code (``Compare("adult", FactRef("person.age"), "gte", Literal(18))``),
    it is trusted, as code trusts what was validated when loading: the class is a plain
    frozen dataclass, so that building conditions while compiling costs what it did
    before the typed model, and a command that reads no rule file (an answer from the
    catalogue cache) builds no validator.
    """
    plain = plain_dataclass(frozen=True)(cls)
    plain.__pydantic_config__ = _NODE_CONFIG  # type: ignore[attr-defined]  # read by TypeAdapter
    return plain


# JSON Schema references between the nodes' YAML forms (engine/language/rule_schema.py).
CONDITION_REF = {"$ref": "#/$defs/condition"}
EXPRESSION_REF = {"$ref": "#/$defs/expression"}
TEXT_REF = {"$ref": "#/$defs/text"}


def _closed(properties: dict[str, Any], required: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    } | extra


# --- text ------------------------------------------------------------------------------


@node
class Text:
    en: str
    zh: str

    def get(self, lang: str) -> str:
        return self.zh if lang.startswith("zh") else self.en

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        found = _unwrap(data)
        if found is None:
            return data
        raw, path = found
        if isinstance(raw, str):
            return {"en": raw, "zh": raw}
        if not isinstance(raw, dict) or set(raw) - {"en", "zh-TW"} or not raw:
            raise RuleSyntaxError(path, "text must be a string or {en: …, zh-TW: …}")
        en = raw.get("en") or raw.get("zh-TW")
        zh = raw.get("zh-TW") or raw.get("en")
        return {"en": str(en), "zh": str(zh)}

    @staticmethod
    def surface_schema() -> dict[str, Any]:
        both = {"type": "string"}
        return {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {"en": both, "zh-TW": both},
                    "additionalProperties": False,
                    "minProperties": 1,
                },
            ]
        }


# --- expressions -------------------------------------------------------------------


@node
class Literal:
    """A plain value, a list of plain values (for ``in``) or ``{date: YYYY-MM-DD}``.

    It also reads what no other expression reads, to say what is wrong with it."""

    value: Any

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        found = _unwrap(data)
        if found is None:
            return data
        raw, path = found
        if isinstance(raw, bool | int | float | str):
            return {"value": _number(raw, path)}
        if isinstance(raw, date):
            return {"value": raw}
        if isinstance(raw, list):
            return {"value": tuple(parse_literal_item(x, (*path, i)) for i, x in enumerate(raw))}
        if not isinstance(raw, dict) or (len(raw) != 1 and "date_add" not in raw):
            raise RuleSyntaxError(path, f"an expression must be a value or a one-key mapping, got {raw!r}")
        key, arg = next(iter(raw.items()))
        if key == "date":
            return {"value": parse_date(arg, (*path, key))}
        raise RuleSyntaxError(
            path,
            f"unknown expression '{key}'; expected fact, param, date, {', '.join(ARITHMETIC)}, date_add or cases",
        )

    @staticmethod
    def surface_schema() -> dict[str, Any]:
        plain = {"type": ["boolean", "number", "string"]}
        return {
            "anyOf": [
                plain,
                {"type": "array", "items": plain},
                _closed({"date": {"type": "string", "format": "date"}}, ["date"]),
            ]
        }


@node
class FactRef:
    path: str

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        found = _unwrap(data)
        if found is None:
            return data
        raw, path = found
        if not isinstance(raw["fact"], str):
            raise RuleSyntaxError((*path, "fact"), "fact must name a fact path")
        return {"path": raw["fact"]}

    @staticmethod
    def surface_schema() -> dict[str, Any]:
        return _closed(
            {"fact": {"type": "string", "description": "a fact path (rules/vocabulary.yaml)"}}, ["fact"]
        )


@node
class ParamRef:
    """A parameter's value: at ``as_of`` unless ``at`` gives another date (an amount is
    often fixed by the birth date, not the day of the question), and under the profile's
    index fact unless ``key`` names the table entry (the 臺灣省 limit, wherever one lives)."""

    name: str
    at: Expr | None = None
    key: Any = None  # str | int | None

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        found = _unwrap(data)
        if found is None:
            return data
        raw, path = found
        if len(raw) == 1:
            if not isinstance(raw["param"], str):
                raise RuleSyntaxError((*path, "param"), "param must name a parameter")
            return {"name": raw["param"]}
        if set(raw) - {"param", "at", "key"} or not isinstance(raw["param"], str):
            raise RuleSyntaxError(path, "a parameter is {param: NAME, at: date expression, key: table key}")
        at = raw.get("at")
        if isinstance(at, str) and not _DATE.match(at):
            at = FactRef(at)  # a bare fact path: the date that fact holds
        elif at is not None:
            at = At(at, (*path, "at"))
        return {"name": raw["param"], "at": at, "key": raw.get("key")}

    @staticmethod
    def surface_schema() -> dict[str, Any]:
        return _closed(
            {
                "param": {"type": "string", "description": "a parameter name (rules/parameters/)"},
                "at": {"anyOf": [{"type": "string"}, EXPRESSION_REF]},
                "key": {"type": ["string", "integer"]},
            },
            ["param"],
        )


@node
class Arith:
    op: str
    args: tuple[Expr, ...]

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        found = _unwrap(data)
        if found is None:
            return data
        raw, path = found
        key, arg = next(iter(raw.items()))
        if (
            not isinstance(arg, list)
            or len(arg) < 2
            or (key in ("sub", "div", "days_between") and len(arg) != 2)
        ):
            raise RuleSyntaxError(
                (*path, key),
                f"{key} takes a list of {'two' if key in ('sub', 'div') else 'two or more'} expressions",
            )
        return {"op": key, "args": tuple(At(a, (*path, key, i)) for i, a in enumerate(arg))}

    @staticmethod
    def surface_schema() -> dict[str, Any]:
        def one(op: str) -> dict[str, Any]:
            pair = op in ("sub", "div", "days_between")
            items = {"type": "array", "items": EXPRESSION_REF, "minItems": 2} | (
                {"maxItems": 2} if pair else {}
            )
            return _closed({op: items}, [op])

        return {"anyOf": [one(op) for op in ARITHMETIC]}


@node
class DateAdd:
    base: Expr
    days: Expr | None = None
    months: Expr | None = None
    years: Expr | None = None

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        found = _unwrap(data)
        if found is None:
            return data
        raw, path = found
        key, arg = next(iter(raw.items()))
        where = (*path, key)
        if not isinstance(arg, dict) or "date" not in arg or set(arg) - {"date", "days", "months", "years"}:
            raise RuleSyntaxError(where, "date_add takes {date: …, days|months|years: …}")
        base = arg["date"]
        return {
            "base": Literal(parse_date(base, (*where, "date")))
            if isinstance(base, str)
            else At(base, (*where, "date")),
            "days": _opt(arg, "days", where),
            "months": _opt(arg, "months", where),
            "years": _opt(arg, "years", where),
        }

    @staticmethod
    def surface_schema() -> dict[str, Any]:
        return _closed(
            {
                "date_add": _closed(
                    {
                        "date": {"anyOf": [{"type": "string", "format": "date"}, EXPRESSION_REF]},
                        "days": EXPRESSION_REF,
                        "months": EXPRESSION_REF,
                        "years": EXPRESSION_REF,
                    },
                    ["date"],
                )
            },
            ["date_add"],
        )


@node
class Cases:
    branches: tuple[tuple[Condition, Expr], ...]
    otherwise: Expr | None

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        found = _unwrap(data)
        if found is None:
            return data
        raw, at = found
        path = (*at, "cases")
        items = raw["cases"]
        if not isinstance(items, list) or not items:
            raise RuleSyntaxError(path, "cases takes a list of {when: …, value: …} and an optional {else: …}")
        branches = []
        otherwise = None
        for i, item in enumerate(items):
            where = (*path, i)
            if isinstance(item, dict) and set(item) == {"else"}:
                if i != len(items) - 1:
                    raise RuleSyntaxError(where, "else must be the last case")
                otherwise = At(item["else"], (*where, "else"))
            elif isinstance(item, dict) and set(item) == {"when", "value"}:
                branches.append((At(item["when"], (*where, "when")), At(item["value"], (*where, "value"))))
            else:
                raise RuleSyntaxError(
                    where, "a case is {when: condition, value: expression} or {else: expression}"
                )
        return {"branches": tuple(branches), "otherwise": otherwise}

    @staticmethod
    def surface_schema() -> dict[str, Any]:
        case = _closed({"when": CONDITION_REF, "value": EXPRESSION_REF}, ["when", "value"])
        otherwise = _closed({"else": EXPRESSION_REF}, ["else"])
        return _closed(
            {"cases": {"type": "array", "minItems": 1, "items": {"anyOf": [case, otherwise]}}}, ["cases"]
        )


def _expression_kind(data: Any) -> str:
    """Which node reads an expression: by the keys of its YAML mapping."""
    raw = _raw(data)
    if not isinstance(raw, dict):
        return type(raw).__name__ if type(raw) in EXPRESSION_NODES else "Literal"
    if "param" in raw and len(raw) > 1:
        return "ParamRef"
    if len(raw) != 1 and "date_add" not in raw:
        return "Literal"  # which says what is wrong
    key = next(iter(raw))
    if key in ARITHMETIC:
        return "Arith"
    return {"fact": "FactRef", "param": "ParamRef", "date_add": "DateAdd", "cases": "Cases"}.get(
        key, "Literal"
    )


EXPRESSION_NODES: tuple[type, ...] = (Literal, FactRef, ParamRef, Arith, DateAdd, Cases)

Expr = Annotated[
    Annotated[Literal, Tag("Literal")]
    | Annotated[FactRef, Tag("FactRef")]
    | Annotated[ParamRef, Tag("ParamRef")]
    | Annotated[Arith, Tag("Arith")]
    | Annotated[DateAdd, Tag("DateAdd")]
    | Annotated[Cases, Tag("Cases")],
    Discriminator(_expression_kind),
]


# --- conditions --------------------------------------------------------------------

_COMPARE_KEYS = {"id", "fact", "value", "text", "legal_basis", "action", "step"}
_STEP = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


@node
class Compare:
    """A criterion: a fact compared with a threshold."""

    id: str
    lhs: Expr
    op: str
    rhs: Expr
    text: Text | None = None
    legal_basis: str | None = None
    where: tuple = field(default=(), compare=False)
    # What a person can do when it is not met ("register as a job seeker"), where the
    # vocabulary's generic phrasing for the fact cannot say it.
    action: Text | None = field(default=None, compare=False)
    # A step of applying that the citizen can still take, and the service that takes it
    # (rules.md, "Steps the citizen can still take"): not yet taken, it never makes the
    # result ineligible; the result lists it as a step instead.
    step: str | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _read(cls, data: Any, handler: Any, info: ValidationInfo) -> Any:
        found = _unwrap(data)
        if found is None:
            return handler(data)
        raw, path = found
        if not isinstance(raw, dict):
            raise RuleSyntaxError(path, f"a condition must be a mapping, got {raw!r}")
        keys = set(raw)
        ops = [k for k in keys if k in OPERATORS]
        unknown = keys - _COMPARE_KEYS - set(OPERATORS)
        if unknown:
            word = sorted(unknown)[0]
            hint = did_you_mean(word, [*OPERATORS, "all", "any", "not", "some_child", "switch"])
            raise RuleSyntaxError((*path, word), f"unknown key '{word}' in a condition{hint}")
        if len(ops) != 1:
            raise RuleSyntaxError(path, f"a criterion needs exactly one operator of {', '.join(OPERATORS)}")
        if ("fact" in keys) == ("value" in keys):
            raise RuleSyntaxError(path, "a criterion compares either a 'fact' or a 'value' expression")
        if "fact" in raw and not isinstance(raw["fact"], str):
            raise RuleSyntaxError((*path, "fact"), "fact must name a fact path")
        if "step" in raw and (not isinstance(raw["step"], str) or not _STEP.fullmatch(raw["step"])):
            raise RuleSyntaxError(
                (*path, "step"), "step names the service that takes the step (a service id)"
            )
        op = ops[0]
        criterion = handler(
            {
                "id": str(raw.get("id", "")),
                "lhs": FactRef(raw["fact"]) if "fact" in raw else At(raw["value"], (*path, "value")),
                "op": op,
                "rhs": At(raw[op], (*path, op)),
                "text": _opt(raw, "text", path),
                "legal_basis": str(raw["legal_basis"]) if "legal_basis" in raw else None,
                "where": path,
                "action": _opt(raw, "action", path),
                "step": raw.get("step"),
            }
        )
        if op in ("in", "not_in") and not (
            isinstance(criterion.rhs, Literal) and isinstance(criterion.rhs.value, tuple)
        ):
            raise RuleSyntaxError((*path, op), f"'{op}' takes a list of values")
        if "id" not in raw:
            # Named after its fact, once the criteria inside its expressions are named:
            # the order ids were given in before the typed model, which cases pin.
            object.__setattr__(criterion, "id", _context(info).fresh_id(str(raw.get("fact", "value"))))
        return criterion

    @staticmethod
    def surface_schema() -> dict[str, Any]:
        operators = {op: EXPRESSION_REF for op in OPERATORS}
        return {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "fact": {"type": "string", "description": "a fact path (rules/vocabulary.yaml)"},
                "value": EXPRESSION_REF,
                "text": TEXT_REF,
                "legal_basis": {"type": "string"},
                "action": TEXT_REF,
                "step": {"type": "string", "pattern": _STEP.pattern},
                **operators,
            },
            "additionalProperties": False,
            # Exactly one of fact and value, and exactly one operator.
            "allOf": [
                {"oneOf": [{"required": ["fact"]}, {"required": ["value"]}]},
                {"oneOf": [{"required": [op]} for op in OPERATORS]},
            ],
        }


def _items(raw: dict, path: Path, combinator: str) -> dict[str, Any]:
    keys = set(raw)
    if keys != {combinator}:
        raise RuleSyntaxError(
            path, f"'{combinator}' stands alone; unexpected keys {sorted(keys - {combinator})}"
        )
    items = raw[combinator]
    if not isinstance(items, list) or not items:
        raise RuleSyntaxError((*path, combinator), f"'{combinator}' takes a non-empty list of conditions")
    return {"items": tuple(At(x, (*path, combinator, i)) for i, x in enumerate(items))}


def _list_of_conditions(combinator: str) -> dict[str, Any]:
    return _closed({combinator: {"type": "array", "minItems": 1, "items": CONDITION_REF}}, [combinator])


@node
class All:
    items: tuple[Condition, ...]

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        found = _unwrap(data)
        return data if found is None else _items(found[0], found[1], "all")

    @staticmethod
    def surface_schema() -> dict[str, Any]:
        return _list_of_conditions("all")


@node
class AnyOf:
    items: tuple[Condition, ...]

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        found = _unwrap(data)
        return data if found is None else _items(found[0], found[1], "any")

    @staticmethod
    def surface_schema() -> dict[str, Any]:
        return _list_of_conditions("any")


@node
class Not:
    item: Condition

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        found = _unwrap(data)
        if found is None:
            return data
        raw, path = found
        if set(raw) != {"not"}:
            raise RuleSyntaxError(path, "'not' stands alone")
        return {"item": At(raw["not"], (*path, "not"))}

    @staticmethod
    def surface_schema() -> dict[str, Any]:
        return _closed({"not": CONDITION_REF}, ["not"])


@node
class SomeChild:
    """Met when some child in range meets ``body`` (the result says which).

    ``range`` is ``born`` (children born by ``as_of``: an expected baby matches no
    age rule) or ``newborn`` (children born on the birth event's date).
    """

    id: str
    range: str
    body: Condition
    text: Text | None = None
    where: tuple = field(default=(), compare=False)

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any, info: ValidationInfo) -> Any:
        found = _unwrap(data)
        if found is None:
            return data
        raw, path = found
        quantifier = next(q for q in QUANTIFIERS if q in raw)
        extra = set(raw) - {quantifier, "id", "text"}
        if extra:
            raise RuleSyntaxError(path, f"unexpected keys {sorted(extra)} beside '{quantifier}'")
        return {
            # Named before its body's criteria: the order ids were given in before.
            "id": str(raw.get("id") or _context(info).fresh_id(quantifier.replace("_", "-"))),
            "range": "born" if quantifier == "some_child" else "newborn",
            "body": At(raw[quantifier], (*path, quantifier)),
            "text": _opt(raw, "text", path),
            "where": path,
        }

    @staticmethod
    def surface_schema() -> dict[str, Any]:
        extra = {"id": {"type": "string"}, "text": TEXT_REF}
        return {"anyOf": [_closed({q: CONDITION_REF, **extra}, [q]) for q in QUANTIFIERS]}


@node
class Switch:
    """One branch per value of a categorical fact (the local layer keys on residence).

    Branches are exclusive by construction, which keeps the compiled rule linear in
    the number of cities instead of exponential.
    """

    fact: str
    cases: tuple[tuple[str, Condition], ...]
    default: Condition | None
    where: tuple = field(default=(), compare=False)

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        found = _unwrap(data)
        if found is None:
            return data
        raw, path = found
        if (
            set(raw) - {"switch", "cases", "default"}
            or "cases" not in raw
            or not isinstance(raw["cases"], dict)
        ):
            raise RuleSyntaxError(
                path, "switch takes {switch: fact, cases: {value: condition}, default: condition}"
            )
        return {
            "fact": str(raw["switch"]),
            "cases": tuple((str(k), At(v, (*path, "cases", str(k)))) for k, v in raw["cases"].items()),
            "default": _opt(raw, "default", path),
            "where": path,
        }

    @staticmethod
    def surface_schema() -> dict[str, Any]:
        return _closed(
            {
                "switch": {"type": "string"},
                "cases": {"type": "object", "additionalProperties": CONDITION_REF},
                "default": CONDITION_REF,
            },
            ["switch", "cases"],
        )


@node
class Unencoded:
    """A part of the law this project does not encode: always unknown."""

    missing: str
    text: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        found = _unwrap(data)
        if found is None:
            return data
        raw, path = found
        if set(raw) - {"unencoded", "text"}:
            raise RuleSyntaxError(path, "unencoded takes {unencoded: name, text: …}")
        return {"missing": str(raw["unencoded"]), "text": _opt(raw, "text", path)}

    @staticmethod
    def surface_schema() -> dict[str, Any]:
        return _closed({"unencoded": {"type": "string"}, "text": TEXT_REF}, ["unencoded"])


@node
class Const:
    value: bool

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        found = _unwrap(data)
        return data if found is None else {"value": found[0]}

    @staticmethod
    def surface_schema() -> dict[str, Any]:
        return {"type": "boolean"}


def _condition_kind(data: Any) -> str:
    """Which node reads a condition: by the keys of its YAML mapping."""
    raw = _raw(data)
    if isinstance(raw, bool):
        return "Const"
    if not isinstance(raw, dict):
        return type(raw).__name__ if type(raw) in CONDITION_NODES else "Compare"  # which says what is wrong
    for key, kind in (
        ("all", "All"),
        ("any", "AnyOf"),
        ("not", "Not"),
        *((q, "SomeChild") for q in QUANTIFIERS),
    ):
        if key in raw:
            return kind
    if "switch" in raw:
        return "Switch"
    if "unencoded" in raw:
        return "Unencoded"
    return "Compare"


CONDITION_NODES: tuple[type, ...] = (Compare, All, AnyOf, Not, SomeChild, Switch, Unencoded, Const)

Condition = Annotated[
    Annotated[Compare, Tag("Compare")]
    | Annotated[All, Tag("All")]
    | Annotated[AnyOf, Tag("AnyOf")]
    | Annotated[Not, Tag("Not")]
    | Annotated[SomeChild, Tag("SomeChild")]
    | Annotated[Switch, Tag("Switch")]
    | Annotated[Unencoded, Tag("Unencoded")]
    | Annotated[Const, Tag("Const")],
    Discriminator(_condition_kind),
]


# --- the parts of a rule file that hold conditions and expressions ---------------------


@node
class Note:
    """A sentence added to the reasons when its condition is met."""

    id: str
    when: Condition
    text: Text
    on: tuple[str, ...] = ("eligible", "ineligible", "unknown")  # statuses it shows on
    values: tuple[tuple[str, Expr], ...] = ()  # named expressions the text quotes as {value:NAME}
    # Figures the text states that equal a value of a parameter its rule reads by
    # coincidence (another quantity of the law, which no parameter holds), each with why:
    # ``lifeevents validate`` does not call them copies (validate.note_figures).
    coincidences: tuple[tuple[Decimal, str], ...] = ()

    @staticmethod
    def surface_schema() -> dict[str, Any]:
        statuses = {"enum": ["eligible", "ineligible", "unknown"]}
        coincidence = _closed(
            {"figure": {"type": "number"}, "why": {"type": "string", "minLength": 1}}, ["figure", "why"]
        )
        return _closed(
            {
                "id": {"type": "string"},
                "when": CONDITION_REF,
                "text": TEXT_REF,
                "on": {"anyOf": [statuses, {"type": "array", "items": statuses}]},
                "values": {"type": "object", "additionalProperties": EXPRESSION_REF},
                "coincidences": {"type": "array", "items": coincidence},
            },
            ["text"],
        )


@node
class AmountRule:
    unit: str
    value: Expr
    per_child: str | None = None  # "some_child" or "some_newborn": sum over children
    where: Condition | None = None
    at: tuple = field(default=(), compare=False)

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        found = _unwrap(data)
        if found is None:
            return data
        raw, path = found
        if not isinstance(raw, dict) or "unit" not in raw or "value" not in raw:
            raise RuleSyntaxError(
                path, "an amount is {unit: …, value: expression} (per_child and where optional)"
            )
        extra = set(raw) - {"unit", "value", "per_child", "where"}
        if extra:
            raise RuleSyntaxError((*path, sorted(extra)[0]), f"unknown key '{sorted(extra)[0]}' in an amount")
        per_child = raw.get("per_child")
        if per_child is not None and per_child not in QUANTIFIERS:
            raise RuleSyntaxError((*path, "per_child"), f"per_child is one of {', '.join(QUANTIFIERS)}")
        return {
            "unit": str(raw["unit"]),
            "value": At(raw["value"], (*path, "value")),
            "per_child": per_child,
            "where": _opt(raw, "where", path),
            "at": path,
        }

    @staticmethod
    def surface_schema() -> dict[str, Any]:
        return _closed(
            {
                "unit": {"type": "string"},
                "value": EXPRESSION_REF,
                "per_child": {"enum": list(QUANTIFIERS)},
                "where": CONDITION_REF,
            },
            ["unit", "value"],
        )


_NEXT = re.compile(r"(\d{2})-(\d{2})")


@node
class DeadlineRule:
    base: Expr | None  # the date the period runs from
    days: Expr | None = None
    months: Expr | None = None
    years: Expr | None = None
    next_month_day: tuple[int, int] | None = None  # the next (month, day) on or after as_of
    # The deadline exists only while this holds (paternity leave: once the birth happened;
    # while it is expected there is no date yet).
    when: Condition | None = None

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        found = _unwrap(data)
        if found is None:
            return data
        raw, path = found
        if not isinstance(raw, dict):
            raise RuleSyntaxError(
                path, "a deadline is {from: expression, days|months|years: n} or {next: MM-DD}"
            )
        if "next" in raw:
            return {"base": None, "next_month_day": _next_month_day(raw, path)}
        if set(raw) - {"from", "days", "months", "years", "when"} or "from" not in raw:
            raise RuleSyntaxError(
                path, "a deadline is {from: expression, days|months|years: n, when: condition}"
            )
        base = raw["from"]
        return {
            "base": FactRef(base) if isinstance(base, str) else At(base, (*path, "from")),
            "days": _opt(raw, "days", path),
            "months": _opt(raw, "months", path),
            "years": _opt(raw, "years", path),
            "when": _opt(raw, "when", path),
        }

    @staticmethod
    def surface_schema() -> dict[str, Any]:
        return {
            "anyOf": [
                _closed({"next": {"type": "string", "pattern": "^\\d{2}-\\d{2}$"}}, ["next"]),
                _closed(
                    {
                        "from": {"anyOf": [{"type": "string"}, EXPRESSION_REF]},
                        "days": EXPRESSION_REF,
                        "months": EXPRESSION_REF,
                        "years": EXPRESSION_REF,
                        "when": CONDITION_REF,
                    },
                    ["from"],
                ),
            ]
        }


def _next_month_day(raw: dict, path: Path) -> tuple[int, int]:
    match = _NEXT.fullmatch(str(raw["next"]))
    if set(raw) != {"next"} or not match:
        raise RuleSyntaxError(path, "next takes a month and day, MM-DD")
    month, day = int(match[1]), int(match[2])
    try:
        date(2000, month, day)  # a leap year: every day that exists in some year
    except ValueError:
        raise RuleSyntaxError((*path, "next"), f"next: {match[0]} is not a day of the year") from None
    if (month, day) == (2, 29):
        raise RuleSyntaxError((*path, "next"), "next: 02-29 exists only in leap years; write 02-28 or 03-01")
    return month, day


# --- reading YAML into nodes ---------------------------------------------------------

_PART = Annotated[
    Annotated[Condition, Tag("condition")]
    | Annotated[Expr, Tag("expression")]
    | Annotated[Text, Tag("text")]
    | Annotated[AmountRule, Tag("amount")]
    | Annotated[DeadlineRule, Tag("deadline")],
    Discriminator(lambda data: data.part),
]
"""Every part of a rule file the loader reads with the language, in one validator: each
TypeAdapter builds its whole schema, and the parts share most of theirs."""

_READER: list[TypeAdapter] = []


def _read(part: str, raw: Any, path: Path, ctx: ParseContext | None) -> Any:
    """``raw`` read as a ``part`` node; a problem raises RuleSyntaxError with its path."""
    if not _READER:
        _READER.append(TypeAdapter(_PART))
    try:
        return _READER[0].validate_python(At(raw, path, part), context={"parse": ctx})
    except ValidationError as exc:
        raise _first_problem(exc, path) from None


def _first_problem(exc: ValidationError, path: Path) -> RuleSyntaxError:
    error = exc.errors(include_url=False)[0]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, RuleSyntaxError):
        return cause
    # Not one of the language's own checks (a field of the wrong type): the model's words.
    return RuleSyntaxError(path, error["msg"])


def parse_text(raw: Any, path: Path) -> Text:
    return _read("text", raw, path, None)


def parse_expr(raw: Any, path: Path, ctx: ParseContext) -> Expr:
    return _read("expression", raw, path, ctx)


def parse_condition(raw: Any, path: Path, ctx: ParseContext) -> Condition:
    return _read("condition", raw, path, ctx)


def parse_amount(raw: Any, path: Path, ctx: ParseContext) -> AmountRule:
    return _read("amount", raw, path, ctx)


def parse_deadline(raw: Any, path: Path, ctx: ParseContext) -> DeadlineRule:
    return _read("deadline", raw, path, ctx)


# --- walking -----------------------------------------------------------------------


PLACEHOLDER = re.compile(r"\{(param|fact|value):([A-Za-z0-9_.\-]+)\}")
"""``{param:NAME}`` or ``{fact:PATH}`` inside a text: the value at as_of, so that a figure
written in a sentence still has one source of truth."""


def children_of(cond: Condition) -> tuple[Condition, ...]:
    if isinstance(cond, All | AnyOf):
        return cond.items
    if isinstance(cond, Not):
        return (cond.item,)
    if isinstance(cond, SomeChild):
        return (cond.body,)
    if isinstance(cond, Switch):
        return tuple(c for _, c in cond.cases) + ((cond.default,) if cond.default else ())
    return ()


def walk(cond: Condition):
    yield cond
    for child in children_of(cond):
        yield from walk(child)


def expr_parts(expr: Expr):
    yield expr
    if isinstance(expr, Arith):
        for arg in expr.args:
            yield from expr_parts(arg)
    elif isinstance(expr, DateAdd):
        for part in (expr.base, expr.days, expr.months, expr.years):
            if part is not None:
                yield from expr_parts(part)
    elif isinstance(expr, ParamRef) and expr.at is not None:
        yield from expr_parts(expr.at)
    elif isinstance(expr, Cases):
        for _, value in expr.branches:
            yield from expr_parts(value)
        if expr.otherwise is not None:
            yield from expr_parts(expr.otherwise)


def params_read(cond: Condition) -> dict[str, ParamRef]:
    """The parameters a criterion compares with, as it reads them (for its text)."""
    out: dict[str, ParamRef] = {}
    for node in walk(cond.body if isinstance(cond, SomeChild) else cond):
        if isinstance(node, Compare):
            for part in (*expr_parts(node.lhs), *expr_parts(node.rhs)):
                if isinstance(part, ParamRef):
                    out.setdefault(part.name, part)
    return out
