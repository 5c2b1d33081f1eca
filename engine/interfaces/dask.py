"""Screening a Dask DataFrame: the column-wise evaluator on each partition.

``screen(ddf)`` maps every partition (a pandas frame) through
:func:`engine.services.screening.screen_frame`, the path a chunk of ``lifeevents batch`` takes,
and returns a Dask DataFrame with the ``keep`` columns, then one column per service
(``partner:SERVICE`` too when the input has partner columns), as categoricals of the
four statuses, on the partition's own index.

Dates must reach the screen as dates: read Parquet with ``dtype_backend="pyarrow"``
(or hold ``datetime.date`` objects). A pandas ``datetime64`` column is a timestamp,
which a file run would refuse too (its text is not ``YYYY-MM-DD``): its rows come out
``invalid``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from engine.language.catalog import Catalogue
from engine.services.batch import STATUSES
from engine.services.columns import check_header
from engine.services.screening import PROBLEM, dotted_name, output_columns, screen_frame

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd


def status_dtype() -> Any:
    import pandas as pd

    return pd.CategoricalDtype(list(STATUSES))


def screen(
    ddf: dd.DataFrame,
    catalogue: Catalogue,
    *,
    as_of: date | None = None,
    today: date | None = None,
    keep: Sequence[str] = (),
    separator: str = ".",
    problem: bool = False,
) -> dd.DataFrame:
    """The statuses of every row of ``ddf``; the options are those of
    :func:`engine.services.screening.screen_frame`. A column the profile does not know is
    refused here, before any partition is computed."""
    import pandas as pd

    keep = tuple(keep)
    profile_columns = [
        dotted_name(c, separator) if separator != "." else c for c in ddf.columns if c not in keep
    ]
    check_header(profile_columns, "the DataFrame")
    names = output_columns(catalogue, profile_columns, keep, problem)
    meta = pd.DataFrame(
        {
            name: ddf._meta[name]
            if name in keep
            else pd.Series([], dtype=pd.StringDtype() if name == PROBLEM and problem else status_dtype())
            for name in names
        }
    )
    return ddf.map_partitions(
        screen_partition,
        catalogue,
        as_of=as_of,
        today=today or date.today(),
        keep=keep,
        separator=separator,
        problem=problem,
        meta=meta,
    )


def screen_partition(
    part: pd.DataFrame,
    catalogue: Catalogue,
    *,
    as_of: date | None,
    today: date,
    keep: tuple[str, ...],
    separator: str,
    problem: bool,
) -> pd.DataFrame:
    """One partition screened, on its own index."""
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    profile = part.drop(columns=list(keep))
    frame = pl.from_arrow(pa.Table.from_pandas(profile, preserve_index=False))
    assert isinstance(frame, pl.DataFrame)
    found = screen_frame(frame, catalogue, as_of=as_of, today=today, separator=separator, problem=problem)
    columns: dict[str, Any] = {k: part[k] for k in keep}
    dtype = status_dtype()
    for name in found.statuses.columns:
        series = found.statuses[name]
        if name == PROBLEM:
            columns[name] = pd.Series(series.to_list(), index=part.index, dtype=pd.StringDtype())
            continue
        codes = series.to_physical().fill_null(-1).cast(pl.Int8).to_numpy()
        columns[name] = pd.Series(pd.Categorical.from_codes(codes, dtype=dtype), index=part.index)
    return pd.DataFrame(columns, index=part.index)
