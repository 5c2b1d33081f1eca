"""The column forms of derived facts (facts.Derived.column): polars helpers that give a
whole column the value the fact's Python form gives one person, bit for bit.

Here, beside the facts, rather than in the batch backend: a derived fact is declared once,
value and column together; the batch evaluator imports these, never the other way round.
polars and numpy load only when a column form is first built."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl


def py_round(values: pl.Series, digits: int = 4) -> pl.Series:
    """Python's ``round(x, digits)`` over a float column, bit for bit.

    Python rounds the exact binary value half to even and returns the double nearest
    the decimal result; ``rint(x·10^d) / 10^d`` does the same except where ``x·10^d``
    lies within a few ulps of a tie (or beyond 2^52), and those few values go through
    Python's own ``round``.
    """
    arr = values.cast(pl.Float64).to_numpy().astype(np.float64, copy=True)
    scale = 10.0**digits
    scaled = arr * scale
    out = np.rint(scaled) / scale
    with np.errstate(invalid="ignore"):
        near_tie = np.abs(scaled - np.floor(scaled) - 0.5) <= 8 * np.spacing(np.abs(scaled))
        slow = np.isfinite(arr) & (near_tie | (np.abs(scaled) >= 2.0**52))
    for i in np.flatnonzero(slow):
        out[i] = round(float(arr[i]), digits)
    return pl.Series(values.name, out, dtype=pl.Float64)


def round4(expr: pl.Expr) -> pl.Expr:
    rounded = expr.map_batches(py_round, return_dtype=pl.Float64, is_elementwise=True)
    return pl.when(expr.is_null()).then(None).otherwise(rounded)


def mle_area_expr(residence: pl.Expr, areas: Mapping[str, str]) -> pl.Expr:
    """Each residence's minimum-living-expense area (``areas``: rules/residences.yaml)."""
    mapped = residence.replace_strict(dict(areas), default="taiwan_province", return_dtype=pl.String)
    return pl.when(residence.is_null()).then(None).otherwise(mapped)
