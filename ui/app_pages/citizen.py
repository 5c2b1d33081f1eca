"""The citizen questionnaire: life events, one question at a time, results as they come."""

from __future__ import annotations

from datetime import date

import streamlit as st

from ui import session
from ui.questionnaire import question_for, refresh
from ui.runtime import get_engine
from ui.text import words
from ui.views import (
    answer_text,
    dont_know_note,
    edit_answer,
    md,
    picker_key,
    plan_section,
    question_card,
    results_section,
    share_qr,
)

engine = get_engine()
w = words(engine.catalogue, st.session_state.lang)
today = date.today()
EVENTS_KEY = picker_key("w:life_events", w.lang)


def _keep_life_events() -> None:
    # The widget's own state is dropped when another page is shown; keep the choice.
    st.session_state.life_events = list(st.session_state[EVENTS_KEY])


def _start_over() -> None:
    session.reset()


st.title(w.t("citizen.title"))
st.markdown(md(w.t("citizen.intro")))
st.multiselect(
    w.t("events.label"),
    list(engine.catalogue.events),
    default=st.session_state.life_events,
    format_func=w.event,
    key=EVENTS_KEY,
    on_change=_keep_life_events,
    placeholder=w.t("events.placeholder"),
    # no "Select all": the first ArrowDown would land on it, and Enter take all six
    select_all=False,
)
life_events = st.session_state.life_events
if not life_events:
    st.session_state.focus_card = False
    st.info(w.t("events.none_chosen"))
    st.stop()

answers = st.session_state.answers
cards = st.session_state.cards
snapshot = refresh(engine, life_events, answers, w.lang, today)
if snapshot.error:
    st.error(w.t("question.invalid", message=snapshot.error))


def _card_number(path: str) -> int | None:
    return cards.index(path) + 1 if path in cards else None


# The question: the one being changed (in place, among the answers, when it has one),
# else the engine's best next question; its number counts cards, not facts.
editing = st.session_state.editing
if editing and editing not in answers:  # "answer it now" for a fact not asked yet
    asked = next((q for q in snapshot.questions if q.fact == editing), None) or question_for(editing)
    question_card(asked, None, w, today, editing=True, partner_wording=snapshot.partner_wording)
elif editing:
    pass  # shown below, in its row of the answers
elif snapshot.questions:
    question_card(
        snapshot.questions[0],
        len(cards) + 1,
        w,
        today,
        follow_ups=snapshot.follow_ups,
        partner_wording=snapshot.partner_wording,
    )
    st.caption(md(w.t("question.progress", answered=len(cards), left=len(snapshot.questions))))
else:
    # No card to take the focus: drop the request, or it would pull the focus away later
    # (from the event picker, when another event brings a first card).
    st.session_state.focus_card = False
    dont_know_note(w)
    st.success(w.t("question.done"))

if answers:
    # A new key while changing an answer: the list opens on the card even if it was closed.
    with st.expander(
        w.t("answers.heading", count=len(answers)),
        expanded=bool(editing),
        key=("answers:editing" if editing else "answers"),
    ):
        for path, value in answers.items():
            if path == editing:
                asked = next((q for q in snapshot.questions if q.fact == path), None) or question_for(path)
                question_card(
                    asked,
                    _card_number(path),
                    w,
                    today,
                    editing=True,
                    partner_wording=snapshot.partner_wording,
                )
                continue
            left, right = st.columns([4, 1], vertical_alignment="center")
            shown = answer_text(path, value, w, snapshot.partner_wording)
            left.markdown(f"{md(w.fact(path))}: **{md(shown)}**")
            right.button(w.t("answers.change"), key=f"edit:{path}", on_click=edit_answer, args=(path,))
        st.button(w.t("answers.start_over"), key="start_over", on_click=_start_over)

if snapshot.recommendation is not None and not answers:
    # Before a first answer every result is open: a pile of "need more information".
    st.info(w.t("answers.not_yet"))
elif snapshot.recommendation is not None:
    results_section(snapshot, w, answer_now=True)
    plan_section(snapshot.recommendation, engine, w, key="download:citizen")

    st.markdown(f"## {md(w.t('share.heading'))}")
    st.caption(md(w.t("share.intro")))
    if st.button(w.t("share.make"), key="share"):
        link = session.share_link(st.context.url)
        st.warning(w.t("share.warning"), icon="⚠️")
        st.code(link, language=None, wrap_lines=True)
        share_qr(link, w)
