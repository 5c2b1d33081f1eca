"""From a register to worklist cases: ``lifeevents outreach INPUT --to DB_URL``.

The screening is the outreach list's (engine/services/outreach.py: the same statuses, services,
"already receives" and priority); this module only turns each valid row into a
:class:`~engine.services.worklist.Screened` and hands the lot to the store in one transaction.

The person id is **given**, never derived: the register must have a ``person_id`` column,
a pseudonym the office can map back to the person (a hash with the office's secret, a
case-file number). Deriving one here from a name or a national ID would either leak it or
change whenever a typo is fixed. A missing column, an empty cell or a repeated id is
refused, naming the row. ``visit_order`` (optional, a whole number) is the office's order
within a district, e.g. the stop on a visiting route; it orders cases of equal priority.

Amounts and deadlines are the per-profile engine's (engine/services/recommend.py), computed for the
listed people only: the column-wise evaluator decides statuses, not amounts.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import IO

import polars as pl

from engine.language.catalog import Catalogue
from engine.language.facts import Unknown
from engine.language.outreach_policy import outreach_policy
from engine.language.profile import validate_profile
from engine.services.batch import BatchEvaluator, Compiler, input_format, iter_results
from engine.services.columns import FileError, unflatten_row
from engine.services.outreach import (
    REGISTER_COLUMNS,
    home_visit_services,
    priority_reasons,
    select_candidates,
)
from engine.services.recommend import Engine, deadline_value, money_value
from engine.services.worklist import CaseService, Screened, ScreeningSummary, WorklistStore

PERSON_ID = "person_id"
VISIT_ORDER = "visit_order"
WORKLIST_COLUMNS = (*REGISTER_COLUMNS, PERSON_ID, VISIT_ORDER)


def screen_rows(
    catalogue: Catalogue,
    source: Path,
    as_of: date | None = None,
    include_unknown: bool = False,
    chunk_rows: int = 200_000,
    err: IO[str] | None = None,
    today: date | None = None,
    counts: dict[str, int] | None = None,
) -> Iterator[Screened]:
    """Every valid row of the register as a Screened person (no services: not listed)."""
    err = err or sys.stderr
    counts = counts if counts is not None else {}
    if input_format(source) == ".jsonl":
        raise FileError(
            f"{source}: --to reads the person_id column of a .csv or .parquet register; "
            "a JSON Lines profile has no place for it"
        )
    services = home_visit_services(catalogue)
    policy = outreach_policy(catalogue)
    evaluator = BatchEvaluator(catalogue)
    engine = Engine(catalogue)
    compilers: dict[int, Compiler] = {}
    day = today or date.today()
    first_row: dict[str, int] = {}
    for raw, chunk, statuses, offset in iter_results(
        evaluator, source, as_of, chunk_rows, day, extra_columns=WORKLIST_COLUMNS
    ):
        if PERSON_ID not in raw.columns:
            raise FileError(
                f"{source}: no '{PERSON_ID}' column: the worklist keeps cases by a pseudonymous "
                "person id that the register gives (docs/home-visits.md)"
            )
        for _, message in chunk.problems:
            print(message, file=err)
        counts["rows"] = counts.get("rows", 0) + raw.height
        counts["invalid"] = counts.get("invalid", 0) + len(chunk.problems)
        compiler = compilers.setdefault(chunk.width, Compiler(catalogue, chunk.width))
        typed = chunk.frame.filter(chunk.valid)
        kept_raw = raw.filter(chunk.valid)
        rows = pl.Series(range(offset, offset + raw.height)).filter(chunk.valid).to_list()
        listed = select_candidates(
            kept_raw,
            typed,
            statuses.filter(chunk.valid),
            0,
            compiler,
            services,
            include_unknown,
            "en",
            policy,
        )
        reason_ids = compiler.evaluate(
            typed,
            {
                "ids": pl.concat_list(
                    [
                        pl.when(c.fill_null(False)).then(pl.lit(need.id))
                        for need, c in priority_reasons(compiler, policy)
                    ]
                ).list.drop_nulls()
            },
        )["ids"].to_list()
        by_kept = {r["row"]: r for r in listed.iter_rows(named=True)}
        person_ids = kept_raw[PERSON_ID].cast(pl.String).to_list()
        districts = (
            kept_raw["district"].cast(pl.String).to_list()
            if "district" in kept_raw.columns
            else [None] * len(rows)
        )
        orders = _visit_orders(kept_raw, rows, source)
        residences = typed["residence"].cast(pl.String).to_list()
        for i, person in enumerate(person_ids):
            row = rows[i]
            if person is None or not person.strip():
                raise FileError(f"{source}: row {row}: empty {PERSON_ID}: every person needs one")
            person = person.strip()
            if person in first_row:
                raise FileError(
                    f"{source}: row {row}: {PERSON_ID} {person!r} already given at row {first_row[person]}"
                )
            first_row[person] = row
            hit = by_kept.get(i)
            case_services: tuple[CaseService, ...] = ()
            priority, reasons = 0, ()
            if hit is not None:
                wanted = {s: "eligible" for s in hit["services"].split("; ") if s}
                wanted |= {s: "unknown" for s in hit["to_check"].split("; ") if s}
                case_services = _priced(engine, catalogue, typed.row(i, named=True), wanted, as_of or day)
                priority, reasons = int(hit["priority"]), tuple(reason_ids[i])
            yield Screened(
                person_id=person,
                residence=residences[i] or "",
                district=(districts[i] or "").strip(),
                visit_order=orders[i],
                priority=priority,
                reasons=reasons,
                services=case_services,
            )


def _visit_orders(raw: pl.DataFrame, rows: list[int], source: Path) -> list[int | None]:
    if VISIT_ORDER not in raw.columns:
        return [None] * raw.height
    out: list[int | None] = []
    for row, cell in zip(rows, raw[VISIT_ORDER].cast(pl.String).to_list(), strict=True):
        text = (cell or "").strip()
        if not text:
            out.append(None)
        elif text.isdigit():
            out.append(int(text))
        else:
            raise FileError(f"{source}: row {row}: {VISIT_ORDER} is a whole number, got {cell!r}")
    return out


def _priced(
    engine: Engine, catalogue: Catalogue, cells: dict, wanted: dict[str, str], day: date
) -> tuple[CaseService, ...]:
    """Each service's amount (when eligible) and deadline, from the per-profile engine; a
    profile whose services have neither is not evaluated at all."""
    rules = {sid: catalogue.rule_for(sid, cells.get("residence")) for sid in wanted}
    if not any(r is not None and (r.amount or r.deadline) for r in rules.values()):
        return tuple(CaseService(sid, status) for sid, status in sorted(wanted.items()))
    profile = validate_profile(unflatten_row({k: v for k, v in cells.items() if v is not None}))
    on = profile.as_of or day
    env = engine.env(profile, on)
    out = []
    for sid, status in sorted(wanted.items()):
        rule = rules[sid]
        amount = unit = deadline = None
        if rule is not None and rule.amount is not None and status == "eligible":
            value = money_value(rule.amount, env)
            if not isinstance(value, Unknown):
                amount, unit = int(value), rule.amount.unit
        if rule is not None and rule.deadline is not None:
            found = deadline_value(rule.deadline, env)
            deadline = None if isinstance(found, Unknown) else found
        out.append(CaseService(sid, status, amount, unit, deadline))
    return tuple(out)


def run_outreach_to_worklist(
    catalogue: Catalogue,
    source: Path,
    store: WorklistStore,
    as_of: date | None = None,
    include_unknown: bool = False,
    chunk_rows: int = 200_000,
    err: IO[str] | None = None,
    today: date | None = None,
) -> tuple[ScreeningSummary, dict[str, int]]:
    """Screen the register and upsert its cases in one transaction."""
    counts: dict[str, int] = {}
    people = screen_rows(catalogue, source, as_of, include_unknown, chunk_rows, err, today, counts)
    summary = store.upsert(people, catalogue.version)
    return summary, counts
