"""Issue 13, items 12, 13 and 16: the impact preview at the change's own date, apps that
pick up a saved rules version without a restart, and a staff area in its own language."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_staff import CITIZEN_APP, PARAM, REGISTRATION_60, _open, credentials, login, staff_app, texts, tree  # noqa: F401

from engine.interfaces.cli import main
from engine.language.loader import load_catalogue
from engine.services.impact import ImpactReport, ServiceImpact, effective_date, impact, population
from ui.staff_impact import cost_chart, group_chart, service_chart
from ui.staff_runtime import STAFF_TEXT
from ui.text import Words, load_text

AGE_LIMIT = "rules/parameters/childcare/allowance_max_age.yaml"
ALWAYS_2 = "  1900-01-01: {value: 2,"
FROM_2030 = "2030-01-01: {value: 6}"
N = "2000"


@pytest.fixture
def raised_later(tree, tmp_path) -> Path:  # noqa: F811
    """A copy of the rules where the childcare allowance's age limit rises on 1 January 2030."""
    new_root = tmp_path / "edited"
    shutil.copytree(tree, new_root)
    path = new_root / AGE_LIMIT
    text = path.read_text(encoding="utf-8")
    assert ALWAYS_2 in text
    path.write_text(text.replace(ALWAYS_2, f"  {FROM_2030}\n{ALWAYS_2}"), encoding="utf-8")
    return new_root


# -- item 12: the date of the change ------------------------------------------------------------


def test_the_effective_date_is_the_new_values_date_and_never_before_today(tree, raised_later):  # noqa: F811
    old, new = load_catalogue(tree), load_catalogue(raised_later)
    assert effective_date(old, new, date(2026, 12, 4)) == date(2030, 1, 1)
    assert effective_date(old, new, date(2031, 5, 1)) == date(2031, 5, 1)
    assert effective_date(old, old, date(2026, 12, 4)) == date(2026, 12, 4)


def test_a_change_effective_next_year_is_seen_at_its_date(tree, raised_later):  # noqa: F811
    old, new = load_catalogue(tree), load_catalogue(raised_later)
    before = impact(old, new, population(2000, seed=1, as_of=date(2026, 3, 1)))
    at_date = impact(old, new, population(2000, seed=1, as_of=date(2030, 1, 1)))
    assert before.as_of == date(2026, 3, 1) and at_date.as_of == date(2030, 1, 1)
    gained = {s.service: s.gained for s in at_date.services}
    assert gained["childcare-allowance"] > 0
    assert {s.service: s.gained for s in before.services}["childcare-allowance"] == 0


def test_the_diff_command_evaluates_at_the_changes_date_and_says_so(tree, raised_later, capsys):  # noqa: F811
    assert main(["diff", str(tree), str(raised_later), "--population", N]) == 0
    out = capsys.readouterr().out
    assert "as of 2030-01-01" in out
    line = next(x for x in out.splitlines() if x.startswith("childcare-allowance"))
    assert int(line.split()[3].replace(",", "")) > 0  # gained
    assert main(["diff", str(tree), str(raised_later), "--population", N, "--as-of", "2026-03-01"]) == 0
    out = capsys.readouterr().out
    assert "as of 2026-03-01" in out
    line = next(x for x in out.splitlines() if x.startswith("childcare-allowance"))
    assert int(line.split()[3].replace(",", "")) == 0


def test_the_preview_runs_at_the_date_of_the_new_value_and_shows_it(tree, credentials):  # noqa: F811
    at = _open(login(staff_app()), PARAM)
    at.radio(key="staff:form:mode").set_value("add").run()
    at.date_input(key="staff:form:date").set_value(date(2030, 1, 1))
    at.text_input(key="staff:form:value").input("90")
    at.button(key="staff:form:apply").click().run()
    at.button(key="staff:check").click().run()
    day = next(d for d in at.date_input if str(d.key).startswith("staff:impact:as_of"))
    assert day.value == date(2030, 1, 1)
    at.number_input(key="staff:impact:n").set_value(300).run()
    at.button(key="staff:impact:run").click().run()
    assert not at.exception
    assert at.session_state["staff:impact"].as_of == date(2030, 1, 1)
    assert "2030-01-01" in texts(at)


# -- item 13: a saved version reaches the running citizen app --------------------------------


def _version_caption(at: AppTest) -> str:
    return next(c.value for c in at.sidebar.caption if "規則版本" in c.value or "rules version" in c.value)


def test_the_citizen_app_picks_up_a_saved_version_without_a_restart(tree, monkeypatch):  # noqa: F811
    import ui.runtime
    from engine.services.versions import RuleStore

    builds: list[str] = []
    real = ui.runtime.build_engine

    def counting(root=None):
        builds.append(str(root))
        return real(root)

    monkeypatch.setattr(ui.runtime, "build_engine", counting)
    monkeypatch.setattr(ui.runtime, "RECHECK_SECONDS", 0.0)  # check the tree on every run here
    at = AppTest.from_file(CITIZEN_APP, default_timeout=120).run()
    assert not at.exception
    before = load_catalogue(tree).version
    assert before in _version_caption(at)
    at.run()
    assert len(builds) == 1  # an unchanged tree is never rebuilt on a rerun

    store = RuleStore(tree, history=tree.parent / "history", cases=tree / "tests" / "cases")
    text = store.read(PARAM)
    store.save(
        PARAM,
        text.replace("1900-01-01: {value: 60}", "1900-01-01: {value: 60}\n  2031-01-01: {value: 90}"),
        store.base_version(),
        "policy.lin",
        "a later deadline",
    )
    after = load_catalogue(tree).version
    assert after != before
    at.run()
    assert not at.exception
    assert after in _version_caption(at) and len(builds) == 2
    at.switch_page("app_pages/counter.py").run()
    assert after in _version_caption(at)


def test_a_tree_that_does_not_load_keeps_the_last_good_engine(tree, monkeypatch):  # noqa: F811
    import ui.runtime

    monkeypatch.setattr(ui.runtime, "RECHECK_SECONDS", 0.0)
    monkeypatch.setenv("LIFEEVENTS_ROOT", str(tree))
    good = ui.runtime.get_engine()
    (tree / PARAM).write_text("values: [not, a, mapping\n", encoding="utf-8")
    assert ui.runtime.get_engine() is good


# -- item 16: the staff area in its own language, the file's own formatting ---------------------

ZH_NO_CHANGE = "沒有變化。"


def test_the_form_changes_one_line_and_keeps_the_comments(tree, credentials):  # noqa: F811
    original = (tree / PARAM).read_text(encoding="utf-8")
    at = _open(login(staff_app()), PARAM)
    at.radio(key="staff:form:mode").set_value("add").run()
    at.date_input(key="staff:form:date").set_value(date(2030, 1, 1))
    at.text_input(key="staff:form:value").input("90")
    at.button(key="staff:form:apply").click().run()  # the date and value go with the click
    new = at.text_area(key="staff:text").value
    assert new == original.replace(REGISTRATION_60, REGISTRATION_60 + "\n  2030-01-01: {value: 90}")
    assert "已套用到下方編輯區" in texts(at)
    # a correction rewrites that one entry only
    at.radio(key="staff:form:mode").set_value("correct").run()
    at.selectbox(key="staff:form:existing").select("1900-01-01")
    at.text_input(key="staff:form:value").input("45")
    at.button(key="staff:form:apply").click().run()
    assert at.text_area(key="staff:text").value == new.replace("{value: 60}", "{value: 45}")


def test_the_forms_inputs_travel_with_the_click(tree, credentials):  # noqa: F811
    at = _open(login(staff_app()), PARAM)
    assert at.text_input(key="staff:form:value").form_id  # no rerun of its own to race the click
    assert at.date_input(key="staff:form:date").form_id


def test_the_form_explains_a_bad_value_in_chinese(tree, credentials):  # noqa: F811
    at = _open(login(staff_app()), PARAM)
    at.text_input(key="staff:form:value").input("ninety")
    at.button(key="staff:form:apply").click().run()
    assert any("請輸入數字" in e.value for e in at.error)


def test_the_chinese_preview_has_no_english_and_no_empty_chart(tree, credentials):  # noqa: F811
    at = _open(login(staff_app()), PARAM)
    at.text_area(key="staff:text").input(
        (tree / PARAM)
        .read_text(encoding="utf-8")
        .replace(REGISTRATION_60, REGISTRATION_60 + "\n  2030-01-01: {value: 90}")
    ).run()
    at.button(key="staff:check").click().run()
    at.number_input(key="staff:impact:n").set_value(300).run()
    at.button(key="staff:impact:run").click().run()
    assert not at.exception
    shown = texts(at)
    assert "screened column-wise" not in shown and "amounts are not column-wise" not in shown
    assert "batch evaluator" not in shown and "整欄批次" in shown
    table = at.dataframe[0].value
    assert list(table.columns)[:2] == ["服務代碼", "名稱"] and "gained" not in table.columns
    assert ZH_NO_CHANGE in shown  # nobody gains or loses: words, not an axis of 0.000000
    assert at.selectbox(key="staff:edit:pick").placeholder == "請選擇…"


def test_history_times_are_taipei_time(tree, credentials):  # noqa: F811
    from ui.staff_runtime import local_time

    assert local_time("2026-12-04T18:30:00+00:00") == "2026-12-05 02:30"
    at = _open(login(staff_app()), PARAM)
    store_text = (tree / PARAM).read_text(encoding="utf-8")
    from engine.services.versions import RuleStore

    store = RuleStore(tree, history=tree.parent / "history", cases=tree / "tests" / "cases")
    store.save(
        PARAM,
        store_text.replace(REGISTRATION_60, REGISTRATION_60 + "\n  2031-01-01: {value: 90}"),
        store.base_version(),
        "policy.lin",
        "later",
    )
    at.switch_page("staff_pages/versions.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    when = table["時間（臺北）"].iloc[0]
    assert "T" not in when and "+00:00" not in when
    assert when == local_time(store.history()[-1].when)


# -- item 14: a threshold and the cases that pin it, checked together ---------------------------


def _fix_deadlines(body: str) -> str:
    """The cases' expectations for a 30-day registration period instead of 60."""
    return "\n".join(
        line.replace("deadline: 2026-04-02", "deadline: 2026-03-03")
        if ("birth-registration:" in line or "newborn-health-insurance:" in line)
        else line
        for line in body.split("\n")
    )


def test_a_threshold_and_its_cases_are_checked_together(tree, credentials):  # noqa: F811
    live_cases = {p: p.read_text(encoding="utf-8") for p in (tree / "tests" / "cases").rglob("*.yaml")}
    at = _open(login(staff_app()), PARAM)
    case_keys = [t.key for t in at.text_area if str(t.key).startswith("staff:case:")]
    assert "staff:case:birth/birth-grant-top-up.yaml" in case_keys
    assert "staff:case:birth/newborn-health-insurance.yaml" in case_keys

    original = (tree / PARAM).read_text(encoding="utf-8")
    at.text_area(key="staff:text").input(original.replace("{value: 60}", "{value: 30}")).run()
    at.button(key="staff:check").click().run()
    failures = [e.value for e in at.error if "未通過的測試案例" in e.value]
    assert failures, [e.value for e in at.error]
    assert str(tree) not in failures[0] and "/tmp" not in failures[0]
    assert "tests/cases/birth/birth-grant-top-up.yaml" in failures[0]

    for key in case_keys:
        area = at.text_area(key=key)
        area.input(_fix_deadlines(area.value))
    at.run()
    at.button(key="staff:check").click().run()
    assert not at.exception
    assert any("檢查通過" in s.value for s in at.success), [e.value for e in at.error]
    # nothing live was touched by the check
    assert {
        p: p.read_text(encoding="utf-8") for p in (tree / "tests" / "cases").rglob("*.yaml")
    } == live_cases


def test_a_broken_case_file_is_named_by_its_relative_path(tree):  # noqa: F811
    from engine.services.versions import RuleStore

    store = RuleStore(tree, history=tree.parent / "history", cases=tree / "tests" / "cases")
    text = store.read(PARAM).replace(REGISTRATION_60, REGISTRATION_60 + "\n  2031-01-01: {value: 90}")
    proposal = store.propose(PARAM, text, cases={"birth/birth-grant-top-up.yaml": "- [not: a case\n"})
    assert proposal.failed_cases and all(
        str(tree) not in m and "/tmp" not in m for m in proposal.failed_cases
    )
    assert proposal.failed_cases[0].startswith("tests/cases/birth/birth-grant-top-up.yaml")


def test_browse_tables_have_chinese_headers(tree, credentials):  # noqa: F811
    at = login(staff_app())
    assert not at.exception
    headers = [list(df.value.columns) for df in at.dataframe]
    assert ["服務代碼", "名稱", "管轄", "法源依據", "檔案"] in headers
    assert all("service" not in h and "effective_from" not in h for h in headers)


# -- issue 15 item 5: the preview's charts, in the interface language ---------------------------


def _report() -> ImpactReport:
    return ImpactReport(
        people=1000,
        method="batch",
        affected=["childcare-allowance", "birth-registration"],
        services=[
            ServiceImpact("childcare-allowance", "x", 40, 52, 14, 2, "TWD/month", 84000),
            ServiceImpact("birth-registration", "x", 5, 5, 0, 0),
        ],
        by_residence=[
            {"service": "childcare-allowance", "residence": "kinmen", "gained": 3, "lost": 0},
            {"service": "childcare-allowance", "residence": "taipei", "gained": 11, "lost": 2},
        ],
        by_age=[
            {"service": "childcare-allowance", "age_band": "30-44", "gained": 14, "lost": 2},
            {"service": "childcare-allowance", "age_band": "unknown", "gained": 0, "lost": 0},
        ],
    )


def _bars(chart: str) -> dict[str, list[int]]:
    rows = re.findall(r'<th scope="row">([^<]*)</th>((?:<td class="n">[\d,-]+</td>)+)', chart)
    return {
        label: [int(n.replace(",", "")) for n in re.findall(r">([\d,-]+)<", cells)] for label, cells in rows
    }


def test_the_preview_charts_show_the_reports_counts_in_chinese(catalogue):
    w = Words(catalogue, "zh-TW", load_text(STAFF_TEXT))
    report = _report()
    by_service = service_chart(report, w)
    assert by_service is not None
    assert _bars(by_service) == {"育有未滿二歲兒童育兒津貼": [14, 2], "出生登記": [0, 0]}
    assert "<caption>依服務：新增與喪失資格人數</caption>" in by_service and "新增資格" in by_service
    by_place = group_chart(report, w, "childcare-allowance", "residence")
    assert by_place is not None and _bars(by_place) == {"金門縣": [3, 0], "臺北市": [11, 2]}
    by_age = group_chart(report, w, "childcare-allowance", "age_band")
    assert by_age is not None and _bars(by_age) == {"30-44": [14, 2], "不詳": [0, 0]}
    cost = cost_chart(report, w)
    assert cost is not None and _bars(cost) == {"育有未滿二歲兒童育兒津貼": [84000]}
    for chart in (by_service, by_place, by_age, cost):
        shown = re.sub(r"<style>.*?</style>|<[^>]+>", " ", chart)
        assert not re.search(r"[A-Za-z]{3,}", shown), shown
        assert "0.000000" not in chart and 'aria-hidden="true"' in chart


def test_a_chart_with_nothing_to_show_is_no_chart(catalogue):
    w = Words(catalogue, "en", load_text(STAFF_TEXT))
    report = _report()
    assert group_chart(report, w, "birth-registration", "residence") is None
    report.services = [ServiceImpact("birth-registration", "x", 5, 5, 0, 0)]
    assert service_chart(report, w) is None and cost_chart(report, w) is None


# -- issue 15 item 3: several scenarios in the preview ------------------------------------------


def test_the_versions_page_compares_several_scenarios_in_one_pass(tree, credentials):  # noqa: F811
    """Two saved versions (a longer and a shorter registration period), each against the
    version before both, on the same people: one line each, in the interface language,
    and each the same as its own two-version preview."""
    from engine.services.versions import RuleStore

    store = RuleStore(tree, history=tree.parent / "history", cases=tree / "tests" / "cases")
    original = (tree / PARAM).read_text(encoding="utf-8")
    base = store.current_version()
    for days, reason in (("90", "longer"), ("30", "shorter")):
        store.save(
            PARAM,
            original.replace(REGISTRATION_60, REGISTRATION_60 + f"\n  2031-01-01: {{value: {days}}}"),
            store.base_version(),
            "policy.lin",
            reason,
        )
    ids = [v.id for v in store.history()]
    assert len(ids) == 3 and store.current_version() != base

    at = login(staff_app())
    at.switch_page("staff_pages/versions.py").run()
    assert not at.exception
    at.selectbox(key="staff:scen:base").set_value(ids[0]).run()
    at.multiselect(key="staff:scen:which").set_value(ids[1:]).run()
    at.number_input(key="staff:scen:n").set_value(int(N)).run()
    at.button(key="staff:scen:run").click().run()
    assert not at.exception, at.exception
    tables = [d.value for d in at.dataframe if "方案" in d.value.columns]
    assert len(tables) == 1
    table = tables[0]
    assert list(table["方案"]) == [f"版本 {ids[1]}", f"版本 {ids[2]}"]
    assert {"新增資格", "喪失資格", "受影響服務數"} <= set(table.columns)

    # Each line is what a preview of that version alone says.
    old = load_catalogue(store.snapshot_path(ids[0]))
    trees = [load_catalogue(store.snapshot_path(i)) for i in ids[1:]]
    day = max(effective_date(old, new, date.today()) for new in trees)
    people = population(int(N), 0, day)
    for row, new in zip(table.itertuples(index=False), trees, strict=True):
        alone = impact(old, new, people)
        assert row[1] == len(alone.services)
        assert row[2] == sum(s.gained for s in alone.services)
        assert row[3] == sum(s.lost for s in alone.services)
