"""The downloaded plan on a phone (issue 13, item 9), in Debian's Chromium: the page a
citizen saves from the app fits a 390 px screen without scrolling sideways, no date
breaks across lines, and the Chinese plan words money as 每月新臺幣 5,000 元.

The plan is a static page, so the test loads its HTML straight into the browser; no app
runs. Screenshots go to test-output/ (gitignored).
"""

from __future__ import annotations

import re

import pytest
from test_ui_browser import CHROMIUM_ARGS, OUT, PHONE, chromium_path, sync_api

from engine.language.profile import validate_profile
from engine.services.plan import build_plan, render_plan_html

# A mother after a birth whose partner has just lost his job: many steps, long names,
# a step that unlocks a monthly benefit, deadlines and both one-off and monthly amounts.
FAMILY = {
    "as_of": "2026-03-01",
    "residence": "taichung",
    "person": {
        "sex": "female",
        "labor_insurance_days": 300,
        "insured_salary": 30000,
        "employment": "employed",
        "months_in_current_job": 24,
        "residence_registered_since": "2020-01-01",
    },
    "partner": {"sex": "male", "employment": "unemployed", "employment_insurance_months": 36},
    "children": [{"birth_date": "2026-02-01", "order": 1, "childcare": "home"}],
    "events": {"birth": {"date": "2026-02-01", "kind": "live"}, "job_loss": {"date": "2026-02-15"}},
}

# Where the page is wider than the screen, and which dates take more than one line.
MEASURE = """() => ({
  overflow: document.documentElement.scrollWidth - window.innerWidth,
  wrapped: [...document.querySelectorAll('time')]
    .filter(t => t.getClientRects().length > 1).map(t => t.textContent),
  dates: document.querySelectorAll('time').length,
})"""


@pytest.fixture(scope="module")
def phone():
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium at CHROMIUM_PATH or /usr/bin/chromium (see ci-apt.txt)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE, device_scale_factor=1)
        yield context.new_page()
        browser.close()


def plan_page(engine, catalogue, lang: str, calendar: str | None = None) -> str:
    rec = engine.recommend(validate_profile(FAMILY), lang=lang)
    return render_plan_html(build_plan(rec, catalogue, lang), catalogue, calendar)


@pytest.mark.parametrize(("lang", "calendar"), [("zh-TW", None), ("zh-TW", "roc"), ("en", None)])
def test_the_plan_fits_a_phone_and_no_date_breaks(phone, engine, catalogue, lang, calendar):
    phone.set_content(plan_page(engine, catalogue, lang, calendar))
    found = phone.evaluate(MEASURE)
    name = f"plan-phone-{lang}{'-' + calendar if calendar else ''}.png"
    OUT.mkdir(exist_ok=True)
    phone.screenshot(path=str(OUT / name), full_page=True)
    assert found["dates"] > 3, "the plan shows its deadlines"
    assert found["overflow"] <= 0, f"the plan is {found['overflow']} px wider than a 390 px phone ({name})"
    assert not found["wrapped"], f"dates broken across lines: {found['wrapped']} ({name})"


def test_the_chinese_plan_words_money_and_roc_dates_as_taiwan_does(phone, engine, catalogue):
    phone.set_content(plan_page(engine, catalogue, "zh-TW"))
    text = phone.inner_text("body")
    assert re.search(r"每月新臺幣 \d{1,3}(,\d{3})+ 元", text), text
    assert re.search(r"(?<!每月)新臺幣 \d{1,3}(,\d{3})+ 元", text), text
    assert "TWD" not in text and "NT$" not in text
    # Gregorian by default; the switch in the page shows ROC years instead (民國 115 年 =
    # 2026), with no app and no script: the saved page keeps the choice for printing.
    assert "評估日期：2026-03-01" in text and "民國 115 年" not in text
    phone.get_by_label("民國紀年").check()
    text = phone.inner_text("body")
    assert "評估日期：民國 115 年 3 月 1 日" in text and "2026-03-01" not in text
    phone.screenshot(path=str(OUT / "plan-phone-zh-TW-roc-switched.png"), full_page=False)
