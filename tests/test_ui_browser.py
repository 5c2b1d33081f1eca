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

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test-output"
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 900}
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


@contextlib.contextmanager
def streamlit_app(script: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``streamlit run SCRIPT`` on a free localhost port, with ``env`` added to this
    process's; yields its address once it answers, and stops it afterwards. The one way
    every browser test starts an app (citizen, staff, worklist)."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", script,
            "--server.headless=true", f"--server.port={port}", "--server.address=127.0.0.1",
            "--browser.gatherUsageStats=false", "--server.fileWatcherType=none",
        ],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
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
                pytest.fail(f"{script} did not start on port {port}:\n{output[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


@pytest.fixture(scope="module")
def server():
    with streamlit_app("ui/app.py") as url:
        yield url


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
    # The first page of a fresh server builds the engine; the machine may be busy.
    sync_api.expect.set_options(timeout=30_000)
    yield page
    context.close()


def settle(page) -> None:
    """Wait until Streamlit has finished the rerun an action started."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=20_000
    )
    page.wait_for_timeout(200)


def shot(page, name: str) -> Path:
    """A screenshot of the whole page at the window's width: Streamlit scrolls inside its
    main container, so the window is made as tall as that container's content."""
    size = page.viewport_size or PHONE
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], body')]"
        ".map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), 12_000)})
    page.wait_for_timeout(300)
    path = OUT / name
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    page.wait_for_timeout(200)
    return path


def assert_accessible(page, where: str) -> None:
    """axe-core on the page as it is now: no serious or critical violation."""
    problems = serious(axe_module.Axe().run(page))
    assert not problems, f"axe-core, {where}: serious or critical violations:\n" + "\n".join(problems)


def switch_to_english(page) -> None:
    switch_language(page, "English")


def choose_life_event(page, name: str) -> None:
    option = page.get_by_role("option", name=name)
    for _ in range(3):  # a busy machine: the first click can land while the page reruns
        page.get_by_role("combobox").first.click()
        try:
            option.wait_for(timeout=5_000)
            break
        except sync_api.TimeoutError:
            page.keyboard.press("Escape")
            settle(page)
    option.click()
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
        elif "Your sex" in text:
            form.get_by_text("female", exact=True).click()
            press(page, "Next")
        elif "Your days of Labor Insurance cover" in text:
            box = form.get_by_label("Your days of Labor Insurance cover")
            box.fill("300")
            box.press("Tab")
            press(page, "Next")
        elif "Your average monthly insured salary" in text:
            box = form.get_by_label("Your average monthly insured salary")
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

    # "Likely eligible" for you and for the household (no partner was given).
    likely = page.get_by_role("heading", name="Likely eligible", exact=False).first
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


# --- families: the stories of issue 11, end to end ---------------------------------------------

FATHER_BIRTH = date.today() - timedelta(days=10)  # paternity leave's window is still open: urgent
JOB_LOSS = date.today() - timedelta(days=20)


def switch_language(page, name: str) -> None:
    """The sidebar's language switch, on a phone (folded away) or a desk (open)."""
    choice = page.get_by_test_id("stSidebar").get_by_text(name, exact=True)
    for _ in range(3):  # a busy machine: the sidebar may open late
        expand = page.get_by_test_id("stExpandSidebarButton")
        if expand.count() and expand.first.is_visible():
            expand.first.click()
        try:
            choice.wait_for(state="visible", timeout=5_000)
            break
        except sync_api.TimeoutError:
            settle(page)
    choice.click()
    settle(page)
    if page.viewport_size and page.viewport_size["width"] < 640:
        page.keyboard.press("Escape")
        collapse = page.get_by_test_id("stSidebarCollapseButton")
        if collapse.count():
            collapse.first.click(force=True)
        settle(page)


def number(value: str):
    def act(page, form, label: str) -> None:
        box = form.get_by_label(label, exact=True)
        box.fill(value)
        box.press("Tab")

    return act


def choice(option: str, exact: bool = True):
    def act(page, form, label: str) -> None:
        form.get_by_text(option, exact=exact).first.click()

    return act


def a_date(day: date, field: str | None = None):
    def act(page, form, label: str) -> None:
        form.get_by_role("spinbutton", name=f"year, {field or label}").click()
        page.keyboard.type(day.strftime("%Y%m%d"))

    return act


def answer_cards(page, plan: dict, where: str, limit: int = 40) -> list[str]:
    """Answer each card whose question (its label) is in ``plan`` with the actions given,
    "I don't know" for the others, until no card is left; axe-core after every step."""
    asked: list[str] = []
    for _ in range(limit):
        form = card(page)
        if not form.count():
            return asked
        lines = [line.strip() for line in form.inner_text().splitlines() if line.strip()]
        label = lines[1]  # after "Question N"
        asked.append(label)
        actions = plan.get(label)
        if actions:
            for act in actions:
                act(page, form, label)
            press(page, "Next")
        else:
            press(page, "I don't know")
        assert_accessible(page, f"{where}, after the card {label!r}")
    raise AssertionError(f"the questionnaire did not end: {asked}")


def main_text(page) -> str:
    return page.get_by_test_id("stMain").inner_text()


def between(text: str, start: str, end: str | None) -> str:
    """The part of the page's text under the heading ``start`` (up to ``end``)."""
    assert start in text, f"no {start!r} on the page"
    after = text[text.index(start) + len(start) :]
    return after[: after.index(end)] if end and end in after else after


def test_a_father_answers_the_birth_questionnaire_for_his_family(server, page):
    page.goto(server)
    expect = sync_api.expect
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    switch_to_english(page)
    choose_life_event(page, "Having a baby")
    assert_accessible(page, "the first card (is there a partner?)")
    shot(page, "family-partner-question-390.png")
    asked = answer_cards(
        page,
        {
            "Do you have a partner (a spouse, or the child's other parent)?": [
                choice("Yes: I answer for both of us", exact=False)
            ],
            "A birth (happened or expected)": [
                choice("Yes"),
                a_date(FATHER_BIRTH, "Date of the birth"),
                choice("live birth"),
            ],
            "Your sex": [choice("male")],
            "Your partner's sex": [choice("female")],
            "Your partner's days of Labor Insurance cover": [number("300")],
            "Your partner's average monthly insured salary": [number("30000")],
            "Your employment status": [choice("employed")],
            "Your marital status": [choice("married")],
            "How many children do you have? (count the newborn too)": [number("1")],
        },
        "the father's birth flow",
    )
    assert asked[0].startswith("Do you have a partner"), asked
    assert "Your partner's days of Labor Insurance cover" in asked
    assert asked.index("Your partner's average monthly insured salary") > asked.index(
        "Your partner's days of Labor Insurance cover"
    )
    expect(page.get_by_text("No more questions", exact=False)).to_be_visible()

    text = main_text(page)
    # The family's total: her 60,000 and the household's 40,000.
    totals = page.locator(".st-key-totals").inner_text()
    assert "NT$100,000" in totals, totals
    # Her maternity benefit is hers, under "For your partner"; his "not eligible" is not listed.
    for_you = between(text, "For you\n", "For your partner\n")
    hers = between(text, "For your partner\n", "For the household\n")
    household = between(text, "For the household\n", "Your one-stop plan")
    assert "Labor Insurance maternity benefit · NT$60,000" in hers, hers
    assert "Labor Insurance maternity benefit" not in for_you, for_you
    assert "Birth grant top-up (NT$100,000 per birth) · NT$40,000" in household, household
    # His paternity leave closes two weeks after the birth: urgent, and first.
    first = next(line for line in between(for_you, "Likely eligible", None).splitlines() if " · " in line)
    assert first.startswith("⚠ Urgent · Paternity"), for_you
    expect(page.get_by_text("Urgent, the deadline is close", exact=False)).to_be_visible()
    # The plan says who does each step.
    plan = between(text, "Your one-stop plan", None)
    assert "Your partner: Labor Insurance maternity benefit" in plan, plan
    assert "You: Paternity" in plan, plan
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the plan", exact=False).click()
    html = Path(download.value.path()).read_text(encoding="utf-8")
    assert "For your partner" in html and "60,000" in html
    assert_accessible(page, "the father's results")

    shots = [shot(page, "family-results-en-390.png")]
    page.set_viewport_size(DESK)
    settle(page)
    assert_accessible(page, "the father's results on a desk")
    shots.append(shot(page, "family-results-en-1280.png"))
    switch_language(page, "中文（繁體）")
    totals = page.locator(".st-key-totals").inner_text()
    assert "新臺幣 100,000 元" in totals, totals
    text = main_text(page)
    assert "您的配偶可申辦" in text and "全家共同" in text
    assert_accessible(page, "the father's results in Chinese on a desk")
    shots.append(shot(page, "family-results-zh-TW-1280.png"))
    page.set_viewport_size(PHONE)
    settle(page)
    shots.append(shot(page, "family-results-zh-TW-390.png"))
    assert all(p.exists() for p in shots)


def test_a_worker_who_has_not_registered_yet_sees_the_registration_first(server, page):
    page.goto(server)
    sync_api.expect(page.get_by_role("heading", level=1)).to_be_visible()
    switch_to_english(page)
    choose_life_event(page, "Jobs and work")
    assert_accessible(page, "the job-loss questionnaire's first card")
    answer_cards(
        page,
        {
            "A job loss": [
                choice("Yes"),
                a_date(JOB_LOSS, "Date of the job loss"),
                lambda page, form, label: (
                    form.get_by_role("radiogroup", name="Involuntary separation")
                    .get_by_text("Yes", exact=True)
                    .click()
                ),
            ],
            "Your date of birth": [a_date(date(1985, 3, 1))],
            "Your months of Employment Insurance": [number("24")],
            "Your nationality": [choice("ROC national")],
            "Your average monthly insured salary": [number("40100")],
        },
        "the unregistered job loss",
    )
    text = main_text(page)
    for_you = between(text, "For you\n", "For the household\n")
    eligible = between(for_you, "Likely eligible", "Need more information")
    deadline = JOB_LOSS.replace(year=JOB_LOSS.year + 2).isoformat()
    # Eligible, with the step first, its date and what it unlocks.
    step = (
        f"First: Job-seeker registration by {deadline}. This unlocks Unemployment benefit "
        "(Employment Insurance), about NT$24,060 a month"
    )
    assert step in eligible, eligible
    assert eligible.index(step) < eligible.index("Unemployment benefit (Employment Insurance) · NT$24,060")
    plan = between(text, "Your one-stop plan", None)
    first = plan.split("1. ☐", 1)[1].split("2. ☐", 1)[0] if "1. ☐" in plan else plan.split("\n1", 1)[-1]
    assert "Job-seeker registration" in first and deadline in first, plan[:600]
    assert "unlocks Unemployment benefit" in first, first
    totals = page.locator(".st-key-totals").inner_text()
    assert "NT$24,060" in totals, totals
    assert_accessible(page, "the job-loss results")
    shot(page, "job-loss-results-en-390.png")
    page.set_viewport_size(DESK)
    settle(page)
    shot(page, "job-loss-results-en-1280.png")


def test_an_unemployed_partner_is_told_to_register_as_a_job_seeker(server, page):
    # rules.md decides every service that reads person.* for the partner too: with the job
    # event alone (no birth), the partner question is asked, in words without a child, and
    # the partner's job-seeker registration is shown under "For your partner".
    page.goto(server)
    sync_api.expect(page.get_by_role("heading", level=1)).to_be_visible()
    switch_to_english(page)
    choose_life_event(page, "Jobs and work")
    form = card(page)
    sync_api.expect(form).to_contain_text("Do you have a spouse or partner?")
    sync_api.expect(form).to_contain_text("No: I have no spouse or partner")
    assert "child" not in form.inner_text(), form.inner_text()
    assert_accessible(page, "the partner question without a child")
    shot(page, "partner-job-question-390.png")
    asked = answer_cards(
        page,
        {
            "Do you have a spouse or partner?": [choice("Yes: I answer for both of us", exact=False)],
            "Your employment status": [choice("employed")],
            "Your partner's employment status": [choice("unemployed")],
        },
        "the unemployed partner",
        limit=45,
    )
    assert asked[0] == "Do you have a spouse or partner?", asked
    text = main_text(page)
    theirs = between(text, "For your partner\n", "For the household\n")
    eligible = between(theirs, "Likely eligible", "Need more information")
    assert "Job-seeker registration" in eligible, theirs
    plan = between(text, "Your one-stop plan", None)
    assert "Your partner: Job-seeker registration" in plan, plan[:800]
    shot(page, "partner-job-results-en-390.png")
    switch_language(page, "中文（繁體）")
    text = main_text(page)
    theirs = between(text, "您的配偶可申辦\n", "全家共同\n")
    assert "求職登記" in between(theirs, "可能符合資格", "需要更多資訊"), theirs
    shot(page, "partner-job-results-zh-TW-390.png")


# --- the counter page: clear means empty -------------------------------------------------------


def counter_form(page):
    return page.get_by_test_id("stForm").first


def fill_every_counter_field(page) -> int:
    """Every widget of the counter form given a value; returns how many."""
    form = counter_form(page)
    folded = form.locator("details:not([open]) > summary")
    while folded.count():
        folded.first.click()
    filled = 0
    for box in form.locator("input[type=number]").all():
        box.fill("2")
        filled += 1
    for field in form.get_by_test_id("stDateInput").all():
        field.get_by_role("spinbutton").first.click()
        page.keyboard.type((date.today() - timedelta(days=3)).strftime("%Y%m%d"))
        filled += 1
    for select in form.get_by_test_id("stSelectbox").all():
        select.scroll_into_view_if_needed()
        select.get_by_role("combobox").click()
        page.get_by_role("option").nth(1).click()  # the first value after "not known"
        filled += 1
    for select in form.get_by_test_id("stMultiSelect").all():
        select.scroll_into_view_if_needed()
        select.get_by_role("combobox").click()
        page.get_by_role("option").first.click()
        page.keyboard.press("Escape")
        filled += 1
    for box in form.get_by_test_id("stTextInput").locator("input").all():
        box.fill("x")
        filled += 1
    return filled


EMPTY = ("", "— not known —", "— not asked —", "Choose an option", "Choose options")


def selected(select) -> str:
    """What a select box shows besides its label: the chosen value(s), or the placeholder."""
    label = select.get_by_test_id("stWidgetLabel").inner_text().strip()
    box = select.get_by_role("combobox")
    typed = box.input_value() if box.count() else ""
    shown = [
        line.strip() for line in select.inner_text().splitlines() if line.strip() and line.strip() != label
    ]
    shown = [line for line in shown if line not in ("keyboard_arrow_down", "close", "expand_more")]
    return " ".join([typed, *shown]).strip() or (
        box.get_attribute("placeholder") or "" if box.count() else ""
    )


def counter_values(page) -> list[str]:
    """What every field of the counter form shows, as text (empty fields show nothing or
    their placeholder)."""
    form = counter_form(page)
    values = [b.input_value() for b in form.locator("input[type=number]").all()]
    values += [
        f.locator("input").first.input_value() if f.locator("input").count() else f.inner_text()
        for f in form.get_by_test_id("stDateInput").all()
    ]
    values += [selected(s) for s in form.get_by_test_id("stSelectbox").all()]
    values += [selected(s) for s in form.get_by_test_id("stMultiSelect").all()]
    return values


def test_clearing_the_counter_page_keeps_nothing_of_the_previous_person(server, page):
    page.goto(f"{server}/counter")
    expect = sync_api.expect
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    settle(page)
    switch_to_english(page)
    # No event is on by default: the page asks the clerk to pick them first.
    expect(page.get_by_text("Pick the life events to check first", exact=False)).to_be_visible()
    assert_accessible(page, "the counter page as it opens")
    for name in ("Having a baby", "Jobs and work", "Buying a home and moving"):
        choose_life_event(page, name)
    children = page.get_by_label("Number of children", exact=False)
    children.fill("1")
    children.press("Enter")
    settle(page)
    empty = counter_values(page)
    filled = fill_every_counter_field(page)
    assert filled > 80, filled
    page.get_by_role("button", name="Check all services").click()
    settle(page)
    assert_accessible(page, "the counter page after the first person")
    shot(page, "counter-filled-390.png")
    before = counter_values(page)
    assert before != empty
    kept = [v for v in before if v not in EMPTY]
    assert len(kept) > 60, kept  # the first person's answers are in the form after the submit

    page.get_by_role("button", name="Clear the form for the next person").click()
    settle(page)
    expect(page.get_by_text("Pick the life events to check first", exact=False)).to_be_visible()
    assert page.get_by_label("Number of children", exact=False).input_value() == ""
    for name in ("Having a baby", "Jobs and work", "Buying a home and moving"):
        choose_life_event(page, name)
    page.get_by_role("button", name="Check all services").click()
    settle(page)
    after = counter_values(page)
    assert len(after) > 60, len(after)  # the whole form is there (no children: fewer fields)
    leaked = [v for v in after if v not in EMPTY]
    assert not leaked, f"the previous person's answers are still in the form: {leaked[:10]}"
    text = main_text(page)
    assert "Your family's total" in text and "NT$0" in text
    assert_accessible(page, "the counter page for the next person")
    shot(page, "counter-cleared-390.png")
    page.set_viewport_size(DESK)
    settle(page)
    shot(page, "counter-cleared-1280.png")
