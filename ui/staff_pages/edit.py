"""Edit one rule or parameter file: check, preview the impact, then save with a reason.

The base version is the one loaded when the editor opened: a save over rules that
changed since is refused (StaleEdit). Save stays disabled until a Check of exactly the
text in the editor came back clean.
"""

from __future__ import annotations

from datetime import date

import streamlit as st
import yaml

from engine.versions import RejectedEdit, StaleEdit
from ui.staff_impact import default_size, run_impact, show_impact
from ui.staff_runtime import editable_files, store, user, words

author = user()
rules = store()
catalogue = rules.current()
w = words(catalogue)
files = editable_files(catalogue)
S = st.session_state


def _open(rel: str) -> None:
    S["staff:edit"] = {"file": rel, "base": rules.current_version(), "original": rules.read(rel)}
    S["staff:text"] = S["staff:edit"]["original"]
    S.pop("staff:proposal", None)
    S.pop("staff:impact", None)


def _close() -> None:
    for key in ("staff:edit", "staff:text", "staff:proposal", "staff:impact", "staff:reason"):
        S.pop(key, None)


request = S.pop("staff:open_request", None)
if request in files:
    _open(request)

flash = S.pop("staff:flash", None)
if flash:
    st.success(flash)

picked = st.selectbox(w.t("edit.file"), files, key="staff:edit:pick", index=None)
st.button(
    w.t("edit.open"), key="staff:edit:open", on_click=lambda: picked and _open(picked), disabled=not picked
)

edit = S.get("staff:edit")
if not edit:
    st.info(w.t("edit.none_open"))
    st.stop()

st.subheader(edit["file"])
st.caption(w.t("edit.opened", file=edit["file"], version=edit["base"]))

# -- a parameter's form: it writes YAML into the editor, which then goes through Check ---
if "/parameters/" in edit["file"]:

    def _apply_form() -> None:
        try:
            data = yaml.safe_load(S["staff:text"])
            value = yaml.safe_load(S["staff:form:value"])
            if not isinstance(data, dict) or not isinstance(data.get("values"), dict):
                raise ValueError("the file has no 'values' mapping")
            if value is None or isinstance(value, str | list):
                raise ValueError("give a number, or a mapping for a table")
            values = data["values"]
            if S["staff:form:mode"] == "add":
                day = S["staff:form:date"]
                values[day] = {"value": value}
            else:
                key = next(k for k in values if str(k) == S["staff:form:existing"])
                entry = values[key] if isinstance(values[key], dict) else {}
                values[key] = {**entry, "value": value}
            data["values"] = dict(sorted(values.items(), key=lambda kv: str(kv[0])))
            S["staff:text"] = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)
            S.pop("staff:form_error", None)
        except (ValueError, yaml.YAMLError, StopIteration) as exc:
            S["staff:form_error"] = str(exc)

    with st.expander(w.t("edit.param_form"), expanded=True):
        try:
            parsed = yaml.safe_load(S.get("staff:text", "")) or {}
            dates = [str(k) for k in (parsed.get("values") or {})]
        except yaml.YAMLError:
            dates = []
        mode = st.radio(
            w.t("edit.param_mode"),
            ["add", "correct"],
            key="staff:form:mode",
            format_func=lambda m: w.t(f"edit.mode_{m}"),
            horizontal=True,
        )
        if mode == "add":
            st.date_input(w.t("edit.from"), value=date(date.today().year + 1, 1, 1), key="staff:form:date")
        else:
            st.selectbox(w.t("edit.existing"), dates, key="staff:form:existing")
        st.text_input(w.t("edit.value"), key="staff:form:value")
        st.button(w.t("edit.apply_form"), key="staff:form:apply", on_click=_apply_form)
        if S.get("staff:form_error"):
            st.error(w.t("edit.form_error", message=S["staff:form_error"]))

st.text_area(w.t("edit.yaml"), key="staff:text", height=420)
text = S["staff:text"]


def _check() -> None:
    S["staff:proposal"] = {
        "text": S["staff:text"],
        "proposal": rules.propose(edit["file"], S["staff:text"], edit["base"]),
    }
    S.pop("staff:impact", None)


st.button(w.t("edit.check"), key="staff:check", on_click=_check, type="primary")

checked = S.get("staff:proposal")
proposal = checked["proposal"] if checked else None
current_check = bool(checked) and checked["text"] == text
if checked and not current_check:
    st.warning(w.t("edit.recheck"))
if proposal is not None and current_check:
    if proposal.affected:
        st.caption(w.t("edit.affected", services=", ".join(proposal.affected)))
    for title, items in (
        ("edit.problems", proposal.problems),
        ("edit.lint", proposal.lint),
        ("edit.failed_cases", proposal.failed_cases),
    ):
        if items:
            st.error(f"**{w.t(title)}**\n\n" + "\n".join(f"- `{item}`" for item in items))
    if proposal.ok:
        st.success(w.t("edit.clean", count=len(proposal.affected)))

clean = bool(proposal is not None and current_check and proposal.ok)
unchanged = text == edit["original"]
if unchanged:
    st.caption(w.t("edit.unchanged"))

# -- impact preview ------------------------------------------------------------------
if proposal is not None and current_check and proposal.catalogue is not None:
    st.subheader(w.t("impact.heading"))
    n = st.number_input(w.t("impact.people"), 100, 1_000_000, default_size(), step=1000, key="staff:impact:n")
    if st.button(w.t("impact.run"), key="staff:impact:run"):
        S["staff:impact"] = run_impact(catalogue, proposal.catalogue, int(n))
    if S.get("staff:impact") is not None:
        show_impact(S["staff:impact"], w, "staff:impact")

# -- save ----------------------------------------------------------------------------
reason = st.text_input(w.t("edit.reason"), key="staff:reason")
can_save = clean and not unchanged and bool(reason.strip())
if st.button(w.t("edit.save"), key="staff:save", disabled=not can_save, type="primary"):
    try:
        version = rules.save(edit["file"], text, edit["base"], author=author, reason=reason)
    except StaleEdit as exc:
        st.error(w.t("edit.stale", message=str(exc)))
    except RejectedEdit as exc:
        st.error(w.t("edit.rejected", message=str(exc)))
    else:
        _close()
        S["staff:flash"] = w.t("edit.saved", id=version.id)
        st.rerun()
st.button(w.t("edit.discard"), key="staff:discard", on_click=_close)
