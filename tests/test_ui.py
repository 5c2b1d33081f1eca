"""The Streamlit front end, headless (streamlit.testing AppTest), and its pure parts.

Each flow a person goes through has a test: a citizen answering the birth
questionnaire, "I don't know" leaving a service open, the language switch, a share
link restoring the answers, and the counter page. Dates are relative to today, so the
tests do not age.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

pytest.importorskip("streamlit")

from streamlit.testing.v1 import AppTest

from engine import ProfileError
from ui.answers import (
    answers_from_profile,
    build_profile,
    check,
    decode_token,
    encode_token,
    with_answer,
)
from ui.questionnaire import refresh
from ui.runtime import build_engine
from ui.text import LANGS, load_text

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "ui" / "app.py")
TODAY = date.today()
BIRTH = (TODAY - timedelta(days=30)).isoformat()

# A typical newborn family: an employed mother in Taichung and her first child.
FAMILY = {
    "events.birth": True,
    "events.birth.date": BIRTH,
    "events.birth.kind": "live",
    "children": 1,
    "children[0].order": 1,
    "children[0].childcare": "home",
    "residence": "taichung",
    "person.birth_date": "1994-06-15",
    "person.sex": "female",
    "person.nationality": "roc",
    "person.household_registered": True,
    "person.employment": "employed",
    "person.months_in_current_job": 30,
    "person.labor_insurance_days": 300,
    "person.employment_insurance_months": 40,
    "person.insured_salary": 30000,
    "person.marital_status": "married",
    "person.days_in_taiwan_last_year": 365,
    "person.residence_registered_since": "2020-01-01",
    "household.size": 3,
    "household.monthly_income": 90000,
}
WIDGETS = ("radio", "number_input", "date_input", "selectbox", "multiselect", "text_input")


@pytest.fixture(scope="module")
def ui_engine():
    return build_engine(ROOT)


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=60).run()


def widget(at: AppTest, key: str):
    for kind in WIDGETS:
        for element in at.get(kind):
            if element.key == key:
                return element
    return None


def current_questions(at: AppTest) -> list[str]:
    """The facts on the question card (the question first, then an event's fields)."""
    return [e.key[2:] for kind in WIDGETS for e in at.get(kind) if e.key and e.key.startswith("q:")]


def set_answer(at: AppTest, fact: str, value) -> None:
    element = widget(at, f"q:{fact}")
    assert element is not None, f"no input for {fact}"
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        value = date.fromisoformat(value)
    element.set_value(value)


def answer_in_order(at: AppTest, known: dict, limit: int = 30) -> list[str]:
    """Answer each card from ``known`` ("I don't know" for the rest) until none is left."""
    asked = []
    for _ in range(limit):
        facts = current_questions(at)
        if not facts:
            return asked
        main = facts[0]
        asked.append(main)
        if known.get(main) is None:
            at.button(key="submit:dont_know").click().run()
        else:
            for fact in facts:
                if fact in known and (fact == main or known.get(main) is True):
                    set_answer(at, fact, known[fact])
            at.button(key="submit:answer").click().run()
        assert not at.exception, at.exception
    raise AssertionError(f"the questionnaire did not end after {limit} questions: {asked}")


def choose_birth(at: AppTest) -> AppTest:
    at.multiselect(key="w:life_events").select("birth").run()
    assert not at.exception, at.exception
    return at


def status_names(at: AppTest) -> dict[str, list[str]]:
    """Service names under each of the three group headings (as the page shows them)."""
    heading = {
        "### " + load_text()[f"results.group.{s}"][at.session_state.lang]: s
        for s in ("eligible", "unknown", "ineligible")
    }
    out: dict[str, list[str]] = {"eligible": [], "unknown": [], "ineligible": []}
    current = None
    for element in _flatten(at.main):
        if getattr(element, "type", "") == "markdown":
            text = element.value
            current = next((s for h, s in heading.items() if text.startswith(h)), current)
        if getattr(element, "type", "") == "expander" and current:
            out[current].append(element.label.split(" · ")[0])
    return out


def _flatten(node):
    for child in getattr(node, "children", {}).values():
        yield child
        yield from _flatten(child)


# --- flows --------------------------------------------------------------------------------------


def test_the_app_opens_on_the_citizen_questionnaire():
    at = app()
    assert not at.exception
    assert at.title[0].value == load_text()["citizen.title"]["zh-TW"]
    assert widget(at, "w:life_events") is not None


def test_a_citizen_answering_the_birth_questionnaire_sees_the_right_services(ui_engine):
    at = choose_birth(app())
    at.sidebar.radio(key="w:lang").set_value("en").run()
    asked = answer_in_order(at, FAMILY)
    assert asked[0] == "events.birth"
    # At most 12 questions decide the statuses; the insured salary only sets an amount.
    assert len([f for f in asked if f != "person.insured_salary"]) <= 12, asked
    assert asked[-1] == "person.insured_salary"
    groups = status_names(at)
    names = {sid: ui_engine.catalogue.services[sid].name.en for sid in ui_engine.catalogue.services}
    assert names["birth-registration"] in groups["eligible"]
    assert names["labor-insurance-maternity-benefit"] in groups["eligible"]
    # The maternity benefit's amount and deadline are shown in its line.
    line = next(
        e.label
        for e in _flatten(at.main)
        if getattr(e, "type", "") == "expander"
        and e.label.startswith(names["labor-insurance-maternity-benefit"])
    )
    assert "NT$60,000" in line
    assert (date.fromisoformat(BIRTH).replace(year=date.fromisoformat(BIRTH).year + 5)).isoformat() in line
    # The one-stop plan can be taken away.
    assert any(b.proto.label.startswith("Download") for b in at.get("download_button"))


def test_i_dont_know_leaves_a_service_needing_more_information(ui_engine):
    at = choose_birth(app())
    at.sidebar.radio(key="w:lang").set_value("en").run()
    known = {k: v for k, v in FAMILY.items() if k not in ("person.sex", "person.labor_insurance_days")}
    answer_in_order(at, known)
    assert at.session_state.answers["person.sex"] is None  # answered "I don't know"
    groups = status_names(at)
    name = ui_engine.catalogue.services["labor-insurance-maternity-benefit"].name.en
    assert name in groups["unknown"]
    assert ui_engine.catalogue.services["birth-registration"].name.en in groups["eligible"]
    # The result says what is still needed.
    text = "\n".join(m.value for m in at.markdown)
    assert "Applicant's sex" in text


def test_a_refused_answer_is_shown_at_the_question():
    at = choose_birth(app())
    at.sidebar.radio(key="w:lang").set_value("en").run()
    for _ in range(15):
        facts = current_questions(at)
        if facts and facts[0] == "person.labor_insurance_days":
            break
        at.button(key="submit:answer" if facts and facts[0] == "events.birth" else "submit:dont_know")
        if facts and facts[0] == "events.birth":
            set_answer(at, "events.birth", True)
        at.button(
            key="submit:answer" if facts and facts[0] == "events.birth" else "submit:dont_know"
        ).click().run()
    assert current_questions(at)[0] == "person.labor_insurance_days"
    set_answer(at, "person.labor_insurance_days", 10**6)
    at.button(key="submit:answer").click().run()
    assert not at.exception
    assert "person.labor_insurance_days" not in at.session_state.answers
    assert any("person.labor_insurance_days" in e.value for e in at.error)
    assert current_questions(at)[0] == "person.labor_insurance_days"


def test_the_language_can_be_switched_at_any_time():
    text = load_text()
    at = choose_birth(app())
    assert at.title[0].value == text["citizen.title"]["zh-TW"]
    assert any(b.label == text["question.dont_know"]["zh-TW"] for b in at.button)
    at.sidebar.radio(key="w:lang").set_value("en").run()
    assert at.title[0].value == text["citizen.title"]["en"]
    assert any(b.label == text["question.dont_know"]["en"] for b in at.button)
    # The engine's words follow: the reason for asking names the services in English.
    assert any("Birth registration" in c.value for c in at.caption)
    at.sidebar.radio(key="w:lang").set_value("zh-TW").run()
    assert at.title[0].value == text["citizen.title"]["zh-TW"]
    assert any("出生登記" in c.value for c in at.caption)


def test_a_share_link_restores_the_answers_and_leaves_the_address_bar():
    token = encode_token(
        ["birth"], {"events.birth": True, "events.birth.kind": "live", "person.sex": "female"}
    )
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["a"] = token
    at.run()
    assert not at.exception
    assert at.session_state.life_events == ["birth"]
    assert at.session_state.answers["person.sex"] == "female"
    assert "a" not in at.query_params
    assert at.success  # "your answers were restored"


def test_a_broken_share_link_restores_nothing():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["a"] = "not-a-token"
    at.run()
    assert not at.exception
    assert at.session_state.answers == {}
    assert at.error


def test_the_counter_page_takes_the_whole_profile_at_once(ui_engine):
    at = app()
    at.switch_page("app_pages/counter.py").run()
    assert not at.exception
    at.sidebar.radio(key="w:lang").set_value("en").run()
    at.number_input(key="w:children").set_value(1).run()
    values = {
        "c:residence": "taichung",
        "c:person.sex": "female",
        "c:person.nationality": "roc",
        "c:person.employment": "employed",
        "c:person.months_in_current_job": 30,
        "c:person.labor_insurance_days": 300,
        "c:person.employment_insurance_months": 40,
        "c:person.insured_salary": 30000,
        "c:events.birth": True,
        "c:events.birth.date": date.fromisoformat(BIRTH),
        "c:events.birth.kind": "live",
        "c:events.move": False,
        "c:children[0].order": 1,
        "c:children[0].childcare": "home",
    }
    for key, value in values.items():
        element = widget(at, key)
        assert element is not None, key
        element.set_value(value)
    at.button(key="counter:submit").click().run()
    assert not at.exception, at.exception
    answers = at.session_state.answers
    assert answers["events.birth"] is True and answers["person.sex"] == "female"
    groups = status_names(at)
    assert ui_engine.catalogue.services["birth-registration"].name.en in groups["eligible"]
    assert ui_engine.catalogue.services["labor-insurance-maternity-benefit"].name.en in groups["eligible"]
    # Every life event is checked at once, and the clerk has a text to read out and a hand-out.
    assert set(at.multiselect(key="w:counter_events").value) == set(ui_engine.catalogue.events)
    readout = "\n".join(m.value for m in at.markdown)
    assert "you are likely eligible" in readout
    assert at.get("download_button")
    # Nothing is kept for the next person.
    at.button(key="counter:clear").click().run()
    assert at.session_state.answers == {}


def test_the_counter_page_shows_a_refused_profile_next_to_the_form():
    at = app()
    at.switch_page("app_pages/counter.py").run()
    at.sidebar.radio(key="w:lang").set_value("en").run()
    widget(at, "c:person.days_in_taiwan_last_year").set_value(400)
    at.button(key="counter:submit").click().run()
    assert not at.exception
    assert any("Days in Taiwan" in e.value for e in at.error)
    assert "person.days_in_taiwan_last_year" not in at.session_state.answers


# --- the parts without Streamlit ------------------------------------------------------------------


def test_every_ui_text_has_both_languages_and_every_key_used_exists():
    text = load_text()
    assert all(set(entry) == set(LANGS) for entry in text.values())
    used = set()
    for path in (ROOT / "ui").rglob("*.py"):
        if "staff" in path.relative_to(ROOT).as_posix():  # the staff area has ui/staff_text.yaml
            continue
        used |= set(
            re.findall(r"""\.t\(\s*["']([a-z_]+\.[A-Za-z0-9_.\-/]*[A-Za-z0-9_])["']""", path.read_text())
        )
    assert used, "no text keys found: the pattern is stale"
    assert not sorted(used - set(text)), sorted(used - set(text))


def test_unanswered_events_stay_unknown_and_no_means_not_listed():
    profile = build_profile({"events.birth": True, "events.move": False, "events.job_loss": None})
    assert profile["events"]["birth"] == {}
    assert "move" not in profile["events"]
    assert profile["events"]["job_loss"] is None
    assert profile["events"]["business_start"] is None  # not asked: unknown, not "no"


def test_the_newborn_takes_the_birth_date_from_one_answer():
    profile = build_profile({"events.birth": True, "events.birth.date": BIRTH, "children": 2})
    assert profile["children"][0] == {"birth_date": BIRTH}
    assert profile["children"][1] == {}


def test_changing_answers_drops_those_that_no_longer_apply():
    answers = with_answer({}, "children", 2)
    answers = with_answer(answers, "children[1].order", 2)
    answers = with_answer(answers, "events.birth", True)
    answers = with_answer(answers, "events.birth.kind", "live")
    answers = with_answer(answers, "children", 1)
    assert "children[1].order" not in answers
    answers = with_answer(answers, "events.birth", False)
    assert "events.birth.kind" not in answers


def test_a_wrong_answer_is_refused_with_its_path():
    with pytest.raises(ProfileError, match=r"person\.labor_insurance_days"):
        with_answer({}, "person.labor_insurance_days", -1)
    with pytest.raises(ProfileError, match="children"):
        check({"children": "two"})


def test_the_share_token_round_trips_and_refuses_junk():
    answers = {"events.birth": True, "events.birth.date": BIRTH, "person.sex": None, "residence": "taipei"}
    token = encode_token(["birth", "welfare"], answers)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert decode_token(token, {"birth", "welfare"}) == (["birth", "welfare"], answers)
    for bad in ("", "%%%", encode_token(["nope"], {}), encode_token(["birth"], {"person.age": 3})):
        with pytest.raises(ProfileError):
            decode_token(bad, {"birth"})


def test_answers_from_a_profile_make_that_profile_again():
    profile = {
        "residence": "taichung",
        "person": {"sex": "female"},
        "children": [{"order": 1}],
        "events": {"birth": {"kind": "live"}},
    }
    again = build_profile(answers_from_profile(profile))
    assert again["events"] == {"birth": {"kind": "live"}}
    assert again["children"] == [{"order": 1}]
    assert again["person"] == {"sex": "female"}


def test_results_refresh_with_the_answers(ui_engine):
    empty = refresh(ui_engine, ["birth"], {}, "en")
    assert empty.questions and empty.questions[0].fact == "events.birth"
    assert empty.follow_ups and {q.fact for q in empty.follow_ups} >= {
        "events.birth.date",
        "events.birth.kind",
    }
    answered = refresh(ui_engine, ["birth"], FAMILY, "en")
    by_id = {r.service: r.status for r in answered.recommendation.results}
    assert by_id["birth-registration"] == "eligible"
    assert by_id["labor-insurance-maternity-benefit"] == "eligible"
    assert not any(q.fact in FAMILY for q in answered.questions)


def test_an_empty_profile_does_not_crash_the_server():
    # The questionnaire starts from an empty profile, where no rule of some partitions
    # matches. durable-rules 2.0.28 has died (SIGSEGV) on delete_state after such an
    # unhandled assert; the engine must keep surviving it, since one crash ends every
    # citizen's session. A child process, so that a regression fails this test instead
    # of killing the test run.
    code = (
        "from ui.runtime import build_engine\n"
        "from ui.questionnaire import refresh\n"
        "e = build_engine()\n"
        "for i in range(500):\n"
        "    refresh(e, list(e.catalogue.events), {}, 'en')\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", (done.returncode, done.stderr[-2000:])
