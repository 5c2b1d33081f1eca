"""Streamlit building blocks shared by the two pages: a question, the results, the plan.

Layout for a phone first: one column, no tables, details folded into expanders.
All text comes from :class:`ui.text.Words`; data text (the engine's reasons, names,
offices) is escaped before it reaches Markdown, where ``$`` would start a formula.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta
from typing import Any

import segno
import streamlit as st

from engine import (
    EARLIEST_DATE,
    LATEST_DATE,
    EligibilityResult,
    Engine,
    ProfileError,
    Question,
    Recommendation,
    build_plan,
    render_plan_html,
)
from ui import explain
from ui.answers import birth_listed, cards_after, with_answer
from ui.questionnaire import ADULTS, AUDIENCES, GROUPS, Snapshot
from ui.text import Words

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|$<>~])")
NOT_GIVEN = object()  # a widget left empty: neither an answer nor "I don't know"


def md(text: str) -> str:
    """Data text made literal for ``st.markdown``."""
    return _MD_SPECIAL.sub(r"\\\1", text)


# Streamlit's keyboard focus mark on a radio option is a 25 % grey wash (1.16:1 on
# white); WCAG 2.2 asks 3:1 for a focus indicator, so draw an outline in the text colour.
# The question card keeps clear of the fixed header when it is scrolled to.
PAGE_CSS = """<style>
[data-testid="stRadioOption"][data-focus-visible="true"] {
  outline: 2px solid var(--st-text-color, #31333f); outline-offset: 2px; border-radius: 4px;
}
.st-key-active_card { scroll-margin-top: 4.5rem; }
</style>"""

# After an answer, the next question (or the one being changed) is scrolled into view
# and its first field takes the focus, so that a screen reader reads the question and a
# keyboard user is on it. The focus is placed once: the script waits only until the field
# is in the page (Streamlit may render the card just after this script). From then on the
# focus is the user's: a key or a pointer press, or the focus moved to anything but the
# page itself, ends the script, so a Tab to "Next" or "I don't know" is never taken back.
# For a moment after placing it, a focus that fell to the page (a rerun that renders in
# steps replaced the field under it, and nobody moved it) is put back on the field.
FOCUS_SCRIPT = """<script data-run="%(nonce)s">
(() => {
  const FIELD = 'input:not([type=hidden]):not([tabindex="-1"]):not([disabled]), textarea, ' +
    '[role=combobox], [role=spinbutton]';
  const CARD = '.st-key-active_card [data-testid="stForm"]';
  const USER = ['keydown', 'pointerdown'];
  let ended = false, placed = false, tries = 0, after = 0;
  const end = () => {
    ended = true;
    USER.forEach((type) => document.removeEventListener(type, end, true));
  };
  USER.forEach((type) => document.addEventListener(type, end, true));
  const onPage = () => !document.activeElement || document.activeElement === document.body;
  const go = () => {
    if (ended) return;
    const card = document.querySelector(CARD);
    const field = card && card.querySelector(FIELD);
    if (field && !placed) {
      card.closest('.st-key-active_card').scrollIntoView({block: 'start'});
      field.focus({preventScroll: true});
      placed = true;
    } else if (placed) {
      if (!onPage() && !(card && card.contains(document.activeElement) &&
                         document.activeElement.matches(FIELD))) return end();
      if (onPage() && field) field.focus({preventScroll: true});
      if (after++ > 12) return end();
    }
    if (tries++ < 40) setTimeout(go, 80); else end();
  };
  setTimeout(go, 30);
})();
</script>"""

LANGUAGE_SCRIPT = """<script>document.documentElement.lang = %(lang)s;</script>"""


def page_style() -> None:
    st.html(PAGE_CSS)


def page_language(lang: str) -> None:
    """``<html lang>`` follows the page's language (Streamlit's page says "en")."""
    st.html(LANGUAGE_SCRIPT % {"lang": json.dumps(lang)}, unsafe_allow_javascript=True)


def focus_active_card() -> None:
    """Move the view and the focus to the question card, once, after an action."""
    if not st.session_state.get("focus_card"):
        return
    st.session_state.focus_card = False
    st.session_state.focus_runs = st.session_state.get("focus_runs", 0) + 1
    st.html(FOCUS_SCRIPT % {"nonce": st.session_state.focus_runs}, unsafe_allow_javascript=True)


def picker_key(name: str, lang: str) -> str:
    """The key of a life-event picker in one language. Streamlit's multiselect keeps the
    label a chip was drawn with (the browser holds the chosen labels, not the values):
    a new key when the language changes draws the chosen events again in that language."""
    return f"{name}:{lang}"


def latest_date(today: date) -> date:
    # expected births and planned events, within the profile's dates
    return min(today + timedelta(days=366 * 2), LATEST_DATE)


# --- one question -----------------------------------------------------------------------------


def widget_key(path: str) -> str:
    return f"q:{path}"


def question_label(q: Question, w: Words, partner_wording: str = ADULTS) -> str:
    """A question as the citizen's card asks it. The partner question speaks of the
    child's other parent after a birth, of a spouse or partner otherwise
    (ui/questionnaire.py, partner_wording)."""
    return w.t(f"question.partner.{partner_wording}") if q.kind == "partner" else w.ask(q.fact)


def question_input(
    q: Question,
    w: Words,
    key: str,
    current: Any,
    answers: dict[str, Any],
    today: date,
    label: str | None = None,
    partner_wording: str = ADULTS,
) -> None:
    """The input for one question, by the kind of its fact; ``current`` pre-fills it.
    The label is the citizen's ("you", "your partner") unless one is given."""
    label = label or question_label(q, w, partner_wording)
    hint_key = "hint." + re.sub(r"^children\[\d+\]", "children", q.fact)
    help_text = None
    hint = w.t(hint_key) if w.has(hint_key) else None
    if q.kind == "event":
        hint = w.t("question.event_hint")
    elif q.kind == "list":
        hint = w.t("question.none_of_these")
    if q.kind == "partner":
        hint = w.t(f"question.partner_hint.{partner_wording}")
        options = [True, False]
        st.radio(
            label,
            options,
            index=options.index(current) if current in options else None,
            format_func=lambda v: partner_answer(v, w, partner_wording),
            key=key,
        )
    elif q.kind in ("bool", "event"):
        options = [True, False]
        st.radio(
            label,
            options,
            index=options.index(current) if current in options else None,
            format_func=w.value,
            key=key,
            help=help_text,
        )
    elif q.kind == "children":
        low = 1 if birth_listed(answers) else 0
        st.number_input(
            label,
            min_value=low,
            max_value=20,
            step=1,
            value=current if isinstance(current, int) else None,
            key=key,
            help=help_text,
            # not "0": with a birth the fewest is 1, and a grey 0 reads as an answer
            placeholder=w.t("question.children_placeholder", low=low),
        )
    elif q.kind == "int":
        st.number_input(
            label,
            min_value=0,
            step=1,
            value=current if isinstance(current, int) else None,
            key=key,
            help=help_text,
        )
    elif q.kind == "float":
        st.number_input(
            label,
            min_value=0.0,
            step=0.01,
            format="%.2f",
            value=float(current) if isinstance(current, int | float) else None,
            key=key,
            help=help_text,
        )
    elif q.kind == "date":
        st.date_input(
            label,
            value=date.fromisoformat(current) if isinstance(current, str) else None,
            min_value=EARLIEST_DATE,
            max_value=latest_date(today),
            key=key,
            help=help_text,
        )
    elif q.kind == "list":
        st.multiselect(
            label,
            q.choices,
            default=current if isinstance(current, list) else [],
            format_func=w.value,
            key=key,
            help=help_text,
        )
    elif q.choices:
        choices = list(q.choices)
        if len(choices) <= 6:
            st.radio(
                label,
                choices,
                index=choices.index(current) if current in choices else None,
                format_func=w.value,
                key=key,
                help=help_text,
            )
        else:
            st.selectbox(
                label,
                choices,
                index=choices.index(current) if current in choices else None,
                format_func=w.value,
                key=key,
                help=help_text,
                placeholder=w.t("question.choose"),
            )
    else:
        st.text_input(label, value=current if isinstance(current, str) else "", key=key, help=help_text)
    if hint:
        st.caption(md(hint))


def answer_value(kind: str, raw: Any) -> Any:
    """A widget's value as an answer (JSON: dates as ISO text), or NOT_GIVEN."""
    if kind == "list":
        return list(raw or [])
    if raw is None or raw == "":
        return NOT_GIVEN
    if isinstance(raw, date):
        return raw.isoformat()
    if kind in ("int", "children") and isinstance(raw, float):
        return int(raw)
    return raw


def _submit(path: str, kind: str, key: str, dont_know: bool, follow_ups: tuple = ()) -> None:
    """Form callback: runs before the rerun, so the page shows the refreshed results.

    ``follow_ups`` are an event's fields on the same card, as (path, kind, key): taken
    only after "yes", and only those filled in (an empty one is asked later, if it
    still matters).
    """
    value = None if dont_know else answer_value(kind, st.session_state.get(key))
    if value is NOT_GIVEN:
        st.session_state.question_error = (path, "question.missing_value", "")
        return
    try:
        answers = with_answer(st.session_state.answers, path, value)
        if value is True:
            for field_path, field_kind, field_key in follow_ups:
                field_value = answer_value(field_kind, st.session_state.get(field_key))
                if field_value is not NOT_GIVEN and field_value != []:
                    answers = with_answer(answers, field_path, field_value)
    except ProfileError as exc:
        st.session_state.question_error = (path, "question.invalid", str(exc))
        return
    st.session_state.answers = answers
    st.session_state.cards = cards_after(st.session_state.get("cards", []), answers, path)
    st.session_state.question_error = None
    st.session_state.editing = None
    st.session_state.dont_know = path if dont_know else None
    st.session_state.focus_card = True


def _cancel_edit() -> None:
    st.session_state.editing = None
    st.session_state.question_error = None
    st.session_state.focus_card = True


def edit_answer(path: str) -> None:
    """Callback: open the question of ``path`` to change (or give) its answer."""
    st.session_state.editing = path
    st.session_state.question_error = None
    st.session_state.dont_know = None
    st.session_state.focus_card = True


def previous_card(path: str | None) -> str | None:
    """The card before ``path`` (the question on screen; None: the next new one)."""
    cards = st.session_state.get("cards", [])
    if path in cards:
        at = cards.index(path)
        return cards[at - 1] if at > 0 else None
    return cards[-1] if cards else None


def dont_know_note(w: Words) -> None:
    """After "I don't know": where the citizen can look the fact up, if we can say."""
    dont_know = st.session_state.get("dont_know")
    if not dont_know:
        return
    where = w.where(dont_know)
    if where:
        st.info(md(w.t("question.dont_know_where", fact=w.ask(dont_know), where=where)), icon="🔎")


def question_card(
    q: Question,
    number: int | None,
    w: Words,
    today: date,
    editing: bool = False,
    follow_ups: list[Question] | None = None,
    partner_wording: str = ADULTS,
) -> None:
    """One question as a form: the input, why it is asked, where to look it up, "Next",
    "I don't know" and "Previous". An event's question carries its fields, to fill in
    after "yes". The card is the page's active card: the view and the focus go to it."""
    answers = st.session_state.answers
    key = widget_key(q.fact)
    follow_ups = follow_ups or []
    label = question_label(q, w, partner_wording)
    with st.container(key="active_card"):
        dont_know_note(w)
        with st.form(key=f"form:{q.fact}", border=True):
            heading = w.t("question.heading", number=number) if number else w.t("question.change_heading")
            st.markdown(f"**{md(heading)}**")
            question_input(q, w, key, answers.get(q.fact), answers, today, label, partner_wording)
            if q.why:
                st.caption(f"ℹ️ {md(q.why)}")
            if w.where(q.fact):
                st.caption(f"🔎 {md(w.t('question.where', where=w.where(q.fact)))}")
            if follow_ups:
                st.markdown(md(w.t("question.if_yes")))
                for extra in follow_ups:
                    question_input(extra, w, widget_key(extra.fact), answers.get(extra.fact), answers, today)
            fields = tuple((x.fact, x.kind, widget_key(x.fact)) for x in follow_ups)
            error = st.session_state.question_error
            if error and error[0] == q.fact:
                st.error(w.t(error[1], message=error[2], field=label))
            st.form_submit_button(
                w.t("question.save" if editing else "question.next"),
                type="primary",
                key="submit:answer",
                on_click=_submit,
                args=(q.fact, q.kind, key, False, fields),
            )
            st.form_submit_button(
                w.t("question.dont_know"),
                key="submit:dont_know",
                on_click=_submit,
                args=(q.fact, q.kind, key, True),
            )
            back = previous_card(q.fact if editing else None)
            if back is not None:
                st.form_submit_button(
                    w.t("question.previous"), key="submit:previous", on_click=edit_answer, args=(back,)
                )
            if editing:
                st.form_submit_button(w.t("question.cancel"), key="submit:cancel", on_click=_cancel_edit)
        focus_active_card()


def partner_answer(value: bool, w: Words, partner_wording: str = ADULTS) -> str:
    """Yes or no to the partner question, in its wording ("No: I am raising the child
    alone" only after a birth)."""
    return w.t("question.partner_yes") if value else w.t(f"question.partner_no.{partner_wording}")


def answer_text(path: str, value: Any, w: Words, partner_wording: str = ADULTS) -> str:
    if value is None:
        return w.t("question.partner_unknown" if path == "partner" else "question.dont_know_given")
    if path == "partner":
        return partner_answer(value, w, partner_wording)
    return w.value(value)


# --- results ------------------------------------------------------------------------------------


def result_details(r: EligibilityResult, w: Words, answer_now: bool = False) -> None:
    """A result's details; ``answer_now`` (the citizen's page) adds, to an open result, a
    button back to each question that would decide it, and where to look the fact up."""
    lines = []
    amount = explain.money(r.amount, w)
    if amount:
        if r.status == "unknown":
            amount = w.t("results.amount_if", amount=amount)
        lines.append(f"**{md(w.t('results.amount'))}:** {md(amount)}")
    fee = explain.money(r.fee, w)
    if fee:
        lines.append(f"**{md(w.t('results.fee'))}:** {md(fee)}")
    if r.deadline:
        urgent = f" **{md(w.t('results.urgent'))}**" if r.urgent else ""
        lines.append(f"**{md(w.t('results.deadline'))}:** {r.deadline.isoformat()}{urgent}")
    lines.append(f"**{md(w.t('results.agency'))}:** {md(r.agency)}")
    lines.append(f"**{md(w.t('results.office'))}:** {md(r.office)}")
    st.markdown("  \n".join(lines))
    if r.ended_on:
        st.caption(md(w.t("results.ended", date=r.ended_on.isoformat())))
    if r.status == "unknown":
        need = explain.missing(r, w)
        if need:
            st.markdown(f"**{md(w.t('results.missing'))}:** {md(w.join(need))}")
        if answer_now:
            for path in explain.missing_paths(r):
                st.button(
                    w.t("results.answer_now", fact=w.ask(path)),
                    key=f"answer_now:{r.for_}:{r.service}:{path}",
                    on_click=edit_answer,
                    args=(path,),
                    type="tertiary",
                    icon="✏️",
                )
                if w.where(path):
                    st.caption(f"🔎 {md(w.t('question.where', where=w.where(path)))}")
    st.markdown(f"**{md(w.t('results.why'))}**")
    st.markdown("\n".join(f"- {md(explain.reason(x, w))}" for x in r.reasons) or "-")
    if r.notes:
        st.markdown(f"**{md(w.t('results.notes'))}**")
        st.markdown("\n".join(f"- {md(x)}" for x in r.notes))
    if r.what_would_change:
        st.markdown(f"**{md(w.t('results.what_would_change'))}**")
        st.markdown("\n".join(f"- {md(x)}" for x in r.what_would_change))
    if r.status != "ineligible":
        st.markdown(f"**{md(w.t('results.how_to_apply'))}**")
        items = []
        for c in r.channels:
            if c.kind == "online" and c.url:
                flag = f" {md(w.t('channel.unverified'))}" if c.confidence == "❓" else ""
                items.append(f"- {md(w.t('channel.online'))}: [{md(c.url)}]({c.url}){flag}")
            else:
                items.append(f"- {md(explain.channel(c.kind, c.where, c.url, w))}")
        if r.home_visit and not any(c.kind == "home_visit" for c in r.channels):
            items.append(f"- {md(w.t('results.home_visit'))}")
        st.markdown("\n".join(items))
        if r.documents:
            st.markdown(f"**{md(w.t('results.documents'))}**")
            st.markdown(
                "\n".join(
                    f"- {md(explain.document_line(d.name, d.note, d.verified_electronically, w))}"
                    for d in r.documents
                )
            )
    st.markdown(f"**{md(w.t('results.confidence'))}:** {md(w.t('confidence.' + r.confidence))}")
    if r.confidence_note:
        st.caption(md(r.confidence_note))
    st.caption(f"{md(w.t('results.legal_basis'))}: {md(r.legal_basis)}")


def totals_box(snapshot: Snapshot, w: Words) -> None:
    """The family's total at the top of the results: one-off and monthly sums of what is
    likely eligible, and how many amounts are still unknown (counted, never guessed)."""
    rec = snapshot.recommendation
    if rec is None:
        return
    t = rec.totals
    with st.container(border=True, key="totals"):
        st.markdown(
            f"**{md(w.t('results.totals.heading'))}**  \n"
            f"{md(w.t('results.totals.one_off'))}: **{md(explain.total(t.one_off, w))}** · "
            f"{md(w.t('results.totals.monthly'))}: **{md(explain.total(t.monthly, w))}**"
        )
        st.caption(
            md(
                w.t("results.totals.unknown", count=t.unknown)
                if t.unknown
                else w.t("results.totals.none_unknown")
            )
        )


def results_section(
    snapshot: Snapshot, w: Words, heading_level: str = "##", answer_now: bool = False
) -> None:
    """The family's total, what is urgent, then the results for you, for your partner
    and for the household, each by status (likely eligible first, urgent first).
    ``answer_now``: open results link back to their questions (the citizen's page)."""
    counts = snapshot.counts()
    st.markdown(f"{heading_level} {md(w.t('results.heading'))}")
    totals_box(snapshot, w)
    urgent = explain.urgent_items(snapshot.urgent(), w)
    if urgent:
        lines = [md(w.t("results.urgent_heading")), *(f"- {md(item)}" for item in urgent)]
        st.warning("\n".join(lines), icon="⏰")
    st.caption(md(w.t("results.summary", **counts)))
    st.caption(md(w.t("results.legend")))  # the marks ending each line below
    due = explain.deadlines(snapshot.all_results())
    for audience in AUDIENCES:
        shown = [r for r in snapshot.shown() if r.for_ == audience]
        if not shown:
            continue
        st.markdown(f"{heading_level}# {md(w.t('results.for.' + audience))}")
        for status in GROUPS:
            group = [r for r in shown if r.status == status]
            if not group:
                continue
            st.markdown(f"{heading_level}## {md(w.t('results.group.' + status))} ({len(group)})")
            for r in group:
                for line in explain.step_lines(r, w, due):
                    st.markdown(f"➡️ {md(line)}")
                with st.expander(explain.summary_line(r, w)):
                    result_details(r, w, answer_now)


# --- the plan and the share link --------------------------------------------------------------------


def plan_section(rec: Recommendation, engine: Engine, w: Words, key: str) -> None:
    """The one-stop plan as a checklist: who does each step, urgent marks, the steps
    of applying first with what they unlock; then the hand-out to download."""
    plan = build_plan(rec, engine.catalogue, w.lang)
    st.markdown(f"## {md(w.t('plan.heading'))}")
    if not plan.steps:
        st.caption(md(w.t("plan.empty")))
        return
    st.caption(md(w.t("plan.intro")))
    t = rec.totals
    st.markdown(
        f"**{md(w.t('results.totals.heading'))}:** "
        f"{md(w.t('results.totals.one_off'))} {md(explain.total(t.one_off, w))} · "
        f"{md(w.t('results.totals.monthly'))} {md(explain.total(t.monthly, w))}"
        + (f" · {md(w.t('results.totals.unknown', count=t.unknown))}" if t.unknown else "")
    )
    by_key: dict[tuple[str, str], EligibilityResult] = {
        (r.service, r.for_): r for r in (*rec.results, *rec.partner_results)
    }
    unlocks = explain.unlocked(rec)
    steps = []
    for n, step in enumerate(plan.steps, 1):
        result = by_key.get((step.service, step.for_))
        bits = [f"{md(w.t('plan.who.' + step.for_))}: **{md(step.name)}**"]
        if step.status != "eligible":
            bits.append(md(w.t("plan.step_unknown")))
        if step.deadline:
            bits.append(f"{md(w.t('results.deadline'))} {step.deadline.isoformat()}")
        if step.urgent:
            bits.append(f"**{md(w.t('results.urgent'))}**")
        amount = explain.money(result.amount, w) if result is not None else None
        if amount:
            bits.append(md(amount))
        opened = unlocks.get(step.service, [])
        line = f"{n}. ☐ " + " · ".join(bits)
        if opened:
            line += "  \n   ➡️ " + md(
                w.t("plan.unlocks", services=w.join([explain.with_amount(u, w) for u in opened]))
            )
        steps.append(line + f"  \n   {md(step.agency)}")
    st.markdown("\n".join(steps))
    if plan.to_bring:
        st.markdown(f"**{md(w.t('plan.bring'))}**")
        st.markdown("\n".join(f"- ☐ {md(d.name)}" for d in plan.to_bring))
    if plan.no_need_to_bring:
        st.markdown(f"**{md(w.t('plan.no_need'))}**")
        st.markdown("\n".join(f"- {md(d.name)}" for d in plan.no_need_to_bring))
    st.download_button(
        w.t("plan.download"),
        data=render_plan_html(plan, engine.catalogue).encode("utf-8"),
        file_name=w.t("plan.file_name"),
        mime="text/html",
        key=key,
        type="primary",
        on_click="ignore",
    )


def share_qr(link: str, w: Words) -> None:
    """The link's QR code, with a text alternative (axe: images need one)."""
    st.image(qr_png(link), caption=w.t("share.qr_caption"), width=240, alt=w.t("share.qr_alt"))


def qr_png(link: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="png", scale=4, border=2)
    return buffer.getvalue()
