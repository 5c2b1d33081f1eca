"""Screening one batch of profiles in memory: the public entry point for other engines.

``lifeevents batch`` reads a file in chunks and screens each chunk; Spark, Dask, Ray or a
warehouse's Python function hand over the chunks themselves, as Arrow record batches or
polars frames. :func:`screen_frame` and :func:`screen_arrow` screen one such batch with
exactly the path a chunk of ``lifeevents batch`` takes (``engine.services.columns.normalise``,
then ``BatchEvaluator.statuses``), so that the answer is the same row for row:

- the columns are the dotted ones of docs/batch.md (``person.birth_date``,
  ``children.0.order``), text or already typed, in any subset; an unknown column is an
  error naming the closest valid one, as in a file;
- the control columns (``children.count``, ``events.known``, ``events.E.listed``,
  ``partner.listed``) are optional and read as in a file; partner columns in the batch
  bring the ``partner:SERVICE`` outputs and the families' household answers;
- a row that fails validation is ``invalid`` for every service, with its problem;
- ``keep`` names columns carried through to the output unread (a person's id), which a
  file run refuses as unknown.

Where column names may not hold a dot (Spark resolves ``a.b`` as a field of a struct,
Hive tables refuse it), ``separator`` reads ``person__birth_date`` as
``person.birth_date``: :func:`dotted_name` and :func:`safe_name` are the two directions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import polars as pl

from engine.language.catalog import Catalogue
from engine.services.batch import BatchEvaluator
from engine.services.columns import PARTNER_LISTED, PARTNER_SPECS, FileError, check_header, normalise

if TYPE_CHECKING:
    import pyarrow as pa

SAFE_SEPARATOR = "__"  # no profile field holds two underscores in a row
PROBLEM = "problem"  # the optional column of a row's validation problem

_EVALUATORS: dict[str, BatchEvaluator] = {}


def evaluator_for(catalogue: Catalogue) -> BatchEvaluator:
    """The catalogue compiled for columns, once per process and rules version: an executor
    screens many batches with the rules it was sent."""
    evaluator = _EVALUATORS.get(catalogue.version)
    if evaluator is None:
        evaluator = _EVALUATORS[catalogue.version] = BatchEvaluator(catalogue)
    return evaluator


def safe_name(column: str, separator: str = SAFE_SEPARATOR) -> str:
    """``person.birth_date`` as ``person__birth_date`` (for engines that refuse dots)."""
    return column.replace(".", separator)


def dotted_name(column: str, separator: str = SAFE_SEPARATOR) -> str:
    return column.replace(separator, ".")


def has_partner(columns: Iterable[str]) -> bool:
    """Whether a batch with these (dotted) columns describes partners, as
    ``batch.input_has_partner`` decides it for a file."""
    return any(c == PARTNER_LISTED or c in PARTNER_SPECS for c in columns)


def output_columns(
    catalogue: Catalogue, columns: Sequence[str], keep: Sequence[str] = (), problem: bool = False
) -> list[str]:
    """The columns :func:`screen_frame` returns for a batch with these (dotted) input
    columns: ``keep``, then one per service, then ``partner:SERVICE`` with partner
    columns, then ``problem`` when asked for. Engines that need the output's schema
    before they run (Spark, Dask) take it from here."""
    statuses = evaluator_for(catalogue).output_columns(has_partner(columns))
    return [*keep, *statuses, *([PROBLEM] if problem else [])]


@dataclass(frozen=True)
class Screening:
    """The statuses of one batch, row for row, and the rows that failed validation."""

    statuses: pl.DataFrame  # keep columns, then the status columns (enum of STATUSES)
    problems: list[tuple[int, str]]  # (row number, "row N: key.path: problem")


def screen_frame(
    frame: pl.DataFrame,
    catalogue: Catalogue,
    *,
    as_of: date | None = None,
    today: date | None = None,
    keep: Sequence[str] = (),
    row_offset: int = 0,
    separator: str = ".",
    problem: bool = False,
) -> Screening:
    """The statuses of every row of ``frame``, as ``lifeevents batch`` gives them.

    ``as_of`` overrides every row's date (``--as-of``); a row without one is read at
    ``today`` (default: the date now; give it when many batches make one run, so that a
    run crossing midnight reads every row on one day). ``row_offset`` numbers the rows
    in the problems (a chunk's first row in its file). ``separator`` is what stands for
    the dots in the column names. With ``problem``, a ``problem`` column holds each
    invalid row's message (without its row number, which means little inside a
    partition) and is null on valid rows.
    """
    names = {c: dotted_name(c, separator) if separator != "." else c for c in frame.columns}
    keep_set = set(keep)
    missing = [k for k in keep if k not in frame.columns]
    if missing:
        raise FileError(f"the batch has no column '{missing[0]}' to keep")
    profile = frame.drop(list(keep)).rename({c: names[c] for c in frame.columns if c not in keep_set})
    check_header(profile.columns, "the batch")
    chunk = normalise(profile, row_offset, today or date.today(), as_of, partner=has_partner(profile.columns))
    statuses = evaluator_for(catalogue).statuses(chunk)
    out = frame.select(list(keep)).hstack(statuses) if keep else statuses
    if problem:
        messages: list[str | None] = [None] * frame.height
        for row, message in chunk.problems:
            prefix = f"row {row}: "
            messages[row - row_offset] = message[len(prefix) :] if message.startswith(prefix) else message
        out = out.with_columns(pl.Series(PROBLEM, messages, dtype=pl.String))
    return Screening(out, chunk.problems)


def screen_arrow(
    batch: pa.RecordBatch | pa.Table,
    catalogue: Catalogue,
    *,
    as_of: date | None = None,
    today: date | None = None,
    keep: Sequence[str] = (),
    row_offset: int = 0,
    separator: str = ".",
    problem: bool = False,
    dictionary: bool = False,
) -> Any:
    """:func:`screen_frame` over an Arrow record batch or table, answering the same kind.

    The statuses are plain strings (what Spark, pandas and DuckDB all read), or with
    ``dictionary`` dictionary-encoded, as ``lifeevents batch`` writes them to Parquet.
    """
    import pyarrow as pa

    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    found = screen_frame(
        frame,
        catalogue,
        as_of=as_of,
        today=today,
        keep=keep,
        row_offset=row_offset,
        separator=separator,
        problem=problem,
    ).statuses
    table = found.to_arrow(compat_level=pl.CompatLevel.oldest())
    status_type = pa.dictionary(pa.int8(), pa.string()) if dictionary else pa.string()
    schema = pa.schema(
        [
            pa.field(f.name, status_type if pa.types.is_dictionary(f.type) or f.name == PROBLEM else f.type)
            if f.name not in keep
            else batch.schema.field(f.name)
            for f in table.schema
        ]
    )
    if PROBLEM in schema.names:
        schema = schema.set(schema.get_field_index(PROBLEM), pa.field(PROBLEM, pa.string()))
    table = table.cast(schema)
    if isinstance(batch, pa.Table):
        return table
    return (
        table.combine_chunks().to_batches()[0] if table.num_rows else pa.RecordBatch.from_pylist([], schema)
    )
