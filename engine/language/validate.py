"""Cross-checks of a loaded catalogue: every name a rule uses must exist and fit.

Each check returns :class:`Problem` rows that name the file and line. ``lifeevents
validate`` prints them; the staff editor refuses to save while any remain.
"""

from __future__ import annotations

import itertools
import math
import typing
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from engine.language.catalog import Catalogue, ServiceRule
from engine.language.facts import add_months, fact_types
from engine.language.messages import did_you_mean
from engine.language.profile import Profile
from engine.language.rules import (
    COMPUTED_DATES,
    PROFILE_DATES,
    All,
    AmountRule,
    AnyOf,
    Arith,
    Cases,
    Compare,
    Condition,
    Const,
    DateAdd,
    DeadlineRule,
    Expr,
    FactRef,
    Literal,
    Not,
    ParamRef,
    SomeChild,
    Switch,
    Unencoded,
    children_of,
    expr_parts,
    walk,
)
from engine.language.semantics import Semantics
from engine.language.yamlsafe import Problem, YamlDoc

NUMERIC = {"int", "float"}


def enum_values() -> dict[str, tuple[str, ...]]:
    """The allowed values of every categorical fact, read from the profile model."""
    out: dict[str, tuple[str, ...]] = {}

    def visit(model, prefix: str) -> None:
        for name, field in model.model_fields.items():
            path = f"{prefix}{name}"
            if path == "partner":
                continue  # rules read person.*; the partner is read through the same facts (family.py)
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
        self.stated: dict[str, list[tuple[str, Decimal]]] = {}  # a text -> the figures it states

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
        return TYPE(expr, self, scope, file, where)

    # -- bounds of computed dates --------------------------------------------------------

    def date_shift(
        self, base: Expr | None, shift: DateAdd | DeadlineRule, scope: str, file: str, where: tuple
    ) -> None:
        """A date moved by days, months and years must stay within COMPUTED_DATES for any
        profile date: the offsets are numbers and parameters whose range is known here."""
        for unit, part in (("days", shift.days), ("months", shift.months), ("years", shift.years)):
            if part is None:
                continue
            kind = self.expr_type(part, scope, file, where)
            if kind is not None and kind not in NUMERIC:
                self.add(file, where, f"a date offset in {unit} is a number, got a {kind}")
                return
            if any(isinstance(x, ParamRef) and x.name not in self.cat.parameters for x in expr_parts(part)):
                return  # reported as an unknown parameter
            if self.number_range(part) is None:
                self.add(
                    file,
                    where,
                    f"the {unit} offset's size cannot be bounded: write it with numbers and "
                    "parameters (add, sub, mul, min, max), so that no date can overflow",
                )
                return
        low, high = self.shifted_range(base, shift)
        first, last = _ordinals(COMPUTED_DATES)
        if low < first or high > last:
            self.add(
                file,
                where,
                f"the date can fall outside {COMPUTED_DATES[0]}..{COMPUTED_DATES[1]}: from a date in "
                f"{PROFILE_DATES[0].year}..{PROFILE_DATES[1].year} an offset moves it by at most 200 years",
            )

    def date_range(self, expr: Expr) -> tuple[float, float]:
        """The day numbers a date expression can take (a profile date: PROFILE_DATES)."""
        if isinstance(expr, Literal) and isinstance(expr.value, date):
            return expr.value.toordinal(), expr.value.toordinal()
        if isinstance(expr, DateAdd):
            return self.shifted_range(expr.base, expr)
        return _ordinals(PROFILE_DATES)

    def shifted_range(self, base: Expr | None, shift: DateAdd | DeadlineRule) -> tuple[float, float]:
        """The day numbers of ``base`` moved as ``logic.shift_date`` moves it: months
        (and years as 12 months) first, then days; each step is monotonic, so the ends of
        the ranges give the ends of the result. (-inf, inf) when unbounded."""
        low, high = self.date_range(base) if base is not None else _ordinals(PROFILE_DATES)
        ranges = {}
        for unit, part in (("days", shift.days), ("months", shift.months), ("years", shift.years)):
            bounds = self.number_range(part) if part is not None else (0, 0)
            if bounds is None:
                return -math.inf, math.inf
            ranges[unit] = (int(bounds[0]), int(bounds[1]))  # shift_date truncates, as int() does
        months = (
            ranges["months"][0] + 12 * ranges["years"][0],
            ranges["months"][1] + 12 * ranges["years"][1],
        )
        days = ranges["days"]
        try:
            if max(map(abs, (*months, *days))) > 10**7:
                raise OverflowError
            return (
                add_months(date.fromordinal(int(low)), months[0]).toordinal() + days[0],
                add_months(date.fromordinal(int(high)), months[1]).toordinal() + days[1],
            )
        except (ValueError, OverflowError):  # past what a date can hold: certainly out of range
            return -math.inf, math.inf

    def number_range(self, expr: Expr) -> tuple[float, float] | None:
        """The least and greatest value of a numeric expression, or None when a fact or a
        division makes it unbounded."""
        if isinstance(expr, Literal):
            value = expr.value
            if isinstance(value, int | float) and not isinstance(value, bool):
                return value, value
            return None
        if isinstance(expr, ParamRef):
            param = self.cat.parameters.get(expr.name)
            if param is None:
                return None
            numbers = [
                x
                for v in param.values
                for x in (v.value.values() if isinstance(v.value, dict) else (v.value,))
            ]
            return (min(numbers), max(numbers)) if numbers else None
        if isinstance(expr, Arith):
            if expr.op == "days_between":
                ranges = [self.date_range(a) for a in expr.args]
                return ranges[1][0] - ranges[0][1], ranges[1][1] - ranges[0][0]
            args = [self.number_range(a) for a in expr.args]
            if any(a is None for a in args):
                return None
            bounded = [a for a in args if a is not None]
            out = bounded[0]
            for arg in bounded[1:]:
                if expr.op == "add":
                    out = (out[0] + arg[0], out[1] + arg[1])
                elif expr.op == "sub":
                    out = (out[0] - arg[1], out[1] - arg[0])
                elif expr.op == "mul":
                    corners = [a * b for a in out for b in arg]
                    out = (min(corners), max(corners))
                elif expr.op == "min":
                    out = (min(out[0], arg[0]), min(out[1], arg[1]))
                elif expr.op == "max":
                    out = (max(out[0], arg[0]), max(out[1], arg[1]))
                else:  # div: unbounded near zero
                    return None
            return out
        if isinstance(expr, Cases):
            values = [v for _, v in expr.branches] + ([expr.otherwise] if expr.otherwise is not None else [])
            branch_ranges = [self.number_range(v) for v in values]
            if any(r is None for r in branch_ranges):
                return None
            return min(r[0] for r in branch_ranges if r), max(r[1] for r in branch_ranges if r)
        return None

    def _closest(self, path: str, scope: str) -> str:
        pool = list(self.types["profile"]) + (list(self.types["child"]) if scope == "child" else [])
        return did_you_mean(path, pool)

    # -- conditions ----------------------------------------------------------------------

    def condition(self, cond: Condition, scope: str, file: str, where: tuple = ()) -> None:
        CHECK(cond, self, scope, file, where)

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
        if rule.deadline is not None and rule.deadline.base is not None:
            self.expr_type(rule.deadline.base, "profile", rule.file, ("deadline",))
            self.date_shift(rule.deadline.base, rule.deadline, "profile", rule.file, ("deadline",))
        if rule.deadline is not None and rule.deadline.when is not None:
            self.condition(rule.deadline.when, "profile", rule.file, ("deadline", "when"))
        for note in rule.notes:
            self.condition(note.when, "profile", rule.file, ("notes",))
            for _, expr in note.values:
                self.expr_type(expr, "profile", rule.file, ("notes",))
            self.placeholders(note.text, rule.file, ("notes",), {name for name, _ in note.values})
        self.note_figures(rule)
        for node in walk(rule.eligibility):
            if isinstance(node, Compare) and node.text is not None:
                self.placeholders(node.text, rule.file, node.where)
            if isinstance(node, Compare | SomeChild) and node.text is not None:
                self.copied_figures(node, rule.file)
            if isinstance(node, Compare) and node.step is not None and node.step not in self.cat.services:
                self.add(rule.file, node.where + ("step",), f"step names unknown service '{node.step}'")

    def placeholders(self, text, file: str, where: tuple, values: set[str] | None = None) -> None:
        from engine.language.rules import PLACEHOLDER

        for raw in (text.en, text.zh):
            for kind, name in PLACEHOLDER.findall(raw):
                if kind == "param" and name not in self.cat.parameters:
                    self.add(file, where, f"unknown parameter '{name}' in a text placeholder")
                if kind == "fact" and name not in self.types["profile"]:
                    self.add(file, where, f"unknown fact '{name}' in a text placeholder")
                if kind == "value" and name not in (values or set()):
                    self.add(file, where, f"'{{value:{name}}}' names no entry of the note's values")

    def copied_figures(self, node: Compare | SomeChild, file: str) -> None:
        """One home for each figure: a criterion's text that states the value of a
        parameter the criterion reads (any of its dated values) is a copy that goes stale
        when the parameter changes; it must quote it as ``{param:NAME}``. Only parameters
        the same criterion reads count, so "2 standard deviations" beside an age limit of
        2 elsewhere is no copy."""
        from engine.language.figures import copied
        from engine.language.rules import params_read

        assert node.text is not None  # the caller checks only criteria with a text

        values = self.parameter_values(params_read(node))
        if not values:
            return
        for lang, said in (("en", node.text.en), ("zh-TW", node.text.zh)):
            for written, value in copied(said, set(values)):
                self.add(
                    file,
                    node.where + ("text",),
                    f"the {lang} text copies the figure {written!r} of parameter '{values[value]}': "
                    f"write {{param:{values[value]}}} instead, so the text follows the parameter",
                )

    def parameter_values(self, names: Iterable[str]) -> dict[Decimal, str]:
        """Every value the parameters ``names`` have ever had (each dated value, each
        table entry), with the parameter that holds it."""
        values: dict[Decimal, str] = {}
        for name in names:
            param = self.cat.parameters.get(name)
            for dated in param.values if param else ():
                table = dated.value.values() if isinstance(dated.value, dict) else (dated.value,)
                for number in table:
                    values.setdefault(Decimal(str(number)), name)
        return values

    def note_figures(self, rule: ServiceRule) -> None:
        """One home for each figure, for the notes too: a note's text that states a value
        of a parameter the rule reads goes stale when the parameter changes; it must quote
        it as ``{param:NAME}``, or as ``{value:NAME}`` of the note's values when the figure
        is a table entry, a sum or read at another date.

        Which parameters count: every one the rule reads (eligibility, amount, fee,
        deadline, each note's condition, values and placeholders), not only the note's
        own. A note is the rule's caveat and explains the rule's figures: "the top-up is
        NT$100,000 minus the benefit" restates the amount's parameter even though the
        note's condition never reads it. Parameters of other rules do not count, so a
        figure that merely equals one of them elsewhere is no copy. A figure that is
        another quantity of the law and only equals a value by coincidence is declared
        so in the note itself (``coincidences: [{figure, why}]``); a declaration that no
        longer holds (the text does not state the figure, or no parameter of the rule has
        it) is refused too, so that none outlives its reason."""
        from engine.language.figures import figures

        values = self.parameter_values(rule_parameters(rule))
        for i, note in enumerate(rule.notes):
            coincidences = {figure for figure, _ in note.coincidences}
            stated: set[Decimal] = set()
            for lang, said in (("en", note.text.en), ("zh-TW", note.text.zh)):
                # Read once per text: the places of a local definition share most notes.
                if said not in self.stated:
                    self.stated[said] = figures(said)
                for written, value in self.stated[said]:
                    stated.add(value)
                    if value not in values or value in coincidences:
                        continue
                    name = values[value]
                    self.add(
                        rule.file,
                        self.note_where(rule, i, note.id) + ("text", lang),
                        f"the {lang} text of note '{note.id}' copies the figure {written!r} of "
                        f"parameter '{name}': write {{param:{name}}} (or {{value:…}} of the note's "
                        "values) instead, so the note follows the parameter",
                    )
            for figure in sorted(coincidences):
                if figure not in stated or figure not in values:
                    why = (
                        "its text does not state it"
                        if figure not in stated
                        else "no parameter of its rule has it"
                    )
                    self.add(
                        rule.file,
                        self.note_where(rule, i, note.id) + ("coincidences",),
                        f"note '{note.id}' declares the figure {figure} a coincidence, but {why}: "
                        "remove the declaration",
                    )

    def note_where(self, rule: ServiceRule, index: int, note_id: str) -> tuple:
        """Where a note is written: ``notes[index]``, or, for a place of a local
        definition (rules/local/), the exception that gives that place the note."""
        doc = self.docs.get(rule.file)
        data = doc.data if doc is not None and isinstance(doc.data, dict) else {}
        for k, exception in enumerate(data.get("exceptions") or ()):
            if not isinstance(exception, dict) or rule.jurisdiction not in (exception.get("places") or ()):
                continue
            if note_id in (exception.get("notes") or {}):
                return ("exceptions", k, "notes", note_id)
        written = data.get("notes")
        if (
            isinstance(written, list)
            and index < len(written)
            and isinstance(written[index], dict)
            and written[index].get("id") == note_id
        ):
            return ("notes", index)
        return ("notes",)

    def catalogue(self) -> None:
        cat = self.cat
        file = "catalog.yaml"
        for sid, service in cat.services.items():
            base = ("services", sid)
            # One home for the legal basis: the rule file; the catalogue only when there is
            # no national rule to hold it (an ended programme, a service of local rules).
            national = cat.rules.get(sid, {}).get("national")
            if national is not None and service.legal_basis is not None:
                self.add(
                    file,
                    base + ("legal_basis",),
                    f"{sid}: the legal basis belongs in {national.file} only (it says {national.legal_basis!r})",
                )
            if national is None and service.legal_basis is None:
                self.add(file, base, f"{sid}: no national rule file, so the catalogue needs its legal_basis")
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
        self.prerequisite_cycles()
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

    def prerequisite_cycles(self) -> None:
        """A service that must come before itself: no plan can order it. Walked with an
        explicit stack, so a long chain cannot exhaust Python's recursion."""
        services = self.cat.services
        state: dict[str, str] = {}  # "open" while on the current path, then "done"
        for start in services:
            if start in state:
                continue
            path = [start]
            stack = [iter(enumerate(services[start].prerequisites))]
            state[start] = "open"
            while stack:
                step = next(stack[-1], None)
                if step is None:
                    state[path.pop()] = "done"
                    stack.pop()
                    continue
                i, other = step
                if other not in services:
                    continue  # reported as an unknown service
                if state.get(other) == "open":
                    cycle = " → ".join([*path[path.index(other) :], other])
                    self.add(
                        "catalog.yaml",
                        ("services", path[-1], "prerequisites", i),
                        f"{path[-1]}: prerequisite cycle {cycle}: no order puts each service after its prerequisites",
                    )
                elif other not in state:
                    state[other] = "open"
                    path.append(other)
                    stack.append(iter(enumerate(services[other].prerequisites)))


TYPE = Semantics("type checking", "expression", "the type of an expression, naming what is wrong")
CHECK = Semantics("type checking", "condition", "the problems of a condition in its scope")


@TYPE.of(Literal)
def _literal_type(expr: Literal, checker: _Checker, scope: str, file: str, where: tuple) -> str | None:
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


@TYPE.of(FactRef)
def _fact_ref_type(expr: FactRef, checker: _Checker, scope: str, file: str, where: tuple) -> str | None:
    kind = checker.fact_type(expr.path, scope)
    if kind is None:
        hint = checker._closest(expr.path, scope)
        where_scope = " outside some_child" if expr.path.startswith("child.") and scope != "child" else ""
        checker.add(file, where, f"unknown fact '{expr.path}'{where_scope}{hint}")
    return kind


@TYPE.of(ParamRef)
def _param_ref_type(expr: ParamRef, checker: _Checker, scope: str, file: str, where: tuple) -> str | None:
    param = checker.cat.parameters.get(expr.name)
    if param is None:
        hint = did_you_mean(expr.name, checker.cat.parameters)
        checker.add(file, where, f"unknown parameter '{expr.name}'{hint}")
        return None
    if expr.at is not None and checker.expr_type(expr.at, scope, file, where) not in ("date", None):
        checker.add(file, where, f"parameter '{expr.name}': 'at' must be a date")
    if expr.key is not None and param.index is None:
        checker.add(file, where, f"parameter '{expr.name}' is not a table: it takes no key")
    elif expr.key is not None and str(expr.key) not in param.table_keys():
        checker.add(file, where, f"parameter '{expr.name}' has no entry '{expr.key}'")
    if param.index is not None and expr.key is None and checker.fact_type(param.index, scope) is None:
        checker.add(
            file,
            where,
            f"parameter '{expr.name}' is indexed by '{param.index}', which is not a fact here",
        )
    return "float"


@TYPE.of(Arith)
def _arith_type(expr: Arith, checker: _Checker, scope: str, file: str, where: tuple) -> str | None:
    wanted = {"date"} if expr.op == "days_between" else NUMERIC
    for arg in expr.args:
        kind = checker.expr_type(arg, scope, file, where)
        if kind is not None and kind not in wanted:
            checker.add(
                file,
                where,
                f"{expr.op} takes {'dates' if expr.op == 'days_between' else 'numbers'}, got a {kind}",
            )
    return "int" if expr.op == "days_between" else "float"


@TYPE.of(DateAdd)
def _date_add_type(expr: DateAdd, checker: _Checker, scope: str, file: str, where: tuple) -> str | None:
    if checker.expr_type(expr.base, scope, file, where) not in ("date", None):
        checker.add(file, where, "date_add needs a date")
    checker.date_shift(expr.base, expr, scope, file, where)
    return "date"


@TYPE.of(Cases)
def _cases_type(expr: Cases, checker: _Checker, scope: str, file: str, where: tuple) -> str | None:
    for cond, value in expr.branches:
        checker.condition(cond, scope, file, where)
        checker.expr_type(value, scope, file, where)
    if expr.otherwise is not None:
        checker.expr_type(expr.otherwise, scope, file, where)
    return "float"


@CHECK.of(Compare)
def _check_compare(cond: Compare, checker: _Checker, scope: str, file: str, where: tuple) -> None:
    checker.compare(cond, scope, file)


@CHECK.of(SomeChild)
def _check_quantifier(cond: SomeChild, checker: _Checker, scope: str, file: str, where: tuple) -> None:
    if scope == "child":
        checker.add(file, cond.where, "some_child cannot be nested in another some_child")
    checker.condition(cond.body, "child", file, cond.where)


@CHECK.of(Switch)
def _check_switch(cond: Switch, checker: _Checker, scope: str, file: str, where: tuple) -> None:
    allowed = checker.enums.get(cond.fact)
    if allowed is None:
        checker.add(file, cond.where, f"switch needs a categorical fact, got '{cond.fact}'")
    for case, branch in cond.cases:
        if allowed is not None and case not in allowed:
            checker.add(file, cond.where + ("cases", case), f"'{case}' is not a value of {cond.fact}")
        checker.condition(branch, scope, file)
    if cond.default is not None:
        checker.condition(cond.default, scope, file)


@CHECK.of(All, AnyOf, Not, Unencoded, Const)
def _check_parts(cond: Condition, checker: _Checker, scope: str, file: str, where: tuple) -> None:
    # Their own shape was checked when read; what remains is in their parts.
    for child in children_of(cond):
        checker.condition(child, scope, file, where)


TYPE.check_complete()
CHECK.check_complete()


def rule_parameters(rule: ServiceRule) -> set[str]:
    """Every parameter a rule reads: in its eligibility, amount, fee and deadline, and in
    its notes' conditions, values and ``{param:NAME}`` placeholders (a table's branches
    included)."""
    from engine.language.rules import PLACEHOLDER

    conditions: list[Condition] = [rule.eligibility]
    exprs: list[Expr] = []
    for money in (rule.amount, rule.fee):
        if money is not None:
            exprs.append(money.value)
            if money.where is not None:
                conditions.append(money.where)
    if rule.deadline is not None:
        deadline = rule.deadline
        exprs += [e for e in (deadline.base, deadline.days, deadline.months, deadline.years) if e is not None]
        if deadline.when is not None:
            conditions.append(deadline.when)
    names: set[str] = set()
    for note in rule.notes:
        conditions.append(note.when)
        exprs += [expr for _, expr in note.values]
        for raw in (note.text.en, note.text.zh):
            names |= {name for kind, name in PLACEHOLDER.findall(raw) if kind == "param"}
    while conditions or exprs:
        for cond in conditions:
            exprs += [
                part for node in walk(cond) if isinstance(node, Compare) for part in (node.lhs, node.rhs)
            ]
        conditions = []
        for expr in exprs:
            for part in expr_parts(expr):
                if isinstance(part, ParamRef):
                    names.add(part.name)
                elif isinstance(part, Cases):
                    conditions += [when for when, _ in part.branches]
        exprs = []
    return names


def _ordinals(dates: tuple[date, date]) -> tuple[float, float]:
    return dates[0].toordinal(), dates[1].toordinal()


def validate_catalogue(catalogue: Catalogue, docs: dict[str, YamlDoc] | None = None) -> list[Problem]:
    checker = _Checker(catalogue, docs or {})
    checker.catalogue()
    return checker.problems
