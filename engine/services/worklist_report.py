"""The supervisor's figures over the worklist: counts by district and by service, the time
from screening to visit, and uptake (applications per eligible person).

Definitions (docs/home-visits.md repeats them):

- **open**: the case is open (not yet visited, or nobody was at home);
- **visited**: a visit took place (outcome applied, declined or not eligible after checking);
- **applied**: the outcome is "visited and applied"; by service, the service is among
  those applied for;
- **eligible** (by service): cases that list the service as eligible (not "to check");
- **uptake**: applications for the service ÷ cases eligible for it;
- **days to visit**: from the case's opening (its first screening) to the recorded visit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl

from engine.services.worklist import VISITED_OUTCOMES, WorklistStore

_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "residence": pl.String,
    "district": pl.String,
    "state": pl.String,
    "outcome": pl.String,
    "services": pl.List(pl.Struct({"service": pl.String, "status": pl.String})),
    "applied_for": pl.List(pl.String),
    "opened_at": pl.Datetime("us"),
    "visited_at": pl.Datetime("us"),
}


def case_frame(store: WorklistStore, residences: Iterable[str] | None = None) -> pl.DataFrame:
    rows: list[dict[str, Any]] = store.report_rows(residences)
    for r in rows:
        r["services"] = [{"service": s["service"], "status": s["status"]} for s in r["services"] or ()]
        r.pop("closed_reason", None)
    frame = pl.DataFrame(rows, schema=_SCHEMA, orient="row") if rows else pl.DataFrame(schema=_SCHEMA)
    return frame.with_columns(
        pl.col("outcome").is_in(list(VISITED_OUTCOMES)).fill_null(False).alias("visited"),
        (pl.col("outcome") == "applied").fill_null(False).alias("applied"),
        (pl.col("state") == "open").alias("open"),
    )


def by_district(frame: pl.DataFrame) -> pl.DataFrame:
    return (
        frame.group_by("residence", "district")
        .agg(
            pl.len().alias("cases"),
            pl.col("open").sum().alias("open"),
            pl.col("visited").sum().alias("visited"),
            pl.col("applied").sum().alias("applied"),
        )
        .sort("residence", "district")
    )


def by_service(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per service: cases listing it, open, visited, applied for it, and uptake."""
    empty = pl.DataFrame(
        schema={
            "service": pl.String, "eligible": pl.UInt32, "to_check": pl.UInt32, "open": pl.UInt32,
            "visited": pl.UInt32, "applied": pl.UInt32, "uptake": pl.Float64,
        }
    )  # fmt: skip
    if frame.is_empty():
        return empty
    long = (
        frame.select("open", "visited", "applied_for", "services")
        .explode("services")
        .drop_nulls("services")
        .unnest("services")
        .with_columns(pl.col("applied_for").list.contains(pl.col("service")).alias("applied_here"))
    )
    if long.is_empty():
        return empty
    out = (
        long.group_by("service")
        .agg(
            (pl.col("status") == "eligible").sum().alias("eligible"),
            (pl.col("status") == "unknown").sum().alias("to_check"),
            pl.col("open").sum().alias("open"),
            pl.col("visited").sum().alias("visited"),
            pl.col("applied_here").sum().alias("applied"),
        )
        .with_columns(
            pl.when(pl.col("eligible") > 0)
            .then(pl.col("applied") / pl.col("eligible"))
            .otherwise(None)
            .round(4)
            .alias("uptake")
        )
        .sort("service")
    )
    return out


def time_to_visit(frame: pl.DataFrame) -> pl.DataFrame:
    """Per district: visits, and the median and mean days from screening to the visit."""
    visits = frame.filter(pl.col("visited_at").is_not_null()).with_columns(
        ((pl.col("visited_at") - pl.col("opened_at")).dt.total_seconds() / 86_400).alias("days")
    )
    return (
        visits.group_by("residence", "district")
        .agg(
            pl.len().alias("visits"),
            pl.col("days").median().round(1).alias("median_days"),
            pl.col("days").mean().round(1).alias("mean_days"),
        )
        .sort("residence", "district")
    )
