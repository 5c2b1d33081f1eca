"""Home visits: a social worker's open cases in their districts, most urgent first; assign,
schedule, record the outcome, print the person's one-stop plan (docs/home-visits.md).

Every action writes at once, in one transaction with its audit event, and says so only
after the commit. The version of the case shown is kept in the session: a change made
meanwhile by someone else (or by a re-screening) is refused and the current state shown.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from engine import OUTCOMES, Case, StaleCase, WorklistError, case_plan_html, outreach_policy
from ui.staff_runtime import store, user, words
from ui.worklist_runtime import plan_engine, worklist_store

author = user()
catalogue = store().current()
w = words(catalogue)
worklist = worklist_store()
S = st.session_state


def service_name(sid: str) -> str:
    service = catalogue.services.get(sid)
    return service.name.get(w.lang) if service else sid


def services_text(case: Case) -> str:
    parts = []
    for s in case.services:
        text = service_name(s.service)
        if s.amount is not None:
            text += f" · {s.amount:,} {s.unit}"
        if s.status == "unknown":
            text += f" ({w.t('visits.to_check')})"
        parts.append(text)
    return "; ".join(parts)


def reasons_text(case: Case) -> str:
    return "; ".join(outreach_policy(catalogue).need_text(r, w.lang) for r in case.reasons)


def place_text(place: tuple[str, str]) -> str:
    return f"{place[0]} / {place[1] or '—'}"


places = worklist.districts_of(author)
if not places:
    st.info(w.t("visits.no_districts", user=author))
    st.stop()

flash = S.pop("visits:flash", None)
if flash:
    getattr(st, flash[0])(flash[1])

chosen = st.selectbox(
    w.t("visits.place"),
    [None, *places],
    key="visits:place",
    format_func=lambda p: w.t("visits.all_places") if p is None else place_text(p),
)
open_cases = worklist.worklist(places if chosen is None else [chosen])
st.subheader(w.t("visits.today", count=len(open_cases)))
if not open_cases:
    st.info(w.t("visits.empty"))
    st.stop()
st.dataframe(
    [
        {
            "#": c.id,
            w.t("visits.priority"): c.priority,
            w.t("visits.person"): c.person_id,
            w.t("visits.place"): place_text((c.residence, c.district)),
            w.t("visits.reasons"): reasons_text(c),
            w.t("visits.services"): services_text(c),
            w.t("visits.assigned"): c.assigned_to or "",
            w.t("visits.visit_on"): c.visit_on.isoformat() if c.visit_on else "",
            w.t("visits.attempts"): c.attempts,
        }
        for c in open_cases
    ],
    hide_index=True,
    width="stretch",
)

by_id = {c.id: c for c in open_cases}
picked = S.get("visits:case")
if picked is not None and picked not in by_id:  # closed meanwhile: show it anyway
    try:
        by_id[picked] = worklist.get(picked)
    except WorklistError:
        S.pop("visits:case", None)
case_id = st.selectbox(
    w.t("visits.case"),
    list(by_id),
    key="visits:case",
    format_func=lambda i: w.t(
        "visits.case_label",
        id=i,
        person=by_id[i].person_id,
        priority=by_id[i].priority,
        district=by_id[i].district or "—",
    ),
)
case = by_id[case_id]


def _apply(action: str, case_id: int, version: int) -> None:
    """One change from the form's values, checked against ``version``: the version of the
    case shown when the form was drawn. The result, or the refusal, is flashed."""
    try:
        if action == "assign":
            done = worklist.assign(case_id, version, S["visits:assign_to"], actor=author)
        elif action == "schedule":
            done = worklist.schedule(case_id, version, S["visits:visit_on"], actor=author)
        else:
            outcome = S["visits:outcome"]
            applied = S.get("visits:applied", []) if outcome == "applied" else []
            done = worklist.record_outcome(case_id, version, outcome, actor=author, applied_for=applied)
    except StaleCase as exc:
        current = exc.current
        same = action == "outcome" and current.outcome == S.get("visits:outcome")
        S["visits:flash"] = (
            "warning",
            w.t("visits.already") if same else w.t("visits.stale", message=str(exc)),
        )
        return
    except WorklistError as exc:
        S["visits:flash"] = ("error", w.t("visits.refused", message=str(exc)))
        return
    state = w.t(f"visits.state.{done.state}")
    S["visits:flash"] = ("success", w.t("visits.saved", id=done.id, version=done.version, state=state))


st.caption(w.t("visits.version", id=case.id, version=case.version, rules=case.rules_version))
left, right = st.columns(2)
with left:
    st.markdown(f"**{w.t('visits.reasons')}**: {reasons_text(case) or '—'}")
    st.markdown(f"**{w.t('visits.services')}**")
    for s in case.services:
        amount = f" · {s.amount:,} {s.unit}" if s.amount is not None else ""
        deadline = f" · {s.deadline.isoformat()}" if s.deadline else ""
        check = f" ({w.t('visits.to_check')})" if s.status == "unknown" else ""
        st.markdown(f"- {service_name(s.service)}{check}{amount}{deadline}")
    engine = plan_engine(catalogue)
    st.download_button(
        w.t("visits.plan"),
        data=case_plan_html(case, engine, w.lang).encode("utf-8"),
        file_name=f"plan-{case.person_id}.html",
        mime="text/html",
        key="visits:plan",
    )
with right:
    with st.form("visits:assign_form"):
        workers = worklist.workers_of(case.residence, case.district)
        workers = sorted({*workers, author})
        current = case.assigned_to if case.assigned_to in workers else author
        st.selectbox(w.t("visits.assign_to"), workers, index=workers.index(current), key="visits:assign_to")
        st.form_submit_button(w.t("visits.assign"), on_click=_apply, args=("assign", case.id, case.version))
    with st.form("visits:schedule_form"):
        st.date_input(w.t("visits.visit_on"), value=case.visit_on or date.today(), key="visits:visit_on")
        st.form_submit_button(
            w.t("visits.schedule"), on_click=_apply, args=("schedule", case.id, case.version)
        )

st.subheader(w.t("visits.record"))
if case.state == "open":
    with st.form("visits:outcome_form"):
        st.radio(
            w.t("visits.outcome"),
            list(OUTCOMES),
            key="visits:outcome",
            format_func=lambda o: w.t(f"visits.outcome.{o}"),
            horizontal=True,
        )
        st.multiselect(
            w.t("visits.applied_for"),
            list(case.service_ids),
            key="visits:applied",
            format_func=service_name,
            placeholder=w.t("edit.choose"),  # not Streamlit's English "Choose options"
        )
        st.form_submit_button(
            w.t("visits.save_outcome"),
            type="primary",
            on_click=_apply,
            args=("outcome", case.id, case.version),
        )
else:
    st.info(
        f"{w.t('visits.state.closed')}: {w.t('visits.outcome.' + case.outcome) if case.outcome else case.closed_reason}"
        + (f" — {', '.join(service_name(s) for s in case.applied_for)}" if case.applied_for else "")
    )

with st.expander(w.t("visits.history")):
    st.dataframe(
        [
            {
                "when": e.at.isoformat(timespec="seconds"),
                "who": e.actor,
                "what": e.action,
                "changes": str(e.changes),
                "why": e.reason or "",
            }
            for e in worklist.history(case.id)
        ],
        hide_index=True,
        width="stretch",
    )
