"""Versions: who changed what, when and why; the diff of any two; restore with a reason."""

from __future__ import annotations

from datetime import date

import streamlit as st

from engine import CatalogueError, RejectedEdit, SaveFailed, effective_date, load_catalogue
from ui.staff_impact import DEFAULT_PEOPLE, run_impact, run_scenarios, scenario_table, show_impact
from ui.staff_runtime import local_time, store, user, words

author = user()
rules = store()
catalogue = rules.current()
w = words(catalogue)
S = st.session_state

flash = S.pop("staff:versions:flash", None)
if flash:
    st.success(flash)

history = rules.history()
if not history:
    st.info(w.t("versions.empty"))
    st.stop()

st.subheader(w.t("versions.history"))
st.dataframe(
    [
        {
            w.t("versions.col.id"): v.id,
            w.t("versions.col.when"): local_time(v.when),
            w.t("versions.col.author"): v.author,
            w.t("versions.col.reason"): v.reason,
            w.t("versions.col.files"): ", ".join(v.files),
            w.t("versions.col.version"): v.version,
        }
        for v in reversed(history)
    ],
    hide_index=True,
    width="stretch",
)
ids = [v.id for v in history]
label = {
    v.id: w.t("versions.label", id=v.id, when=local_time(v.when), author=v.author, reason=v.reason)
    for v in history
}

st.subheader(w.t("versions.diff"))
left, right = st.columns(2)
a = left.selectbox(
    w.t("versions.from"), ids, index=max(0, len(ids) - 2), key="staff:diff:a", format_func=label.get
)
b = right.selectbox(w.t("versions.to"), ids, index=len(ids) - 1, key="staff:diff:b", format_func=label.get)
diff = rules.diff(a, b)
if diff:
    # Plain text: the "diff" highlighting draws unchanged lines at 3.46:1 contrast, below
    # WCAG AA's 4.5:1 (axe-core); the + and - at each line's start still say what changed.
    # Wrapped: a block that scrolls sideways cannot be reached by keyboard (axe-core).
    st.code(diff, language=None, wrap_lines=True)
    with st.expander(w.t("versions.impact")):
        n = st.number_input(
            w.t("impact.people"), 100, 1_000_000, DEFAULT_PEOPLE, step=1000, key="staff:diff:n"
        )
        if st.button(w.t("impact.run"), key="staff:diff:impact"):
            try:
                old, new = load_catalogue(rules.snapshot_path(a)), load_catalogue(rules.snapshot_path(b))
            except CatalogueError as exc:
                st.error(str(exc.problems[0]))
            else:
                day = effective_date(old, new, date.today())  # the day the newer rules start to differ
                S["staff:diff:report"] = ((a, b), run_impact(old, new, int(n), day))
        found = S.get("staff:diff:report")
        if found and found[0] == (a, b):
            show_impact(found[1], w, "staff:diff:report")
else:
    st.caption(w.t("versions.no_diff"))

st.subheader(w.t("scenarios.heading"))
st.caption(w.t("scenarios.help"))
base_id = st.selectbox(
    w.t("scenarios.base"), ids, index=len(ids) - 1, key="staff:scen:base", format_func=label.get
)
others = [i for i in ids if i != base_id]
chosen = st.multiselect(
    w.t("scenarios.which"),
    others,
    key="staff:scen:which",
    format_func=label.get,
    max_selections=4,
    placeholder=w.t("edit.choose"),
)
n_people = st.number_input(
    w.t("impact.people"), 100, 1_000_000, DEFAULT_PEOPLE, step=1000, key="staff:scen:n"
)
if st.button(w.t("scenarios.run"), key="staff:scen:run", disabled=not chosen):
    try:
        base = load_catalogue(rules.snapshot_path(base_id))
        trees = {w.t("scenarios.name", id=i): load_catalogue(rules.snapshot_path(i)) for i in chosen}
    except CatalogueError as exc:
        st.error(str(exc.problems[0]))
    else:
        # Every scenario on the same people at the same date: the latest day any of them
        # starts to differ from the base, so no scenario's change is still in the future.
        day = max(effective_date(base, tree, date.today()) for tree in trees.values())
        S["staff:scen:report"] = ((base_id, tuple(chosen)), run_scenarios(base, trees, int(n_people), day))
found = S.get("staff:scen:report")
if found and found[0] == (base_id, tuple(chosen)):
    reports = found[1]
    first = next(iter(reports.values()))
    st.markdown(w.t("impact.as_of", day=first.as_of.isoformat() if first.as_of else ""))
    st.dataframe(scenario_table(reports, w), hide_index=True, width="stretch")
    for name, report in reports.items():
        with st.expander(name):
            show_impact(report, w, f"staff:scen:{name}")

st.subheader(w.t("versions.restore"))
target = st.selectbox(w.t("versions.restore_which"), ids[::-1], key="staff:restore:id", format_func=label.get)
reason = st.text_input(w.t("edit.reason"), key="staff:restore:reason")
if st.button(
    w.t("versions.restore_button"), key="staff:restore", disabled=not reason.strip(), type="primary"
):
    try:
        version = rules.restore(target, author=author, reason=reason)
    except RejectedEdit as exc:
        st.error(str(exc))
    except SaveFailed:  # a full disk: the live rules stay as they were (engine/services/versions.py)
        st.error(w.t("versions.restore_failed"))
    else:
        S["staff:versions:flash"] = w.t("versions.restored", target=target, id=version.id)
        S.pop("staff:restore:reason", None)
        st.rerun()
