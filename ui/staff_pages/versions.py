"""Versions: who changed what, when and why; the diff of any two; restore with a reason."""

from __future__ import annotations

from datetime import date

import streamlit as st

from engine import CatalogueError, RejectedEdit, effective_date, load_catalogue
from ui.staff_impact import default_size, run_impact, show_impact
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
            w.t("impact.people"), 100, 1_000_000, default_size(), step=1000, key="staff:diff:n"
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
    else:
        S["staff:versions:flash"] = w.t("versions.restored", target=target, id=version.id)
        S.pop("staff:restore:reason", None)
        st.rerun()
