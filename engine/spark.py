"""Screening a Spark DataFrame: the column-wise evaluator on each executor, by ``mapInArrow``.

``screen(df)`` returns a DataFrame with the columns of ``lifeevents batch``'s output (one
per service, ``partner:SERVICE`` when the input has partner columns) and the ``keep``
columns, row for row: every Arrow batch Spark hands to an executor goes through
:func:`engine.screening.screen_arrow`, the path a chunk of ``lifeevents batch`` takes.

Spark resolves ``person.birth_date`` as the field ``birth_date`` of a struct ``person``
and fails with ``UNRESOLVED_COLUMN``, which ``mapInArrow`` itself runs into: the columns
are renamed by position before Spark sees them and named back inside each batch, so the
DataFrame may keep the dotted names of docs/batch.md (or use ``person__birth_date``,
with ``separator="__"``, as a warehouse table must). The catalogue travels with the
function (about 0.5 MB, pickled): executors need the package and its Python
dependencies (``pip install 'lifeevents[spark]'``), not the rules folder, and every
executor screens with the rules version the driver loaded.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import TYPE_CHECKING

from engine.catalog import Catalogue
from engine.columns import check_header
from engine.screening import dotted_name, output_columns, screen_arrow

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame


def screen(
    df: DataFrame,
    catalogue: Catalogue,
    *,
    as_of: date | None = None,
    today: date | None = None,
    keep: Sequence[str] = (),
    separator: str = ".",
    problem: bool = False,
) -> DataFrame:
    """The statuses of every row of ``df``; see :func:`engine.screening.screen_frame` for
    ``as_of``, ``keep``, ``separator`` and ``problem``. ``today`` (a row without
    ``as_of`` is read on it) is fixed here, on the driver, so that every executor reads
    the same day. A column the profile does not know is refused here, before any job."""
    from pyspark.sql import types as T

    columns = list(df.columns)
    keep = tuple(keep)
    profile_columns = [dotted_name(c, separator) if separator != "." else c for c in columns if c not in keep]
    check_header(profile_columns, "the DataFrame")
    names = output_columns(catalogue, profile_columns, keep, problem)
    kept = {f.name: f.dataType for f in df.schema.fields if f.name in keep}
    schema = T.StructType(
        [T.StructField(f"out{i}", kept.get(n, T.StringType()), True) for i, n in enumerate(names)]
    )
    by_position = [f"in{i}" for i in range(len(columns))]
    screen_batches = _BatchScreen(
        catalogue, columns, schema.names, as_of, today or date.today(), keep, separator, problem
    )
    return df.toDF(*by_position).mapInArrow(screen_batches, schema).toDF(*names)


class _BatchScreen:
    """The function each executor runs over its Arrow batches (a class, so that what it
    carries is plain data that pickles: the catalogue, the names, the day)."""

    def __init__(
        self,
        catalogue: Catalogue,
        columns: list[str],
        output: list[str],
        as_of: date | None,
        today: date,
        keep: tuple[str, ...],
        separator: str,
        problem: bool,
    ):
        self.catalogue, self.columns, self.output = catalogue, columns, output
        self.as_of, self.today, self.keep = as_of, today, keep
        self.separator, self.problem = separator, problem

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            named = batch.rename_columns(self.columns)
            found = screen_arrow(
                named,
                self.catalogue,
                as_of=self.as_of,
                today=self.today,
                keep=self.keep,
                separator=self.separator,
                problem=self.problem,
            )
            yield found.rename_columns(self.output)
