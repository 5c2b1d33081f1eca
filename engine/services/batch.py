"""Batch screening: the rules compiled for COLUMNS with polars.

This is the third implementation of the rules' semantics (beside durable-rules and the
Kleene evaluator of ``engine.backends.logic``), built for whole registers instead of one profile.
Each service's effective condition (``engine.services.recommend.effective_condition``: event
guards, the local switch, ended programmes) is compiled into one polars expression over
the typed columns of :mod:`engine.services.columns`, in three-valued logic:

- a null is *unknown*. Polars' ``&``, ``|``, ``all_horizontal`` and ``any_horizontal``
  follow Kleene's tables with nulls (false & null = false, true | null = true; checked
  in ``tests/test_batch.py``), and comparisons and arithmetic propagate nulls, which is
  exactly "a comparison with an unknown operand is unknown";
- ``when/then`` reads a null condition as false, so every ``when`` below that could
  see an unknown condition tests for it first;
- ``some_child`` is a Kleene OR over the child slots, each slot false beyond
  ``children.count`` and the whole unknown when the count is unknown;
- parameters are resolved per row by ``as_of`` (a ``when/then`` chain over their dated
  values, annual ones null outside their own year) and by their index fact, and local
  overrides by ``residence``;
- arithmetic rounds to 4 decimals exactly as Python's ``round`` does (the engine's
  ``_round``), so a threshold met to the last decimal is met in both.

Nothing here knows a service: everything comes from the catalogue's condition trees.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

import numpy as np
import polars as pl

from engine.backends.logic import overrides_of, quantifier_body
from engine.language import facts as F
from engine.language.catalog import Catalogue
from engine.language.column_forms import round4
from engine.language.messages import shown
from engine.language.parameters import Parameter
from engine.language.profile import ProfileError, loads_json, validate_profile
from engine.language.rules import (
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
    Unencoded,
)
from engine.language.semantics import Semantics
from engine.services.columns import (
    CHILD_SPECS,
    PARTNER_LISTED,
    PARTNER_SPECS,
    Chunk,
    FileError,
    canonical_schema,
    check_header,
    child_column,
    flatten_profile,
    normalise,
    write_error,
)
from engine.services.csv_faults import first_fault, repeated_column
from engine.services.family import is_applicants_own, readings
from engine.services.outputs import atomic_output, check_readable, refuse_overwriting_input
from engine.services.recommend import effective_condition, tree_data

STATUSES = ("ineligible", "eligible", "unknown", "invalid")
STATUS_DTYPE = pl.Enum(STATUSES)
_STATUS_VALUES = pl.Series("status", STATUSES, dtype=STATUS_DTYPE)  # indexed by the status codes 0-3
NUMERIC = ("int", "float")
FORMATS = (".csv", ".jsonl", ".parquet")


class CompileError(ValueError):
    """A condition the column compiler cannot express (a catalogue bug the validator missed)."""


@dataclass(frozen=True)
class Col:
    """A compiled expression with the rule language's type of its value, and the stage
    of shared columns it reads (0: only the input's columns)."""

    expr: pl.Expr
    kind: str  # int | float | str | bool | date | list
    stage: int = 0


# --- exact rounding --------------------------------------------------------------------


# --- derived facts as column expressions --------------------------------------------------
# Each derived fact's column form is declared with it (facts.Derived.column).


_KIND_DTYPE = {"int": pl.Int64, "float": pl.Float64, "str": pl.String, "bool": pl.Boolean, "date": pl.Date}


def _row_by_row(derived: F.Derived, inputs: list[Col], tree: tuple = ()) -> pl.Expr:
    """A derived fact declared without a column form: the engine's own function, per row."""

    def compute(row: dict[str, Any]) -> Any:
        values = list(row.values())
        return None if any(v is None for v in values) else derived.compute(*values, *tree)

    struct = pl.struct([c.expr.alias(f"in{i}") for i, c in enumerate(inputs)])
    return struct.map_elements(compute, return_dtype=_KIND_DTYPE[derived.type], skip_nulls=False)


# --- the compiler --------------------------------------------------------------------------


def _literal_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, date):
        return "date"
    if isinstance(value, tuple):
        return "list"
    return "str"


def _comparable(a: str, b: str) -> bool:
    # Python compares a bool with a number as 0 / 1 (bool is an int).
    return a == b or {a, b} <= {*NUMERIC, "bool"}


def _as_number(col: Col) -> pl.Expr:
    return col.expr.cast(pl.Int64) if col.kind == "bool" else col.expr


def _null_bool() -> pl.Expr:
    return pl.lit(None, dtype=pl.Boolean)


class Compiler:
    """Compiles conditions and expressions for frames with ``width`` child slots.

    With ``as_of`` given, every row of the frame is evaluated at that date, and the
    dated parameters become literals; without it, they are chains over the ``as_of`` column.
    """

    def __init__(self, catalogue: Catalogue, width: int, as_of: date | None = None):
        self.catalogue = catalogue
        self.width = width
        self.as_of = as_of
        self.overrides = overrides_of(catalogue)
        self.tree = tree_data(catalogue)
        self.types = F.fact_types()
        self.base = set(canonical_schema(0))
        self.profile_derived = {d.path: d for d in F.PROFILE_DERIVED}
        self.child_derived = {d.path: d for d in F.CHILD_DERIVED}
        # Derived facts and parameters are read by many services: each is computed once,
        # as a column of its own, in stages (a parameter indexed by a derived fact comes
        # after it). Polars would otherwise evaluate each copy again.
        self.shared: dict[str, Col] = {}

    def share(self, name: str, build: Callable[[], Col]) -> Col:
        if name not in self.shared:
            col = build()
            if col.stage == 0 and _is_literal(col.expr):
                return col
            self.shared[name] = Col(col.expr, col.kind, col.stage + 1)
        col = self.shared[name]
        return Col(pl.col(name), col.kind, col.stage)

    def evaluate(self, frame: pl.DataFrame, exprs: dict[str, pl.Expr]) -> pl.DataFrame:
        """``frame`` with the named expressions added (shared columns computed first)."""
        lazy = frame.lazy()
        for stage in self.stages():
            lazy = lazy.with_columns(stage)
        # with_columns, not select: a constant expression still gives one value per row.
        return lazy.with_columns([e.alias(n) for n, e in exprs.items()]).select(list(exprs)).collect()

    def depth(self) -> int:
        return max((c.stage for c in self.shared.values()), default=0)

    def stages(self) -> list[list[pl.Expr]]:
        """The shared columns, stage by stage."""
        depth = max((c.stage for c in self.shared.values()), default=0)
        return [
            [c.expr.alias(n) for n, c in self.shared.items() if c.stage == k] for k in range(1, depth + 1)
        ]

    # -- facts ----------------------------------------------------------------------------

    def as_of_expr(self) -> pl.Expr:
        return pl.lit(self.as_of, dtype=pl.Date) if self.as_of is not None else pl.col("as_of")

    def fact(self, path: str, child: int | None = None) -> Col:
        if path.startswith("child."):
            if child is None:
                raise CompileError(f"{path} read outside some_child")
            name = path[len("child.") :]
            kind = self.types["child"].get(path)
            if name in CHILD_SPECS:
                return Col(pl.col(child_column(child, name)), kind or "str")
            if path in self.child_derived:
                return self.share(f"~{path}@{child}", lambda: self._derived(self.child_derived[path], child))
            raise CompileError(f"unknown child fact '{path}'")
        if path == "as_of":
            return Col(self.as_of_expr(), "date")
        kind = self.types["profile"].get(path)
        if path in self.base:
            return Col(pl.col(path), kind or "str")
        if path in self.profile_derived:
            return self.share(f"~{path}", lambda: self._derived(self.profile_derived[path], child))
        prefix = "person.special_circumstances."
        if path.startswith(prefix):
            item = path[len(prefix) :]
            return Col(pl.col("person.special_circumstances").list.contains(pl.lit(item)), "bool")
        raise CompileError(f"unknown fact '{path}'")

    def _derived(self, derived: F.Derived, child: int | None) -> Col:
        inputs = [self.fact(p, child) for p in derived.inputs]
        # The data of the catalogue's own tree it reads (the MLE areas), as Engine.env passes it.
        tree = (self.tree[derived.tree_data],) if derived.tree_data and self.tree is not None else ()
        if derived.column is None:
            return Col(_row_by_row(derived, inputs, tree), derived.type, _stage(inputs))
        return Col(derived.column(*(c.expr for c in inputs), *tree), derived.type, _stage(inputs))

    # -- parameters ---------------------------------------------------------------------

    def param(self, name: str, child: int | None) -> Col:
        national = self.catalogue.parameters.get(name)
        if national is None:
            raise CompileError(f"unknown parameter '{name}'")
        local = self.overrides.get(name, [])
        by_child = any((p.index or "").startswith("child.") for p in (national, *local))
        scope = child if by_child else None
        return self.share(f"~param.{name}@{scope}", lambda: self._param(national, local, scope))

    def _param(self, national: Parameter, local: list[Parameter], child: int | None) -> Col:
        kind = "float" if any(_has_float(p) for p in (national, *local)) else "int"
        dtype = pl.Float64 if kind == "float" else pl.Int64
        keys = [self.fact(p.index, child) for p in (national, *local) if p.index is not None]
        value = self._param_value(national, child).cast(dtype)
        if local:
            # Env.parameter: the first local candidate of the residence, else the national one.
            residence = pl.col("residence")
            chain = pl.when(residence.is_null()).then(pl.lit(None, dtype=dtype))
            seen: set[str] = set()
            for candidate in local:
                if candidate.jurisdiction in seen:
                    continue
                seen.add(candidate.jurisdiction)
                chain = chain.when(residence == candidate.jurisdiction).then(
                    self._param_value(candidate, child).cast(dtype)
                )
            value = chain.otherwise(value)
        return Col(value, kind, _stage(keys))

    def _param_at(self, e: ParamRef, child: int | None) -> Col:
        """``{param: NAME, at: DATE, key: K}``: read on another date, or at a fixed key."""
        national = self.catalogue.parameters.get(e.name)
        if national is None:
            raise CompileError(f"unknown parameter '{e.name}'")
        if self.overrides.get(e.name):
            raise CompileError(
                f"'{e.name}' has local overrides: 'at'/'key' reads are not compiled for columns"
            )
        at = self.expr(e.at, child) if e.at is not None else None
        if at is not None and at.kind != "date":
            raise CompileError("'at' must be a date")
        key = Col(pl.lit(e.key), _literal_kind(e.key)) if e.key is not None else None
        kind = "float" if _has_float(national) else "int"
        value = self._param_value(national, child, key=key, day=at.expr if at is not None else None)
        dtype = pl.Float64 if kind == "float" else pl.Int64
        return Col(value.cast(dtype), kind, _stage([at] if at is not None else []))

    def _param_value(
        self, param: Parameter, child: int | None, key: Col | None = None, day: pl.Expr | None = None
    ) -> pl.Expr:
        if key is None:
            key = self.fact(param.index, child) if param.index is not None else None
        if self.as_of is not None and day is None:
            found = param.value_at(self.as_of)
            if isinstance(found, F.Unknown):
                return pl.lit(None)
            return self._table(param, found.value, key)
        as_of = pl.col("as_of") if day is None else day
        out: pl.Expr = pl.lit(None)
        for value in param.values:  # ascending: the latest date in force wins
            this = self._table(param, value.value, key)
            if param.period == "year":  # an annual figure holds for its own year only
                this = pl.when(as_of.dt.year() == value.effective_from.year).then(this)
            out = pl.when(as_of >= pl.lit(value.effective_from)).then(this).otherwise(out)
        return out

    @staticmethod
    def _table(param: Parameter, table: Any, key: Col | None) -> pl.Expr:
        """Parameter.lookup over a column of keys (null where the engine says unknown)."""
        if param.index is None or key is None or not isinstance(table, dict):
            return pl.lit(table)
        if param.index_lookup == "floor":
            keys = sorted({int(k) for k in table})
            out: pl.Expr = pl.lit(None)
            for k in keys:
                value = table[k] if k in table else table[str(k)]
                out = pl.when(key.expr >= k).then(pl.lit(value)).otherwise(out)
            return out
        if key.kind in NUMERIC:
            # `key in table`, then `str(key) in table`: 2 matches 2, 2.0 and "2".
            pairs: dict[float, Any] = {}
            for k, v in table.items():
                if isinstance(k, int | float) and not isinstance(k, bool):
                    pairs.setdefault(float(k), v)
            for k, v in table.items():
                if isinstance(k, str):
                    try:
                        number = float(k)
                    except ValueError:
                        continue
                    text_of_key = (
                        str(int(number)) if key.kind == "int" and number.is_integer() else repr(number)
                    )
                    if text_of_key == k:
                        pairs.setdefault(number, v)
            out = pl.lit(None)
            for number_key, v in pairs.items():
                out = pl.when(key.expr == number_key).then(pl.lit(v)).otherwise(out)
            return out
        text = key.expr if key.kind == "str" else key.expr.cast(pl.String)
        mapping = {str(k): v for k, v in table.items() if isinstance(k, str)}
        if not mapping:
            return pl.lit(None)
        return text.replace_strict(mapping, default=None)

    # -- expressions --------------------------------------------------------------------

    def expr(self, e: Expr, child: int | None = None) -> Col:
        return COLUMN(e, self, child)

    def _arith(self, e: Arith, child: int | None) -> Col:
        args = [self.expr(a, child) for a in e.args]
        if e.op == "days_between":  # from the first date to the second, in days
            if any(a.kind != "date" for a in args):
                raise CompileError("days_between takes dates")
            days = args[1].expr.cast(pl.Int64) - args[0].expr.cast(pl.Int64)
            return Col(days, "int", _stage(args))
        for a in args:
            if a.kind not in NUMERIC:
                raise CompileError(f"{e.op} takes numbers, got a {a.kind}")
        is_float = e.op == "div" or any(a.kind == "float" for a in args)
        exprs = [a.expr for a in args]
        if e.op in ("min", "max"):
            pick = pl.min_horizontal(exprs) if e.op == "min" else pl.max_horizontal(exprs)
            # min_horizontal skips nulls; Python's min of an unknown is unknown.
            unknown = pl.any_horizontal([x.is_null() for x in exprs])
            return Col(
                pl.when(unknown).then(None).otherwise(pick), "float" if is_float else "int", _stage(args)
            )
        if e.op == "add":
            out = exprs[0]
            for x in exprs[1:]:
                out = out + x
        elif e.op == "mul":
            out = exprs[0]
            for x in exprs[1:]:
                out = out * x
        elif e.op == "sub":
            out = exprs[0] - exprs[1]
        else:  # div; by zero is unknown, as in logic.eval_expr
            out = pl.when(exprs[1] == 0).then(None).otherwise(exprs[0].cast(pl.Float64) / exprs[1])
        return Col(round4(out) if is_float else out, "float" if is_float else "int", _stage(args))

    def _date_add(self, e: DateAdd, child: int | None) -> Col:
        base = self.expr(e.base, child)
        if base.kind != "date":
            raise CompileError("date_add needs a date")

        parts = [base] + [self.expr(p, child) for p in (e.days, e.months, e.years) if p is not None]

        def whole(part: Expr | None) -> pl.Expr:
            # shift_date takes int(x) of each part: truncation toward zero.
            return pl.lit(0, dtype=pl.Int64) if part is None else self.expr(part, child).expr.cast(pl.Int64)

        b = base.expr
        if e.months is None and e.years is None:
            # Days only: the month arithmetic below would give the date back, at the cost of
            # building every date again (a tenth of a verdict's time).
            shifted = b
        else:
            months = whole(e.months) + 12 * whole(e.years)
            index = b.dt.year().cast(pl.Int64) * 12 + (b.dt.month().cast(pl.Int64) - 1) + months
            year, month = index // 12, index % 12 + 1
            last_day = pl.date(year, month, 1).dt.month_end().dt.day()
            shifted = pl.date(year, month, pl.min_horizontal(b.dt.day(), last_day))
        if e.days is not None:
            shifted = (shifted.cast(pl.Int64) + whole(e.days)).cast(pl.Date)
        return Col(shifted, "date", _stage(parts))

    def _cases(self, e: Cases, child: int | None) -> Col:
        # The first branch that is not false decides: true gives its value, unknown gives unknown.
        values = [self.expr(v, child) for _, v in e.branches]
        otherwise = self.expr(e.otherwise, child) if e.otherwise is not None else None
        out: pl.Expr = otherwise.expr if otherwise is not None else pl.lit(None)
        for (cond, _), value in zip(reversed(e.branches), reversed(values), strict=True):
            verdict = self.condition(cond, child)
            out = pl.when(verdict.is_null()).then(None).when(verdict).then(value.expr).otherwise(out)
        kinds = {v.kind for v in values} | ({otherwise.kind} if otherwise else set())
        kind = (
            "float"
            if kinds <= set(NUMERIC) and "float" in kinds
            else (kinds.pop() if len(kinds) == 1 else "float")
        )
        # A branch condition may read shared columns too: the value is safe only after all of them.
        return Col(out, kind, max(self.depth(), _stage(values)))

    # -- conditions ---------------------------------------------------------------------

    def condition(self, c: Condition, child: int | None = None) -> pl.Expr:
        return MASK(c, self, child)

    def _compare(self, c: Compare, child: int | None) -> pl.Expr:
        left = self.expr(c.lhs, child)
        if c.op in ("in", "not_in"):
            if not (isinstance(c.rhs, Literal) and isinstance(c.rhs.value, tuple)):
                raise CompileError(f"'{c.op}' takes a list of values")
            found = self._member(left, c.rhs.value)
            return ~found if c.op == "not_in" else found
        if isinstance(c.rhs, Literal) and isinstance(c.rhs.value, tuple):
            # A list literal compared with == is a tuple, which no fact value equals in Python.
            right = Col(pl.lit(False), "tuple")
        else:
            right = self.expr(c.rhs, child)
        if not _comparable(left.kind, right.kind):
            if c.op in ("eq", "neq"):
                # Python's == between a string and a number is simply false.
                unknown = left.expr.is_null() | right.expr.is_null()
                return pl.when(unknown).then(_null_bool()).otherwise(pl.lit(c.op == "neq"))
            raise CompileError(f"'{c.op}' cannot compare a {left.kind} with a {right.kind}")
        a, b = left.expr, right.expr
        if left.kind != right.kind:
            a, b = _as_number(left), _as_number(right)
        return {
            "eq": lambda: a == b,
            "neq": lambda: a != b,
            "lt": lambda: a < b,
            "lte": lambda: a <= b,
            "gt": lambda: a > b,
            "gte": lambda: a >= b,
        }[c.op]()

    @staticmethod
    def _member(left: Col, values: tuple[Any, ...]) -> pl.Expr:
        """Python's ``left in values``: membership by ==, so True is 1 and 2 is 2.0."""
        if left.kind in NUMERIC:
            numbers = [float(v) for v in values if _literal_kind(v) in (*NUMERIC, "bool")]
            if numbers:
                return left.expr.cast(pl.Float64).is_in(numbers)
        elif left.kind == "bool":
            truths = [
                bool(v)
                for v in values
                if _literal_kind(v) == "bool" or (_literal_kind(v) in NUMERIC and v in (0, 1))
            ]
            if truths:
                return left.expr.is_in(truths)
        elif left.kind == "str":
            texts = [v for v in values if _literal_kind(v) == "str"]
            if texts:
                return left.expr.is_in(texts)
        # Nothing of the fact's type in the list: false, but unknown stays unknown.
        return pl.when(left.expr.is_null()).then(_null_bool()).otherwise(pl.lit(False))

    def _quantifier(self, c: SomeChild) -> pl.Expr:
        count = pl.col("children.count")
        body = quantifier_body(c)
        slots = [
            pl.when(count > i).then(self.condition(body, i)).otherwise(pl.lit(False))
            for i in range(self.width)
        ]
        some = pl.any_horizontal(slots) if slots else pl.lit(False)
        return pl.when(count.is_null()).then(_null_bool()).otherwise(some)

    def _switch(self, c: Switch, child: int | None) -> pl.Expr:
        key = self.fact(c.fact, child)
        default = self.condition(c.default, child) if c.default is not None else pl.lit(False)
        chain = pl.when(key.expr.is_null()).then(_null_bool())
        if key.kind == "str":  # Python's `case == key`: a string case never equals another type
            for cases, verdict in self._cases_by_branch(c, child):
                chain = chain.when(key.expr.is_in(cases) if len(cases) > 1 else key.expr == cases[0]).then(
                    verdict
                )
        return chain.otherwise(default)

    def _cases_by_branch(self, c: Switch, child: int | None) -> list[tuple[list[str], pl.Expr]]:
        """The switch's cases, those with the same compiled branch together: polars computes
        every branch of a when/then chain for every row, and many cities share a branch
        (the local birth grant: 22 cities, 16 different branches)."""
        groups: list[tuple[list[str], pl.Expr]] = []
        seen: set[str] = set()
        for case, branch in c.cases:
            if case in seen:  # a value's first case decides, as in the chain
                continue
            seen.add(case)
            verdict = self.condition(branch, child)
            same = next((cases for cases, other in groups if other.meta.eq(verdict)), None)
            if same is None:
                groups.append(([case], verdict))
            else:
                same.append(case)
        return groups


COLUMN = Semantics("polars", "expression", "a typed column, one value per profile")
MASK = Semantics("polars", "condition", "a nullable boolean column: null is unknown")


@COLUMN.of(Literal)
def _literal_column(e: Literal, compiler: Compiler, child: int | None) -> Col:
    kind = _literal_kind(e.value)
    if kind == "list":
        raise CompileError("a list is only a value of 'in' / 'not_in'")
    return Col(pl.lit(e.value), kind)


@COLUMN.of(FactRef)
def _fact_column(e: FactRef, compiler: Compiler, child: int | None) -> Col:
    return compiler.fact(e.path, child)


@COLUMN.of(ParamRef)
def _param_column(e: ParamRef, compiler: Compiler, child: int | None) -> Col:
    if e.at is None and e.key is None:
        return compiler.param(e.name, child)
    return compiler._param_at(e, child)


@COLUMN.of(Arith)
def _arith_column(e: Arith, compiler: Compiler, child: int | None) -> Col:
    return compiler._arith(e, child)


@COLUMN.of(DateAdd)
def _date_add_column(e: DateAdd, compiler: Compiler, child: int | None) -> Col:
    return compiler._date_add(e, child)


@COLUMN.of(Cases)
def _cases_column(e: Cases, compiler: Compiler, child: int | None) -> Col:
    return compiler._cases(e, child)


@MASK.of(Const)
def _const_mask(c: Const, compiler: Compiler, child: int | None) -> pl.Expr:
    return pl.lit(c.value, dtype=pl.Boolean)


@MASK.of(Compare)
def _compare_mask(c: Compare, compiler: Compiler, child: int | None) -> pl.Expr:
    return compiler._compare(c, child)


@MASK.of(All)
def _all_mask(c: All, compiler: Compiler, child: int | None) -> pl.Expr:
    items = [compiler.condition(i, child) for i in c.items]
    return items[0] if len(items) == 1 else pl.all_horizontal(items)


@MASK.of(AnyOf)
def _any_mask(c: AnyOf, compiler: Compiler, child: int | None) -> pl.Expr:
    items = [compiler.condition(i, child) for i in c.items]
    return items[0] if len(items) == 1 else pl.any_horizontal(items)


@MASK.of(Not)
def _not_mask(c: Not, compiler: Compiler, child: int | None) -> pl.Expr:
    return ~compiler.condition(c.item, child)


@MASK.of(SomeChild)
def _quantifier_mask(c: SomeChild, compiler: Compiler, child: int | None) -> pl.Expr:
    if child is not None:
        raise CompileError("some_child cannot be nested in another some_child")
    return compiler._quantifier(c)


@MASK.of(Switch)
def _switch_mask(c: Switch, compiler: Compiler, child: int | None) -> pl.Expr:
    return compiler._switch(c, child)


@MASK.of(Unencoded)
def _unencoded_mask(c: Unencoded, compiler: Compiler, child: int | None) -> pl.Expr:
    return _null_bool()


COLUMN.check_complete()
MASK.check_complete()


def _stage(cols: list[Col]) -> int:
    return max((c.stage for c in cols), default=0)


def _is_literal(expr: pl.Expr) -> bool:
    return expr.meta.is_literal(allow_aliasing=True)


def _has_float(param: Parameter) -> bool:
    for value in param.values:
        numbers = value.value.values() if isinstance(value.value, dict) else [value.value]
        if any(isinstance(n, float) for n in numbers):
            return True
    return False


# --- the evaluator -----------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """The compiled catalogue: shared columns stage by stage, then one verdict per service."""

    stages: list[list[pl.Expr]]
    verdicts: list[pl.Expr]

    def run(
        self, frame: pl.DataFrame | pl.LazyFrame, engine: str = "auto", keep: tuple[str, ...] = ()
    ) -> pl.DataFrame:
        """The verdicts over ``frame``, and the shared columns named in ``keep``."""
        lazy = frame.lazy()
        for stage in self.stages:
            lazy = lazy.with_columns(stage)
        # with_columns, not select: a constant verdict must still give one value per row.
        names = [v.meta.output_name() for v in self.verdicts]
        return lazy.with_columns(self.verdicts).select(*names, *keep).collect(engine=engine)

    def without(self, given: tuple[str, ...]) -> Plan:
        """The plan for a frame that already has the shared columns named in ``given``."""
        stages = [[e for e in stage if e.meta.output_name() not in given] for stage in self.stages]
        return Plan([stage for stage in stages if stage], self.verdicts)


@dataclass(frozen=True)
class Views:
    """The plans of a chunk with partners: the applicant's view, the partner's, and the
    shared columns the partner's takes from the applicant's (``reused``)."""

    own: Plan
    partner: Plan
    reused: tuple[str, ...]


def same_in_both_views(own: Plan, partner: Plan) -> tuple[str, ...]:
    """The partner plan's shared columns that have the same values in the applicant's
    plan: those that read no adult's column and no event of the applicant's own (the
    partner's view reads those as not listed), not even through another shared column.
    The household's income per person or a child's age is one value for both adults;
    computing it again for the partner's rows cost a third of the partner's view.

    Both plans must come from one evaluator at one width and date: a shared column's
    name then stands for one definition (Compiler.share), so the names are compared
    (expressions with a Python function, as round4's, never compare equal)."""
    own_shared = {e.meta.output_name() for stage in own.stages for e in stage}
    reused: list[str] = []
    for stage in partner.stages:  # in stage order: a column's inputs are judged before it
        for e in stage:
            name = e.meta.output_name()
            if name in own_shared and all(
                _same_for_both_adults(c) and (not c.startswith("~") or c in reused)
                for c in e.meta.root_names()
            ):
                reused.append(name)
    return tuple(reused)


class BatchEvaluator:
    """A catalogue compiled for columns; compiled plans are cached per child width, date
    and the services they decide."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        self.services = list(catalogue.services)
        self.conditions = {sid: effective_condition(catalogue, sid) for sid in self.services}
        self.readings = readings(catalogue, self.conditions)
        # rules.md, "Families": the services decided for each adult get a partner:SERVICE
        # column; the household services that read one adult's facts (the mother's, or
        # either parent's) choose between the two views, as Engine.recommend does.
        self.partner_services = [s for s in self.services if self.readings[s] == "person"]
        self.viewed = tuple(
            s for s in self.services if self.readings[s] in ("person", "mother", "either_parent")
        )
        self._plans: dict[tuple[int, date | None, tuple[str, ...] | None], Plan] = {}
        self._views: dict[tuple[int, date | None, date | None], Views] = {}

    def plan(self, width: int, as_of: date | None, services: tuple[str, ...] | None = None) -> Plan:
        key = (width, as_of, services)
        if key not in self._plans:
            compiler = Compiler(self.catalogue, width, as_of)
            wanted = self.services if services is None else services
            verdicts = [compiler.condition(self.conditions[s]).alias(s) for s in wanted]
            self._plans[key] = Plan(compiler.stages(), verdicts)
        return self._plans[key]

    def views(self, width: int, own_date: date | None, partner_date: date | None) -> Views:
        """The plans of the two views (:class:`Views`); a shared column is reused only
        when both plans read the rows at the same fixed date, or both per row."""
        key = (width, own_date, partner_date)
        if key not in self._views:
            own = self.plan(width, own_date)
            partner = self.plan(width, partner_date, self.viewed)
            reused = same_in_both_views(own, partner) if own_date == partner_date else ()
            self._views[key] = Views(own, partner.without(reused), reused)
        return self._views[key]

    def verdicts(
        self, frame: pl.DataFrame, width: int, services: tuple[str, ...] | None = None
    ) -> pl.DataFrame:
        """One Boolean column per service: true eligible, false ineligible, null unknown."""
        return self.plan(width, _single_date(frame["as_of"]), services).run(frame)

    def output_columns(self, partner: bool) -> list[str]:
        """The status columns of the output: one per service, then with partner columns
        in the input one ``partner:SERVICE`` per service decided for each adult."""
        return self.services + ([PARTNER_PREFIX + s for s in self.partner_services] if partner else [])

    def statuses(self, chunk: Chunk, families: bool = True) -> pl.DataFrame:
        """The status columns of a chunk, ``invalid`` on the rows that failed validation.

        With the partner's columns (and ``families``), the columns of
        :meth:`output_columns`: see :meth:`_families`. Without ``families`` every row is
        read from the applicant's view alone, as ``Engine.statuses`` reads it.
        """
        if chunk.partner and families:
            inputs, codes = self._families(chunk)
        else:
            inputs = self.verdicts(chunk.frame, chunk.width)
            codes = {s: pl.col(s).cast(pl.UInt8).fill_null(2) for s in self.services}
        valid = pl.lit(chunk.valid)
        # The codes index the statuses (null: no partner): a gather from the four, five
        # times cheaper than replace_strict over every cell, in the one select.
        return inputs.select(
            [
                pl.lit(_STATUS_VALUES).gather(pl.when(valid).then(code).otherwise(3)).alias(name)
                for name, code in codes.items()
            ]
        )

    def _families(self, chunk: Chunk) -> tuple[pl.DataFrame, dict[str, pl.Expr]]:
        """The verdicts of a chunk with partner columns, as ``Engine.recommend`` gives them.

        The partner's view is the same compiled plan over the rows that describe a partner
        (``partner.listed`` true), with their ``person.*`` and ``partner.*`` columns
        swapped and the applicant's own events not listed (``family.seen_from_partner``):
        no new fact path. Then, per row:

        - ``partner:SERVICE`` (services read for each adult): the partner's verdict as a
          status code, null where the row describes no partner;
        - a ``mother`` service: the partner's verdict where the partner is the mother
          (``family.mother_is_partner``);
        - an ``either_parent`` service: the better of the two verdicts, the applicant's on
          a tie, which is Kleene's ``or`` of the two (``family.either_parent``).

        Returned as the columns these read and each output column's status code over them
        (0-2; null where the row describes no partner).
        """
        frame = chunk.frame
        n = frame.height
        listed = frame[PARTNER_LISTED].fill_null(False)
        rows = listed.arg_true()
        theirs_names = {s: PARTNER_PREFIX + s for s in self.viewed}
        views = self.views(
            chunk.width, _single_date(frame["as_of"]), _single_date(frame["as_of"].gather(rows))
        )
        verdicts = views.own.run(frame, keep=views.reused)  # and the reused shared columns
        if rows.len():
            # Filtered and swapped lazily: polars then copies only the columns the partner's
            # plan reads (about a third), not the whole frame.
            swapped = (
                frame.hstack(verdicts.select(views.reused).get_columns())
                .lazy()
                .filter(pl.col(PARTNER_LISTED).fill_null(False))
                .select([*(_as_partner_sees(c, frame.schema[c]) for c in frame.columns), *views.reused])
            )
            found = views.partner.run(swapped)
            where = np.full(n, -1, dtype=np.int64)
            where[rows.to_numpy()] = np.arange(rows.len())
            at = pl.Series(where).set(pl.Series(where < 0), None)
            theirs = found.select([pl.col(s).gather(at).alias(theirs_names[s]) for s in self.viewed])
        else:
            theirs = pl.DataFrame(
                {theirs_names[s]: pl.repeat(None, n, dtype=pl.Boolean, eager=True) for s in self.viewed}
            )
        has = pl.col(PARTNER_LISTED).fill_null(False)
        me, them = pl.col("person.sex"), pl.col("partner.sex")
        mother_is_partner = (
            has
            & ~(me == "female").fill_null(False)
            & ((them == "female").fill_null(False) | ((me == "male").fill_null(False) & them.is_null()))
        )
        out: dict[str, pl.Expr] = {}
        for s in self.services:
            own, other = pl.col(s), pl.col(theirs_names.get(s, s))
            reading = self.readings[s]
            if reading == "mother":
                own = pl.when(mother_is_partner).then(other).otherwise(own)
            elif reading == "either_parent":
                own = pl.when(has).then(own | other).otherwise(own)
            out[s] = own.cast(pl.UInt8).fill_null(2)
        for s in self.partner_services:
            out[PARTNER_PREFIX + s] = pl.when(has).then(pl.col(theirs_names[s]).cast(pl.UInt8).fill_null(2))
        both = pl.concat(
            [verdicts, theirs, frame.select(PARTNER_LISTED, "person.sex", "partner.sex")], how="horizontal"
        )
        return both, out


PARTNER_PREFIX = "partner:"


def _single_date(as_of: pl.Series) -> date | None:
    """The one date every row is read at, or None when the rows differ (the plan then
    reads each row's ``as_of``)."""
    dates = as_of.unique()
    return dates[0] if len(dates) == 1 else None


def _as_partner_sees(column: str, dtype: pl.DataType) -> pl.Expr:
    """A column of the partner's view (``family.seen_from_partner``): the adults swapped,
    the applicant's own events (a job loss, a business start) not listed."""
    if not is_applicants_own(column):
        return pl.col(column).alias(_swap_adult(column))
    if column.endswith(".listed"):
        return pl.lit(False).alias(column)
    return pl.lit(None, dtype=dtype).alias(column)


def _same_for_both_adults(column: str) -> bool:
    """Whether a column reads the same in the applicant's view and the partner's."""
    return _swap_adult(column) == column and not is_applicants_own(column)


def _swap_adult(column: str) -> str:
    """``person.X`` as ``partner.X`` and back: the profile seen from the partner."""
    if column.startswith("person."):
        return "partner." + column[len("person.") :]
    if column in PARTNER_SPECS:
        return "person." + column[len("partner.") :]
    return column


# --- reading and writing ------------------------------------------------------------------


def input_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise FileError(f"{path}: unknown format '{suffix}'; expected one of {', '.join(FORMATS)}")
    return suffix


def _scan(path: Path, fmt: str) -> pl.LazyFrame:
    if fmt == ".csv":
        return pl.scan_csv(path, infer_schema=False)
    return pl.scan_parquet(path)


@dataclass(frozen=True)
class Shard:
    """Part ``index`` of ``count`` (from 1) of a file's rows: contiguous ranges of
    nearly equal size, so that the outputs of parts 1 … count, one after another, are
    the output of the whole file (``lifeevents batch --shard I/N``)."""

    index: int
    count: int

    def rows(self, total: int) -> range:
        return range(total * (self.index - 1) // self.count, total * self.index // self.count)


def count_rows(path: Path) -> int:
    """How many rows (profiles) the input holds, as :func:`read_chunks` numbers them."""
    fmt = input_format(path)
    if fmt == ".jsonl":
        with path.open("rb") as handle:
            return sum(1 for _ in handle)
    try:
        return int(_scan(path, fmt).select(pl.len()).collect().item())
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _read_error(path, fmt, exc) from None


def read_chunks(
    path: Path, chunk_rows: int, extra_columns: tuple[str, ...] = (), rows: range | None = None
) -> Iterator[tuple[pl.DataFrame, dict[int, str]]]:
    """The input in chunks of about ``chunk_rows`` rows, with problems found while reading
    (only the rows of ``rows``, when given: a shard).

    CSV and Parquet are streamed by polars; JSON Lines is read line by line and each
    line validated by pydantic, exactly as ``recommend`` reads a profile.
    """
    fmt = input_format(path)
    if not path.is_file():
        raise FileError(f"{path}: no such file")
    if fmt == ".jsonl":
        yield from _jsonl_chunks(path, chunk_rows, rows)
        return
    try:
        lazy = _scan(path, fmt)
        names = lazy.collect_schema().names()
        if fmt == ".csv":
            _check_csv_header(path, names)
        check_header(names, str(path), extra_columns)
        if rows is not None:  # polars reads only the row groups (Parquet) it needs
            lazy = lazy.slice(rows.start, len(rows))
        for batch in lazy.collect_batches(chunk_size=chunk_rows):
            yield batch, {}
    except (pl.exceptions.ComputeError, pl.exceptions.PolarsError, OSError) as exc:
        raise _read_error(path, fmt, exc) from None


def _read_error(path: Path, fmt: str, exc: Exception) -> FileError:
    """One line for an input polars could not read. Polars names no line: for a CSV file,
    the first line it cannot read is found again (csv_faults), on this failure path only."""
    fault = first_fault(path) if fmt == ".csv" else None
    if fault is not None:
        return FileError(f"{path}:{fault.line}: {fault.problem}")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return FileError(f"{path}: cannot read {fmt[1:]}: {shown(first, 200)}")


def _check_csv_header(path: Path, names: list[str]) -> None:
    """What polars' reading of a CSV header hides: a column named twice (polars renames
    the second ``NAME_duplicated_0``) and bytes that are not UTF-8 (read as U+FFFD)."""
    fault = repeated_column(path, names)
    if fault is None and any("\ufffd" in name for name in names):
        fault = first_fault(path)
    if fault is not None:
        raise FileError(f"{path}:{fault.line}: {fault.problem}")


def _jsonl_chunks(
    path: Path, chunk_rows: int, wanted: range | None = None
) -> Iterator[tuple[pl.DataFrame, dict[int, str]]]:
    rows: list[dict[str, str]] = []
    problems: dict[int, str] = {}
    offset = 0
    # Bytes, decoded line by line: a line that is not UTF-8 is that row's problem, not the file's.
    with path.open("rb") as handle:
        for n, line in enumerate(handle):
            if wanted is not None and n not in wanted:  # another shard's line: not even parsed
                if n >= wanted.stop:
                    break
                continue
            rows.append(_jsonl_row(line, n, problems))
            if len(rows) >= chunk_rows:
                yield _string_frame(rows), problems
                offset += len(rows)
                rows, problems = [], {}
    if rows or offset == 0:
        yield _string_frame(rows), problems


def _jsonl_row(raw: bytes, n: int, problems: dict[int, str]) -> dict[str, str]:
    """One line's profile as dotted cells; a line that is not one (bad UTF-8, bad JSON,
    a number Python will not read, nesting too deep, a profile the model refuses) is
    that row's problem, and the run goes on."""
    source = f"row {n}"
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems[n] = f"{source}: not UTF-8 text (byte {exc.start})"
        return {}
    if not line.strip():  # rows are lines: an empty line is an invalid row, not skipped
        problems[n] = f"{source}: an empty line (one profile, a JSON object, per line)"
        return {}
    try:
        data = loads_json(line, source)  # as a .json profile is read
    except ProfileError as exc:
        problems[n] = str(exc)
        return {}
    if not isinstance(data, dict):
        problems[n] = f"{source}: a profile must be one JSON object"
        return {}
    try:
        return flatten_profile(validate_profile(data, source))
    except ProfileError as exc:
        problems[n] = str(exc)
        return {}
    except RecursionError:
        problems[n] = f"{source}: not a profile: nested too deeply"
        return {}


def _string_frame(rows: list[dict[str, str]]) -> pl.DataFrame:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    if not names:  # only empty profiles (`{}`): no column, still one row each
        return pl.DataFrame(height=len(rows))
    return pl.DataFrame(
        {name: [row.get(name) for row in rows] for name in names},
        schema={name: pl.String for name in names},
        height=len(rows),
    )


PARQUET_HELD_BYTES = 256 * 2**20
"""Parquet output chunks held in memory before they go to a part file. Polars has no
appending Parquet writer, so the chunks become one file at the end; held chunks are
written once, where parts are written, read back and written again (the merge cost more
than the parts). 256 MiB holds the statuses of about 4 million profiles."""


class Writer:
    """Writes chunks in order to CSV, JSON Lines or Parquet (by extension).

    ``shown`` is the path messages name: the output, when ``path`` is its temporary
    stand-in (engine.services.outputs)."""

    def __init__(self, path: Path, shown: Path | None = None):
        self.path = path
        self.shown = shown or path
        self.fmt = input_format(path)
        self.first = True
        self.parts: list[Path] = []
        self.held: list[pl.DataFrame] = []  # Parquet: chunks not yet in a part
        self.held_bytes = 0.0  # polars' estimate of the frames held
        self.handle: IO[str] | None = None
        self.tmp: Path | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if self.fmt == ".parquet":
                # Polars has no appending Parquet writer: chunks held, parts, then one streaming merge.
                self.tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
            else:
                self.handle = path.open("w", encoding="utf-8", newline="")
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise write_error(self.shown, exc) from None

    def write(self, frame: pl.DataFrame) -> None:
        try:
            self._write(frame)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise write_error(self.shown, exc) from None
        self.first = False

    def _write(self, frame: pl.DataFrame) -> None:
        if self.fmt == ".csv":
            assert self.handle is not None
            frame.write_csv(self.handle, include_header=self.first)
        elif self.fmt == ".jsonl":
            assert self.handle is not None
            frame.write_ndjson(self.handle)
        else:
            self.held.append(frame)
            self.held_bytes += frame.estimated_size()
            if self.held_bytes > PARQUET_HELD_BYTES:
                self._spill()

    def _spill(self) -> None:
        """The held Parquet chunks as one part file."""
        assert self.tmp is not None
        part = self.tmp / f"{len(self.parts):06d}.parquet"
        # Only the merge reads it, and writes its own: neither compressed nor with statistics.
        pl.concat(self.held, rechunk=False).write_parquet(part, compression="uncompressed", statistics=False)
        self.parts.append(part)
        self.held, self.held_bytes = [], 0

    def close(self) -> None:
        """Finish the file (for Parquet: merge the parts)."""
        try:
            if self.handle is not None:
                self.handle.close()
            if self.tmp is not None:
                pieces = [pl.scan_parquet(self.parts)] if self.parts else []
                if self.held:
                    pieces.append(pl.concat(self.held, rechunk=False).lazy())
                if pieces:
                    pl.concat(pieces).sink_parquet(self.path)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise write_error(self.shown, exc) from None
        finally:
            self.discard()

    def discard(self) -> None:
        """Stop without finishing: the handle closed, the Parquet parts removed."""
        self.held, self.held_bytes = [], 0
        if self.handle is not None:
            with contextlib.suppress(OSError):
                self.handle.close()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)


# --- the command ----------------------------------------------------------------------------


@dataclass
class Summary:
    rows: int = 0
    invalid: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    seconds: float = 0.0


def input_has_partner(path: Path) -> bool:
    """Whether the input describes partners, so that the output gets ``partner:SERVICE``
    columns (profile.md): a CSV or Parquet file with a ``partner.*`` column, a JSON Lines
    file with a line that names the key ``"partner"`` (a profile's values are never
    free text, so the name is the key). Decided once for the file, so that every chunk
    has the same columns; a file that cannot be read says so when it is read."""
    try:
        if input_format(path) == ".jsonl":
            with path.open(encoding="utf-8", errors="replace") as handle:
                return any('"partner"' in line for line in handle)
        names = _scan(path, path.suffix.lower()).collect_schema().names()
    except (OSError, FileError, pl.exceptions.PolarsError):
        return False
    return any(c == PARTNER_LISTED or c in PARTNER_SPECS for c in names)


def iter_results(
    evaluator: BatchEvaluator,
    path: Path,
    as_of: date | None,
    chunk_rows: int,
    today: date | None = None,
    extra_columns: tuple[str, ...] = (),
    partner: bool | None = None,
    rows: range | None = None,
) -> Iterator[tuple[pl.DataFrame, Chunk, pl.DataFrame, int]]:
    """(raw chunk, typed chunk, statuses, first row number) for each chunk of the input
    (of its ``rows`` only, when given)."""
    offset = rows.start if rows is not None else 0
    default = today or date.today()
    partner = input_has_partner(path) if partner is None else partner
    for raw, prior in read_chunks(path, chunk_rows, extra_columns, rows):
        profile_columns = raw.drop([c for c in extra_columns if c in raw.columns])
        chunk = normalise(profile_columns, offset, default, as_of, prior=prior, partner=partner)
        yield raw, chunk, evaluator.statuses(chunk), offset
        offset += raw.height


def run_batch(
    catalogue: Catalogue,
    source: Path,
    target: Path,
    as_of: date | None = None,
    chunk_rows: int = 200_000,
    err: IO[str] | None = None,
    today: date | None = None,
    evaluator: BatchEvaluator | None = None,
    progress: Callable[[int], object] | None = None,
    shard: Shard | None = None,
) -> Summary:
    """``lifeevents batch``: statuses of every row, in input order, chunk by chunk (of
    the ``shard``'s rows only, when given; ``row`` still numbers them in the whole file).

    The output appears only when the whole run succeeded (engine.services.outputs); an output
    that is the input is refused before anything is opened for writing."""
    started = time.perf_counter()
    err = err or sys.stderr
    evaluator = evaluator or BatchEvaluator(catalogue)
    input_format(source)
    input_format(target)
    check_readable(source)
    refuse_overwriting_input([source], [target])
    summary = Summary()
    partner = input_has_partner(source)
    rows = shard.rows(count_rows(source)) if shard is not None else None
    with atomic_output(target) as partial:
        writer = Writer(partial, shown=target)
        try:
            for raw, chunk, statuses, offset in iter_results(
                evaluator, source, as_of, chunk_rows, today, partner=partner, rows=rows
            ):
                for _, message in chunk.problems:
                    print(message, file=err)
                row_numbers = pl.Series("row", np.arange(offset, offset + raw.height, dtype=np.int64))
                writer.write(pl.DataFrame([row_numbers]).hstack(statuses))
                summary.rows += raw.height
                summary.invalid += len(chunk.problems)
                _count(summary, statuses.select(evaluator.services))  # the partner's cells apart
                if progress is not None:
                    progress(raw.height)  # rows done (the CLI's bar: engine/interfaces/progress.py)
            if writer.first:  # no row at all: still the header, so that the output's shape is known
                schema = {"row": pl.Int64(), **dict.fromkeys(evaluator.output_columns(partner), STATUS_DTYPE)}
                writer.write(pl.DataFrame(schema=schema))
        except BaseException:
            writer.discard()
            raise
        writer.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _count(summary: Summary, statuses: pl.DataFrame) -> None:
    if not statuses.width:
        return
    # Count on the enum's codes: casting 60 columns of a chunk to text costs more than the rules.
    codes = statuses.select(pl.all().to_physical())
    totals = codes.select(
        [pl.sum_horizontal(pl.all() == i).sum().alias(s) for i, s in enumerate(STATUSES)]
    ).row(0, named=True)
    for status, n in totals.items():
        summary.statuses[status] += int(n or 0)


# --- in-memory use ----------------------------------------------------------------------------

_EVALUATORS: dict[str, BatchEvaluator] = {}


def evaluate_profiles(
    catalogue: Catalogue, profiles: list[Any], as_of: date | None = None, families: bool = False
) -> list[dict[str, str]]:
    """The status of every service for each profile, in order, through the column-wise
    evaluator: the same path as a file (flattened, read as text, validated, compiled), for
    the fuzzer's and other callers' differential checks. Profiles are dicts or Profiles.

    Without ``families``, each row as ``Engine.statuses`` reads it (the applicant's view
    alone); with it, as a batch file gives it with partner columns (``partner:SERVICE``
    keys, the household services choosing between the two adults' views)."""
    from engine.language.profile import Profile
    from engine.services.columns import flatten_profile, normalise

    evaluator = _EVALUATORS.get(catalogue.version)
    if evaluator is None or evaluator.catalogue is not catalogue:
        evaluator = _EVALUATORS[catalogue.version] = BatchEvaluator(catalogue)
    models = [p if isinstance(p, Profile) else Profile.model_validate(p) for p in profiles]
    frame = _string_frame([flatten_profile(p) for p in models])
    chunk = normalise(frame, 0, date.today(), as_of, partner=families or None)
    if chunk.problems:
        raise CompileError(f"profiles the model accepts were refused by the column reader: {chunk.problems}")
    return list(evaluator.statuses(chunk, families).iter_rows(named=True))
