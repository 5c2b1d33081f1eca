"""The staff area's plumbing: where the rules live, the store, the words, who is signed in.

The rules edited are those under ``LIFEEVENTS_ROOT`` (default: this checkout), their
history under ``LIFEEVENTS_HISTORY`` (default ROOT/.history) and the test cases under
``LIFEEVENTS_CASES`` (default ROOT/tests/cases): tests point all three at a temporary
copy, so they never touch the real rules. Nothing here is imported by the citizen app.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import streamlit as st

from engine import (
    AuditLog,
    Catalogue,
    Credentials,
    LoginThrottle,
    RuleStore,
    cases_dir,
    load_credentials,
    rules_root,
)
from ui.text import LANGS, Words, load_text

STAFF_TEXT = Path(__file__).with_name("staff_text.yaml")


def staff_root() -> Path:
    return rules_root()


def store() -> RuleStore:
    root = staff_root()
    return RuleStore(
        root,
        history=os.environ.get("LIFEEVENTS_HISTORY") or None,
        cases=os.environ.get("LIFEEVENTS_CASES") or cases_dir(root),
    )


def history_dir() -> Path:
    return Path(os.environ.get("LIFEEVENTS_HISTORY") or staff_root() / ".history")


def audit_log() -> AuditLog:
    """``LIFEEVENTS_AUDIT_LOG``, else audit.jsonl in the history folder (engine/services/audit.py)."""
    return AuditLog.beside(history_dir())


@st.cache_resource
def throttle() -> LoginThrottle:
    """One for the whole app process: every browser session's failures count together."""
    return LoginThrottle()


TRUST_PROXY_ENV = "LIFEEVENTS_STAFF_TRUST_PROXY"
log = logging.getLogger("lifeevents.staff")
_reported: set[str] = set()


def client_address() -> str:
    """The browser's address, for the throttle and the audit log. Behind a reverse proxy
    every client has the proxy's address: set LIFEEVENTS_STAFF_TRUST_PROXY=1 (only then:
    a client can forge the header) to take the last X-Forwarded-For entry instead."""
    if os.environ.get(TRUST_PROXY_ENV) == "1":
        forwarded = (st.context.headers.get("X-Forwarded-For") or "").split(",")[-1].strip()
        if forwarded:
            return forwarded[:64]
    return (getattr(st.context, "ip_address", None) or "unknown")[:64]


def credentials() -> Credentials:
    """The credential file, read on every run (a changed password takes effect at once);
    each refused line is logged once, never shown to someone who has not signed in."""
    found = load_credentials()
    for problem in found.problems:
        if problem not in _reported:
            _reported.add(problem)
            log.warning("staff credentials: %s", problem)
    return found


def say(key: str, **fields: object) -> str:
    """One staff text in the interface language, for when no catalogue loads (``words``
    needs one)."""
    lang = st.session_state.get("staff_lang", LANGS[0])
    entry = load_text(STAFF_TEXT)[key]
    return entry[lang if lang in LANGS else LANGS[0]].format(**fields)


def words(catalogue: Catalogue) -> Words:
    lang = st.session_state.get("staff_lang", LANGS[0])
    return Words(catalogue, lang if lang in LANGS else LANGS[0], load_text(STAFF_TEXT))


def _taipei() -> timezone:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Asia/Taipei")  # type: ignore[return-value]
    except Exception:  # no time zone data on the host: Taiwan keeps UTC+8 all year
        return timezone(timedelta(hours=8), "Asia/Taipei")


def local_time(stamp: str) -> str:
    """A history timestamp (UTC, ISO 8601) as Taiwan's local time, to the minute."""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(_taipei()).strftime("%Y-%m-%d %H:%M")


def user() -> str:
    """The signed-in staff member; the pages run only after staff_app.py checked it."""
    name = st.session_state.get("staff_user")
    if not name:
        st.stop()
    return name


def rule_files(catalogue: Catalogue) -> list[dict]:
    """One row per rule file: service, jurisdiction, legal basis, file."""
    rows = []
    for sid, layer in sorted(catalogue.rules.items()):
        service = catalogue.services.get(sid)
        for jurisdiction, rule in sorted(layer.items(), key=lambda kv: (kv[0] != "national", kv[0])):
            rows.append(
                {
                    "service": sid,
                    "name": service.name.get("zh-TW") if service else sid,
                    "jurisdiction": jurisdiction,
                    "legal_basis": rule.legal_basis,
                    "file": rule.file,
                }
            )
    return rows


def parameter_users(catalogue: Catalogue) -> dict[str, list[str]]:
    """parameter name -> the services whose rules read it (local overrides included)."""
    from engine import parameters_used

    out: dict[str, list[str]] = {}
    for sid in catalogue.services:
        for name in parameters_used(catalogue, sid):
            out.setdefault(name, []).append(sid)
    return {k: sorted(v) for k, v in out.items()}


def editable_files(catalogue: Catalogue) -> list[str]:
    files = {"catalog.yaml"} | {r["file"] for r in rule_files(catalogue)}
    files |= {p.file for p in catalogue.parameters.values() if p.file}
    return sorted(files)


# The check's findings come from the engine as "file:line: message" sentences in English,
# shaped by engine/services/cases.py and engine/services/versions.py. The common shapes are reworded here in
# the interface language (ui/staff_text.yaml); any other is shown as it came, after the
# words "at line N of FILE" in the interface language. Paths are already relative.
_CASE = r"(?P<file>[^\s#]+)#(?P<index>\d+) \((?P<name>.*)\): (?P<partner>partner: )?(?P<service>[a-z0-9-]+)"
_PROBLEMS = (
    (
        "problem.case_value",
        re.compile(_CASE + r": (?P<field_key>[a-z_]+) is (?P<actual>.+), expected (?P<expected>.+)$"),
    ),
    ("problem.case_reason", re.compile(_CASE + r": no reason mentions (?P<fragment>.+)$")),
    ("problem.case_absent", re.compile(_CASE + r" is not among the results$")),
    (
        "problem.new_service_case",
        re.compile(
            r"^(?P<service>[a-z0-9-]+): a new service needs at least one test case under (?P<folder>\S+)$"
        ),
    ),
    (
        "problem.case_last",
        re.compile(
            r"^(?P<service>[a-z0-9-]+): no test case under (?P<folder>\S+) checks it any more; "
            r"every service needs one$"
        ),
    ),
    # a path refused (engine/services/versions.py: RuleStore.rule_path, case_path)
    ("problem.path_empty", re.compile(r"^the path is empty$")),
    (
        "problem.path_rules_only",
        re.compile(r"^(?P<file>.+): staff may edit catalog\.yaml and rules/\*\*/\*\.yaml only$"),
    ),
    (
        "problem.path_cases_only",
        re.compile(r"^(?P<file>.+): a case file is a \.yaml file inside the cases folder$"),
    ),
    (
        "problem.name_too_long",
        re.compile(
            r"^(?P<file>.+?): a file or folder name may have at most (?P<limit>\d+) bytes; "
            r"(?P<name>.+) has (?P<size>\d+)$"
        ),
    ),
    (
        "problem.path_too_long",
        re.compile(
            r"^(?P<file>.+?): a path may have at most (?P<limit>\d+) bytes; this one has (?P<size>\d+)$"
        ),
    ),
    ("problem.under_file", re.compile(r"^(?P<file>.+?): (?P<folder>.+) is a file, not a folder$")),
    (
        "problem.yaml_folder",
        re.compile(r"^(?P<file>.+?): (?P<folder>.+) is named like a YAML file, not a folder$"),
    ),
    ("problem.is_folder", re.compile(r"^(?P<file>.+): is a folder, not a file$")),
    (
        "problem.rule_exists",
        re.compile(
            r"^(?P<file>.+): the file exists already; a new service's rule and parameter files are new "
            r"files \(an existing file is changed on the Edit page\)$"
        ),
    ),
    (
        "problem.case_exists",
        re.compile(
            r"^(?P<file>.+): the file exists already and holds other services' cases; a new "
            r"service's cases go in a file of their own$"
        ),
    ),
    ("problem.at_line", re.compile(r"^(?P<file>[^\s:]+\.yaml):(?P<line>\d+): (?P<message>.+)$", re.S)),
)


def _plain(value: str) -> str:
    """A Python repr from a case check as the case file writes it: a date as 2026-03-03."""
    return re.sub(
        r"datetime\.date\((\d+), (\d+), (\d+)\)",
        lambda m: f"{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}",
        value,
    )


def explain(problem: str, w: Words) -> str:
    """One finding of a check, in the interface language where its shape is known."""
    for key, pattern in _PROBLEMS:
        found = pattern.match(problem)
        if found:
            fields = found.groupdict()
            if "field_key" in fields:
                label = f"problem.field.{fields['field_key']}"
                fields["field"] = w.t(label) if w.has(label) else fields["field_key"]
                fields["actual"], fields["expected"] = _plain(fields["actual"]), _plain(fields["expected"])
            if fields.get("partner") is not None:
                fields["service"] = w.t("problem.partner", service=fields["service"])
            return w.t(key, **fields)
    return problem
