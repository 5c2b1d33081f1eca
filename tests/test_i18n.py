"""Languages as data, numbers, money and dates by Babel (issue 14, item 5)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml

from engine.backends.logic import Describer
from engine.interfaces.cli import UsageError, build_parser
from engine.language.i18n import (
    LANGUAGES,
    LanguageError,
    format_date,
    format_money,
    format_number,
    format_percent,
    language,
    load_languages,
    roc_parts,
)
from ui.text import TEXT_FILE

ROOT = Path(__file__).resolve().parent.parent


def test_every_language_file_speaks_exactly_the_listed_languages(catalogue):
    for path in (TEXT_FILE, ROOT / "ui" / "staff_text.yaml"):
        for key, texts in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            assert set(texts) == set(LANGUAGES), f"{path.name}: {key}"
    for key, text in catalogue.labels.items():
        assert all(text.get(lang) for lang in LANGUAGES), key


def test_the_command_line_offers_the_listed_languages():
    parser = build_parser()
    for lang in LANGUAGES:
        assert parser.parse_args(["recommend", "profile.json", "--lang", lang]).lang == lang
    with pytest.raises(UsageError, match="invalid choice: 'fr'"):
        parser.parse_args(["recommend", "profile.json", "--lang", "fr"])


def test_money_is_whole_new_taiwan_dollars_rounded_half_up_in_each_language(catalogue):
    assert format_money(5000, "en") == "NT$5,000"
    assert format_money(2.5, "en") == "NT$3"  # rules.md: half up (Babel alone rounds half even)
    assert Describer(catalogue, "zh-TW").money(5000, "TWD/month") == "每月新臺幣 5,000 元"
    assert Describer(catalogue, "zh-TW").money(1234567, "TWD") == "新臺幣 1,234,567 元"
    assert Describer(catalogue, "en").money(5000, "TWD/month") == "NT$5,000 a month"
    assert Describer(catalogue, "en").number(0.125, "percent") == format_percent(0.125, "en") == "12.5%"
    assert format_number(13333.3333, "zh-TW") == "13,333.33"


def test_dates_follow_the_language_and_the_chinese_plan_may_count_roc_years(catalogue):
    day = date(2027, 1, 23)
    assert format_date(day, "en") == "2027-01-23"
    assert Describer(catalogue, "zh-TW").date(day, "roc") == "民國 116 年 1 月 23 日"
    assert Describer(catalogue, "zh-TW").date(date(1912, 1, 1), "roc") == "民國 1 年 1 月 1 日"
    assert Describer(catalogue, "en").date(day, "roc") == "2027-01-23"  # English has no ROC calendar


def test_a_language_not_listed_or_a_broken_list_is_a_clear_error(tmp_path):
    with pytest.raises(LanguageError, match=r"unknown language 'fr'.*zh-TW, en"):
        language("fr")
    broken = tmp_path / "languages.yaml"
    broken.write_text("xx: {locale: not_a_locale, date: yyyy, calendars: [gregorian]}\n", encoding="utf-8")
    with pytest.raises(LanguageError, match=r"xx\.locale: not a Babel locale"):
        load_languages(broken)
    broken.write_text("xx: {locale: en, date: yyyy, calendars: [lunar]}\n", encoding="utf-8")
    with pytest.raises(LanguageError, match=r"xx\.calendars"):
        load_languages(broken)


def test_the_api_offers_the_listed_languages_and_the_plan_in_roc_years(engine):
    from fastapi.testclient import TestClient

    from engine.interfaces.api import create_app

    profile = json.loads((ROOT / "examples" / "newborn.json").read_text(encoding="utf-8"))
    with TestClient(create_app(engine=engine, staff_token="")) as client:
        parameters = client.get("/openapi.json").json()["paths"]["/plan"]["post"]["parameters"]
        lang = next(p for p in parameters if p["name"] == "lang")
        assert tuple(lang["schema"]["enum"]) == LANGUAGES
        page = client.post(
            "/plan", params={"lang": "zh-TW", "format": "html", "calendar": "roc"}, json=profile
        )
        assert page.status_code == 200 and 'value="roc" checked' in page.text
        assert client.post("/plan", params={"calendar": "lunar"}, json=profile).status_code == 422


# The ROC era began on 1912-01-01 (民國元年) and has no year 0: the year before it is
# 民國前 1 年, and profiles go back to 1900, 民國前 12 年.
@pytest.mark.parametrize(
    ("day", "roc"),
    [
        (date(1912, 1, 1), "民國 1 年 1 月 1 日"),
        (date(1911, 12, 31), "民國前 1 年 12 月 31 日"),
        (date(1900, 1, 1), "民國前 12 年 1 月 1 日"),
    ],
    ids=["1912-01-01", "1911-12-31", "1900-01-01"],
)
def test_a_date_before_the_roc_era_counts_its_years_back_from_it(catalogue, day, roc):
    assert Describer(catalogue, "zh-TW").date(day, "roc") == roc


def test_the_english_wording_of_roc_years_names_the_years_before_the_era_alike(catalogue):
    # English offers no ROC calendar (languages.yaml), but its phrases word one alike.
    english = Describer(catalogue, "en")
    assert english.phrase("date.roc", **roc_parts(date(1912, 1, 1), "en")) == "ROC year 1, 1/1"
    assert english.phrase("date.roc.before", **roc_parts(date(1911, 12, 31), "en")) == "Pre-ROC year 1, 12/31"
    assert english.phrase("date.roc.before", **roc_parts(date(1900, 1, 1), "en")) == "Pre-ROC year 12, 1/1"


def test_the_printed_plan_of_a_move_in_1911_has_no_roc_year_0(engine):
    from fastapi.testclient import TestClient

    from engine.interfaces.api import create_app

    with TestClient(create_app(engine=engine, staff_token="")) as client:
        for day, roc in (
            ("1912-01-01", "民國 1 年 1 月 1 日"),
            ("1911-12-31", "民國前 1 年 12 月 31 日"),
            ("1900-01-01", "民國前 12 年 1 月 1 日"),
        ):
            profile = {"as_of": day, "events": {"move": {"date": day, "new_residence": "taipei"}}}
            page = client.post(
                "/plan", params={"lang": "zh-TW", "format": "html", "calendar": "roc"}, json=profile
            )
            assert page.status_code == 200
            assert f'<span class="cal-roc">{roc}</span>' in page.text
            assert "民國 0 年" not in page.text and "民國 -" not in page.text
