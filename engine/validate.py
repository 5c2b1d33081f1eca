"""Cross-checks of a loaded catalogue: every name a rule uses must exist and fit.

Each check returns :class:`Problem` rows that name the file and line. ``lifeevents
validate`` prints them; the staff editor refuses to save while any remain.
"""

from __future__ import annotations

import itertools
import typing
from datetime import date

from engine.catalog import Catalogue, ServiceRule
from engine.facts import fact_types
from engine.loader import Problem, YamlDoc
from engine.profile import Profile
from engine.rules import (
    AmountRule,
    Arith,
    Cases,
    Compare,
    Condition,
    DateAdd,
    Expr,
    FactRef,
    Literal,
    ParamRef,
    SomeChild,
    Switch,
    expr_parts,
    walk,
)

NUMERIC = {"int", "float"}


def enum_values() -> dict[str, tuple[str, ...]]:
    """The allowed values of every categorical fact, read from the profile model."""
    out: dict[str, tuple[str, ...]] = {}

    def visit(model, prefix: str) -> None:
        for name, field in model.model_fields.items():
            path = f"{prefix}{name}"
            for arg in _flatten(field.annotation):
                if typing.get_origin(arg) is typing.Literal:
                    out[path] = tuple(arg.__args__)
                elif isinstance(arg, type) and hasattr(arg, "model_fields"):
                    visit(arg, path + ".")

    visit(Profile, "")
    for key in list(out):
        if key.startswith("children."):
            out["child." + key[len("children.") :]] = out.pop(key)
    out["child.nationality_effective"] = out.get("child.nationality", ())
    out["household.mle_area"] = (
        "taipei",
        "new_taipei",
        "taoyuan",
        "taichung",
        "tainan",
        "kaohsiung",
        "fujian",
        "taiwan_province",
    )
    return out


def _flatten(annotation) -> list:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return [annotation]
    if not args:
        return [annotation]
    out = []
    for arg in args:
        if typing.get_origin(arg) is typing.Annotated:
            out.extend(_flatten(typing.get_args(arg)[0]))
        else:
            out.extend(_flatten(arg) if typing.get_origin(arg) is not typing.Literal else [arg])
    return out


class _Checker:
    def __init__(self, catalogue: Catalogue, docs: dict[str, YamlDoc]):
        self.cat = catalogue
        self.docs = docs
        self.types = fact_types()
        self.enums = enum_values()
        self.problems: list[Problem] = []

    def add(self, file: str, where: tuple, message: str) -> None:
        doc = self.docs.get(file)
        line = doc.line(where) if doc else 1
        self.problems.append(Problem(file, line, message))

    # -- types of expressions ---------------------------------------------------------

    def fact_type(self, path: str, scope: str) -> str | None:
        if path.startswith("child."):
            return self.types["child"].get(path) if scope == "child" else None
        return self.types["profile"].get(path)

    def expr_type(self, expr: Expr, scope: str, file: str, where: tuple) -> str | None:
        if isinstance(expr, Literal):
            value = expr.value
            if isinstance(value, bool):
                return "bool"
            if isinstance(value, int | float):
                return "float" if isinstance(value, float) else "int"
            if isinstance(value, date):
                return "date"
            if isinstance(value, tuple):
                return "list"
            return "str"
        if isinstance(expr, FactRef):
            kind = self.fact_type(expr.path, scope)
            if kind is None:
                hint = self._closest(expr.path, scope)
                where_scope = (
                    " outside some_child" if expr.path.startswith("child.") and scope != "child" else ""
                )
                self.add(file, where, f"unknown fact '{expr.path}'{where_scope}{hint}")
            return kind
        if isinstance(expr, ParamRef):
            param = self.cat.parameters.get(expr.name)
            if param is None:
                import difflib

                close = difflib.get_close_matches(expr.name, list(self.cat.parameters), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                self.add(file, where, f"unknown parameter '{expr.name}'{hint}")
                return None
            if expr.at is not None and self.expr_type(expr.at, scope, file, where) not in ("date", None):
                self.add(file, where, f"parameter '{expr.name}': 'at' must be a date")
            if expr.key is not None and param.index is None:
                self.add(file, where, f"parameter '{expr.name}' is not a table: it takes no key")
            elif expr.key is not None and str(expr.key) not in param.table_keys():
                self.add(file, where, f"parameter '{expr.name}' has no entry '{expr.key}'")
            if param.index is not None and expr.key is None and self.fact_type(param.index, scope) is None:
                self.add(
                    file,
                    where,
                    f"parameter '{expr.name}' is indexed by '{param.index}', which is not a fact here",
                )
            return "float"
        if isinstance(expr, Arith):
            wanted = {"date"} if expr.op == "days_between" else NUMERIC
            for arg in expr.args:
                kind = self.expr_type(arg, scope, file, where)
                if kind is not None and kind not in wanted:
                    self.add(
                        file,
                        where,
                        f"{expr.op} takes {'dates' if expr.op == 'days_between' else 'numbers'}, got a {kind}",
                    )
            return "int" if expr.op == "days_between" else "float"
        if isinstance(expr, DateAdd):
            if self.expr_type(expr.base, scope, file, where) not in ("date", None):
                self.add(file, where, "date_add needs a date")
            for part in (expr.days, expr.months, expr.years):
                if part is not None:
                    self.expr_type(part, scope, file, where)
            return "date"
        if isinstance(expr, Cases):
            for cond, value in expr.branches:
                self.condition(cond, scope, file, where)
                self.expr_type(value, scope, file, where)
            if expr.otherwise is not None:
                self.expr_type(expr.otherwise, scope, file, where)
            return "float"
        return None

    def _closest(self, path: str, scope: str) -> str:
        import difflib

        pool = list(self.types["profile"]) + (list(self.types["child"]) if scope == "child" else [])
        close = difflib.get_close_matches(path, pool, n=1)
        return f"; did you mean '{close[0]}'?" if close else ""

    # -- conditions ----------------------------------------------------------------------

    def condition(self, cond: Condition, scope: str, file: str, where: tuple = ()) -> None:
        if isinstance(cond, Compare):
            self.compare(cond, scope, file)
            return
        if isinstance(cond, SomeChild):
            if scope == "child":
                self.add(file, cond.where, "some_child cannot be nested in another some_child")
            self.condition(cond.body, "child", file, cond.where)
            return
        if isinstance(cond, Switch):
            allowed = self.enums.get(cond.fact)
            if allowed is None:
                self.add(file, cond.where, f"switch needs a categorical fact, got '{cond.fact}'")
            for case, branch in cond.cases:
                if allowed is not None and case not in allowed:
                    self.add(file, cond.where + ("cases", case), f"'{case}' is not a value of {cond.fact}")
                self.condition(branch, scope, file)
            if cond.default is not None:
                self.condition(cond.default, scope, file)
            return
        from engine.rules import children_of

        for child in children_of(cond):
            self.condition(child, scope, file, where)

    def compare(self, cond: Compare, scope: str, file: str) -> None:
        where = cond.where
        if any(isinstance(p, Cases) for p in (*expr_parts(cond.lhs), *expr_parts(cond.rhs))):
            self.add(file, where, "cases belong in amounts, not in criteria: write the branches as any/all")
        left = self.expr_type(
            cond.lhs, scope, file, where + (("fact",) if isinstance(cond.lhs, FactRef) else ("value",))
        )
        right = self.expr_type(cond.rhs, scope, file, where + (cond.op,))
        if left is None or right is None:
            return
        if cond.op in ("lt", "lte", "gt", "gte"):
            if not ({left, right} <= NUMERIC or left == right == "date"):
                self.add(file, where, f"'{cond.op}' compares numbers or dates, not {left} with {right}")
        elif cond.op in ("in", "not_in"):
            values = cond.rhs.value if isinstance(cond.rhs, Literal) else ()
            self._check_enum(cond, values, file)
        else:
            if left != right and not {left, right} <= NUMERIC:
                self.add(file, where, f"'{cond.op}' compares a {left} with a {right}")
            if isinstance(cond.rhs, Literal):
                self._check_enum(cond, (cond.rhs.value,), file)

    def _check_enum(self, cond: Compare, values, file: str) -> None:
        if not isinstance(cond.lhs, FactRef):
            return
        allowed = self.enums.get(cond.lhs.path)
        if allowed is None:
            return
        for value in values:
            if value not in allowed:
                self.add(
                    file,
                    cond.where,
                    f"'{value}' is not a value of {cond.lhs.path} (one of: {', '.join(allowed)})",
                )

    def amount(self, rule: AmountRule, file: str) -> None:
        scope = "child" if rule.per_child else "profile"
        self.expr_type(rule.value, scope, file, rule.at)
        if rule.where is not None:
            self.condition(rule.where, scope, file, rule.at)

    # -- files -------------------------------------------------------------------------------

    def rule(self, rule: ServiceRule) -> None:
        if rule.service not in self.cat.services:
            self.add(rule.file, ("service",), f"unknown service '{rule.service}' (not in catalog.yaml)")
            return
        if rule.same_visit_as is not None and rule.same_visit_as not in self.cat.services:
            self.add(rule.file, ("same_visit_as",), f"unknown service '{rule.same_visit_as}'")
        self.condition(rule.eligibility, "profile", rule.file)
        for money in (rule.amount, rule.fee):
            if money is not None:
                self.amount(money, rule.file)
        if rule.deadline is not None:
            for part in (rule.deadline.base, rule.deadline.days, rule.deadline.months, rule.deadline.years):
                if part is not None:
                    self.expr_type(part, "profile", rule.file, ("deadline",))
            if rule.deadline.when is not None:
                self.condition(rule.deadline.when, "profile", rule.file, ("deadline", "when"))
        for note in rule.notes:
            self.condition(note.when, "profile", rule.file, ("notes",))
            for _, expr in note.values:
                self.expr_type(expr, "profile", rule.file, ("notes",))
            self.placeholders(note.text, rule.file, ("notes",), {name for name, _ in note.values})
        for node in walk(rule.eligibility):
            if isinstance(node, Compare) and node.text is not None:
                self.placeholders(node.text, rule.file, node.where)
            if isinstance(node, Compare) and node.step is not None and node.step not in self.cat.services:
                self.add(
                    rule.file, node.where + ("step",), f"step names unknown service '{node.step}'"
                )

    def placeholders(self, text, file: str, where: tuple, values: set[str] | None = None) -> None:
        from engine.rules import PLACEHOLDER

        for raw in (text.en, text.zh):
            for kind, name in PLACEHOLDER.findall(raw):
                if kind == "param" and name not in self.cat.parameters:
                    self.add(file, where, f"unknown parameter '{name}' in a text placeholder")
                if kind == "fact" and name not in self.types["profile"]:
                    self.add(file, where, f"unknown fact '{name}' in a text placeholder")
                if kind == "value" and name not in (values or set()):
                    self.add(file, where, f"'{{value:{name}}}' names no entry of the note's values")

    def catalogue(self) -> None:
        cat = self.cat
        file = "catalog.yaml"
        for sid, service in cat.services.items():
            base = ("services", sid)
            if service.agency not in cat.agencies:
                self.add(file, base + ("agency",), f"{sid}: unknown agency '{service.agency}'")
            for i, use in enumerate(service.document_uses()):
                doc = cat.documents.get(use.doc)
                if doc is None:
                    self.add(file, base + ("documents", i), f"{sid}: unknown document '{use.doc}'")
                    continue
                verified = (
                    use.verified_electronically
                    if use.verified_electronically is not None
                    else doc.verified_electronically
                )
                if doc.household_record and not verified and use.note is None:
                    self.add(
                        file,
                        base + ("documents", i),
                        f"{sid}: '{use.doc}' is a household record the agency can look up "
                        "(免附戶籍謄本): mark it verified_electronically, or give a note saying why not",
                    )
            for key, ids in (("prerequisites", service.prerequisites), ("exclusions", service.excluded())):
                for i, other in enumerate(ids):
                    if other not in cat.services:
                        self.add(file, base + (key, i), f"{sid}: unknown service '{other}' in {key}")
            if service.same_visit_as is not None and service.same_visit_as not in cat.services:
                self.add(file, (*base, "same_visit_as"), f"{sid}: unknown service '{service.same_visit_as}'")
            if service.ended is not None:
                if service.ended.successor not in cat.services:
                    self.add(file, base + ("ended",), f"{sid}: unknown successor '{service.ended.successor}'")
            elif sid not in cat.rules:
                self.add(file, base, f"{sid}: no rule file under rules/ decides this service")
        for p in cat.parameters.values():
            if p.period == "year":
                years = [v.effective_from.year for v in p.values]
                for a, b in itertools.pairwise(years):
                    if b - a > 1:
                        self.add(
                            p.file, ("values",), f"{p.name}: annual parameter has a gap between {a} and {b}"
                        )
                for v in p.values:
                    if (v.effective_from.month, v.effective_from.day) != (1, 1):
                        self.add(
                            p.file,
                            ("values", v.effective_from.isoformat()),
                            f"{p.name}: an annual value takes effect on 1 January",
                        )
            if p.index is not None and self.fact_type(p.index, "child") is None:
                self.add(p.file, ("metadata", "index"), f"{p.name}: unknown index fact '{p.index}'")
            if p.overrides is not None:
                target = cat.parameters.get(p.overrides)
                if target is None:
                    self.add(
                        p.file,
                        ("metadata", "overrides"),
                        f"{p.name}: overrides unknown parameter '{p.overrides}'",
                    )
                if p.priority is None:
                    self.add(p.file, ("metadata",), f"{p.name}: a local exception needs a stated priority")
        for layer in cat.rules.values():
            for rule in layer.values():
                self.rule(rule)


def validate_catalogue(catalogue: Catalogue, docs: dict[str, YamlDoc] | None = None) -> list[Problem]:
    checker = _Checker(catalogue, docs or {})
    checker.catalogue()
    return checker.problems
