"""Screening beyond one file: the Arrow entry point, ``batch --shard``, Spark and Dask,
each against ``lifeevents batch`` on the same rows (docs/scale.md).

The people are the synthetic population with partners (engine/services/population.py), a few made
invalid or unknown on purpose, so that every path meets families, invalid rows and
unknown facts. Spark runs in local mode in one session for the whole module.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from engine.interfaces.cli import main
from engine.services.columns import FileError
from engine.services.population import csv_ready, generate_population
from engine.services.screening import PROBLEM, safe_name, screen_arrow, screen_frame

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 3, 1)
PEOPLE = 2000
INVALID_ROWS = (5, 1234, 1999)


@pytest.fixture(scope="module")
def people() -> pl.DataFrame:
    """Generated people with partners; three invalid rows (a household of 0) and some
    unknown facts (no birth date, no as_of: read on TODAY)."""
    frame = generate_population(PEOPLE, seed=15)
    size = frame["household.size"].scatter(list(INVALID_ROWS), 0)
    birth = frame["person.birth_date"].scatter([7, 8, 9], None)
    as_of = frame["as_of"].scatter([10, 11], None)
    return frame.with_columns(size, birth, as_of)


def _batch(tmp_path: Path, source: Path, *args: str) -> tuple[pl.DataFrame, str]:
    target = tmp_path / f"out-{len(list(tmp_path.iterdir()))}.parquet"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["--rules", str(ROOT), "batch", str(source), "-o", str(target), *args])
    assert code == 0, err.getvalue()
    return pl.read_parquet(target), err.getvalue()


@pytest.fixture(scope="module")
def whole_run(people, tmp_path_factory) -> pl.DataFrame:
    """``lifeevents batch`` over the people as Parquet: row, then the statuses as text."""
    folder = tmp_path_factory.mktemp("whole")
    source = folder / "people.parquet"
    people.write_parquet(source)
    out, _ = _batch(folder, source, "--as-of", "2026-03-01")
    return out.with_columns(pl.exclude("row").cast(pl.String))


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.exclude("row", "id").cast(pl.String))


# --- the Arrow entry point --------------------------------------------------------------


def test_an_arrow_batch_is_screened_as_lifeevents_batch_screens_the_file(catalogue, people, whole_run):
    batch = people.to_arrow().combine_chunks().to_batches()[0]
    found = screen_arrow(batch, catalogue, as_of=TODAY)
    assert isinstance(found, pa.RecordBatch)
    assert found.schema.names == whole_run.columns[1:]  # partner:SERVICE columns included
    assert pl.from_arrow(found).equals(whole_run.drop("row"))
    statuses = set(pl.from_arrow(found).unpivot()["value"].drop_nulls())
    assert statuses == {"eligible", "ineligible", "unknown", "invalid"}


def test_text_cells_and_safe_names_give_the_same_statuses(catalogue, people, whole_run):
    """A frame read from CSV (every cell text) whose columns say ``person__birth_date``,
    as a warehouse table must, is the same people."""
    text = pl.read_csv(io.BytesIO(csv_ready(people).write_csv().encode()), infer_schema=False)
    renamed = text.rename({c: safe_name(c) for c in text.columns})
    found = screen_frame(renamed, catalogue, as_of=TODAY, separator="__")
    assert _as_text(found.statuses).equals(whole_run.drop("row"))
    assert [row for row, _ in found.problems] == list(INVALID_ROWS)


def test_kept_columns_travel_through_and_problems_sit_on_their_rows(catalogue, people):
    frame = people.head(20).with_columns(pl.Series("id", [f"p{i}" for i in range(20)]))
    found = screen_frame(frame, catalogue, keep=("id",), problem=True, row_offset=100, today=TODAY)
    assert found.statuses["id"].to_list() == frame["id"].to_list()
    problems = found.statuses[PROBLEM]
    assert problems.is_not_null().arg_true().to_list() == [5]
    assert problems[5].startswith("household.size: must be a whole number")
    assert found.problems[0][0] == 105 and found.problems[0][1].startswith("row 105: household.size")
    assert found.statuses.row(5, named=True)["birth-registration"] == "invalid"


def test_a_column_the_profile_does_not_know_is_refused_by_name(catalogue, people):
    with pytest.raises(
        FileError, match=r"unknown column 'person\.birth_dat'; did you mean 'person\.birth_date'"
    ):
        screen_frame(people.head(3).rename({"person.birth_date": "person.birth_dat"}), catalogue)
    with pytest.raises(FileError, match="no column 'id' to keep"):
        screen_frame(people.head(3), catalogue, keep=("id",))


def test_a_row_without_as_of_is_read_on_the_day_given(catalogue, people):
    """Rows 10 and 11 have no as_of: with ``today`` they are read on it, as a file run
    reads them on the day it runs."""
    rows = people.slice(9, 3)
    dated = rows.with_columns(pl.col("as_of").fill_null(TODAY))
    assert screen_frame(rows, catalogue, today=TODAY).statuses.equals(screen_frame(dated, catalogue).statuses)


# --- batch --shard ------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_shards_one_after_another_are_the_whole_run(people, tmp_path, suffix):
    source = tmp_path / f"people{suffix}"
    if suffix == ".csv":
        csv_ready(people).write_csv(source)
    else:
        people.write_parquet(source)
    whole, whole_err = _batch(tmp_path, source, "--as-of", "2026-03-01", "--chunk-rows", "700")
    parts = []
    messages = []
    for i in (1, 2, 3):
        part, err = _batch(
            tmp_path, source, "--as-of", "2026-03-01", "--chunk-rows", "700", "--shard", f"{i}/3"
        )
        assert 0 < part.height < whole.height
        parts.append(part)
        messages += [line for line in err.splitlines() if line.startswith("row ")]
    assert pl.concat(parts).equals(whole)
    assert messages == [line for line in whole_err.splitlines() if line.startswith("row ")]
    assert [m.split(":")[0] for m in messages] == [f"row {r}" for r in INVALID_ROWS]


def test_jsonl_shards_skip_other_lines_and_number_rows_in_the_file(tmp_path):
    lines = [json.dumps({"person": {"sex": "female"}, "household": {"size": n % 4 + 1}}) for n in range(7)]
    lines[3] = "{not json"  # rows 2 and 3 are the second of three parts
    source = tmp_path / "people.jsonl"
    source.write_text("\n".join(lines) + "\n")
    whole, _ = _batch(tmp_path, source)
    parts = [_batch(tmp_path, source, "--shard", f"{i}/3") for i in (1, 2, 3)]
    assert [p.height for p, _ in parts] == [2, 2, 3]
    assert pl.concat([p for p, _ in parts]).equals(whole)
    assert "row 3: " in parts[1][1] and "row 3: " not in parts[0][1] + parts[2][1]


def test_more_shards_than_rows_gives_empty_parts_with_the_header(people, tmp_path):
    source = tmp_path / "two.parquet"
    people.head(2).write_parquet(source)
    whole, _ = _batch(tmp_path, source)
    parts = [_batch(tmp_path, source, "--shard", f"{i}/5")[0] for i in range(1, 6)]
    assert [p.height for p in parts] == [0, 0, 1, 0, 1]
    assert all(p.columns == whole.columns for p in parts)
    assert pl.concat(parts).equals(whole)


@pytest.mark.parametrize("shard", ["0/3", "4/3", "1/0", "a/3", "1-3", "-1/3"])
def test_a_bad_shard_is_a_usage_error(tmp_path, shard, capsys):
    source = tmp_path / "in.csv"
    source.write_text("person.sex\nfemale\n")
    code = main(
        ["--rules", str(ROOT), "batch", str(source), "-o", str(tmp_path / "o.csv"), f"--shard={shard}"]
    )
    assert code == 2
    assert "--shard: a part I/N with 1 ≤ I ≤ N" in capsys.readouterr().err


# --- Spark and Dask ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def people_with_ids(people, tmp_path_factory) -> Path:
    """The same people with an id column (which a file run would refuse) for the engines
    that do not keep row order: their output is sorted back by it."""
    path = tmp_path_factory.mktemp("ids") / "people.parquet"
    people.with_row_index("id").write_parquet(path, row_group_size=500)
    return path


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    # The executors' Python must be this one (the package and its dependencies): a
    # notebook's kernel is, the default python3 on PATH may not be.
    previous = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("lifeevents-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "1g")
        # Small splits, so that the file is several partitions without a shuffle.
        .config("spark.sql.files.maxPartitionBytes", 64 * 1024)
        # Small Arrow batches, so that an executor gathers several before it screens.
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", 300)
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    if previous is None:
        os.environ.pop("PYSPARK_PYTHON", None)
    else:
        os.environ["PYSPARK_PYTHON"] = previous


# pyspark 4.3 warns that it does not fully support pandas 3; its Arrow path does not use pandas.
SPARK_PANDAS = "ignore:PySpark does not yet fully support pandas:FutureWarning"


@pytest.mark.filterwarnings(SPARK_PANDAS)
def test_spark_screens_a_dataframe_as_lifeevents_batch_does(spark, catalogue, people_with_ids, whole_run):
    from engine.interfaces.spark import screen

    df = spark.read.parquet(str(people_with_ids))
    assert df.rdd.getNumPartitions() > 1
    assert any("." in c for c in df.columns)  # the names Spark alone cannot resolve
    found = screen(df, catalogue, as_of=TODAY, keep=("id",), rows_per_screen=700)
    got = pl.from_arrow(found.toArrow()).sort("id")
    assert got.columns == ["id", *whole_run.columns[1:]]
    assert got.drop("id").equals(whole_run.drop("row"))
    assert got["id"].to_list() == list(range(PEOPLE))


@pytest.mark.filterwarnings(SPARK_PANDAS)
def test_spark_reads_safe_names_and_reports_problems_on_their_rows(spark, catalogue, people):
    from engine.interfaces.spark import screen

    rows = people.head(8).with_columns(pl.col("household.size").cast(pl.Int32))
    renamed = rows.rename({c: safe_name(c) for c in rows.columns})
    df = spark.createDataFrame(renamed.to_arrow())
    found = pl.from_arrow(screen(df, catalogue, separator="__", problem=True, today=TODAY).toArrow())
    expected = screen_frame(rows, catalogue, problem=True, today=TODAY).statuses
    assert found.equals(_as_text(expected))
    assert found[PROBLEM].is_not_null().arg_true().to_list() == [5]


def test_executors_gather_arrow_batches_in_order_before_screening():
    from engine.interfaces.spark import _gathered

    batches = [pa.record_batch({"x": list(range(i * 300, (i + 1) * 300))}) for i in range(5)]
    tables = list(_gathered(iter(batches), 700))
    assert [t.num_rows for t in tables] == [900, 600]  # 300-row batches up to at least 700
    assert pa.concat_tables(tables)["x"].to_pylist() == list(range(1500))
    assert list(_gathered(iter([]), 700)) == []


def test_spark_refuses_an_unknown_column_before_any_job(spark, catalogue, people):
    from engine.interfaces.spark import screen

    df = spark.createDataFrame(
        people.head(2).select("person.sex").rename({"person.sex": "person.sexe"}).to_arrow()
    )
    with pytest.raises(FileError, match=r"unknown column 'person\.sexe'"):
        screen(df, catalogue)


# dask 2026.8's Parquet reader calls reset_index(inplace=True), which pandas 3.1 deprecates.
@pytest.mark.filterwarnings("ignore:The inplace keyword:pandas.errors.Pandas4Warning")
def test_dask_screens_a_dataframe_as_lifeevents_batch_does(catalogue, people_with_ids, whole_run):
    dd = pytest.importorskip("dask.dataframe")
    from engine.interfaces.dask import screen

    ddf = dd.read_parquet(str(people_with_ids), dtype_backend="pyarrow").repartition(npartitions=3)
    found = screen(ddf, catalogue, as_of=TODAY, keep=("id",)).compute(scheduler="threads")
    assert list(found.columns) == ["id", *whole_run.columns[1:]]
    got = pl.from_pandas(found.astype({c: "object" for c in found.columns if c != "id"})).sort("id")
    assert _as_text(got.drop("id")).equals(whole_run.drop("row"))


# --- scenarios in one pass ------------------------------------------------------------------


def _scenario(tmp_path: Path, name: str, taipei: int) -> Path:
    """A copy of the rules with Taipei's minimum living expense at ``taipei``."""
    import shutil

    root = tmp_path / name
    root.mkdir()
    shutil.copy(ROOT / "catalog.yaml", root / "catalog.yaml")
    shutil.copytree(ROOT / "rules", root / "rules")
    rel = root / "rules/parameters/minimum_living_expense.yaml"
    text = rel.read_text(encoding="utf-8")
    assert "taipei: 20744" in text
    rel.write_text(text.replace("taipei: 20744", f"taipei: {taipei}"), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("scenarios")
    return {"raise": _scenario(folder, "raise", 30000), "cut": _scenario(folder, "cut", 15000)}


def _comparable(report) -> tuple:
    return (report.people, report.services, report.by_residence, report.by_age, report.as_of)


def test_scenarios_in_one_pass_are_each_what_their_own_diff_says(catalogue, scenarios):
    from engine.language.loader import load_catalogue
    from engine.services.impact import impact, impact_scenarios, population

    people = population(1500, seed=3)
    loaded = {name: load_catalogue(root) for name, root in scenarios.items()}
    together = impact_scenarios(catalogue, loaded, people)
    assert list(together) == ["raise", "cut"]
    for name, new in loaded.items():
        assert _comparable(together[name]) == _comparable(impact(catalogue, new, people))
    raised = {s.service: s for s in together["raise"].services}["low-income-household"]
    cut = {s.service: s for s in together["cut"].services}["low-income-household"]
    assert raised.gained > 0 and raised.lost == 0 and cut.lost > 0 and cut.gained == 0


def test_the_diff_command_weighs_several_scenarios(catalogue, scenarios, capsys):
    from engine.language.loader import load_catalogue
    from engine.services.impact import effective_date, impact_scenarios, population, scenario_totals

    args = ["diff", str(ROOT), str(scenarios["raise"]), str(scenarios["cut"]), "--population", "300"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"== {scenarios['raise']}" in out and f"== {scenarios['cut']}" in out
    summary = out[out.index("2 scenarios on the same 300 synthetic people") :]
    printed = {line.split()[0]: line.split()[1:4] for line in summary.splitlines()[3:]}
    loaded = {str(root): load_catalogue(root) for root in scenarios.values()}
    as_of = max(effective_date(catalogue, new, date.today()) for new in loaded.values())
    reports = impact_scenarios(catalogue, loaded, population(300, 0, as_of))
    expected = {}
    for name, report in reports.items():
        totals = scenario_totals(report)
        expected[name] = [f"{totals['services']}", f"{totals['gained']:,}", f"{totals['lost']:,}"]
    assert printed == expected
    assert sum(int(v[1]) for v in expected.values()) > 0  # the scenarios do change something
    assert main(["diff", str(ROOT), str(scenarios["cut"]), str(scenarios["cut"])]) == 2


@pytest.mark.filterwarnings(SPARK_PANDAS)
def test_scenarios_on_spark_are_the_scenarios_on_one_machine(spark, catalogue, scenarios):
    from engine.interfaces.spark import scenario_verdicts
    from engine.language.loader import load_catalogue
    from engine.services.impact import impact_scenarios, population

    people = population(1500, seed=3)
    loaded = {name: load_catalogue(root) for name, root in scenarios.items()}
    local = impact_scenarios(catalogue, loaded, people)
    on_spark = impact_scenarios(catalogue, loaded, people, verdicts=scenario_verdicts(spark))
    assert {n: _comparable(r) for n, r in on_spark.items()} == {n: _comparable(r) for n, r in local.items()}
