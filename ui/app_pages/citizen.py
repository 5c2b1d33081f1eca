"""The citizen questionnaire: life events, one question at a time, results as they come."""

from __future__ import annotations

from datetime import date

import streamlit as st

from ui import session
from ui.questionnaire import question_for, refresh
from ui.runtime import get_engine
from ui.text import words
from ui.views import answer_text, md, plan_section, qr_png, question_card, results_section

engine = get_engine()
w = words(engine.catalogue, st.session_state.lang)
today = date.today()


def _keep_life_events() -> None:
    # The widget's own state is dropped when another page is shown; keep the choice.
    st.session_state.life_events = list(st.session_state["w:life_events"])


def _edit(path: str) -> None:
    st.session_state.editing = path
    st.session_state.question_error = None


def _start_over() -> None:
    session.reset()


st.title(w.t("citizen.title"))
st.markdown(md(w.t("citizen.intro")))
st.multiselect(
    w.t("events.label"),
    list(engine.catalogue.events),
    default=st.session_state.life_events,
    format_func=w.event,
    key="w:life_events",
    on_change=_keep_life_events,
    placeholder=w.t("events.placeholder"),
)
life_events = st.session_state.life_events
if not life_events:
    st.info(w.t("events.none_chosen"))
    st.stop()

answers = st.session_state.answers
snapshot = refresh(engine, life_events, answers, w.lang, today)
if snapshot.error:
    st.error(w.t("question.invalid", message=snapshot.error))

# The question: the one being changed, else the engine's best next question.
editing = st.session_state.editing
if editing:
    asked = next((q for q in snapshot.questions if q.fact == editing), None)
    if asked is None:  # an answered question: rebuild it from its fact
        asked = question_for(editing)
    question_card(asked, len(answers), w, today, editing=True)
elif snapshot.questions:
    question_card(snapshot.questions[0], len(answers) + 1, w, today, follow_ups=snapshot.follow_ups)
    st.caption(md(w.t("question.progress", answered=len(answers), left=len(snapshot.questions))))
else:
    st.success(w.t("question.done"))

if answers:
    with st.expander(w.t("answers.heading", count=len(answers))):
        for path, value in answers.items():
            left, right = st.columns([4, 1], vertical_alignment="center")
            left.markdown(f"{md(w.fact(path))}: **{md(answer_text(path, value, w))}**")
            right.button(w.t("answers.change"), key=f"edit:{path}", on_click=_edit, args=(path,))
        st.button(w.t("answers.start_over"), key="start_over", on_click=_start_over)

if snapshot.recommendation is not None:
    results_section(snapshot, w)
    plan_section(snapshot.recommendation, engine, w, key="download:citizen")

    st.markdown(f"## {md(w.t('share.heading'))}")
    st.caption(md(w.t("share.intro")))
    if st.button(w.t("share.make"), key="share"):
        link = session.share_link(st.context.url)
        st.warning(w.t("share.warning"), icon="⚠️")
        st.code(link, language=None, wrap_lines=True)
        st.image(qr_png(link), caption=w.t("share.qr_caption"), width=240)
