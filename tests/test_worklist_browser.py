"""The social worker's page in a real browser (the pattern of tests/test_ui_browser.py):
the staff app on a free localhost port over a SQLite worklist made for the test; a worker
signs in, opens the home-visit list, records "visited and applied" and sees it saved, in
the page and in the database; the supervisor's view draws its charts. Screenshots go to
test-output/ (staff-visits-worker.png, staff-visits-saved.png, staff-visits-supervisor.png)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_ui_browser import CHROMIUM_ARGS, OUT, chromium_path, settle, streamlit_app

from engine.services.staffauth import credential_line
from engine.services.worklist import CaseService, Screened, open_store

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
DESKTOP = {"width": 1280, "height": 900}
PASSWORD = "a long enough test password"
LOW_INCOME = "low-income-household"


@pytest.fixture(scope="module")
def worklist_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("visits")
    db = folder / "worklist.sqlite"
    store = open_store(db)
    store.upsert(
        [
            Screened("TP-0001", "taipei", "Wanhua", 1, 6, ("alone_80", "disability_moderate"),
                     (CaseService(LOW_INCOME, "eligible"), CaseService("elderly-living-allowance", "eligible", 8329, "TWD/month"))),
            Screened("TP-0002", "taipei", "Wanhua", 2, 3, ("alone_65",), (CaseService(LOW_INCOME, "eligible"),)),
            Screened("TP-0003", "taipei", "Daan", None, 2, ("job_loss",), (CaseService("job-seeker-registration", "unknown"),)),
        ],
        "test-rules",
    )  # fmt: skip
    store.add_district("worker.lin", "taipei", "Wanhua")
    store.add_district("worker.lin", "taipei", "Daan")
    store.set_supervisor("worker.lin")
    store.close()
    credentials = folder / "credentials"
    credentials.write_text(credential_line("worker.lin", PASSWORD) + "\n")
    return db, credentials


@pytest.fixture(scope="module")
def staff_server(worklist_db):
    db, credentials = worklist_db
    env = {
        "LIFEEVENTS_WORKLIST": str(db),
        "LIFEEVENTS_STAFF_CREDENTIALS": str(credentials),
        "LIFEEVENTS_HISTORY": str(db.parent / "history"),
    }
    with streamlit_app("ui/staff_app.py", env) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium at CHROMIUM_PATH or /usr/bin/chromium (apt-get install -y chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def full_shot(page, name: str) -> None:
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], body')].map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": DESKTOP["width"], "height": min(max(height, DESKTOP["height"]), 8000)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(OUT / name))
    page.set_viewport_size(DESKTOP)


def sign_in_in_english(page, url: str) -> None:
    page.goto(url)
    form = page.get_by_test_id("stForm").first
    form.locator("input[type=text]").fill("worker.lin")
    form.locator("input[type=password]").fill(PASSWORD)
    form.get_by_test_id("stBaseButton-secondaryFormSubmit").click()
    settle(page)
    page.get_by_text("English", exact=True).click()
    settle(page)


def test_a_worker_signs_in_records_an_outcome_and_sees_it(staff_server, browser, worklist_db):
    OUT.mkdir(exist_ok=True)
    expect = sync_api.expect
    expect.set_options(timeout=30_000)
    context = browser.new_context(viewport=DESKTOP, device_scale_factor=1, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        sign_in_in_english(page, staff_server)
        page.get_by_role("link", name="Home visits").click()
        settle(page)
        expect(page.get_by_text("Today's list: 3 open case(s)", exact=False)).to_be_visible()
        # The most urgent case is the one opened first.
        expect(page.get_by_role("combobox", name="Case")).to_have_accessible_name("Case")
        expect(page.get_by_text("Case #1, version 1", exact=False)).to_be_visible()
        expect(page.get_by_text("aged 80+ living alone", exact=False).first).to_be_visible()
        with page.expect_download() as download:
            page.get_by_role("button", name="Print the one-stop plan for this person").click()
        plan = Path(download.value.path()).read_text(encoding="utf-8")
        assert "Low-income household" in plan and "NT$8,329 a month" in plan
        full_shot(page, "staff-visits-worker.png")

        outcome = page.get_by_test_id("stForm").filter(has_text="Save the outcome")
        outcome.get_by_text("Visited and applied", exact=True).click()
        outcome.get_by_role("combobox", name="Applied for").click()
        page.get_by_role("option", name="Low-income household", exact=False).first.click()
        page.keyboard.press("Escape")
        outcome.get_by_role("button", name="Save the outcome").click()
        settle(page)
        expect(page.get_by_text("Saved: case #1 is now version 2 (closed)", exact=False)).to_be_visible()
        expect(page.get_by_text("Today's list: 2 open case(s)", exact=False)).to_be_visible()
        full_shot(page, "staff-visits-saved.png")

        store = open_store(worklist_db[0])
        case = store.by_person("TP-0001")
        assert (case.state, case.outcome, case.applied_for) == ("closed", "applied", (LOW_INCOME,))
        assert store.history(case.id)[-1].actor == "worker.lin"
        store.close()

        page.get_by_role("link", name="Visits: supervisor").click()
        settle(page)
        expect(page.get_by_text("Open, visited and applied, by district")).to_be_visible()
        expect(page.get_by_text("Uptake: applications per eligible person")).to_be_visible()
        page.wait_for_timeout(1500)  # the charts draw after the rerun
        full_shot(page, "staff-visits-supervisor.png")
    finally:
        context.close()
