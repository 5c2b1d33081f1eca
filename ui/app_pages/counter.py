"""The counter-staff page: the clerk picks the life events, then fills the whole
profile (both adults) in one form; the page gives the results, a text to read out (who
does what: what applies and what is still open) and the plan to print as a hand-out.

The form is built from the profile model itself (engine.language.facts, engine.language.validate), not
from a list in code, so a field added to the contract shows up here by itself; the
partner's section has the applicant's fields. The answers are the same session answers
the questionnaire uses: a citizen who brings a share link arrives with the form filled in.

"Clear the form for the next person" must leave every field empty (issue 13 item 10):
a browser keeps a widget's value as long as a widget with the same id is on the page,
whatever the server's state says. So every widget's key carries the form's generation
(``c3:person.birth_date``), and clearing starts a new generation: new widgets, empty.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import streamlit as st

from engine import EVENT_NAMES, Question, base_fact_types, build_plan, child_base_fact_types, enum_values
from ui import explain, session
from ui.answers import check
from ui.questionnaire import refresh
from ui.runtime import get_engine
from ui.text import words
from ui.views import NOT_GIVEN, answer_value, md, picker_key, plan_section, question_input, results_section

engine = get_engine()
w = words(engine.catalogue, st.session_state.lang)
today = date.today()
TYPES = base_fact_types()
CHILD_TYPES = child_base_fact_types()
ENUMS = enum_values()
SECTIONS = ("person", "household", "assets", "student_loan")
SKIP = {"as_of"}  # the evaluation date is today's
_ERROR_PATH = re.compile(r"^answers: ([^:]+): (.*)$")
_YES_NO = re.compile(r"^(events\.[a-z_]+|partner)$")  # a yes / no / not known choice


def generation() -> int:
    return st.session_state.setdefault("counter_generation", 0)


def prefix() -> str:
    return f"c{generation()}:"


def field_key(path: str) -> str:
    return f"{prefix()}{path}"


def events_key() -> str:
    return picker_key(f"w{generation()}:counter_events", w.lang)


def counter_input(path: str, kind: str, choices: list[str], label_path: str | None = None) -> None:
    """One field, empty when unknown: a choice list gets a "not known" entry."""
    answers = st.session_state.answers
    current = answers.get(path)
    key = field_key(path)
    if kind == "partner":
        options: list[Any] = [None, True, False]
        st.selectbox(
            w.t("counter.partner"),
            options,
            index=options.index(current) if current in options else 0,
            key=key,
            format_func=lambda v: w.t(
                "counter.partner.unknown"
                if v is None
                else "counter.partner.yes"
                if v
                else "counter.partner.no"
            ),
        )
        return
    if kind in ("bool", "event") or (kind == "str" and choices):
        options = [None, *([True, False] if kind in ("bool", "event") else choices)]
        label = (
            w.t("counter.event_happened", event=w.fact(path))
            if kind == "event"
            else w.fact(label_path or path)
        )
        st.selectbox(
            label,
            options,
            index=options.index(current) if current in options else 0,
            key=key,
            format_func=lambda v: w.t("counter.unknown") if v is None else w.value(v),
        )
        return
    question = Question(path, path, kind, choices, [], "")
    question_input(question, w, key, current, answers, today, label=w.fact(label_path or path))


def _keep_events() -> None:
    st.session_state.counter_events = list(st.session_state[events_key()])


def _set_children() -> None:
    count = st.session_state[f"w{generation()}:children"]
    answers = dict(st.session_state.answers)
    if count is None:
        answers.pop("children", None)
    else:
        answers["children"] = int(count)
    st.session_state.answers = {
        p: v
        for p, v in answers.items()
        if not (p.startswith("children[") and int(p[9 : p.index("]")]) >= (count or 0))
    }


def _submit() -> None:
    answers: dict[str, Any] = {}
    if "children" in st.session_state.answers:
        answers["children"] = st.session_state.answers["children"]
    mine = prefix()
    for key, raw in st.session_state.items():
        if not (isinstance(key, str) and key.startswith(mine)):
            continue
        path = key[len(mine) :]
        kind = "event" if _YES_NO.match(path) else "value"
        value = raw if kind == "event" else answer_value("list" if isinstance(raw, list) else "value", raw)
        if value is None or value is NOT_GIVEN or value == []:
            continue  # empty: not known
        answers[path] = value
    try:
        check(answers)
    except Exception as exc:  # ProfileError: shown next to the form
        st.session_state.counter_error = str(exc)
        return
    st.session_state.counter_error = None
    st.session_state.answers = answers


def _clear() -> None:
    """Nothing of this person is left: the answers, the events, and every widget (a new
    generation of widgets, which the browser shows empty)."""
    old = generation()
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith((f"c{old}:", f"w{old}:"))]:
        del st.session_state[key]
    session.reset()
    st.session_state.counter_generation = old + 1
    st.session_state.counter_error = None


st.title(w.t("counter.title"))
st.caption(w.t("counter.intro"))
all_events = list(engine.catalogue.events)
chosen = st.session_state.counter_events
# No event is on by default: the clerk picks what happened, so the read-out and the
# hand-out hold only what applies (issue 13 item 11). A citizen who brings a share link
# arrives with the events they chose.
st.multiselect(
    w.t("counter.events"),
    all_events,
    default=list(st.session_state.life_events) if chosen is None else chosen,
    format_func=w.event,
    key=events_key(),
    on_change=_keep_events,
    placeholder=w.t("events.placeholder"),
)
life_events = list(st.session_state[events_key()])
count = st.session_state.answers.get("children")
st.number_input(
    w.t("counter.children_count"),
    min_value=0,
    max_value=20,
    step=1,
    value=count,
    key=f"w{generation()}:children",
    on_change=_set_children,
)

with st.form("counter", enter_to_submit=True):
    st.markdown(f"## {md(w.t('counter.section.general'))}")
    counter_input("residence", "str", list(ENUMS.get("residence", ())))
    for section in SECTIONS:
        with st.expander(w.t(f"counter.section.{section}"), expanded=section in ("person", "household")):
            for path, kind in TYPES.items():
                if path.startswith(section + ".") and path not in SKIP:
                    counter_input(path, kind, list(ENUMS.get(path, ())))
        if section == "person":
            # The partner: the applicant's fields again (profile.md, "Families: the partner").
            with st.expander(w.t("counter.section.partner"), expanded=True):
                counter_input("partner", "partner", [])
                for path, kind in TYPES.items():
                    if path.startswith("person."):
                        name = path.split(".", 1)[1]
                        counter_input(f"partner.{name}", kind, list(ENUMS.get(path, ())))
    n_children = st.session_state.answers.get("children") or 0
    if n_children:
        with st.expander(w.t("counter.section.children"), expanded=True):
            for i in range(n_children):
                for path, kind in CHILD_TYPES.items():
                    name = path.split(".", 1)[1]
                    counter_input(f"children[{i}].{name}", kind, list(ENUMS.get(path, ())))
    with st.expander(w.t("counter.section.events"), expanded=True):
        for event in EVENT_NAMES:
            counter_input(f"events.{event}", "event", [])
            for path, kind in TYPES.items():
                if path.startswith(f"events.{event}.") and not path.endswith(".listed"):
                    counter_input(path, kind, list(ENUMS.get(path, ())))
    error = st.session_state.get("counter_error")
    if error:
        match = _ERROR_PATH.match(error)
        where = w.fact(match.group(1)) if match else ""
        st.error(w.t("question.invalid", message=f"{where} — {error}" if where else error))
    st.form_submit_button(w.t("counter.submit"), type="primary", on_click=_submit, key="counter:submit")

st.button(w.t("counter.clear"), on_click=_clear, key="counter:clear")

if not life_events:
    st.info(w.t("counter.no_events"))
    st.stop()
snapshot = refresh(engine, life_events, st.session_state.answers, w.lang, today)
if snapshot.recommendation is not None:
    rec = snapshot.recommendation
    results_section(snapshot, w)
    st.markdown(f"## {md(w.t('counter.readout'))}")
    plan = build_plan(rec, engine.catalogue, w.lang)
    st.markdown(
        "\n".join(f"- {md(line)}" for line in explain.family_readout(snapshot.shown(), rec.totals, plan, w))
    )
    if snapshot.questions:
        st.markdown(
            f"**{md(w.t('counter.questions_left'))}:** "
            + md(w.join([w.fact(q.fact) for q in snapshot.questions[:5]]))
        )
    plan_section(rec, engine, w, key="download:counter")
