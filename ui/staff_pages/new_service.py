"""Add a service: its catalogue entry, rule file, parameter files and test cases, checked
together and saved as one version (each alone is refused: the catalogue wants a rule for
every service, a rule wants its service in the catalogue, a new service wants a case).

The entry is added to catalog.yaml with ruamel.yaml (ui/param_edit.py), so the saved diff
shows the new lines only. Save stays disabled until a Check of exactly these texts passed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from engine import RejectedEdit, SaveFailed, StaleEdit
from ui.param_edit import ParamEditError, add_service
from ui.staff_runtime import explain, store, user, words

author = user()
rules = store()
catalogue = rules.current()
w = words(catalogue)
S = st.session_state
MAX_PARAMETERS = 5

flash = S.pop("staff:new:flash", None)
if flash:
    st.success(flash)

st.caption(w.t("new.intro"))

sid = st.text_input(w.t("new.id"), key="staff:new:id").strip()
event = st.selectbox(
    w.t("new.event"),
    list(catalogue.events),
    key="staff:new:event",
    format_func=lambda e: catalogue.events[e].name.get(w.lang) or e,
)
st.text_area(w.t("new.entry"), key="staff:new:entry", height=220, help=w.t("new.entry_help"))
st.text_input(w.t("new.rule_path"), key="staff:new:rule_path", placeholder=f"rules/{event}/{sid or '…'}.yaml")
st.text_area(w.t("new.rule"), key="staff:new:rule", height=220)
count = int(S.get("staff:new:parameters", 1))
for i in range(count):
    st.text_input(
        w.t("new.param_path", n=i + 1), key=f"staff:new:param_path:{i}", placeholder="rules/parameters/…"
    )
    st.text_area(w.t("new.param", n=i + 1), key=f"staff:new:param:{i}", height=160)
if count < MAX_PARAMETERS:
    st.button(
        w.t("new.more_parameters"),
        key="staff:new:more",
        on_click=lambda: S.update({"staff:new:parameters": count + 1}),
    )
st.text_input(w.t("new.cases_path"), key="staff:new:cases_path", placeholder=f"{event}/{sid or '…'}.yaml")
st.text_area(w.t("new.cases"), key="staff:new:cases", height=220, help=w.t("new.cases_help"))


def _rule_fields() -> list[tuple[str, str, str]]:
    """The rule and parameter files of the form as (field label, path, text). A blank rule
    path is the path shown, as the field says; a parameter is in the change when its path
    or its text is given."""
    rule_path = (S.get("staff:new:rule_path") or "").strip() or f"rules/{event}/{sid}.yaml"
    fields = [(w.t("new.rule_path"), rule_path, S.get("staff:new:rule") or "")]
    for i in range(count):
        path, text = (S.get(f"staff:new:param_path:{i}") or "").strip(), S.get(f"staff:new:param:{i}") or ""
        if path or text.strip():
            fields.append((w.t("new.param_path", n=i + 1), path, text))
    return fields


def _case_fields() -> list[tuple[str, str, str]]:
    """The test cases file as (field label, path, text), when cases are given."""
    body = S.get("staff:new:cases") or ""
    if not body.strip():
        return []
    path = (S.get("staff:new:cases_path") or "").strip() or f"{event}/{sid}.yaml"
    return [(w.t("new.cases_path"), path, body)]


def _change() -> tuple[dict[str, str], dict[str, str]]:
    """The rule files and case files of the change, as the form stands."""
    files = {"catalog.yaml": add_service(rules.read("catalog.yaml"), S.get("staff:new:entry") or "")}
    files |= {path: text for _label, path, text in _rule_fields()}
    return files, {path: text for _label, path, text in _case_fields()}


def _path_problems() -> list[str]:
    """Each path field checked alone, so that a refusal names its field (a blank path has
    no name to show) and two fields cannot name one file (the later would replace the
    earlier; catalog.yaml is the entry's). A new service's files are new: an existing one
    belongs to another service."""
    problems: list[str] = []
    seen = {"catalog.yaml": w.t("new.entry")}
    fields: list[tuple[Callable[..., Path], str, str, str]]  # (check, field label, path, file)
    fields = [(rules.rule_path, label, path, path) for label, path, _text in _rule_fields()]
    fields += [(rules.case_path, label, path, f"tests/cases/{path}") for label, path, _text in _case_fields()]
    for check, label, path, file in fields:
        try:
            check(path, new=True)
        except RejectedEdit as exc:
            problems += [w.t("new.field_problem", field=label, problem=explain(p, w)) for p in exc.problems]
        if path and file in seen:
            same = w.t("new.same_path", other=seen[file])
            problems.append(w.t("new.field_problem", field=label, problem=same))
        seen.setdefault(file, label)
    return problems


def _check() -> None:
    S.pop("staff:new:checked", None)
    S.pop("staff:new:error", None)
    problems = _path_problems()
    if problems:
        S["staff:new:error"] = "\n".join(f"- {p}" for p in problems)
        return
    try:
        files, cases = _change()
        proposal = rules.propose_change(files, rules.base_version(), cases or None, new_service=True)
    except ParamEditError as exc:
        S["staff:new:error"] = w.t("new.bad_entry", message=str(exc))
        return
    except RejectedEdit as exc:
        S["staff:new:error"] = "\n".join(f"- {explain(p, w)}" for p in exc.problems)
        return
    S["staff:new:checked"] = {"files": files, "cases": cases, "proposal": proposal}


st.button(w.t("edit.check"), key="staff:new:check", on_click=_check, type="primary", disabled=not sid)
if S.get("staff:new:error"):
    st.error(S["staff:new:error"])

checked = S.get("staff:new:checked")
try:
    current = _change() if checked else None
except ParamEditError:
    current = None
fresh = bool(checked) and current == (checked["files"], checked["cases"])
if checked and not fresh:
    st.warning(w.t("edit.recheck"))
proposal = checked["proposal"] if fresh else None
if proposal is not None:
    st.caption(w.t("new.files", files=", ".join(proposal.files)))
    for title, items in (
        ("edit.problems", proposal.problems),
        ("edit.lint", proposal.lint),
        ("edit.failed_cases", proposal.failed_cases),
    ):
        if items:
            st.error(f"**{w.t(title)}**\n\n" + "\n".join(f"- {explain(item, w)}" for item in items))
    if proposal.ok:
        st.success(w.t("edit.clean", count=len(proposal.checked)))

reason = st.text_input(w.t("edit.reason"), key="staff:new:reason")
can_save = bool(proposal is not None and proposal.ok and reason.strip())
if st.button(w.t("new.save"), key="staff:new:save", disabled=not can_save, type="primary"):
    assert proposal is not None  # the button is enabled only with a clean, current proposal
    try:
        version = rules.save_change(
            checked["files"],
            proposal.base_version,
            author=author,
            reason=reason,
            cases=checked["cases"] or None,
            new_service=True,
        )
    except StaleEdit as exc:
        st.error(w.t("edit.stale", had=exc.had, now=exc.now))
    except RejectedEdit as exc:
        st.error(f"**{w.t('edit.rejected')}**\n\n" + "\n".join(f"- {explain(p, w)}" for p in exc.problems))
    except SaveFailed:
        st.error(w.t("edit.save_failed"))
    else:
        for key in [k for k in S if str(k).startswith("staff:new:")]:
            del S[key]
        S["staff:new:flash"] = w.t("new.saved", service=sid, id=version.id, files=len(version.files))
        st.rerun()
