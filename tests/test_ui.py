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


def events_picker(at: AppTest):
    """The citizen's life-event picker (its key names the page's language)."""
    return at.multiselect(key=f"w:life_events:{at.session_state.lang}")


def choose_events(at: AppTest, *events: str) -> AppTest:
    for event in events:
        events_picker(at).select(event).run()
        assert not at.exception, at.exception
    return at


def choose_birth(at: AppTest) -> AppTest:
    return choose_events(at, "birth")


def audience_names(at: AppTest) -> dict[str, dict[str, list[str]]]:
    """Service names under each heading, as the page shows them: for you, for your
    partner, for the household; in each, likely eligible, need more information, not
    eligible. An urgent mark before the name is left out."""
    text = load_text()
    lang = at.session_state.lang
    audiences = {"### " + text[f"results.for.{a}"][lang]: a for a in ("person", "partner", "household")}
    statuses = {"#### " + text[f"results.group.{s}"][lang]: s for s in ("eligible", "unknown", "ineligible")}
    urgent = text["results.urgent"][lang] + " · "
    out: dict[str, dict[str, list[str]]] = {
        a: {"eligible": [], "unknown": [], "ineligible": []} for a in audiences.values()
    }
    audience = status = None
    for element in _flatten(at.main):
        if getattr(element, "type", "") == "markdown":
            value = element.value
            if value in audiences:
                audience, status = audiences[value], None
            status = next((s for h, s in statuses.items() if value.startswith(h)), status)
        if getattr(element, "type", "") == "expander" and audience and status:
            out[audience][status].append(element.label.removeprefix(urgent).split(" · ")[0])
    return out


def status_names(at: AppTest) -> dict[str, list[str]]:
    """Service names under each status, whoever they are for."""
    out: dict[str, list[str]] = {"eligible": [], "unknown": [], "ineligible": []}
    for groups in audience_names(at).values():
        for status, names in groups.items():
            out[status] += names
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
    assert widget(at, f"w:life_events:{at.session_state.lang}") is not None


def test_a_citizen_answering_the_birth_questionnaire_sees_the_right_services(ui_engine):
    at = choose_birth(app())
    at.sidebar.radio(key="w:lang").set_value("en").run()
    asked = answer_in_order(at, FAMILY)
    # First the family (a partner or not: "I don't know" here, so only she is
    # considered), then the birth's card.
    assert asked[:2] == ["partner", "events.birth"], asked
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
    # The engine's words follow: the reason for asking (the first card: is there a partner?)
    # names the services in English.
    assert any("Birth grant top" in c.value for c in at.caption)
    at.sidebar.radio(key="w:lang").set_value("zh-TW").run()
    assert at.title[0].value == text["citizen.title"]["zh-TW"]
    assert any("生育補助差額" in c.value for c in at.caption)


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


def counter_key(at: AppTest, path: str) -> str:
    """A counter widget's key: the form's generation, then the path (``c0:person.sex``)."""
    return f"c{at.session_state.counter_generation}:{path}"


def counter_events(at: AppTest):
    """The counter's life-event picker: the form's generation, then the page's language."""
    return at.multiselect(
        key=f"w{at.session_state.counter_generation}:counter_events:{at.session_state.lang}"
    )


def open_counter(events: list[str] | None = None) -> AppTest:
    at = app()
    at.switch_page("app_pages/counter.py").run()
    assert not at.exception, at.exception
    at.sidebar.radio(key="w:lang").set_value("en").run()
    if events:
        counter_events(at).set_value(events).run()
    return at


def test_the_counter_page_takes_the_whole_profile_at_once(ui_engine):
    at = open_counter()
    # No event is on by default: the clerk picks them first (issue 13 item 11).
    assert counter_events(at).value == []
    assert not at.get("download_button")
    counter_events(at).set_value(["birth"]).run()
    at.number_input(key="w0:children").set_value(1).run()
    values = {
        "residence": "taichung",
        "person.sex": "female",
        "person.nationality": "roc",
        "person.employment": "employed",
        "person.months_in_current_job": 30,
        "person.labor_insurance_days": 300,
        "person.employment_insurance_months": 40,
        "person.insured_salary": 30000,
        "events.birth": True,
        "events.birth.date": date.fromisoformat(BIRTH),
        "events.birth.kind": "live",
        "events.move": False,
        "children[0].order": 1,
        "children[0].childcare": "home",
    }
    for path, value in values.items():
        element = widget(at, counter_key(at, path))
        assert element is not None, path
        element.set_value(value)
    at.button(key="counter:submit").click().run()
    assert not at.exception, at.exception
    answers = at.session_state.answers
    assert answers["events.birth"] is True and answers["person.sex"] == "female"
    groups = status_names(at)
    assert ui_engine.catalogue.services["birth-registration"].name.en in groups["eligible"]
    assert ui_engine.catalogue.services["labor-insurance-maternity-benefit"].name.en in groups["eligible"]
    # The clerk has a text to read out, with what applies and what is open, and a hand-out.
    readout = "\n".join(m.value for m in at.markdown)
    assert "you are likely eligible" in readout
    assert "because this is not met" not in readout  # the "not eligible" ones are counted only
    assert at.get("download_button")
    # Nothing is kept for the next person.
    at.button(key="counter:clear").click().run()
    assert at.session_state.answers == {}


def test_the_counter_page_takes_both_adults_and_says_who_does_what(ui_engine):
    at = open_counter(["birth"])
    values = {
        "person.sex": "male",
        "person.employment": "employed",
        "person.marital_status": "married",
        "partner": True,
        "partner.sex": "female",
        "partner.labor_insurance_days": 300,
        "partner.insured_salary": 30000,
        "events.birth": True,
        "events.birth.date": date.fromisoformat(BIRTH),
        "events.birth.kind": "live",
    }
    for path, value in values.items():
        element = widget(at, counter_key(at, path))
        assert element is not None, path
        element.set_value(value)
    at.button(key="counter:submit").click().run()
    assert not at.exception, at.exception
    assert at.session_state.answers["partner"] is True
    groups = audience_names(at)
    maternity = ui_engine.catalogue.services["labor-insurance-maternity-benefit"].name.en
    assert maternity in groups["partner"]["eligible"]
    assert maternity not in groups["person"]["ineligible"]  # hers, not a "no" for him
    readout = "\n".join(m.value for m in at.markdown).replace("\\", "")  # markdown escapes
    assert "For your partner:" in readout and "NT$60,000" in readout
    # "No partner" is a choice of its own, and then her facts no longer count.
    widget(at, counter_key(at, "partner")).set_value(False)
    at.button(key="counter:submit").click().run()
    assert at.session_state.answers["partner"] is False
    assert not audience_names(at)["partner"]["eligible"]


def fill_value(element, today: date):
    """A non-empty value for any counter widget (the last choice, a number, a date)."""
    kind = element.type
    if kind == "selectbox":
        return element.options[-1]
    if kind == "multiselect":
        return [element.options[0]]
    if kind == "number_input":
        return 1 if element.step == 1 else 1.5
    if kind == "date_input":
        return today - timedelta(days=3)
    if kind == "text_input":
        return "x"
    if kind == "radio":
        return element.options[0]
    raise AssertionError(f"no value for a {kind}")


def counter_widgets(at: AppTest) -> list:
    mine = f"c{at.session_state.counter_generation}:"
    return [e for kind in WIDGETS for e in at.get(kind) if e.key and e.key.startswith(mine)]


def test_clearing_the_counter_page_leaves_every_field_empty(ui_engine):
    # Issue 13 item 10: the previous person's dates and numbers leaked into the next
    # submission. Every widget of the form is filled, then cleared.
    at = open_counter(list(ui_engine.catalogue.events))
    at.number_input(key="w0:children").set_value(2).run()
    filled = counter_widgets(at)
    assert len(filled) > 80, len(filled)  # both adults, two children, every event
    for element in filled:
        element.set_value(fill_value(element, TODAY))
    at.button(key="counter:submit").click().run()
    assert not at.exception, at.exception
    assert len(at.session_state.answers) > 50 or at.session_state.counter_error
    at.button(key="counter:clear").click().run()
    assert not at.exception, at.exception
    assert at.session_state.answers == {}
    assert counter_events(at).value == []
    assert at.number_input(key=f"w{at.session_state.counter_generation}:children").value is None
    after = counter_widgets(at)
    assert after, "the form is still there"
    for element in after:
        value = element.value
        assert value in (None, [], ""), (element.key, value)
    at.button(key="counter:submit").click().run()
    assert at.session_state.answers == {}


def test_the_counter_page_shows_a_refused_profile_next_to_the_form():
    at = open_counter(["welfare"])
    widget(at, counter_key(at, "person.days_in_taiwan_last_year")).set_value(400)
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
    family = refresh(ui_engine, ["birth"], {}, "en")
    assert family.questions and family.questions[0].fact == "partner"  # who the family is, first
    empty = refresh(ui_engine, ["birth"], {"partner": None}, "en")
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


def test_the_partner_answer_makes_the_three_readings_of_the_profile():
    # profile.md, "Families: the partner": yes is {} filled by partner.* answers, no is
    # false, not answered (or "I don't know") leaves the partner out.
    assert build_profile({"partner": True, "partner.sex": "female"})["partner"] == {"sex": "female"}
    assert build_profile({"partner": True})["partner"] == {}
    assert build_profile({"partner": False, "partner.sex": "female"})["partner"] is False
    assert "partner" not in build_profile({"partner": None, "partner.sex": "female"})
    assert "partner" not in build_profile({"person.sex": "male"})
    # Saying "no partner" drops what was said about one.
    answers = with_answer({"partner": True, "partner.labor_insurance_days": 300}, "partner", False)
    assert answers == {"partner": False}
    with pytest.raises(ProfileError, match=r"partner\.labor_insurance_days"):
        with_answer({"partner": True}, "partner.labor_insurance_days", -1)


def test_a_partner_survives_the_share_token_and_a_profile_file():
    answers = {
        "partner": True,
        "partner.sex": "female",
        "partner.insured_salary": 30000,
        "person.sex": "male",
    }
    token = encode_token(["birth"], answers)
    assert decode_token(token, {"birth"}) == (["birth"], answers)
    for profile in (
        {"person": {"sex": "male"}, "partner": {"sex": "female", "labor_insurance_days": 300}},
        {"person": {"sex": "female"}, "partner": {}},
        {"person": {"sex": "female"}, "partner": False},
    ):
        again = build_profile(answers_from_profile(profile))
        assert again["partner"] == profile["partner"] and again["person"] == profile["person"]
    assert "partner" not in answers_from_profile({"person": {"sex": "female"}})


def test_the_partners_facts_are_asked_in_the_engines_order(ui_engine):
    # A father answers for the birth: the engine names her facts ("your partner"), the
    # amount's fact (her insured salary) after those that decide a status.
    answers = {
        "partner": True,
        "events.birth": True,
        "events.birth.date": BIRTH,
        "events.birth.kind": "live",
        "children": 1,
        "person.sex": "male",
        "partner.sex": "female",
        "partner.labor_insurance_days": 300,
    }
    snapshot = refresh(ui_engine, ["birth"], answers, "en")
    facts = [q.fact for q in snapshot.questions]
    assert "partner.insured_salary" in facts
    assert facts.index("partner.insured_salary") > facts.index("partner.employment")
    snapshot = refresh(ui_engine, ["birth"], {**answers, "partner.insured_salary": 30000}, "en")
    theirs = {r.service: r for r in snapshot.recommendation.partner_results}
    assert theirs["labor-insurance-maternity-benefit"].amount.value == 60000
    ours = {r.service: r for r in snapshot.recommendation.results}
    assert ours["birth-grant-top-up"].amount.value == 40000
    assert snapshot.recommendation.totals.one_off == 100000
    # His "not eligible" for her benefit is not shown; hers is.
    shown = [(r.for_, r.service) for r in snapshot.shown()]
    assert ("partner", "labor-insurance-maternity-benefit") in shown
    assert ("person", "labor-insurance-maternity-benefit") not in shown


def test_the_move_date_is_asked_when_the_registration_needs_it_for_its_deadline(ui_engine):
    snapshot = refresh(ui_engine, ["moving"], {"events.move": True, "partner": None}, "en")
    by_id = {r.service: r for r in snapshot.recommendation.results}
    assert by_id["moving-registration"].status == "eligible"
    assert "events.move.date" in [q.fact for q in snapshot.questions]


# --- issue 13: the citizen questionnaire as a user meets it -------------------------------------


def test_the_browser_language_decides_the_first_page():
    from ui.text import browser_language

    assert browser_language("en-US,en;q=0.9") == "en"
    assert browser_language("zh-TW,zh;q=0.9,en;q=0.8") == "zh-TW"
    assert browser_language("fr-FR,en;q=0.5,zh;q=0.7") == "zh-TW"  # by q-value, not position
    assert browser_language("fr-FR", "en-GB") == "en"  # navigator.language when no header fits
    assert browser_language(None, None) == LANGS[0]
    assert browser_language("de;q=x", None) == LANGS[0]


def test_the_draft_token_carries_the_cards_and_older_links_count_every_answer():
    from ui.answers import cards_after, decode_draft

    answers = {"partner": False, "events.birth": True, "events.birth.kind": "live", "person.sex": None}
    cards = ["partner", "events.birth", "person.sex"]
    draft = decode_draft(encode_token(["birth"], answers, "en", cards), {"birth"})
    assert (draft.life_events, draft.answers, draft.lang, draft.cards) == (["birth"], answers, "en", cards)
    assert decode_draft(encode_token(["birth"], answers), {"birth"}).cards == list(answers)
    # A card whose answer was dropped goes; a changed answer keeps its number.
    assert cards_after(cards, {"partner": False, "person.sex": "female"}, "person.sex") == [
        "partner",
        "person.sex",
    ]
    assert cards_after(cards, answers, "partner") == cards


def test_every_where_to_find_hint_names_a_fact_of_the_profile():
    from engine.language.facts import fact_types

    types = fact_types()
    facts = set(types["profile"]) | {
        f"partner.{k.split('.', 1)[1]}" for k in types["profile"] if k.startswith("person.")
    }
    facts |= {f"children.{k.split('.', 1)[1]}" for k in types["child"]}
    hints = [k.removeprefix("where.") for k in load_text() if k.startswith("where.")]
    assert "person.insured_salary" in hints
    assert not [h for h in hints if h not in facts], [h for h in hints if h not in facts]


# --- the citizen stories as a tester lived them (after 5291d45) ---------------------------------


def test_the_partner_is_asked_for_a_service_decided_for_each_adult_in_words_without_a_child(ui_engine):
    # rules.md ("Families, steps and dates") decides every service that reads person.* for
    # the partner too: with the job event alone, an unemployed partner is told to register
    # as a job seeker. The partner question is asked, and speaks of no child.
    text = load_text()
    at = app()
    at.sidebar.radio(key="w:lang").set_value("en").run()
    choose_events(at, "employment")
    assert current_questions(at)[0] == "partner"
    card = widget(at, "q:partner")
    assert card.label == text["question.partner.adults"]["en"]
    assert card.options == [text["question.partner_yes"]["en"], text["question.partner_no.adults"]["en"]]
    assert any(c.value.replace("\\", "") == text["question.partner_hint.adults"]["en"] for c in at.caption)
    assert "child" not in " ".join([card.label, *card.options, text["question.partner_hint.adults"]["en"]])
    at.sidebar.radio(key="w:lang").set_value("zh-TW").run()
    card = widget(at, "q:partner")
    assert card.label == text["question.partner.adults"]["zh-TW"]
    assert text["question.partner_no.adults"]["zh-TW"] in card.options
    at.sidebar.radio(key="w:lang").set_value("en").run()

    asked = answer_in_order(at, {"partner": True, "partner.employment": "unemployed"}, limit=40)
    assert asked[0] == "partner" and "partner.employment" in asked, asked
    registration = ui_engine.catalogue.services["job-seeker-registration"].name.en
    assert registration in audience_names(at)["partner"]["eligible"]
    # The answer reads in the same words in the list of answers.
    rows = [m.value.replace("\\", "") for m in at.markdown]
    assert any(text["question.partner_yes"]["en"] in row for row in rows), rows


def test_the_partner_question_keeps_its_words_about_the_child_after_a_birth(ui_engine):
    text = load_text()
    at = choose_birth(app())
    at.sidebar.radio(key="w:lang").set_value("en").run()
    card = widget(at, "q:partner")
    assert card.label == text["question.partner.parents"]["en"]
    assert text["question.partner_no.parents"]["en"] == "No: I am raising the child alone"
    assert text["question.partner_no.parents"]["en"] in card.options
    # A birth among other events: the child's other parent still.
    choose_events(at, "employment")
    assert widget(at, "q:partner").label == text["question.partner.parents"]["en"]


@pytest.mark.parametrize("events", [["employment"], ["moving"], ["birth"]])
def test_no_partner_or_i_dont_know_adds_no_question(ui_engine, events):
    # The partner question is one card: only "yes" brings the partner's facts.
    without = refresh(ui_engine, events, {"partner": None}, "en")
    assert [q.fact for q in refresh(ui_engine, events, {"partner": False}, "en").questions] == [
        q.fact for q in without.questions
    ]
    assert not [q.fact for q in without.questions if q.fact.startswith("partner")]
    with_partner = refresh(ui_engine, events, {"partner": True}, "en")
    assert [q.fact for q in with_partner.questions if q.fact.startswith("partner.")]


def test_the_urgent_banner_says_whose_each_deadline_is(ui_engine):
    # Story 2: a father with a partner whose facts are all "I don't know", her sex too. His
    # paternity leave and hers (open while her sex is unknown: Kleene) are both urgent;
    # the banner says whose each is, as the plan does, never two identical lines.
    text = load_text()
    birth = TODAY - timedelta(days=10)
    answers = {
        "partner": True,
        "events.birth": True,
        "events.birth.date": birth.isoformat(),
        "events.birth.kind": "live",
        "children": 1,
        "person.sex": "male",
        "person.employment": "employed",
        "person.marital_status": "married",
        "partner.sex": None,
        "partner.employment": None,
    }
    name = ui_engine.catalogue.services["paternity-leave"].name
    deadline = (birth + timedelta(days=14)).isoformat()
    for lang in LANGS:
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params["a"] = encode_token(["birth"], answers, lang)
        at.run()
        assert not at.exception, at.exception
        banner = next(
            e.value.replace("\\", "") for e in at.warning if text["results.urgent_heading"][lang] in e.value
        )
        lines = banner.splitlines()[1:]
        assert len(lines) == len(set(lines)), lines
        for who in ("person", "partner"):
            item = text["results.urgent_item"][lang].format(
                who=text[f"plan.who.{who}"][lang], name=name.get(lang), date=deadline
            )
            assert f"- {item}" in lines, (item, lines)
    snapshot = refresh(ui_engine, ["birth"], answers, "en")
    hers = {r.service: r.status for r in snapshot.recommendation.partner_results}
    assert hers["paternity-leave"] == "unknown"


def test_a_waived_document_says_no_need_to_bring_once(ui_engine):
    # The catalogue's note of a waived document often says it itself ("No need to bring:
    # the agency checks the household register itself"); the line said it twice.
    from ui.explain import document_line
    from ui.text import words

    for lang in LANGS:
        w = words(ui_engine.catalogue, lang)
        mark = load_text()["results.no_need"][lang]
        booklet = ui_engine.catalogue.documents["household-booklet"]
        note = booklet.note.get(lang)
        assert note.casefold().startswith(mark.casefold())  # the case the tester met
        line = document_line(booklet.name.get(lang), note, True, w)
        assert line == f"{booklet.name.get(lang)} — {note}"
        assert line.casefold().count(mark.casefold()) == 1, line
    w = words(ui_engine.catalogue, "en")
    # A waived document whose note does not say so gets the mark; without a note, the mark alone.
    assert document_line("Transcript", "The office checks it", True, w) == (
        "Transcript — no need to bring: The office checks it"
    )
    assert document_line("Transcript", None, True, w) == "Transcript — no need to bring"
    # A document to bring: its note, if any, without the mark.
    assert (
        document_line("Receipts", "Only to claim a refund", False, w) == "Receipts — Only to claim a refund"
    )
    assert document_line("National ID card", None, False, w) == "National ID card"


def test_the_birth_registrations_documents_say_no_need_to_bring_once():
    text = load_text()
    for lang in LANGS:
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params["a"] = encode_token(["birth"], FAMILY, lang)
        at.run()
        assert not at.exception, at.exception
        mark = text["results.no_need"][lang].casefold()
        lines = [
            line
            for m in at.markdown
            for line in m.value.replace("\\", "").casefold().splitlines()
            if mark in line
        ]
        assert lines, "no waived document on the page"
        assert all(line.count(mark) == 1 for line in lines), lines


def test_the_counter_read_out_speaks_of_the_partner_as_your_partner(ui_engine):
    # The read-out said "Job-seeker registration: you are likely eligible." under "For your
    # partner:": the partner's results are said of the partner, in both languages.
    text = load_text()
    at = open_counter(["employment"])
    for path, value in {
        "partner": True,
        "person.employment": "employed",
        "partner.employment": "unemployed",
    }.items():
        widget(at, counter_key(at, path)).set_value(value)
    at.button(key="counter:submit").click().run()
    assert not at.exception, at.exception
    name = ui_engine.catalogue.services["job-seeker-registration"].name
    for lang in LANGS:
        at.sidebar.radio(key="w:lang").set_value(lang).run()
        readout = [m.value.replace("\\", "") for m in at.markdown if m.value.startswith("- ")]
        lines = "\n".join(readout).splitlines()
        start = lines.index("- " + text["readout.for.partner"][lang])
        end = lines.index("- " + text["readout.for.household"][lang])
        theirs = lines[start + 1 : end]
        said = text["readout.eligible.partner"][lang].format(name=name.get(lang))
        assert any(line.startswith(f"- {said}") for line in theirs), theirs
        you = text["readout.eligible.person"][lang].format(name="").strip(":： ")
        assert not [line for line in theirs if you in line], theirs


def test_a_step_with_its_own_earlier_deadline_says_that_one_first(ui_engine):
    """A home bought, moved on 15 November, the household not yet registered there: the
    moving registration is due 30 days after the move, while for the tax rate it still
    counts until 22 September. The page put "First: registration by 2027-09-22" right
    under "Apply by 2026-12-15" for the same registration."""
    from engine import validate_profile
    from ui.explain import deadlines, step_lines
    from ui.text import words

    profile = validate_profile(
        {
            "as_of": "2026-12-05",
            "events": {
                "move": {"date": "2026-11-15", "new_residence": "taipei"},
                "home_purchase": {
                    "date": "2026-11-01",
                    "registered_at_property": False,
                    "rented_or_business_use": False,
                },
            },
        }
    )
    rec = ui_engine.recommend(profile, event="moving")
    results = [*rec.results, *rec.partner_results]
    tax = next(r for r in results if r.service == "self-use-land-value-tax-rate")
    assert [s.service for s in tax.steps] == ["moving-registration"]
    assert tax.steps[0].deadline == date(2027, 9, 22)
    for lang in LANGS:
        w = words(ui_engine.catalogue, lang)
        (line,) = step_lines(tax, w, deadlines(results))
        assert line.index(w.date(date(2026, 12, 15))) < line.index(w.date(date(2027, 9, 22))), line
    # Without an earlier deadline of its own, the step's date is the one said.
    (line,) = step_lines(tax, words(ui_engine.catalogue, "en"), {})
    assert "2026-12-15" not in line and "2027-09-22" in line
