"""Three-valued (Kleene) evaluation of conditions, with the reasons behind each verdict.

This is the *explanation*: a plain, pure evaluator over the same condition tree that
the durable-rules compiler reads. The engine takes the status from durable-rules and
checks it against this evaluator on every evaluation, so the two can never silently
disagree; the batch evaluator is the third implementation of the same semantics.

Semantics (profile.md, rules.md "Readings"):
- a comparison with an unknown operand is unknown;
- ``all``: unmet if one item is unmet, met if all are met, else unknown;
- ``any``: met if one item is met, unmet if all are unmet, else unknown;
- an unknown verdict lists exactly the facts of the undecided items that could decide it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from engine.catalog import Catalogue
from engine.facts import Unknown, add_months
from engine.parameters import Parameter
from engine.profile import Profile
from engine.rules import (
    All,
    AnyOf,
    Arith,
    Cases,
    Compare,
    Condition,
    Const,
    DateAdd,
    Expr,
    FactRef,
    Literal,
    Not,
    ParamRef,
    SomeChild,
    Switch,
    Text,
    Unencoded,
)

# --- evaluation environment ----------------------------------------------------------


@dataclass
class Env:
    """Everything one evaluation reads: facts in scope and the parameter table."""

    catalogue: Catalogue
    as_of: date
    facts: dict[str, Any]
    children: list[dict[str, Any]] | None  # child-scope facts per child; None = unknown
    child: dict[str, Any] | None = None  # the child in scope inside a quantifier
    child_index: int | None = None
    overrides: dict[str, list[Parameter]] = field(default_factory=dict)

    def fact(self, path: str) -> Any:
        if path.startswith("child."):
            if self.child is None:
                raise KeyError(f"{path} read outside some_child")
            return self.child[path]
        return self.facts[path]

    def in_child(self, index: int) -> Env:
        assert self.children is not None
        return Env(
            self.catalogue, self.as_of, self.facts, self.children, self.children[index], index, self.overrides
        )

    def parameter(self, name: str) -> Parameter | Unknown:
        """The national parameter, or a local one that overrides it where the profile lives."""
        local = self.overrides.get(name)
        national = self.catalogue.parameters[name]
        if not local:
            return national
        residence = self.facts["residence"]
        if isinstance(residence, Unknown):
            return residence
        for candidate in local:
            if candidate.jurisdiction == residence:
                return candidate
        return national


def overrides_of(catalogue: Catalogue) -> dict[str, list[Parameter]]:
    out: dict[str, list[Parameter]] = {}
    for p in catalogue.parameters.values():
        if p.overrides:
            out.setdefault(p.overrides, []).append(p)
    return out


# --- expressions ---------------------------------------------------------------------


def _merge(values: list[Any]) -> Unknown | None:
    unknown = [v for v in values if isinstance(v, Unknown)]
    if not unknown:
        return None
    merged = unknown[0]
    for other in unknown[1:]:
        merged = merged | other
    return merged


def _round(value: Any) -> Any:
    # Four decimals everywhere: the same operand values reach durable-rules, this
    # evaluator and the batch evaluator, and none is ever printed in exponent notation.
    if isinstance(value, float):
        value = round(value, 4)
        if value.is_integer():
            return int(value)
    return value


def eval_expr(expr: Expr, env: Env) -> Any:
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, FactRef):
        return env.fact(expr.path)
    if isinstance(expr, ParamRef):
        param = env.parameter(expr.name)
        if isinstance(param, Unknown):
            return param
        day = env.as_of if expr.at is None else eval_expr(expr.at, env)
        if isinstance(day, Unknown):
            return day
        key = expr.key
        if param.index is not None and key is None:
            key = env.fact(param.index)
            if isinstance(key, Unknown):
                return key
        return param.lookup(day, key)
    if isinstance(expr, Arith):
        args = [eval_expr(a, env) for a in expr.args]
        unknown = _merge(args)
        if unknown:
            return unknown
        if expr.op == "add":
            return _round(sum(args))
        if expr.op == "mul":
            out = 1
            for a in args:
                out *= a
            return _round(out)
        if expr.op == "sub":
            return _round(args[0] - args[1])
        if expr.op == "div":
            return _round(args[0] / args[1]) if args[1] else Unknown(frozenset({"division by zero"}))
        if expr.op == "days_between":  # from the first date to the second, in days
            return args[1].toordinal() - args[0].toordinal()
        if expr.op == "min":
            return min(args)
        return max(args)
    if isinstance(expr, DateAdd):
        base = eval_expr(expr.base, env)
        parts = {
            k: eval_expr(v, env)
            for k, v in (("days", expr.days), ("months", expr.months), ("years", expr.years))
            if v is not None
        }
        unknown = _merge([base, *parts.values()])
        if unknown:
            return unknown
        return shift_date(base, parts.get("days", 0), parts.get("months", 0), parts.get("years", 0))
    if isinstance(expr, Cases):
        pending: Unknown | None = None
        for cond, value in expr.branches:
            outcome = evaluate(cond, env)
            if outcome.value is True:
                return pending if pending else eval_expr(value, env)
            if outcome.value is None:
                pending = (pending | Unknown(outcome.missing)) if pending else Unknown(outcome.missing)
        if pending:
            return pending
        if expr.otherwise is None:
            return Unknown(frozenset({"cases: no branch applies"}))
        return eval_expr(expr.otherwise, env)
    raise TypeError(f"not an expression: {expr!r}")


def shift_date(base: date, days: int = 0, months: int = 0, years: int = 0) -> date:
    shifted = add_months(base, int(months) + 12 * int(years))
    return shifted + timedelta(days=int(days))


# --- conditions ----------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    criterion: str
    met: bool | None
    text: str
    legal_basis: str | None
    value: Any = None
    threshold: Any = None
    missing: tuple[str, ...] = ()
    subject: str | None = None  # the fact compared, for "what would change"
    op: str | None = None


@dataclass(frozen=True)
class Outcome:
    value: bool | None
    missing: frozenset[str] = frozenset()
    reasons: tuple[Reason, ...] = ()
    witnesses: tuple[int, ...] = ()  # children that met a quantifier


def compare(op: str, left: Any, right: Any) -> bool:
    if op == "eq":
        return left == right
    if op == "neq":
        return left != right
    if op == "lt":
        return left < right
    if op == "lte":
        return left <= right
    if op == "gt":
        return left > right
    if op == "gte":
        return left >= right
    if op == "in":
        return left in right
    if op == "not_in":
        return left not in right
    raise ValueError(op)


class Describer:
    """Turns criteria into sentences in one language; the words are data."""

    def __init__(self, catalogue: Catalogue, lang: str):
        self.catalogue = catalogue
        self.lang = lang
        self._words: dict[str, str] = {}

    def phrase(self, key: str) -> str:
        return self.label(f"phrase.{key}", key)

    def label(self, path: str, default: str | None = None) -> str:
        word = self._words.get(path)
        if word is None:
            text = self.catalogue.labels.get(path)
            word = text.get(self.lang) if text else (default if default is not None else path)
            self._words[path] = word
        return word

    def value(self, value: Any) -> str:
        if isinstance(value, Unknown):
            return self.phrase("unknown")
        if isinstance(value, bool):
            return self.phrase("yes" if value else "no")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return f"{value:,.4f}".rstrip("0").rstrip(".")
        if isinstance(value, tuple):
            return ", ".join(self.value(v) for v in value)
        text = self.catalogue.labels.get(f"value.{value}")
        return text.get(self.lang) if text else str(value)

    def expr(self, expr: Expr, value: Any) -> str:
        shown = self.value(value)
        if isinstance(expr, ParamRef):
            param = self.catalogue.parameters.get(expr.name)
            name = param.label.get(self.lang) if param else expr.name
            return f"{shown} ({name})"
        if isinstance(expr, FactRef):
            return f"{shown} ({self.label(expr.path)})"
        return shown


def render_text(text: str, env: Env, d: Describer, values: dict[str, Expr] | None = None) -> str:
    """Fill ``{param:NAME}``, ``{fact:PATH}`` and ``{value:NAME}`` placeholders."""
    from engine.rules import PLACEHOLDER

    def value(match) -> str:
        kind, name = match.group(1), match.group(2)
        if kind == "value":
            if not values or name not in values:
                return match.group(0)
            expr = values[name]
        else:
            expr = ParamRef(name) if kind == "param" else FactRef(name)
        try:
            found = eval_expr(expr, env)
        except KeyError:
            return match.group(0)
        return "?" if isinstance(found, Unknown) else d.value(found)

    return PLACEHOLDER.sub(value, text)


def _describe_compare(
    cond: Compare, left: Any, right: Any, verdict: bool | None, d: Describer, env: Env
) -> str:
    from engine.rules import SYMBOL

    subject = d.label(cond.lhs.path) if isinstance(cond.lhs, FactRef) else d.phrase("value")
    if isinstance(cond.rhs, Literal) and isinstance(cond.rhs.value, bool) and cond.op == "eq":
        core = f"{subject}: {d.value(left)}"  # a yes/no fact reads best as itself
    else:
        core = f"{subject}: {d.value(left)} {SYMBOL[cond.op]} {d.expr(cond.rhs, right)}"
    mark = {True: d.phrase("met"), False: d.phrase("not_met"), None: d.phrase("unknown")}[verdict]
    if cond.text is not None:
        return f"{render_text(cond.text.get(d.lang), env, d)} ({core}; {mark})"
    return f"{core} ({mark})"


def evaluate(cond: Condition, env: Env, describer: Describer | None = None) -> Outcome:
    """The Kleene verdict of ``cond``; with a describer, also the reasons."""
    if isinstance(cond, Const):
        return Outcome(cond.value)
    if isinstance(cond, Compare):
        left = eval_expr(cond.lhs, env)
        right = eval_expr(cond.rhs, env)
        unknown = _merge([left, right])
        verdict = None if unknown else compare(cond.op, left, right)
        missing = unknown.missing if unknown else frozenset()
        if describer is None:
            return Outcome(verdict, missing)
        prefix = f"children[{env.child_index}]." if env.child_index is not None else ""
        reason = Reason(
            criterion=prefix + cond.id,
            met=verdict,
            text=_describe_compare(cond, left, right, verdict, describer, env),
            legal_basis=cond.legal_basis,
            value=None if isinstance(left, Unknown) else left,
            threshold=None if isinstance(right, Unknown) else right,
            missing=tuple(sorted(missing)),
            subject=cond.lhs.path if isinstance(cond.lhs, FactRef) else None,
            op=cond.op,
        )
        return Outcome(verdict, missing, (reason,))
    if isinstance(cond, All | AnyOf):
        decisive = not isinstance(cond, All)
        outcomes = [evaluate(item, env, describer) for item in cond.items]
        reasons = tuple(r for o in outcomes for r in o.reasons)
        if any(o.value is decisive for o in outcomes):
            return Outcome(decisive, frozenset(), reasons)
        if all(o.value is not None for o in outcomes):
            return Outcome(not decisive, frozenset(), reasons)
        missing = frozenset().union(*(o.missing for o in outcomes if o.value is None))
        return Outcome(None, missing, reasons)
    if isinstance(cond, Not):
        inner = evaluate(cond.item, env, describer)
        value = None if inner.value is None else not inner.value
        return Outcome(value, inner.missing, inner.reasons)
    if isinstance(cond, SomeChild):
        return _evaluate_quantifier(cond, env, describer)
    if isinstance(cond, Switch):
        key = env.fact(cond.fact)
        if isinstance(key, Unknown):
            # The branch cannot be chosen: unknown, naming what would choose it.
            reason = (
                Reason(
                    cond.fact,
                    None,
                    _unknown_switch_text(cond, describer),
                    None,
                    missing=tuple(sorted(key.missing)),
                )
                if describer
                else None
            )
            return Outcome(None, key.missing, (reason,) if reason else ())
        for case, branch in cond.cases:
            if case == key:
                return evaluate(branch, env, describer)
        return evaluate(cond.default if cond.default is not None else Const(False), env, describer)
    if isinstance(cond, Unencoded):
        reason = None
        if describer is not None:
            text = cond.text.get(describer.lang) if cond.text else describer.phrase("unencoded")
            reason = Reason(cond.missing, None, text, None, missing=(cond.missing,))
        return Outcome(None, frozenset({cond.missing}), (reason,) if reason else ())
    raise TypeError(f"not a condition: {cond!r}")


def _unknown_switch_text(cond: Switch, d: Describer | None) -> str:
    if d is None:
        return ""
    return f"{d.label(cond.fact)}: {d.phrase('unknown')}"


def quantifier_range(cond: SomeChild) -> Condition:
    """The children a quantifier ranges over, as a condition in child scope."""
    if cond.range == "born":
        return Compare(id="child.born", lhs=FactRef("child.born"), op="eq", rhs=Literal(True))
    return Compare(id="child.is_newborn", lhs=FactRef("child.is_newborn"), op="eq", rhs=Literal(True))


def quantifier_body(cond: SomeChild) -> Condition:
    return All((quantifier_range(cond), cond.body))


def _evaluate_quantifier(cond: SomeChild, env: Env, describer: Describer | None) -> Outcome:
    if env.children is None:
        missing = frozenset({"children"})
        reason = None
        if describer is not None:
            reason = Reason(
                cond.id, None, _quantifier_text(cond, describer, None, []), None, missing=("children",)
            )
        return Outcome(None, missing, (reason,) if reason else ())
    body = quantifier_body(cond)
    per_child = [evaluate(body, env.in_child(i), describer) for i in range(len(env.children))]
    witnesses = tuple(i for i, o in enumerate(per_child) if o.value is True)
    if witnesses:
        value: bool | None = True
        missing: frozenset[str] = frozenset()
    elif all(o.value is False for o in per_child):
        value, missing = False, frozenset()
    else:
        value = None
        missing = frozenset().union(*(o.missing for o in per_child if o.value is None))
    if describer is None:
        return Outcome(value, missing, (), witnesses)
    shown = [per_child[i] for i in witnesses] if witnesses else per_child
    detail = [
        r
        for o in shown
        for r in o.reasons
        if not r.criterion.endswith((".child.born", ".child.is_newborn")) or r.met is not True
    ]
    head = Reason(
        cond.id,
        value,
        _quantifier_text(cond, describer, value, witnesses),
        None,
        missing=tuple(sorted(missing)),
    )
    return Outcome(value, missing, (head, *detail), witnesses)


def _quantifier_text(cond: SomeChild, d: Describer, value: bool | None, witnesses) -> str:
    what = cond.text.get(d.lang) if cond.text else d.phrase(f"quantifier.{cond.range}")
    if value is None:
        return f"{what}: {d.phrase('unknown')}"
    if value:
        which = ", ".join(f"children[{i}]" for i in witnesses)
        return f"{what}: {which} ({d.phrase('met')})"
    return f"{what}: {d.phrase('no_child')} ({d.phrase('not_met')})"


def text_of(text: Text | None, lang: str) -> str | None:
    return None if text is None else text.get(lang)


def as_of_for(profile: Profile, override: date | None, today: date | None = None) -> date:
    return override or profile.as_of or today or date.today()
