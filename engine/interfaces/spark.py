"""Screening a Spark DataFrame: the column-wise evaluator on each executor, by ``mapInArrow``.

``screen(df)`` returns a DataFrame with the columns of ``lifeevents batch``'s output (one
per service, ``partner:SERVICE`` when the input has partner columns) and the ``keep``
columns, row for row: every Arrow batch Spark hands to an executor goes through
:func:`engine.services.screening.screen_arrow`, the path a chunk of ``lifeevents batch`` takes.

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

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from engine.language.catalog import Catalogue
from engine.services.columns import check_header
from engine.services.screening import dotted_name, evaluator_for, output_columns, screen_arrow

ROWS_PER_SCREEN = 100_000

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession


def screen(
    df: DataFrame,
    catalogue: Catalogue,
    *,
    as_of: date | None = None,
    today: date | None = None,
    keep: Sequence[str] = (),
    separator: str = ".",
    problem: bool = False,
    rows_per_screen: int = ROWS_PER_SCREEN,
) -> DataFrame:
    """The statuses of every row of ``df``; see :func:`engine.services.screening.screen_frame` for
    ``as_of``, ``keep``, ``separator`` and ``problem``. ``today`` (a row without
    ``as_of`` is read on it) is fixed here, on the driver, so that every executor reads
    the same day. A column the profile does not know is refused here, before any job.

    Spark hands over batches of 10,000 rows (``spark.sql.execution.arrow.
    maxRecordsPerBatch``); each executor gathers them up to ``rows_per_screen`` rows
    before screening, since a screen costs a fixed part per batch (10,000-row batches
    took twice the CPU of 100,000-row ones here) and memory grows with the rows held
    (about 450 MiB per Python worker at 100,000: docs/scale.md)."""
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
        catalogue,
        columns,
        schema.names,
        as_of,
        today or date.today(),
        keep,
        separator,
        problem,
        rows_per_screen,
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
        rows_per_screen: int,
    ):
        self.catalogue, self.columns, self.output = catalogue, columns, output
        self.as_of, self.today, self.keep = as_of, today, keep
        self.separator, self.problem, self.rows_per_screen = separator, problem, rows_per_screen

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for table in _gathered(batches, self.rows_per_screen):
            named = table.rename_columns(self.columns)
            found = screen_arrow(
                named,
                self.catalogue,
                as_of=self.as_of,
                today=self.today,
                keep=self.keep,
                separator=self.separator,
                problem=self.problem,
            )
            yield from found.rename_columns(self.output).combine_chunks().to_batches()


def _gathered(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """The batches in tables of at least ``rows`` rows (the last one fewer), in order."""
    import pyarrow as pa

    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        held.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(held)
            held, count = [], 0
    if held:
        yield pa.Table.from_batches(held)


ROW = "row"


def scenario_verdicts(session: SparkSession) -> Callable[..., dict[str, Any]]:
    """A verdict runner for ``engine.services.impact.impact_scenarios`` on Spark: the population
    goes to Spark once, and one ``mapInArrow`` pass evaluates every catalogue (the
    current rules and each scenario) on each batch; the verdicts come back in row order."""

    def run(frame: Any, jobs: Mapping[str, tuple[Catalogue, list[str]]]) -> dict[str, Any]:
        import polars as pl
        from pyspark.sql import types as T

        wanted = {
            name: [s for s in services if s in catalogue.services]
            for name, (catalogue, services) in jobs.items()
        }
        outputs = [(name, sid) for name, services in wanted.items() for sid in services]
        indexed = frame.with_row_index(ROW).with_columns(pl.col(ROW).cast(pl.Int64))
        columns = indexed.columns
        df = session.createDataFrame(indexed.to_arrow()).toDF(*(f"in{i}" for i in range(len(columns))))
        schema = T.StructType(
            [T.StructField(ROW, T.LongType(), True)]
            + [T.StructField(f"out{i}", T.BooleanType(), True) for i in range(len(outputs))]
        )
        catalogues = {name: jobs[name][0] for name in jobs}
        evaluate = _ScenarioVerdicts(catalogues, wanted, columns, schema.names)
        found = pl.from_arrow(df.mapInArrow(evaluate, schema).toArrow())
        assert isinstance(found, pl.DataFrame)
        found = found.sort(ROW)
        out: dict[str, Any] = {}
        for name, services in wanted.items():
            picked = [f"out{outputs.index((name, sid))}" for sid in services]
            out[name] = found.select([pl.col(c).alias(s) for c, s in zip(picked, services, strict=True)])
        return out

    return run


class _ScenarioVerdicts:
    """Each batch's verdicts under every catalogue (see :func:`scenario_verdicts`)."""

    def __init__(
        self,
        catalogues: dict[str, Catalogue],
        wanted: dict[str, list[str]],
        columns: list[str],
        output: list[str],
    ):
        self.catalogues, self.wanted, self.columns, self.output = catalogues, wanted, columns, output

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import polars as pl

        from engine.services.columns import child_width

        for table in _gathered(batches, ROWS_PER_SCREEN):
            frame = pl.from_arrow(table.rename_columns(self.columns))
            assert isinstance(frame, pl.DataFrame)
            width = child_width(frame.columns)
            parts = [frame.select(ROW)]
            for name, catalogue in self.catalogues.items():
                services = tuple(self.wanted[name])
                if services:  # the same service under two catalogues: named by position
                    found = evaluator_for(catalogue).verdicts(frame, width, services)
                    first = sum(p.width for p in parts)
                    parts.append(found.rename(dict(zip(found.columns, self.output[first:], strict=False))))
            found = pl.concat(parts, how="horizontal")
            table = found.to_arrow().rename_columns(self.output).cast(_schema_of(self.output))
            yield from table.combine_chunks().to_batches()


def _schema_of(names: list[str]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([pa.field(names[0], pa.int64())] + [pa.field(n, pa.bool_()) for n in names[1:]])
