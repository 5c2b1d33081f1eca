"""Edit one rule or parameter file: check, preview the impact, then save with a reason.

The base version is the one loaded when the editor opened, rules and test cases: a save
over rules or cases that changed since is refused (StaleEdit). Save stays disabled until a
Check of exactly the text in the editor came back clean.
"""

from __future__ import annotations

from datetime import date

import streamlit as st
import yaml

from engine import RejectedEdit, SaveFailed, StaleEdit, effective_date
from ui.param_edit import ParamEditError, set_value
from ui.staff_impact import DEFAULT_PEOPLE, run_impact, show_impact
from ui.staff_runtime import editable_files, explain, parameter_users, rule_files, store, user, words

author = user()
rules = store()
catalogue = rules.current()
w = words(catalogue)
files = editable_files(catalogue)
S = st.session_state


def _services_of(rel: str) -> set[str]:
    """The services whose rules this file holds or whose rules read its parameter."""
    found = {row["service"] for row in rule_files(catalogue) if row["file"] == rel}
    users = parameter_users(catalogue)
    for parameter in catalogue.parameters.values():
        if parameter.file == rel:
            found |= set(users.get(parameter.name, []))
    return found


def _open(rel: str) -> None:
    cases = rules.case_files(_services_of(rel))
    S["staff:edit"] = {
        "file": rel,
        "base": rules.base_version(),  # the rules and the cases: a save writes both
        "original": rules.read(rel),
        "cases": cases,
    }
    S["staff:text"] = S["staff:edit"]["original"]
    for key in [k for k in S if str(k).startswith("staff:case:")]:
        del S[key]
    for name, body in cases.items():
        S[f"staff:case:{name}"] = body
    S.pop("staff:proposal", None)
    S.pop("staff:impact", None)


def _close() -> None:
    for key in ("staff:edit", "staff:text", "staff:proposal", "staff:impact", "staff:reason"):
        S.pop(key, None)
    for key in [k for k in S if str(k).startswith("staff:case:")]:
        del S[key]


request = S.pop("staff:open_request", None)
if request in files:
    _open(request)

flash = S.pop("staff:flash", None)
if flash:
    st.success(flash)

picked = st.selectbox(
    w.t("edit.file"), files, key="staff:edit:pick", index=None, placeholder=w.t("edit.choose")
)


def _open_picked() -> None:
    if picked:
        _open(picked)


st.button(w.t("edit.open"), key="staff:edit:open", on_click=_open_picked, disabled=not picked)

edit = S.get("staff:edit")
if not edit:
    st.info(w.t("edit.none_open"))
    st.stop()

st.subheader(edit["file"])
st.caption(w.t("edit.opened", file=edit["file"], version=edit["base"]))

# -- a parameter's form: it writes YAML into the editor, which then goes through Check ---
if "/parameters/" in edit["file"]:

    def _apply_form() -> None:
        # Only the dated entry's line changes (ui/param_edit.py): the rest of the file,
        # its comments and its quoting, stay as they were, and so does the saved diff.
        S.pop("staff:form_error", None)
        try:
            value = yaml.safe_load(S.get("staff:form:value") or "")
        except yaml.YAMLError:
            value = None
        if value is None or isinstance(value, str | list | bool):
            S["staff:form_error"] = "edit.form_bad_value"
            return
        day = S.get("staff:form:date") if S.get("staff:form:mode") == "add" else S.get("staff:form:existing")
        if not day:
            S["staff:form_error"] = "edit.form_no_date"
            return
        try:
            S["staff:text"] = set_value(S["staff:text"], day, value)
        except (ParamEditError, yaml.YAMLError):
            S["staff:form_error"] = "edit.form_no_values"
            return
        S["staff:form_applied"] = True

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
        # A form: the date and the value travel with the click. Outside one, a value
        # still being typed is committed by the blur that the click causes, and the two
        # reruns raced: the click was sometimes lost and nothing happened (issue 13.16).
        with st.form("staff:form", border=False):
            if mode == "add":
                st.date_input(
                    w.t("edit.from"), value=date(date.today().year + 1, 1, 1), key="staff:form:date"
                )
            else:
                st.selectbox(
                    w.t("edit.existing"),
                    dates,
                    index=None,
                    key="staff:form:existing",
                    placeholder=w.t("edit.choose"),
                )
            st.text_input(w.t("edit.value"), key="staff:form:value")
            st.form_submit_button(w.t("edit.apply_form"), key="staff:form:apply", on_click=_apply_form)
        if S.get("staff:form_error"):
            st.error(w.t("edit.form_error", message=w.t(S["staff:form_error"])))
        elif S.pop("staff:form_applied", False):
            st.success(w.t("edit.form_applied"))

original_cases: dict[str, str] = edit.get("cases", {})
rule_column, case_column = st.columns([3, 2]) if original_cases else (st.container(), None)
with rule_column:
    st.text_area(w.t("edit.yaml"), key="staff:text", height=420)
if case_column is not None:
    # The test cases of the changed rule, beside it: a threshold that a boundary case pins
    # is changed together with that case, checked together and saved together.
    with case_column:
        st.markdown(f"**{w.t('edit.cases')}**")
        st.caption(w.t("edit.cases_help"))
        for name in original_cases:
            st.text_area(f"tests/cases/{name}", key=f"staff:case:{name}", height=200)
text = S["staff:text"]


def _edited_cases() -> dict[str, str]:
    return {
        name: S.get(f"staff:case:{name}", body)
        for name, body in original_cases.items()
        if S.get(f"staff:case:{name}", body) != body
    }


def _check() -> None:
    cases = _edited_cases()
    S["staff:proposal"] = {
        "text": S["staff:text"],
        "cases": cases,
        "proposal": rules.propose(edit["file"], S["staff:text"], edit["base"], cases=cases or None),
    }
    S.pop("staff:impact", None)


st.button(w.t("edit.check"), key="staff:check", on_click=_check, type="primary")

checked = S.get("staff:proposal")
proposal = checked["proposal"] if checked else None
edited_cases = _edited_cases()
current_check = bool(checked) and checked["text"] == text and checked.get("cases", {}) == edited_cases
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
            st.error(f"**{w.t(title)}**\n\n" + "\n".join(f"- {explain(item, w)}" for item in items))
    if proposal.ok:
        st.success(w.t("edit.clean", count=len(proposal.checked)))

clean = bool(proposal is not None and current_check and proposal.ok)
unchanged = text == edit["original"] and not edited_cases
if unchanged:
    st.caption(w.t("edit.unchanged"))

# -- impact preview ------------------------------------------------------------------
if proposal is not None and current_check and proposal.catalogue is not None:
    st.subheader(w.t("impact.heading"))
    n = st.number_input(w.t("impact.people"), 100, 1_000_000, DEFAULT_PEOPLE, step=1000, key="staff:impact:n")
    # the day the change takes effect (a value dated next 1 January is invisible today)
    effective = effective_date(catalogue, proposal.catalogue, date.today())
    day = st.date_input(w.t("impact.day"), value=effective, key=f"staff:impact:as_of:{effective}")
    if st.button(w.t("impact.run"), key="staff:impact:run"):
        S["staff:impact"] = run_impact(catalogue, proposal.catalogue, int(n), day)
    if S.get("staff:impact") is not None:
        show_impact(S["staff:impact"], w, "staff:impact")

# -- save ----------------------------------------------------------------------------
reason = st.text_input(w.t("edit.reason"), key="staff:reason")
# The rule and its edited cases are one version: checked together again under the
# store's lock, recorded together, made live together (engine/services/versions.py).
can_save = clean and not unchanged and bool(reason.strip())
if st.button(w.t("edit.save"), key="staff:save", disabled=not can_save, type="primary"):
    try:
        version = rules.save(
            edit["file"], text, edit["base"], author=author, reason=reason, cases=edited_cases or None
        )
    except StaleEdit as exc:
        st.error(w.t("edit.stale", had=exc.had, now=exc.now))
    except RejectedEdit as exc:
        st.error(f"**{w.t('edit.rejected')}**\n\n" + "\n".join(f"- {explain(p, w)}" for p in exc.problems))
    except SaveFailed:
        st.error(w.t("edit.save_failed"))
    else:
        _close()
        S["staff:flash"] = w.t("edit.saved", id=version.id)
        st.rerun()
st.button(w.t("edit.discard"), key="staff:discard", on_click=_close)
