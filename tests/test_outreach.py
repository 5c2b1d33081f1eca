"""The outreach list: who is listed, for what, in which order, and the printable list."""

from __future__ import annotations

import io
from datetime import date

import polars as pl

from engine.batch import run_batch
from engine.outreach import CERTIFIED_BY_STATUS, home_visit_services, run_outreach
from engine.population import generate_population

AS_OF = date(2026, 3, 1)
POOR_ALONE = {
    "household.size": "1",
    "household.monthly_income": "8000",
    "household.movable_assets": "0",
    "household.real_estate_value": "0",
    "person.days_in_taiwan_last_year": "365",
    "household.welfare_status": "none",
    "person.birth_date": "1940-05-01",
}


def _register(tmp_path, rows: list[dict[str, str]]):
    columns = sorted({c for r in rows for c in r})
    frame = pl.DataFrame(
        {c: [r.get(c) for r in rows] for c in columns}, schema=dict.fromkeys(columns, pl.String)
    )
    path = tmp_path / "register.csv"
    frame.write_csv(path)
    return path


def test_listed_when_likely_eligible_and_not_received(catalogue, tmp_path):
    rows = [
        {"id": "A", "name": "Lin", "residence": "taipei", "district": "Wanhua", **POOR_ALONE},
        {
            "id": "B",
            "residence": "taipei",
            "district": "Wanhua",
            **POOR_ALONE,
            "household.welfare_status": "low",
        },
        {
            "id": "C",
            "residence": "taipei",
            "district": "Daan",
            **POOR_ALONE,
            "receives": "low-income-household",
        },
        {
            "id": "D",
            "residence": "taipei",
            "district": "Daan",
            **POOR_ALONE,
            "household.monthly_income": "900000",
        },
        {"id": "E", "residence": "taipei", "district": "Daan", **POOR_ALONE, "household.size": "zero"},
        {
            "id": "F",
            "residence": "hualien",
            "district": "Xiulin",
            **POOR_ALONE,
            "person.birth_date": "1980-01-01",
            "household.size": "2",
            "household.monthly_income": "16000",
            "person.disability_level": "severe",
            "person.nationality": "foreign",
        },
    ]
    err = io.StringIO()
    target = tmp_path / "visit.csv"
    summary = run_outreach(
        catalogue, _register(tmp_path, rows), target, html=tmp_path / "visit.html", as_of=AS_OF, err=err
    )
    assert summary.rows == 6 and summary.invalid == 1
    assert err.getvalue().startswith("row 4: household.size:")
    out = pl.read_csv(target, schema_overrides={"services": pl.String, "to_check": pl.String})
    listed = {r["id"]: r for r in out.iter_rows(named=True)}
    for_service = {
        i for i, r in listed.items() if "low-income-household" in (r["services"] or "").split("; ")
    }
    # A is poor and alone; B already holds the certified status; C says it receives the
    # service; D earns too much; E is invalid; F qualifies in Hualien.
    assert for_service == {"A", "F"}
    assert "E" not in listed
    assert listed["A"]["name"] == "Lin" and listed["A"]["age"] == 85
    assert "aged 80+ living alone" in listed["A"]["reasons"] and listed["A"]["priority"] >= 4
    assert listed["F"]["reasons"] == "severe or profound disability; remote county; new immigrant"
    assert listed["F"]["priority"] == 5
    # Ordered by residence (Taipei first in the contract's order), then district, then urgency.
    assert out["residence"].to_list().index("hualien") > out["residence"].to_list().index("taipei")
    page = (tmp_path / "visit.html").read_text()
    assert "<h2>臺北市 Taipei · Wanhua</h2>" in page and "<h2>花蓮縣 Hualien · Xiulin</h2>" in page
    assert page.count("<section>") == len({(r["residence"], r["district"]) for r in listed.values()})


def test_the_list_is_exactly_the_eligible_home_visit_services_not_received(catalogue, tmp_path):
    people = generate_population(3000, seed=4, as_of=AS_OF)
    people.write_parquet(tmp_path / "p.parquet")
    run_batch(catalogue, tmp_path / "p.parquet", tmp_path / "s.parquet", as_of=AS_OF, err=io.StringIO())
    run_outreach(catalogue, tmp_path / "p.parquet", tmp_path / "v.parquet", as_of=AS_OF, err=io.StringIO())
    statuses = pl.read_parquet(tmp_path / "s.parquet")
    services = home_visit_services(catalogue)
    certified = {s: status for status, ids in CERTIFIED_BY_STATUS.items() for s in ids}
    welfare = people["household.welfare_status"].to_list()
    expected = {
        (row["row"], s)
        for row in statuses.iter_rows(named=True)
        for s in services
        if row[s] == "eligible" and certified.get(s) != welfare[row["row"]]
    }
    listed = pl.read_parquet(tmp_path / "v.parquet")
    got = {(r, s) for r, text in listed.select("row", "services").iter_rows() for s in text.split("; ") if s}
    assert got == expected
    assert listed.height == len({r for r, _ in expected})
