"""The synthetic population: reproducible, valid, shaped like Taiwan, and read by the
batch evaluator exactly as the engine reads the same people as profiles."""

from __future__ import annotations

import io
from datetime import date

import polars as pl
import pytest

from engine.batch import run_batch
from engine.columns import check_header, normalise, unflatten_row
from engine.population import RESIDENCE_POPULATION, csv_ready, generate_population
from engine.profile import Profile

AS_OF = date(2026, 3, 1)


@pytest.fixture(scope="module")
def people() -> pl.DataFrame:
    return generate_population(60_000, seed=5, as_of=AS_OF)


def test_the_same_seed_gives_the_same_people():
    assert generate_population(3000, seed=1).equals(generate_population(3000, seed=1))
    assert not generate_population(3000, seed=1).equals(generate_population(3000, seed=2))


def test_every_column_is_a_profile_column_and_every_row_is_valid(people):
    check_header(people.columns, "population")
    chunk = normalise(people, 0, AS_OF)
    assert chunk.problems == []


def test_marginals_are_taiwans(people):
    n = people.height
    share = people.select(
        disabled=(pl.col("person.disability_level") != "none").mean(),
        indigenous=pl.col("person.indigenous").mean(),
        foreign=(pl.col("person.nationality") == "foreign").mean(),
        aged=(pl.col("person.birth_date") <= date(1961, 3, 1)).mean(),
        children=(pl.col("person.birth_date") > date(2011, 3, 1)).mean(),
        low=(pl.col("household.welfare_status") == "low").mean(),
        middle_low=(pl.col("household.welfare_status") == "middle_low").mean(),
        moved=pl.col("events.move.listed").mean(),
        lost_job=pl.col("events.job_loss.listed").mean(),
        mothers=(
            pl.col("events.birth.listed")
            & (pl.col("person.sex") == "female")
            & (pl.col("events.birth.date") <= AS_OF)
        ).mean(),
    ).row(0, named=True)
    assert 0.045 <= share["disabled"] <= 0.06  # ≈ 5.2% (MOHW)
    assert 0.020 <= share["indigenous"] <= 0.031  # ≈ 2.5–2.6% (CIP)
    assert 0.015 <= share["foreign"] <= 0.035
    assert 0.18 <= share["aged"] <= 0.24  # ≈ 20% aged 65+
    assert 0.09 <= share["children"] <= 0.14  # ≈ 11.5% aged 0–14
    assert abs(share["low"] - 0.012) < 0.002 and abs(share["middle_low"] - 0.013) < 0.002
    assert 0.06 <= share["moved"] <= 0.08
    assert 0.01 <= share["lost_job"] <= 0.03
    assert 0.003 <= share["mothers"] <= 0.0065  # ≈ 4.6 births per 1,000
    by_city = people.group_by("residence").len().with_columns(pl.col("len") / n)
    expected = {r: v / sum(RESIDENCE_POPULATION.values()) for r, v in RESIDENCE_POPULATION.items()}
    for residence, got in by_city.iter_rows():
        assert abs(got - expected[residence]) < 0.006, residence


def test_the_batch_reads_generated_people_as_the_engine_reads_them(engine, evaluator_for_population):
    people = generate_population(400, seed=9, as_of=AS_OF)
    statuses = evaluator_for_population.statuses(normalise(people, 0, AS_OF))
    for row, got in zip(people.iter_rows(named=True), statuses.iter_rows(named=True), strict=True):
        profile = Profile.model_validate(unflatten_row(row))
        assert got == engine.statuses(profile, AS_OF)


@pytest.fixture(scope="module")
def evaluator_for_population(catalogue):
    from engine.batch import BatchEvaluator

    return BatchEvaluator(catalogue)


def test_csv_and_parquet_of_the_population_give_the_same_statuses(catalogue, tmp_path):
    people = generate_population(2000, seed=3, as_of=AS_OF)
    people.write_parquet(tmp_path / "p.parquet")
    csv_ready(people).write_csv(tmp_path / "p.csv")
    for fmt in ("parquet", "csv"):
        run_batch(
            catalogue, tmp_path / f"p.{fmt}", tmp_path / f"s-{fmt}.parquet", chunk_rows=700, err=io.StringIO()
        )
    assert pl.read_parquet(tmp_path / "s-parquet.parquet").equals(pl.read_parquet(tmp_path / "s-csv.parquet"))
