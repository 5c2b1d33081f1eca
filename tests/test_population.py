"""The synthetic population: reproducible, valid, shaped like Taiwan, and read by the
batch evaluator exactly as the engine reads the same people as profiles."""

from __future__ import annotations

import io
from datetime import date

import polars as pl
import pytest

from engine.language.profile import Profile
from engine.services.batch import run_batch
from engine.services.columns import check_header, normalise, unflatten_row
from engine.services.population import RESIDENCE_POPULATION, csv_ready, generate_population

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
    chunk = normalise(people, 0, AS_OF)
    assert chunk.partner
    statuses = evaluator_for_population.statuses(chunk, families=False)
    families = evaluator_for_population.statuses(chunk)
    rows = zip(
        people.iter_rows(named=True),
        statuses.iter_rows(named=True),
        families.iter_rows(named=True),
        strict=True,
    )
    for k, (row, got, family) in enumerate(rows):
        profile = Profile.model_validate(unflatten_row(row))
        assert got == engine.statuses(profile, AS_OF)
        if k % 3 == 0:  # the families, as Engine.recommend gives them (two views: slower)
            rec = engine.recommend(profile, AS_OF)
            want = {r.service: r.status for r in rec.results}
            want |= {f"partner:{r.service}": r.status for r in rec.partner_results}
            assert {c: v for c, v in family.items() if v is not None} == want


def test_partners_are_plausible_and_drawn_last(people):
    listed = people["partner.listed"]
    married_adults = (people["person.marital_status"] == "married") & (
        people["person.birth_date"] <= date(2008, 3, 1)
    )
    assert listed.filter(married_adults).all()  # every married adult's spouse
    couples = people.filter(pl.col("partner.listed"))
    share = couples.select(
        opposite=(pl.col("partner.sex") != pl.col("person.sex")).mean(),
        gap=(pl.col("partner.birth_date") - pl.col("person.birth_date")).dt.total_days().abs().median() / 365,
        working=pl.col("partner.employment").is_in(["employed", "self_employed"]).mean(),
    ).row(0, named=True)
    assert 0.97 <= share["opposite"] < 1 and 1 <= share["gap"] <= 5 and 0.3 <= share["working"] <= 0.8
    single_parents = people.filter(pl.col("partner.listed") == False)  # noqa: E712
    assert single_parents.height and (single_parents["children.count"] > 0).all()
    assert single_parents.select(pl.col("^partner\\..*$").exclude("partner.listed").is_null().all()).row(
        0
    ) == ((True,) * 17)
    # a birth's couple is a woman and a man
    births = couples.filter(pl.col("events.birth.listed"))
    assert (births["partner.sex"] != births["person.sex"]).all()
    without = generate_population(3000, seed=1, partners=False)
    assert not any(c.startswith("partner.") for c in without.columns)
    assert generate_population(3000, seed=1).select(without.columns).equals(without)


@pytest.fixture(scope="module")
def evaluator_for_population(catalogue):
    from engine.services.batch import BatchEvaluator

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
