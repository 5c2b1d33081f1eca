"""Issue 13, item 16 in a real browser: "套用到編輯區" right after typing the value (no
Enter, no Tab: the click is what commits it) puts the value into the editor every time."""

from __future__ import annotations

import shutil

import pytest
from test_ui_browser import CHROMIUM_ARGS, ROOT, chromium_path, streamlit_app, sync_api

from engine.services.staffauth import credential_line

PARAM = "rules/parameters/household_registration/birth_registration_days.yaml"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff_url(tmp_path):
    root = tmp_path / "rules-copy"
    root.mkdir()
    shutil.copy(ROOT / "catalog.yaml", root / "catalog.yaml")
    shutil.copytree(ROOT / "rules", root / "rules")
    shutil.copytree(ROOT / "tests" / "cases", root / "tests" / "cases")
    creds = tmp_path / "creds"
    creds.write_text(credential_line("policy.lin", PASSWORD) + "\n")
    env = {
        "LIFEEVENTS_ROOT": str(root),
        "LIFEEVENTS_HISTORY": str(tmp_path / "history"),
        "LIFEEVENTS_CASES": str(root / "tests" / "cases"),
        "LIFEEVENTS_STAFF_CREDENTIALS": str(creds),
    }
    with streamlit_app("ui/staff_app.py", env) as url:
        yield url


def test_apply_to_editor_right_after_typing_works_every_time(staff_url):
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium (apt-get install -y chromium; see ci-apt.txt)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(30_000)
        page.goto(staff_url)
        page.get_by_label("帳號").fill("policy.lin")
        page.get_by_label("密碼").fill(PASSWORD)
        page.get_by_role("button", name="登入").click()
        sync_api.expect(page.get_by_text("已登入：policy.lin")).to_be_visible()
        page.locator('[data-testid="stSidebarNav"] a').filter(has_text="編輯").click()
        page.locator('[data-testid="stSelectbox"]').filter(has_text="要編輯的檔案").click()
        page.keyboard.type("birth_registration_days")
        page.keyboard.press("Enter")
        page.get_by_role("button", name="開啟").click()
        editor = page.get_by_label("YAML 內容")
        sync_api.expect(editor).to_contain_text("1900-01-01: {value: 60}")
        value = page.get_by_label("數值（數字；表格請用 YAML 對應）")
        for n in range(61, 67):
            value.fill(str(n))  # typed, not committed: the click must carry it
            page.get_by_role("button", name="套用到編輯區").click()
            sync_api.expect(editor).to_contain_text(f"{{value: {n}}}")
        browser.close()
