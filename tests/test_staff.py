"""The staff area: credentials, the edit → check → preview → save → diff → restore flow,
and the wall between it and the citizens' app. Every test edits a temporary copy of the
rules (LIFEEVENTS_ROOT / LIFEEVENTS_HISTORY / LIFEEVENTS_CASES), never the real ones."""

from __future__ import annotations

import ast
import io
import shutil
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from engine.interfaces.cli import main
from engine.language.loader import load_catalogue
from engine.services import staffauth
from engine.services.impact import impact, population, render_impact
from engine.services.staffauth import NoCredentials, check_login, credential_line, load_credentials
from engine.services.versions import RuleStore
from ui.staff_runtime import STAFF_TEXT, parameter_users
from ui.text import LANGS, load_text

ROOT = Path(__file__).resolve().parent.parent
STAFF_APP = str(ROOT / "ui" / "staff_app.py")
CITIZEN_APP = str(ROOT / "ui" / "app.py")
PARAM = "rules/parameters/household_registration/birth_registration_days.yaml"
REGISTRATION_60 = "1900-01-01: {value: 60}"  # its line in PARAM
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch) -> None:
    """Hashes at N=2^11 (a few ms) instead of the production 2^17 (~0.5 s, 128 MiB): the
    production cost is tested once, in test_staff_hardening.py. A clean throttle too."""
    from ui.staff_runtime import throttle

    monkeypatch.setattr(staffauth, "COST", staffauth.ScryptCost(2**11))
    throttle.clear()


@pytest.fixture
def tree(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "rules-copy"
    root.mkdir()
    shutil.copy(ROOT / "catalog.yaml", root / "catalog.yaml")
    shutil.copytree(ROOT / "rules", root / "rules")
    shutil.copytree(ROOT / "tests" / "cases", root / "tests" / "cases")
    monkeypatch.setenv("LIFEEVENTS_ROOT", str(root))
    monkeypatch.setenv("LIFEEVENTS_HISTORY", str(tmp_path / "history"))
    monkeypatch.setenv("LIFEEVENTS_CASES", str(root / "tests" / "cases"))
    monkeypatch.delenv("LIFEEVENTS_STAFF_CREDENTIALS", raising=False)
    return root


@pytest.fixture
def credentials(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "staff-credentials"
    path.write_text(credential_line("policy.lin", PASSWORD) + "\n")
    monkeypatch.setenv("LIFEEVENTS_STAFF_CREDENTIALS", str(path))
    return path


def staff_app() -> AppTest:
    return AppTest.from_file(STAFF_APP, default_timeout=120).run()


def login(at: AppTest, user: str = "policy.lin", password: str = PASSWORD) -> AppTest:
    at.text_input(key="staff:username").input(user)
    at.text_input(key="staff:password").input(password)
    at.button[0].click()
    return at.run()


def texts(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "success", "error", "warning", "info")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


def editor_shown(at: AppTest) -> bool:
    return any(t.key == "staff:text" for t in at.text_area) or any(
        b.key in ("staff:check", "staff:save") for b in at.button
    )


# -- credentials ---------------------------------------------------------------------------


def test_a_credential_line_verifies_only_its_own_password(tmp_path):
    line = credential_line("policy.lin", PASSWORD)
    user, stored = line.split(":", 1)
    assert user == "policy.lin" and stored.startswith("scrypt$") and PASSWORD not in line
    path = tmp_path / "creds"
    path.write_text(line + "\n# a comment\n")
    creds = load_credentials(path)
    assert check_login("policy.lin", PASSWORD, creds)
    assert not check_login("policy.lin", PASSWORD + "!", creds)
    assert not check_login("someone.else", PASSWORD, creds)
    with pytest.raises(NoCredentials):
        load_credentials(tmp_path / "missing")


def test_staff_passwd_reads_the_password_from_stdin(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["staff-passwd", "policy.lin"]) == 0
    line = capsys.readouterr().out.strip()
    (tmp_path / "c").write_text(line)
    assert check_login("policy.lin", PASSWORD, load_credentials(tmp_path / "c"))


def test_without_a_credential_the_staff_area_is_disabled(tree):
    at = staff_app()
    assert not at.exception
    assert "staff area disabled" in texts(at).lower() or "已停用" in texts(at)
    assert not editor_shown(at) and not at.text_input


def test_a_wrong_password_shows_only_the_login_form(tree, credentials):
    at = login(staff_app(), password="guess")
    assert not at.exception
    assert "staff_user" not in at.session_state
    assert not editor_shown(at)
    at.switch_page("staff_pages/edit.py").run()
    assert not editor_shown(at) and "staff_user" not in at.session_state


# -- the citizens cannot reach the staff area ------------------------------------------------


def test_the_citizen_app_neither_imports_nor_links_the_staff_pages():
    source = (ROOT / "ui" / "app.py").read_text(encoding="utf-8")
    assert "staff" not in source
    for path in [ROOT / "ui" / "app.py", *(ROOT / "ui" / "app_pages").glob("*.py")]:
        tree_ = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree_):
            if isinstance(node, ast.ImportFrom):
                assert "staff" not in (node.module or ""), path
            if isinstance(node, ast.Import):
                assert all("staff" not in a.name for a in node.names), path


def test_a_citizen_session_cannot_open_a_staff_page(tree, monkeypatch):
    import streamlit as st

    pages: list[str] = []
    real = st.navigation

    def spy(entries, **kwargs):
        pages.extend(str(getattr(e, "_page", e)) for e in entries)
        return real(entries, **kwargs)

    monkeypatch.setattr(st, "navigation", spy)
    at = AppTest.from_file(CITIZEN_APP, default_timeout=120).run()
    assert not at.exception
    pages = [Path(p).relative_to(ROOT).as_posix() for p in pages]
    assert pages == ["ui/app_pages/citizen.py", "ui/app_pages/counter.py"]  # no staff page
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(str(ROOT / "ui" / "staff_pages" / "edit.py"))
    assert not editor_shown(at) and "staff_user" not in at.session_state


# -- the whole flow --------------------------------------------------------------------------


def _open(at: AppTest, rel: str) -> AppTest:
    at.switch_page("staff_pages/edit.py").run()
    at.selectbox(key="staff:edit:pick").select(rel).run()
    at.button(key="staff:edit:open").click().run()
    assert at.text_area(key="staff:text").value == (Path(at_root()) / rel).read_text(encoding="utf-8")
    return at


def at_root() -> str:
    import os

    return os.environ["LIFEEVENTS_ROOT"]


def test_edit_check_preview_save_diff_restore(tree, credentials):
    original = (tree / PARAM).read_text(encoding="utf-8")
    at = _open(login(staff_app()), PARAM)
    assert at.button(key="staff:save").disabled  # nothing checked yet

    # the parameter form writes the new dated value into the editor
    at.radio(key="staff:form:mode").set_value("add").run()
    from datetime import date

    at.date_input(key="staff:form:date").set_value(date(2030, 1, 1))  # a form: sent with the click
    at.text_input(key="staff:form:value").input("90")
    at.button(key="staff:form:apply").click().run()
    new_text = at.text_area(key="staff:text").value
    parsed = yaml.safe_load(new_text)
    assert parsed["values"][date(2030, 1, 1)] == {"value": 90}
    assert parsed["values"][date(1900, 1, 1)]["value"] == 60

    at.button(key="staff:check").click().run()
    assert not at.exception
    assert "birth-registration" in texts(at)
    assert any("Check passed" in s.value or "檢查通過" in s.value for s in at.success)
    assert at.button(key="staff:save").disabled  # still no reason

    at.number_input(key="staff:impact:n").set_value(300).run()
    at.button(key="staff:impact:run").click().run()
    assert not at.exception
    report = at.session_state["staff:impact"]
    assert report.people == 300 and "birth-registration" in report.affected

    at.text_input(key="staff:reason").input("the amendment takes effect in 2030").run()
    assert not at.button(key="staff:save").disabled
    at.button(key="staff:save").click().run()
    assert not at.exception
    assert (tree / PARAM).read_text(encoding="utf-8") == new_text
    store = RuleStore(tree, history=Path(at_root()).parent / "history", cases=tree / "tests" / "cases")
    versions = store.history()
    assert [v.id for v in versions] == [1, 2]
    assert versions[-1].author == "policy.lin" and versions[-1].reason.startswith("the amendment")

    at.switch_page("staff_pages/versions.py").run()
    assert not at.exception
    assert any("2030-01-01" in c.value for c in at.code)
    at.selectbox(key="staff:restore:id").select(1).run()
    assert at.button(key="staff:restore").disabled  # a restore needs a reason too
    at.text_input(key="staff:restore:reason").input("withdrawn").run()
    at.button(key="staff:restore").click().run()
    assert not at.exception
    assert (tree / PARAM).read_text(encoding="utf-8") == original
    assert [v.id for v in store.history()] == [1, 2, 3]
    assert store.history()[-1].author == "policy.lin"


def test_an_edit_that_breaks_a_test_case_cannot_be_saved(tree, credentials):
    original = (tree / PARAM).read_text(encoding="utf-8")
    at = _open(login(staff_app()), PARAM)
    at.text_area(key="staff:text").input(original.replace("{value: 60}", "{value: 30}")).run()
    at.button(key="staff:check").click().run()
    assert any("deadline" in e.value for e in at.error)
    at.text_input(key="staff:reason").input("shorter deadline").run()
    assert at.button(key="staff:save").disabled
    assert (tree / PARAM).read_text(encoding="utf-8") == original


def test_an_edit_is_refused_when_the_rules_changed_since_it_was_opened(tree, credentials):
    original = (tree / PARAM).read_text(encoding="utf-8")
    at = _open(login(staff_app()), PARAM)
    ours = original.replace(REGISTRATION_60, REGISTRATION_60 + "\n  2031-01-01: {value: 90}")
    at.text_area(key="staff:text").input(ours).run()
    at.button(key="staff:check").click().run()
    at.text_input(key="staff:reason").input("ours").run()
    # meanwhile a colleague saves another change
    store = RuleStore(tree, history=Path(at_root()).parent / "history", cases=tree / "tests" / "cases")
    theirs = original.replace(REGISTRATION_60, REGISTRATION_60 + "\n  2032-01-01: {value: 90}")
    store.save(PARAM, theirs, store.base_version(), "policy.wu", "theirs")
    at.button(key="staff:save").click().run()
    assert any("您開啟後規則已被更動" in e.value for e in at.error)  # in the interface language
    assert (tree / PARAM).read_text(encoding="utf-8") == theirs


def test_a_restore_on_a_full_disk_says_nothing_was_restored(tree, credentials, monkeypatch):
    from test_versions import full_disk_under

    history = Path(at_root()).parent / "history"
    store = RuleStore(tree, history=history, cases=tree / "tests" / "cases")
    ours = (tree / PARAM).read_text(encoding="utf-8").replace(REGISTRATION_60, REGISTRATION_60 + " # v2")
    store.save(PARAM, ours, store.base_version(), "policy.lin", "a comment")
    at = login(staff_app())
    at.switch_page("staff_pages/versions.py").run()
    at.selectbox(key="staff:restore:id").select(1).run()
    at.text_input(key="staff:restore:reason").input("undo the comment").run()
    full_disk_under(history, monkeypatch)
    at.button(key="staff:restore").click().run()
    monkeypatch.undo()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "未還原：寫入檔案失敗（例如磁碟已滿），目前的版本維持不變；詳細原因記錄於稽核紀錄，請洽管理者。"
    ]
    assert (tree / PARAM).read_text(encoding="utf-8") == ours and [v.id for v in store.history()] == [1, 2]


def test_browse_lists_local_layers_and_where_a_parameter_is_used(tree, credentials):
    at = login(staff_app())
    assert not at.exception
    at.selectbox(key="staff:browse:jurisdiction").select("taipei").run()
    assert not at.exception
    # Taipei's rule is its place in the one local birth-grant definition (issue 14 item 4).
    shown = [df.value.to_csv() for df in at.dataframe]
    assert any("taipei" in table and "rules/local/local-birth-grant.yaml" in table for table in shown)
    users = parameter_users(load_catalogue(tree))
    assert "low-income-household" in users["minimum_living_expense"]


# -- impact and the words ----------------------------------------------------------------------


def test_impact_counts_who_gains_and_who_loses(tree, tmp_path):
    old = load_catalogue(tree)
    new_root = tmp_path / "new"
    shutil.copytree(tree, new_root)
    rel = "rules/parameters/minimum_living_expense.yaml"
    text = (new_root / rel).read_text(encoding="utf-8")
    (new_root / rel).write_text(
        text.replace("taiwan_province: 15515, taipei: 20744", "taiwan_province: 30000, taipei: 40000")
    )
    report = impact(old, load_catalogue(new_root), population(400, seed=1))
    by = {s.service: s for s in report.services}
    assert "low-income-household" in by
    assert by["low-income-household"].gained > 0 and by["low-income-household"].lost == 0
    assert (
        sum(r["gained"] for r in report.by_residence if r["service"] == "low-income-household")
        == by["low-income-household"].gained
    )
    assert "low-income-household" in render_impact(report)
    same = impact(old, old, population(50))
    assert same.services == []


def test_every_staff_string_has_both_languages_and_every_key_used_exists():
    import re

    data = load_text(STAFF_TEXT)
    assert all(set(v) == set(LANGS) for v in data.values())
    used: set[str] = set()
    for path in [
        ROOT / "ui" / "staff_app.py",
        ROOT / "ui" / "staff_impact.py",
        *(ROOT / "ui" / "staff_pages").glob("*.py"),
    ]:
        used |= set(
            re.findall(
                r"""\.t\(\s*["']([a-z_]+\.[a-z0-9_.]*[a-z0-9_])["']""", path.read_text(encoding="utf-8")
            )
        )
    assert used, "no text keys found: the pattern is stale"
    assert not sorted(used - set(data)), sorted(used - set(data))


def test_the_diff_command_prints_the_files_changed_and_the_impact(tree, tmp_path, capsys):
    new_root = tmp_path / "edited"
    shutil.copytree(tree, new_root)
    rel = "rules/parameters/minimum_living_expense.yaml"
    text = (new_root / rel).read_text(encoding="utf-8")
    (new_root / rel).write_text(text.replace("taipei: 20744", "taipei: 30000"), encoding="utf-8")
    assert main(["diff", str(tree), str(new_root), "--population", "100"]) == 0
    out = capsys.readouterr().out
    assert "1 file(s) changed" in out and rel in out and "low-income-household" in out
    assert main(["diff", str(tree), str(tmp_path / "nowhere")]) == 2


def test_the_tester_page_runs_the_fuzzer_and_shows_its_findings(tree, credentials):
    at = login(staff_app())
    at.switch_page("staff_pages/tester.py").run()
    assert not at.exception
    at.number_input(key="tester:n").set_value(60)
    at.button[0].click().run(timeout=300)
    assert not at.exception
    tables = [df.value for df in at.dataframe]
    assert len(tables) == 2  # properties, coverage
    properties = tables[0]
    # headed in the interface language (Chinese by default), as every staff table
    assert list(properties.columns) == ["性質", "成立", "檢驗筆數", "失敗筆數", "範圍說明"]
    assert list(tables[1].columns) == ["服務代碼", "已涵蓋條件", "未涵蓋"]
    assert {"valid-accepted", "no-crash", "engines-agree", "batch-agrees"} <= set(properties["性質"])


# -- the home-visit pages' database ----------------------------------------------------------------


@pytest.mark.parametrize(
    "damage", ["not_a_database", "cases_page_damaged"], ids=["at-open", "on-a-later-query"]
)
def test_the_home_visits_page_names_a_damaged_worklist_database_without_a_traceback(
    tree, credentials, tmp_path, monkeypatch, damage
):
    import worklist_support

    db = tmp_path / "worklist.sqlite"
    getattr(worklist_support, damage)(db)
    monkeypatch.setenv("LIFEEVENTS_WORKLIST", str(db))
    at = login(staff_app())
    at.switch_page("staff_pages/visits.py").run()
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert error.startswith(f"worklist database {db}: not a worklist database, or a damaged one (")
    assert error.endswith("restore the database from a backup") and "\n" not in error
