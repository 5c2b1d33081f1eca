"""Issue 13, item 13 in a real browser: the running citizen app answers with a rules
version saved after it started, and its sidebar says which version (no restart)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_ui_browser import CHROMIUM_ARGS, ROOT, chromium_path, streamlit_app, sync_api

PARAM = "rules/parameters/household_registration/birth_registration_days.yaml"
REGISTRATION_60 = "1900-01-01: {value: 60}"


@pytest.fixture
def rules_copy(tmp_path) -> Path:
    root = tmp_path / "rules-copy"
    root.mkdir()
    shutil.copy(ROOT / "catalog.yaml", root / "catalog.yaml")
    shutil.copytree(ROOT / "rules", root / "rules")
    shutil.copytree(ROOT / "tests" / "cases", root / "tests" / "cases")
    return root


@pytest.fixture
def app_url(rules_copy, tmp_path):
    env = {"LIFEEVENTS_ROOT": str(rules_copy)}
    with streamlit_app("ui/app.py", env) as url:
        yield url


def test_a_saved_version_reaches_the_running_app(app_url, rules_copy, tmp_path):
    from engine.language.loader import load_catalogue
    from engine.services.versions import RuleStore

    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium (apt-get install -y chromium; see ci-apt.txt)")
    before = load_catalogue(rules_copy).version
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        # A Chinese browser: the app opens in the browser's language (issue 13 item 5).
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-TW")
        page.set_default_timeout(30_000)
        page.goto(app_url)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sync_api.expect(sidebar).to_contain_text(before)

        store = RuleStore(rules_copy, history=tmp_path / "history", cases=rules_copy / "tests" / "cases")
        text = store.read(PARAM).replace(REGISTRATION_60, REGISTRATION_60 + "\n  2031-01-01: {value: 90}")
        store.save(PARAM, text, store.base_version(), "policy.lin", "a later deadline")
        after = load_catalogue(rules_copy).version
        assert after != before

        # a new visit (or any rerun) after the next check of the tree answers with it
        for _ in range(20):
            page.reload()
            sidebar = page.locator('[data-testid="stSidebar"]')
            sync_api.expect(sidebar).to_contain_text("規則版本")
            if after in sidebar.inner_text():
                break
            page.wait_for_timeout(1000)
        sync_api.expect(sidebar).to_contain_text(after)
        browser.close()
