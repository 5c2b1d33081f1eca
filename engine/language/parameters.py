"""Dated parameters in the OpenFisca shape.

A parameter file holds a one-line ``description``, ``metadata`` (unit, the law it comes
from, how sure the figure is) and ``values`` keyed by the date each value takes effect::

    description: Minimum living expense per person per month
    metadata:
      unit: TWD/month
      reference: 社會救助法 §4
      confidence: 🟡
      period: year               # an annual figure: it holds for its own year only
      index: household.mle_area  # values are tables keyed by this fact
    values:
      2026-01-01: {value: {taipei: 20744, taiwan_province: 15515, …}}

A value holds until the next date, except for ``period: year`` parameters, which rules.md
says are published per year and must never be reused for another year: a year with no
value is *unknown*, and the result names ``parameters.NAME.YEAR``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.language.facts import Unknown
from engine.language.rules import Text

CONFIDENCE = ("✅", "🟡", "❓")


@dataclass(frozen=True)
class ParameterValue:
    effective_from: date
    value: Any  # a number, or a mapping key -> number when the parameter is indexed
    confidence: str | None = None
    reference: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Parameter:
    name: str
    description: str
    label: Text
    unit: str
    reference: str
    confidence: str
    values: tuple[ParameterValue, ...]  # sorted by effective_from
    period: str | None = None  # "year" for annual parameters
    index: str | None = None  # a fact path whose value keys the table
    index_lookup: str = "exact"  # or "floor": the largest key not above the fact's value
    file: str = ""
    jurisdiction: str = "national"
    overrides: str | None = None  # a local parameter replacing a national one
    priority: int | None = None

    def value_at(self, day: date) -> ParameterValue | Unknown:
        """The value in force on ``day``, or Unknown naming ``parameters.NAME.YEAR``."""
        current: ParameterValue | None = None
        for value in self.values:
            if value.effective_from <= day:
                current = value
            else:
                break
        if current is None or (self.period == "year" and current.effective_from.year != day.year):
            return Unknown(frozenset({f"parameters.{self.name}.{day.year}"}))
        return current

    def lookup(self, day: date, key: Any = None) -> Any:
        """The number in force on ``day`` (for an indexed parameter, under ``key``)."""
        found = self.value_at(day)
        if isinstance(found, Unknown):
            return found
        table = found.value
        if self.index is None:
            return table
        if self.index_lookup == "floor":
            keys = sorted(int(k) for k in table)
            chosen = None
            for k in keys:
                if k <= key:
                    chosen = k
            if chosen is None:
                return Unknown(frozenset({f"parameters.{self.name}.{key}"}))
            return table[chosen] if chosen in table else table[str(chosen)]
        if key in table:
            return table[key]
        if str(key) in table:
            return table[str(key)]
        return Unknown(frozenset({f"parameters.{self.name}.{key}"}))

    def table_keys(self) -> set[str]:
        out: set[str] = set()
        for v in self.values:
            if isinstance(v.value, dict):
                out |= {str(k) for k in v.value}
        return out
