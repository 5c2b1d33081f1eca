"""End to end in a real browser: `streamlit run` on a free localhost port, driven by
Playwright for Python through Debian's Chromium (no `playwright install`: the browser
is the system's, see ci-apt.txt), on a phone-sized screen.

A citizen switches to English, answers the birth questionnaire, sees the results and
downloads the plan; a share link restores the answers in a fresh page; the counter page
opens; and axe-core (bundled in axe-playwright-python) finds no serious or critical
accessibility violation. Screenshots go to test-output/ (gitignored).

Skipped, with the reason, when Playwright or the browser is missing; CI installs both.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test-output"
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
BIRTH = date.today() - timedelta(days=30)

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
axe_module = pytest.importorskip(
    "axe_playwright_python.sync_playwright", reason="axe-playwright-python is missing"
)


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "ui/app.py",
            "--server.headless=true", f"--server.port={port}", "--server.address=127.0.0.1",
            "--browser.gatherUsageStats=false", "--server.fileWatcherType=none",
        ],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            if process.stdout:
                process.stdout.close()
            pytest.fail(f"streamlit did not start on port {port}:\n{output[-3000:]}")
        time.sleep(0.3)
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    if process.stdout:
        process.stdout.close()


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip(
            "no Chromium at CHROMIUM_PATH or /usr/bin/chromium (apt-get install -y chromium; see ci-apt.txt)"
        )
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    OUT.mkdir(exist_ok=True)
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def settle(page) -> None:
    """Wait until Streamlit has finished the rerun an action started."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=20_000
    )
    page.wait_for_timeout(200)


def shot(page, name: str) -> None:
    """A screenshot of the whole page at the phone's width: Streamlit scrolls inside its
    main container, so the window is made as tall as that container's content."""
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], body')]"
        ".map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": PHONE["width"], "height": min(max(height, PHONE["height"]), 12_000)})
    page.wait_for_timeout(300)
    page.screenshot(path=str(OUT / name))
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(200)


def switch_to_english(page) -> None:
    page.get_by_test_id("stExpandSidebarButton").click()
    page.get_by_text("English", exact=True).click()
    settle(page)
    page.keyboard.press("Escape")
    collapse = page.get_by_test_id("stSidebarCollapseButton")
    if collapse.count():
        collapse.first.click(force=True)
    settle(page)


def choose_life_event(page, name: str) -> None:
    page.get_by_role("combobox").first.click()
    page.get_by_role("option", name=name).click()
    page.keyboard.press("Escape")
    settle(page)


def card(page):
    return page.get_by_test_id("stForm").first


def press(page, label: str) -> None:
    card(page).get_by_role("button", name=label, exact=True).click()
    settle(page)


def serious(results) -> list[str]:
    found = results.response.get("violations", [])
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} node(s): "
        + "; ".join(
            n.get("target", [""])[0] if isinstance(n.get("target"), list) else "" for n in v["nodes"][:3]
        )
        for v in found
        if v.get("impact") in ("serious", "critical")
    ]


def answer_birth_questionnaire(page) -> list[str]:
    """Answer in order as a typical mother would; "I don't know" for the rest."""
    asked = []
    for _ in range(25):
        form = card(page)
        if not form.count():
            return asked
        text = form.inner_text()
        asked.append(text.splitlines()[1] if "\n" in text else text)
        if "A birth (happened or expected)" in text:
            form.get_by_text("Yes", exact=True).first.click()
            # A segmented date field: year, month and day spin buttons, typed in a row.
            form.get_by_role("spinbutton", name="year, Date of the birth").click()
            page.keyboard.type(BIRTH.strftime("%Y%m%d"))
            form.get_by_text("live birth", exact=True).click()
            shot(page, "citizen-question-390.png")
            press(page, "Next")
        elif "How many children" in text:
            box = form.get_by_label("How many children", exact=False)
            box.fill("1")
            box.press("Tab")
            press(page, "Next")
        elif "Applicant's sex" in text:
            form.get_by_text("female", exact=True).click()
            press(page, "Next")
        elif "Days of Labor Insurance cover" in text:
            box = form.get_by_label("Days of Labor Insurance cover")
            box.fill("300")
            box.press("Tab")
            press(page, "Next")
        elif "Average monthly insured salary" in text:
            box = form.get_by_label("Average monthly insured salary")
            box.fill("30000")
            box.press("Tab")
            press(page, "Next")
        else:
            press(page, "I don't know")
    raise AssertionError(f"the questionnaire did not end: {asked}")


def test_a_citizen_completes_the_birth_questionnaire_on_a_phone(server, page):
    page.goto(server)
    expect = sync_api.expect
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    shot(page, "citizen-start-390.png")
    switch_to_english(page)
    expect(page.get_by_role("heading", name="What can you apply for?")).to_be_visible()
    choose_life_event(page, "Having a baby")
    asked = answer_birth_questionnaire(page)
    assert len(asked) <= 14, asked
    expect(page.get_by_text("No more questions", exact=False)).to_be_visible()

    likely = page.get_by_role("heading", name="Likely eligible", exact=False)
    expect(likely).to_be_visible()
    for name in ("Birth registration", "Labor Insurance maternity benefit · NT$60,000"):
        expect(page.get_by_test_id("stExpander").filter(has_text=name).first).to_be_visible()
    # Open the maternity benefit: the reasons carry the answer and the threshold.
    page.get_by_test_id("stExpander").filter(has_text="Labor Insurance maternity benefit").first.locator(
        "summary"
    ).click()
    expect(page.get_by_text("300, at least 280", exact=False).first).to_be_visible()
    shot(page, "citizen-results-390.png")

    # No wide tables: nothing is wider than the phone's screen.
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= PHONE["width"], f"the page is {overflow}px wide on a {PHONE['width']}px screen"

    # The plan downloads as a print-ready page in the chosen language.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the plan", exact=False).click()
    html = Path(download.value.path()).read_text(encoding="utf-8")
    assert '<html lang="en">' in html and "Birth registration" in html

    results = axe_module.Axe().run(page)
    problems = serious(results)
    assert not problems, "axe-core found serious or critical violations:\n" + "\n".join(problems)

    # The answers leave with the citizen, as a link, and come back from it.
    page.get_by_role("button", name="Make a link and QR code").click()
    settle(page)
    link = page.get_by_test_id("stCode").first.inner_text().strip()
    assert "?a=" in link
    shot(page, "citizen-share-390.png")
    fresh = page.context.new_page()
    fresh.goto(link)
    expect(fresh.get_by_text("restored", exact=False).first).to_be_visible()
    assert "?a=" not in fresh.url  # dropped from the address bar once read
    fresh.close()


def test_the_counter_page_opens_and_is_accessible(server, page):
    page.goto(f"{server}/counter")
    sync_api.expect(page.get_by_role("heading", level=1)).to_be_visible()
    settle(page)
    shot(page, "counter-390.png")
    results = axe_module.Axe().run(page)
    problems = serious(results)
    assert not problems, "axe-core found serious or critical violations:\n" + "\n".join(problems)
