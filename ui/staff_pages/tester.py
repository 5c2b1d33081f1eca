"""Tester: run the fuzzer (engine/testing/fuzz.py) on the current rules and show what it finds."""

from __future__ import annotations

import streamlit as st

from engine import run_fuzz_isolated
from ui.staff_runtime import store, user, words

user()  # signed-in staff only
rules = store()
catalogue = rules.current()
w = words(catalogue)

st.write(w.t("tester.intro"))
with st.form("tester:form"):
    n = st.number_input(w.t("tester.n"), min_value=50, max_value=100_000, value=500, step=50, key="tester:n")
    seed = st.number_input(w.t("tester.seed"), min_value=0, max_value=2**31, value=0, key="tester:seed")
    go = st.form_submit_button(w.t("tester.run"))

if go:
    with st.spinner(w.t("tester.running")):
        st.session_state["tester:report"] = run_fuzz_isolated(rules.root, int(n), int(seed))

report = st.session_state.get("tester:report")
if report is not None:
    (st.success if report.ok else st.error)(w.t("tester.ok") if report.ok else w.t("tester.problems"))
    if report.stopped:
        st.error(report.stopped)
    st.subheader(w.t("tester.properties"))
    st.dataframe(
        [
            {
                w.t("tester.col.property"): p.name,
                w.t("tester.col.held"): "✅" if p.held else "❌",
                w.t("tester.col.examples"): p.examples,
                w.t("tester.col.failures"): p.failures,
                w.t("tester.col.scope"): p.note or p.skipped or "",
            }
            for p in report.properties
        ],
        hide_index=True,
    )
    st.subheader(w.t("tester.coverage"))
    st.dataframe(
        [
            {
                w.t("tester.col.service"): c.service,
                w.t("tester.col.covered"): f"{len(c.covered)}/{len(c.criteria) - len(c.exempt)}",
                w.t("tester.col.gaps"): "; ".join(c.gaps),
            }
            for c in report.coverage
        ],
        hide_index=True,
    )
    st.subheader(w.t("tester.counterexamples"))
    if not report.counterexamples:
        st.write(w.t("tester.none"))
    for ce in report.counterexamples:
        st.markdown(f"**{ce.property}** — {ce.message}")
        st.code(ce.yaml, language="yaml", wrap_lines=True)  # no sideways scroll (axe)
