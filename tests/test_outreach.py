"""The outreach list: who is listed, for what, in which order, and the printable list.

What is worth a visit and who comes first is data (rules/outreach.yaml); the tests read
the points and values from it rather than copying them."""

from __future__ import annotations

import io
import re
import shutil
from collections import Counter
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest
import yaml
from rule_tree import edit, problems

from engine.interfaces.cli import main
from engine.language.loader import load_catalogue
from engine.language.outreach_policy import outreach_policy
from engine.language.profile import RESIDENCES
from engine.language.residences import mle_areas, residence_name, residences
from engine.services.batch import run_batch
from engine.services.outreach import home_visit_services, run_outreach
from engine.services.outreach_report import report_words
from engine.services.population import generate_population

ROOT = Path(__file__).resolve().parent.parent
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
# A working adult of means: a seal certificate (any adult) is all a visit could bring.
WELL_OFF = {
    "household.size": "3",
    "household.monthly_income": "250000",
    "household.movable_assets": "5000000",
    "household.real_estate_value": "20000000",
    "person.days_in_taiwan_last_year": "365",
    "household.welfare_status": "none",
    "person.birth_date": "1990-06-01",
    "person.disability_level": "none",
    "person.nationality": "roc",
}


def _register(tmp_path, rows: list[dict[str, str]], name: str = "register.csv"):
    columns = sorted({c for r in rows for c in r})
    frame = pl.DataFrame(
        {c: [r.get(c) for r in rows] for c in columns}, schema=dict.fromkeys(columns, pl.String)
    )
    path = tmp_path / name
    frame.write_csv(path)
    return path


def _read(path: Path) -> pl.DataFrame:
    return pl.read_csv(
        path, schema_overrides={c: pl.String for c in ("services", "to_check", "reasons", "id")}
    )


def _split(cell: str | None) -> set[str]:
    return {s for s in (cell or "").split("; ") if s}


def test_listed_when_worth_a_visit_and_not_received(catalogue, tmp_path):
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
    listed = {r["id"]: r for r in _read(target).iter_rows(named=True)}
    for_service = {i for i, r in listed.items() if "low-income-household" in _split(r["services"])}
    # A is poor and alone; B already holds the certified status; C says it receives the
    # service; D earns too much; E is invalid; F qualifies in Hualien.
    assert for_service == {"A", "F"}
    assert "E" not in listed and "D" not in listed
    assert listed["A"]["name"] == "Lin" and listed["A"]["age"] == 85
    policy = outreach_policy(catalogue)
    points = {n.id: n.points for n in policy.needs}
    words = {n.id: n.text.en for n in policy.needs}
    assert "aged 80+ living alone" in listed["A"]["reasons"]
    f_needs = ["disability_severe", "low_income", "remote", "new_immigrant"]
    assert listed["F"]["reasons"] == "; ".join(words[n] for n in f_needs)
    assert listed["F"]["need"] == sum(points[n] for n in f_needs)
    f_value = sum(v.value for s, v in policy.visit_for.items() if s in _split(listed["F"]["services"]))
    assert listed["F"]["value"] == f_value and listed["F"]["priority"] == listed["F"]["need"] + f_value
    # Ordered by residence (Taipei first in the contract's order), then district, then priority.
    order = [r["residence"] for r in listed.values()]
    assert order.index("hualien") > order.index("taipei")
    page = (tmp_path / "visit.html").read_text()
    assert "<h2>Taipei City · Wanhua</h2>" in page and "<h2>Hualien County · Xiulin</h2>" in page
    assert page.count("<h2>") == 1 + len({(r["residence"], r["district"]) for r in listed.values()})


def test_a_seal_certificate_alone_never_puts_anyone_on_the_list(catalogue, tmp_path):
    """Anyone over 18 can get a seal certificate: 827 of 1,000 generated people were listed
    for it alone. A home-visit service outside visit_for comes along on a visit that
    something else justifies, and never justifies one."""
    rows = [
        {"id": "W", "residence": "taipei", "district": "Daan", **WELL_OFF},
        {"id": "A", "residence": "taipei", "district": "Daan", **POOR_ALONE},
    ]
    target = tmp_path / "visit.csv"
    run_outreach(catalogue, _register(tmp_path, rows), target, as_of=AS_OF, err=io.StringIO())
    listed = {r["id"]: r for r in _read(target).iter_rows(named=True)}
    assert set(listed) == {"A"}
    assert {"seal-certificate", "low-income-household"} <= _split(listed["A"]["services"])
    statuses = tmp_path / "s.csv"
    profile = {k: v for k, v in rows[0].items() if k not in ("id", "district")}
    run_batch(catalogue, _register(tmp_path, [profile], "w.csv"), statuses, as_of=AS_OF, err=io.StringIO())
    assert pl.read_csv(statuses)["seal-certificate"].to_list() == ["eligible"]  # W could get one


def test_which_services_justify_a_visit_is_data(tmp_path):
    """The same person is listed once rules/outreach.yaml says a seal certificate is worth a visit."""
    shutil.copy(ROOT / "catalog.yaml", tmp_path / "catalog.yaml")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    edit(
        tmp_path,
        Path("rules/outreach.yaml"),
        "visit_for:\n",
        "visit_for:\n  seal-certificate:\n    value: 1\n    why: {en: a seal, zh-TW: 印鑑}\n",
    )
    edited = load_catalogue(tmp_path)
    rows = [{"id": "W", "residence": "taipei", "district": "Daan", **WELL_OFF}]
    target = tmp_path / "visit.csv"
    run_outreach(edited, _register(tmp_path, rows), target, as_of=AS_OF, err=io.StringIO())
    (row,) = _read(target).iter_rows(named=True)
    assert row["services"] == "seal-certificate" and row["value"] == 1 and row["need"] == 0


def test_the_list_is_exactly_the_people_worth_a_visit_ranked_by_need_and_value(catalogue, tmp_path):
    people = generate_population(3000, seed=4, as_of=AS_OF)
    people.write_parquet(tmp_path / "p.parquet")
    run_batch(catalogue, tmp_path / "p.parquet", tmp_path / "s.parquet", as_of=AS_OF, err=io.StringIO())
    run_outreach(catalogue, tmp_path / "p.parquet", tmp_path / "v.parquet", as_of=AS_OF, err=io.StringIO())
    policy = outreach_policy(catalogue)
    statuses = pl.read_parquet(tmp_path / "s.parquet")
    services = home_visit_services(catalogue)
    welfare = people["household.welfare_status"].to_list()
    open_services = {
        row["row"]: {
            s for s in services if row[s] == "eligible" and welfare[row["row"]] not in policy.certified(s)
        }
        for row in statuses.iter_rows(named=True)
    }
    worth = {r for r, found in open_services.items() if found & set(policy.visit_for)}
    listed = pl.read_parquet(tmp_path / "v.parquet")
    assert set(listed["row"].to_list()) == worth and listed.height == len(worth)
    for row in listed.iter_rows(named=True):
        assert _split(row["services"]) == open_services[row["row"]]
        value = sum(policy.visit_for[s].value for s in open_services[row["row"]] if s in policy.visit_for)
        assert row["value"] == value and row["priority"] == row["need"] + value
    assert listed["need"].max() > 0  # needs are found, not only values
    # Within a residence (the generated people have no district): highest priority first.
    for _, group in listed.group_by("residence", maintain_order=True):
        assert group["priority"].to_list() == sorted(group["priority"].to_list(), reverse=True)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.skip = False

    def handle_starttag(self, tag, attrs):
        self.skip = tag == "style"

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.texts.append(data.strip())


def _page_texts(page: str) -> list[str]:
    parser = _Text()
    parser.feed(page)
    return parser.texts


def test_the_chinese_report_has_no_english_and_the_english_no_chinese(catalogue, tmp_path):
    rows = [
        {"id": "1", "name": "林", "residence": "taipei", "district": "萬華區", **POOR_ALONE},
        {"id": "2", "residence": "hualien", **POOR_ALONE, "person.disability_level": "severe"},
    ]
    source = _register(tmp_path, rows)
    assert main(["outreach", str(source), "-o", str(tmp_path / "zh.html"), "--lang", "zh-TW",
                 "--as-of", "2026-03-01"]) == 0  # fmt: skip
    zh = (tmp_path / "zh.html").read_text(encoding="utf-8")
    english = [t for t in _page_texts(zh) if re.search(r"[A-Za-z]", t)]
    assert english == []
    assert '<th scope="col">優先分數</th>' in zh and '<html lang="zh-TW">' in zh
    assert "<h2>臺北市 · 萬華區</h2>" in zh and "80 歲以上獨居" in zh
    rows[0] |= {"name": "Lin", "district": "Wanhua"}
    source = _register(tmp_path, rows, "en.csv")
    assert main(["outreach", str(source), "-o", str(tmp_path / "en.html"), "--lang", "en",
                 "--as-of", "2026-03-01"]) == 0  # fmt: skip
    en = (tmp_path / "en.html").read_text(encoding="utf-8")
    chinese = [t for t in _page_texts(en) if re.search(r"[\u3400-\u9fff]", t)]
    assert chinese == []
    assert '<th scope="col">Priority</th>' in en and "district not given" in en


def _chart(page: str, caption: str) -> dict[str, int]:
    table = page.split(f"<caption>{caption}</caption>", 1)[1].split("</table>", 1)[0]
    return {
        label: int(n.replace(",", ""))
        for label, n in re.findall(r'<th scope="row">([^<]*)</th><td class="n">([\d,]+)</td>', table)
    }


def test_the_charts_show_the_counts_the_list_has(catalogue, tmp_path):
    people = generate_population(1500, seed=11, as_of=AS_OF)
    people.write_parquet(tmp_path / "p.parquet")
    run_outreach(
        catalogue, tmp_path / "p.parquet", tmp_path / "v.csv", html=tmp_path / "v.html",
        as_of=AS_OF, err=io.StringIO(), lang="zh-TW",
    )  # fmt: skip
    listed = _read(tmp_path / "v.csv")
    page = (tmp_path / "v.html").read_text(encoding="utf-8")
    names = {s: catalogue.services[s].name.zh_TW for s in home_visit_services(catalogue)}
    by_service = Counter(names[s] for cell in listed["services"].to_list() for s in _split(cell))
    assert _chart(page, "依服務之人數") == dict(by_service)
    by_residence = Counter(residence_name(r, "zh-TW") for r in listed["residence"].to_list())
    assert _chart(page, "依縣市之人數") == dict(by_residence)
    words = report_words("zh-TW")
    by_age = Counter(words.age_group(a) for a in listed["age"].to_list())
    assert _chart(page, "依年齡層之人數") == dict(by_age)
    assert sum(by_age.values()) == listed.height
    # Each chart is a table whose numbers are text: the bars themselves are hidden from
    # screen readers, which read the label and the number.
    assert page.count('<td class="bar" aria-hidden="true">') == len(by_service) + len(by_residence) + len(
        by_age
    )


def test_an_empty_list_has_charts_that_say_so(catalogue, tmp_path):
    rows = [{"id": "W", "residence": "taipei", **WELL_OFF}]
    run_outreach(
        catalogue, _register(tmp_path, rows), tmp_path / "v.html", as_of=AS_OF, err=io.StringIO(), lang="en"
    )
    page = (tmp_path / "v.html").read_text(encoding="utf-8")
    assert page.count("No one listed.") == 3 and "0.000000" not in page and "No one to visit." in page


# -- the data: rules/outreach.yaml and rules/residences.yaml --------------------------------


def test_a_broken_outreach_policy_is_reported_by_file_and_line(tmp_path):
    shutil.copy(ROOT / "catalog.yaml", tmp_path / "catalog.yaml")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    policy = Path("rules/outreach.yaml")
    text = (tmp_path / policy).read_text(encoding="utf-8").splitlines()
    edit(tmp_path, policy, "  elderly-living-allowance:\n", "  elderly-living-alowance:\n")
    edit(
        tmp_path, policy, "{fact: person.nationality, eq: foreign}", "{fact: person.nationalty, eq: foreign}"
    )
    edit(tmp_path, policy, "    points: 4\n", "    points: four\n")
    found = problems(tmp_path)

    def line(fragment: str) -> int:
        return next(i for i, t in enumerate(text, 1) if fragment in t)

    assert (
        f"rules/outreach.yaml:{line('  elderly-living-allowance:')}: visit_for: 'elderly-living-alowance' "
        "is not a service of the catalogue"
    ) in found
    assert any(
        p.startswith(
            f"rules/outreach.yaml:{line('person.nationality, eq: foreign')}: unknown fact 'person.nationalty'"
        )
        for p in found
    )
    assert any(p.startswith(f"rules/outreach.yaml:{line('points: 4')}: needs[0].points:") for p in found)


def test_residences_have_names_in_both_languages_and_an_area_every_area_parameter_knows(catalogue):
    data = residences()
    assert list(data.by_id) == list(RESIDENCES)
    for rid in RESIDENCES:
        assert residence_name(rid, "zh-TW") and residence_name(rid, "en")
        assert residence_name(rid, "zh-TW") != residence_name(rid, "en")
    areas = set(mle_areas().values())
    assert areas == set(data.mle_areas)
    indexed = [p for p in catalogue.parameters.values() if p.index == "household.mle_area"]
    assert indexed  # the minimum living expense and the limits read by area
    for parameter in indexed:  # no area the file does not know (a parameter may leave one out)
        for value in parameter.values:
            assert set(value.value) <= areas, (parameter.name, value.effective_from)
    for value in catalogue.parameters["minimum_living_expense"].values:  # every area has one
        assert set(value.value) == areas, value.effective_from


def test_a_broken_residences_file_is_reported_by_file_and_line(tmp_path):
    shutil.copy(ROOT / "catalog.yaml", tmp_path / "catalog.yaml")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    path = Path("rules/residences.yaml")
    number = next(
        i
        for i, t in enumerate((tmp_path / path).read_text(encoding="utf-8").splitlines(), 1)
        if "  yilan:" in t
    )
    edit(tmp_path, path, "mle_area: taiwan_province}\n  hualien", "mle_area: taiwan}\n  hualien")
    assert any(
        p.startswith(f"rules/residences.yaml:{number}: residences.yilan.mle_area: 'taiwan'")
        for p in problems(tmp_path)
    )


def test_a_residence_written_twice_is_refused_not_silently_the_last(tmp_path):
    """The residences file is read as every rule file is: a duplicated key is an error
    naming its line, not a name quietly replaced by the second spelling."""
    shutil.copy(ROOT / "catalog.yaml", tmp_path / "catalog.yaml")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    path = tmp_path / "rules" / "residences.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(i for i, t in enumerate(lines) if t.startswith("  yilan:"))
    path.write_text("\n".join([*lines[: at + 1], lines[at], *lines[at + 1 :]]) + "\n", encoding="utf-8")
    found = [p for p in problems(tmp_path) if p.startswith("rules/residences.yaml:")]
    assert any(f":{at + 2}:" in p and "duplicate key 'yilan'" in p for p in found), found


def test_every_user_of_the_residences_reads_the_one_file():
    """The outreach list's headings, the facts' MLE area and the questionnaire's choices
    come from rules/residences.yaml: no other file spells a residence's name."""
    from engine.language import facts
    from ui.text import load_text

    assert dict(facts.MLE_AREA) == mle_areas()
    assert facts.mle_area("kinmen") == "fujian" and facts.mle_area("taipei") == "taipei"
    ui = load_text()
    assert not [r for r in RESIDENCES if f"value.{r}" in ui]
    data = yaml.safe_load((ROOT / "rules" / "residences.yaml").read_text(encoding="utf-8"))
    for rid, entry in data["residences"].items():
        assert residence_name(rid, "zh-TW") == entry["name"]["zh-TW"]
    outreach_source = (ROOT / "engine" / "services" / "outreach.py").read_text(encoding="utf-8")
    assert "臺北市" not in outreach_source and "PRIORITY" not in outreach_source


def test_a_report_word_missing_a_language_is_named(tmp_path):
    from engine.services.outreach_report import WORDS_FILE, ReportTextError

    broken = tmp_path / "outreach-report.yaml"
    text = WORDS_FILE.read_text(encoding="utf-8")
    broken.write_text(text.replace("title: {en: Home-visit outreach list, ", "title: {"), encoding="utf-8")
    with pytest.raises(
        ReportTextError, match=r"outreach-report.yaml: words.title: needs exactly the languages"
    ):
        report_words("en", broken)
