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

Parsing turns these mappings into the frozen dataclasses below; every error names the
key path inside the file, which the loader turns into a line number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engine.profile import EARLIEST_DATE, LATEST_DATE

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


class RuleSyntaxError(ValueError):
    def __init__(self, path: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.path = path
        self.message = message


# --- expressions -------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class FactRef:
    path: str


@dataclass(frozen=True)
class ParamRef:
    """A parameter's value: at ``as_of`` unless ``at`` gives another date (an amount is
    often fixed by the birth date, not the day of the question), and under the profile's
    index fact unless ``key`` names the table entry (the 臺灣省 limit, wherever one lives)."""

    name: str
    at: Expr | None = None
    key: str | int | None = None


@dataclass(frozen=True)
class Arith:
    op: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class DateAdd:
    base: Expr
    days: Expr | None = None
    months: Expr | None = None
    years: Expr | None = None


@dataclass(frozen=True)
class Cases:
    branches: tuple[tuple[Condition, Expr], ...]
    otherwise: Expr | None


Expr = Literal | FactRef | ParamRef | Arith | DateAdd | Cases


# --- conditions --------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    en: str
    zh: str

    def get(self, lang: str) -> str:
        return self.zh if lang.startswith("zh") else self.en


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class All:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Switch:
    """One branch per value of a categorical fact (the local layer keys on residence).

    Branches are exclusive by construction, which keeps the compiled rule linear in
    the number of cities instead of exponential.
    """

    fact: str
    cases: tuple[tuple[str, Condition], ...]
    default: Condition | None
    where: tuple = field(default=(), compare=False)


@dataclass(frozen=True)
class Unencoded:
    """A part of the law this project does not encode: always unknown."""

    missing: str
    text: Text | None = None


@dataclass(frozen=True)
class Const:
    value: bool


Condition = Compare | All | AnyOf | Not | SomeChild | Switch | Unencoded | Const


@dataclass(frozen=True)
class Note:
    """A sentence added to the reasons when its condition is met."""

    id: str
    when: Condition
    text: Text
    on: tuple[str, ...] = ("eligible", "ineligible", "unknown")  # statuses it shows on
    values: tuple[tuple[str, Expr], ...] = ()  # named expressions the text quotes as {value:NAME}


@dataclass(frozen=True)
class AmountRule:
    unit: str
    value: Expr
    per_child: str | None = None  # "some_child" or "some_newborn": sum over children
    where: Condition | None = None
    at: tuple = field(default=(), compare=False)


@dataclass(frozen=True)
class DeadlineRule:
    base: Expr | None  # the date the period runs from
    days: Expr | None = None
    months: Expr | None = None
    years: Expr | None = None
    next_month_day: tuple[int, int] | None = None  # the next (month, day) on or after as_of
    # The deadline exists only while this holds (paternity leave: once the birth happened;
    # while it is expected there is no date yet).
    when: Condition | None = None


@dataclass
class ParseContext:
    """What a parser needs to know while reading one rule file."""

    service: str
    counter: dict[str, int] = field(default_factory=dict)

    def fresh_id(self, stem: str) -> str:
        n = self.counter.get(stem, 0)
        self.counter[stem] = n + 1
        return stem if n == 0 else f"{stem}#{n + 1}"


Path = tuple[str | int, ...]
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


def parse_text(raw: Any, path: Path) -> Text:
    if isinstance(raw, str):
        return Text(en=raw, zh=raw)
    if not isinstance(raw, dict) or set(raw) - {"en", "zh-TW"} or not raw:
        raise RuleSyntaxError(path, "text must be a string or {en: …, zh-TW: …}")
    en = raw.get("en") or raw.get("zh-TW")
    zh = raw.get("zh-TW") or raw.get("en")
    return Text(en=str(en), zh=str(zh))


def parse_date(raw: Any, path: Path) -> date:
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str) and _DATE.match(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise RuleSyntaxError(path, f"not a valid date (YYYY-MM-DD): {raw!r}")


def parse_expr(raw: Any, path: Path, ctx: ParseContext) -> Expr:
    if isinstance(raw, bool | int | float | str):
        return Literal(_number(raw, path))
    if isinstance(raw, date):
        return Literal(raw)
    if isinstance(raw, list):
        return Literal(tuple(parse_literal_item(x, path + (i,)) for i, x in enumerate(raw)))
    if isinstance(raw, dict) and "param" in raw and len(raw) > 1:
        extra = set(raw) - {"param", "at", "key"}
        if extra or not isinstance(raw["param"], str):
            raise RuleSyntaxError(path, "a parameter is {param: NAME, at: date expression, key: table key}")
        at = raw.get("at")
        return ParamRef(
            raw["param"],
            at=(
                FactRef(at)
                if isinstance(at, str) and not _DATE.match(at)
                else parse_expr(at, (*path, "at"), ctx)
            )
            if at is not None
            else None,
            key=raw.get("key"),
        )
    if not isinstance(raw, dict) or (len(raw) != 1 and "date_add" not in raw):
        raise RuleSyntaxError(path, f"an expression must be a value or a one-key mapping, got {raw!r}")
    key, arg = next(iter(raw.items()))
    if key == "fact":
        if not isinstance(arg, str):
            raise RuleSyntaxError(path + (key,), "fact must name a fact path")
        return FactRef(arg)
    if key == "param":
        if not isinstance(arg, str):
            raise RuleSyntaxError(path + (key,), "param must name a parameter")
        return ParamRef(arg)
    if key == "date":
        return Literal(parse_date(arg, path + (key,)))
    if key in ARITHMETIC:
        if (
            not isinstance(arg, list)
            or len(arg) < 2
            or (key in ("sub", "div", "days_between") and len(arg) != 2)
        ):
            raise RuleSyntaxError(
                path + (key,),
                f"{key} takes a list of {'two' if key in ('sub', 'div') else 'two or more'} expressions",
            )
        return Arith(key, tuple(parse_expr(a, path + (key, i), ctx) for i, a in enumerate(arg)))
    if key == "date_add":
        if not isinstance(arg, dict) or "date" not in arg or set(arg) - {"date", "days", "months", "years"}:
            raise RuleSyntaxError(path + (key,), "date_add takes {date: …, days|months|years: …}")
        return DateAdd(
            base=parse_expr(arg["date"], path + (key, "date"), ctx)
            if not isinstance(arg["date"], str)
            else Literal(parse_date(arg["date"], path + (key, "date"))),
            days=parse_expr(arg["days"], path + (key, "days"), ctx) if "days" in arg else None,
            months=parse_expr(arg["months"], path + (key, "months"), ctx) if "months" in arg else None,
            years=parse_expr(arg["years"], path + (key, "years"), ctx) if "years" in arg else None,
        )
    if key == "cases":
        return parse_cases(arg, path + (key,), ctx)
    raise RuleSyntaxError(
        path,
        f"unknown expression '{key}'; expected fact, param, date, {', '.join(ARITHMETIC)}, date_add or cases",
    )


def parse_literal_item(raw: Any, path: Path) -> Any:
    if isinstance(raw, bool | int | float | str):
        return _number(raw, path)
    raise RuleSyntaxError(path, f"list items must be plain values, got {raw!r}")


def parse_cases(raw: Any, path: Path, ctx: ParseContext) -> Cases:
    if not isinstance(raw, list) or not raw:
        raise RuleSyntaxError(path, "cases takes a list of {when: …, value: …} and an optional {else: …}")
    branches: list[tuple[Condition, Expr]] = []
    otherwise: Expr | None = None
    for i, item in enumerate(raw):
        where = path + (i,)
        if isinstance(item, dict) and set(item) == {"else"}:
            if i != len(raw) - 1:
                raise RuleSyntaxError(where, "else must be the last case")
            otherwise = parse_expr(item["else"], where + ("else",), ctx)
        elif isinstance(item, dict) and set(item) == {"when", "value"}:
            branches.append(
                (
                    parse_condition(item["when"], where + ("when",), ctx),
                    parse_expr(item["value"], where + ("value",), ctx),
                )
            )
        else:
            raise RuleSyntaxError(
                where, "a case is {when: condition, value: expression} or {else: expression}"
            )
    return Cases(tuple(branches), otherwise)


_COMPARE_KEYS = {"id", "fact", "value", "text", "legal_basis", "action", "step"}


def parse_condition(raw: Any, path: Path, ctx: ParseContext) -> Condition:
    if isinstance(raw, bool):
        return Const(raw)
    if not isinstance(raw, dict):
        raise RuleSyntaxError(path, f"a condition must be a mapping, got {raw!r}")
    keys = set(raw)
    for combinator, cls in (("all", All), ("any", AnyOf)):
        if combinator in keys:
            if keys != {combinator}:
                raise RuleSyntaxError(
                    path, f"'{combinator}' stands alone; unexpected keys {sorted(keys - {combinator})}"
                )
            items = raw[combinator]
            if not isinstance(items, list) or not items:
                raise RuleSyntaxError(
                    path + (combinator,), f"'{combinator}' takes a non-empty list of conditions"
                )
            return cls(tuple(parse_condition(x, path + (combinator, i), ctx) for i, x in enumerate(items)))
    if "not" in keys:
        if keys != {"not"}:
            raise RuleSyntaxError(path, "'not' stands alone")
        return Not(parse_condition(raw["not"], path + ("not",), ctx))
    for quantifier in QUANTIFIERS:
        if quantifier in keys:
            extra = keys - {quantifier, "id", "text"}
            if extra:
                raise RuleSyntaxError(path, f"unexpected keys {sorted(extra)} beside '{quantifier}'")
            qid = str(raw.get("id") or ctx.fresh_id(quantifier.replace("_", "-")))
            return SomeChild(
                id=qid,
                range="born" if quantifier == "some_child" else "newborn",
                body=parse_condition(raw[quantifier], path + (quantifier,), ctx),
                text=parse_text(raw["text"], path + ("text",)) if "text" in raw else None,
                where=path,
            )
    if "switch" in keys:
        extra = keys - {"switch", "cases", "default"}
        if extra or "cases" not in raw or not isinstance(raw["cases"], dict):
            raise RuleSyntaxError(
                path, "switch takes {switch: fact, cases: {value: condition}, default: condition}"
            )
        cases = tuple(
            (str(k), parse_condition(v, path + ("cases", str(k)), ctx)) for k, v in raw["cases"].items()
        )
        default = parse_condition(raw["default"], path + ("default",), ctx) if "default" in raw else None
        return Switch(fact=str(raw["switch"]), cases=cases, default=default, where=path)
    if "unencoded" in keys:
        if keys - {"unencoded", "text"}:
            raise RuleSyntaxError(path, "unencoded takes {unencoded: name, text: …}")
        return Unencoded(
            missing=str(raw["unencoded"]),
            text=parse_text(raw["text"], path + ("text",)) if "text" in raw else None,
        )
    ops = [k for k in keys if k in OPERATORS]
    unknown = keys - _COMPARE_KEYS - set(OPERATORS)
    if unknown:
        import difflib

        word = sorted(unknown)[0]
        close = difflib.get_close_matches(
            word, list(OPERATORS) + ["all", "any", "not", "some_child", "switch"], n=1
        )
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise RuleSyntaxError(path + (word,), f"unknown key '{word}' in a condition{hint}")
    if len(ops) != 1:
        raise RuleSyntaxError(path, f"a criterion needs exactly one operator of {', '.join(OPERATORS)}")
    if ("fact" in keys) == ("value" in keys):
        raise RuleSyntaxError(path, "a criterion compares either a 'fact' or a 'value' expression")
    op = ops[0]
    lhs = FactRef(raw["fact"]) if "fact" in raw else parse_expr(raw["value"], path + ("value",), ctx)
    if "fact" in raw and not isinstance(raw["fact"], str):
        raise RuleSyntaxError(path + ("fact",), "fact must name a fact path")
    rhs = parse_expr(raw[op], path + (op,), ctx)
    if op in ("in", "not_in") and not (isinstance(rhs, Literal) and isinstance(rhs.value, tuple)):
        raise RuleSyntaxError(path + (op,), f"'{op}' takes a list of values")
    stem = raw.get("id") or (raw.get("fact", "value"))
    return Compare(
        id=str(raw["id"]) if "id" in raw else ctx.fresh_id(str(stem)),
        lhs=lhs,
        op=op,
        rhs=rhs,
        text=parse_text(raw["text"], path + ("text",)) if "text" in raw else None,
        legal_basis=str(raw["legal_basis"]) if "legal_basis" in raw else None,
        where=path,
        action=parse_text(raw["action"], path + ("action",)) if "action" in raw else None,
        step=_parse_step(raw, path),
    )


def _parse_step(raw: dict, path: Path) -> str | None:
    if "step" not in raw:
        return None
    step = raw["step"]
    if not isinstance(step, str) or not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", step):
        raise RuleSyntaxError(path + ("step",), "step names the service that takes the step (a service id)")
    return step


def parse_amount(raw: Any, path: Path, ctx: ParseContext) -> AmountRule:
    if not isinstance(raw, dict) or "unit" not in raw or "value" not in raw:
        raise RuleSyntaxError(
            path, "an amount is {unit: …, value: expression} (per_child and where optional)"
        )
    extra = set(raw) - {"unit", "value", "per_child", "where"}
    if extra:
        raise RuleSyntaxError(path + (sorted(extra)[0],), f"unknown key '{sorted(extra)[0]}' in an amount")
    per_child = raw.get("per_child")
    if per_child is not None and per_child not in QUANTIFIERS:
        raise RuleSyntaxError(path + ("per_child",), f"per_child is one of {', '.join(QUANTIFIERS)}")
    return AmountRule(
        unit=str(raw["unit"]),
        value=parse_expr(raw["value"], path + ("value",), ctx),
        per_child=per_child,
        where=parse_condition(raw["where"], path + ("where",), ctx) if "where" in raw else None,
        at=path,
    )


def parse_deadline(raw: Any, path: Path, ctx: ParseContext) -> DeadlineRule:
    if not isinstance(raw, dict):
        raise RuleSyntaxError(path, "a deadline is {from: expression, days|months|years: n} or {next: MM-DD}")
    if "next" in raw:
        match = re.fullmatch(r"(\d{2})-(\d{2})", str(raw["next"]))
        if set(raw) != {"next"} or not match:
            raise RuleSyntaxError(path, "next takes a month and day, MM-DD")
        month, day = int(match[1]), int(match[2])
        try:
            date(2000, month, day)  # a leap year: every day that exists in some year
        except ValueError:
            raise RuleSyntaxError((*path, "next"), f"next: {match[0]} is not a day of the year") from None
        if (month, day) == (2, 29):
            raise RuleSyntaxError(
                (*path, "next"), "next: 02-29 exists only in leap years; write 02-28 or 03-01"
            )
        return DeadlineRule(base=None, next_month_day=(month, day))
    extra = set(raw) - {"from", "days", "months", "years", "when"}
    if extra or "from" not in raw:
        raise RuleSyntaxError(path, "a deadline is {from: expression, days|months|years: n, when: condition}")
    base_raw = raw["from"]
    base = FactRef(base_raw) if isinstance(base_raw, str) else parse_expr(base_raw, path + ("from",), ctx)
    return DeadlineRule(
        base=base,
        days=parse_expr(raw["days"], path + ("days",), ctx) if "days" in raw else None,
        months=parse_expr(raw["months"], path + ("months",), ctx) if "months" in raw else None,
        years=parse_expr(raw["years"], path + ("years",), ctx) if "years" in raw else None,
        when=parse_condition(raw["when"], path + ("when",), ctx) if "when" in raw else None,
    )


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
