"""Browse: every service's rule files by jurisdiction, and every parameter with its history."""

from __future__ import annotations

import streamlit as st

from ui.staff_runtime import parameter_users, rule_files, store, user, words

user()
rules = store()
catalogue = rules.current()
w = words(catalogue)


def _headed(rows: list[dict]) -> list[dict]:
    """The rows with their column headers in the interface language."""
    return [{w.t(f"browse.col.{k}"): v for k, v in row.items()} for row in rows]


def _open_in_editor(rel: str) -> None:
    st.session_state["staff:open_request"] = rel
    st.switch_page("staff_pages/edit.py")


services_tab, params_tab = st.tabs([w.t("browse.services"), w.t("browse.parameters")])

with services_tab:
    rows = rule_files(catalogue)
    places = sorted({r["jurisdiction"] for r in rows} - {"national"})
    choice = st.selectbox(
        w.t("browse.jurisdiction"),
        ["*", "national", *places],
        key="staff:browse:jurisdiction",
        format_func=lambda j: (
            w.t("browse.all") if j == "*" else w.t("browse.national") if j == "national" else j
        ),
    )
    query = st.text_input(w.t("browse.search"), key="staff:browse:query").strip().lower()
    shown = [
        r
        for r in rows
        if (choice == "*" or r["jurisdiction"] == choice)
        and (not query or query in r["service"] or query in r["name"].lower())
    ]
    st.caption(w.t("browse.count", count=len(shown)))
    st.dataframe(_headed(shown), hide_index=True, width="stretch")
    if shown:
        picked = st.selectbox(
            w.t("browse.file"),
            [r["file"] for r in shown],
            key="staff:browse:file",
            placeholder=w.t("edit.choose"),
        )
        row = next(r for r in shown if r["file"] == picked)
        st.markdown(f"**{w.t('browse.legal_basis')}**: {row['legal_basis']}")
        # wrapped: a block that scrolls sideways on a phone cannot be reached by keyboard
        # (axe-core, scrollable-region-focusable)
        st.code(rules.read(picked), language="yaml", wrap_lines=True)
        if st.button(w.t("browse.edit_this"), key="staff:browse:edit_rule"):
            _open_in_editor(picked)

with params_tab:
    users = parameter_users(catalogue)
    params = sorted(
        catalogue.parameters.values(), key=lambda p: (p.jurisdiction != "national", p.jurisdiction, p.name)
    )
    places = sorted({p.jurisdiction for p in params} - {"national"})
    where = st.selectbox(
        w.t("browse.jurisdiction"),
        ["*", "national", *places],
        key="staff:browse:param_jurisdiction",
        format_func=lambda j: (
            w.t("browse.all") if j == "*" else w.t("browse.national") if j == "national" else j
        ),
    )
    shown_params = [p for p in params if where == "*" or p.jurisdiction == where]
    st.dataframe(
        _headed(
            [
                {
                    "name": p.name,
                    "label": p.label.zh if w.lang == "zh-TW" else p.label.en,
                    "jurisdiction": p.jurisdiction,
                    "unit": p.unit,
                    "confidence": p.confidence,
                    "values": len(p.values),
                    "used_by": ", ".join(users.get(p.name, [])),
                }
                for p in shown_params
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    if shown_params:
        names = [p.name for p in shown_params]
        name = st.selectbox(
            w.t("browse.parameters"), names, key="staff:browse:param", placeholder=w.t("edit.choose")
        )
        param = next(p for p in shown_params if p.name == name)
        st.markdown(
            f"**{w.t('browse.unit')}**: {param.unit}  \n"
            f"**{w.t('browse.reference')}**: {param.reference}  \n"
            f"**{w.t('browse.confidence')}**: {param.confidence}  \n"
            f"**{w.t('browse.file')}**: `{param.file}`"
        )
        used = users.get(param.name, [])
        st.markdown(f"**{w.t('browse.used_by')}**: " + (", ".join(used) if used else w.t("browse.unused")))
        st.markdown(f"**{w.t('browse.history')}**")
        st.dataframe(
            _headed(
                [
                    {
                        "effective_from": v.effective_from.isoformat(),
                        "value": str(v.value),
                        "confidence": v.confidence or "",
                        "reference": v.reference or "",
                        "note": v.note or "",
                    }
                    for v in param.values
                ]
            ),
            hide_index=True,
            width="stretch",
        )
        if st.button(w.t("browse.edit_this"), key="staff:browse:edit_param"):
            _open_in_editor(param.file)
