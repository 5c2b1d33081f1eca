"""The staff entry point: ``streamlit run ui/staff_app.py --server.port 8502``.

A separate app from the citizens' (ui/app.py links to nothing here and imports none of
it). It opens only with a credential configured outside the repository
(``LIFEEVENTS_STAFF_CREDENTIALS``, docs/staff.md) and a signed-in staff member; without
the variable it shows only that the staff area is disabled.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path[:1]:
    sys.path.insert(0, str(ROOT))

import time  # noqa: E402

import streamlit as st  # noqa: E402

from engine import (  # noqa: E402
    CatalogueError,
    NoCredentials,
    StaffSession,
    session_end,
    sign_in,
)
from ui.staff_runtime import audit_log, client_address, credentials, store, throttle, words  # noqa: E402
from ui.text import LANGS, load_text  # noqa: E402

st.set_page_config(page_title="lifeevents staff", page_icon="🛠️", layout="wide")
st.session_state.setdefault("staff_lang", LANGS[0])

rules = store()
try:
    catalogue = rules.current()
except CatalogueError as exc:
    # before sign-in, and in the interface language: the file relative to the rules
    # root, never the server's path
    from ui.staff_runtime import say

    where = f"{rules.root}/"
    st.error(say("staff.load_error", message=str(exc.problems[0]).replace(where, "")))
    st.stop()
w = words(catalogue)
st.title(w.t("staff.title"))


def _sign_out(event: str = "auth.sign_out") -> None:
    session = st.session_state.get("staff_session")
    if session is not None:
        audit_log().record(event, who=session.user, address=client_address())
    for key in list(st.session_state):
        if key != "staff_lang":
            del st.session_state[key]


try:
    staff = credentials()
except NoCredentials:
    st.session_state.pop("staff_user", None)
    st.session_state.pop("staff_session", None)
    st.warning(w.t("staff.disabled"))
    st.stop()

# A session ends when its user's credential line changes (a new password) or is removed,
# after LIFEEVENTS_STAFF_IDLE_MINUTES idle, or LIFEEVENTS_STAFF_SESSION_HOURS after signing in.
session: StaffSession | None = st.session_state.get("staff_session")
now = time.time()
if session is not None:
    ended = session_end(session, staff, now)
    if ended:
        _sign_out(f"session.ended.{ended}")
        st.session_state["staff:ended"] = ended
        session = None
    else:
        session.last_seen = now
if session is None:
    st.session_state.pop("staff_user", None)
    ended = st.session_state.get("staff:ended")
    if ended:
        st.info(w.t(f"staff.session_{ended}"))
    with st.form("staff:login"):
        name = st.text_input(w.t("staff.username"), key="staff:username")
        password = st.text_input(w.t("staff.password"), type="password", key="staff:password")
        submitted = st.form_submit_button(w.t("staff.login"))
    if submitted:
        attempt = sign_in(name, password, client_address(), staff, throttle(), audit_log())
        if attempt.ok and attempt.user and attempt.fingerprint:
            st.session_state.pop("staff:ended", None)
            st.session_state.staff_session = StaffSession(attempt.user, attempt.fingerprint, now, now)
            st.session_state.staff_user = attempt.user
            st.rerun()
        if attempt.wait > 0:
            # The same answer for every username, known or not: nothing to enumerate.
            st.error(w.t("staff.throttled", seconds=max(1, round(attempt.wait))))
        else:
            st.error(w.t("staff.login_failed"))
    st.stop()


with st.sidebar:
    st.radio(
        "Language / 語言",
        LANGS,
        index=LANGS.index(st.session_state.staff_lang),
        key="staff:lang",
        format_func=lambda code: load_text()[f"language.{code}"][code],  # each in its own words
        on_change=lambda: st.session_state.update(staff_lang=st.session_state["staff:lang"]),
    )
    w = words(catalogue)
    st.caption(w.t("staff.signed_in", user=st.session_state.staff_user))
    st.caption(w.t("staff.rules_version", version=catalogue.version))
    st.button(w.t("staff.logout"), key="staff:logout", on_click=_sign_out)

here = Path(__file__).parent / "staff_pages"
page = st.navigation(
    [
        st.Page(here / "browse.py", title=w.t("page.browse"), icon="📚", default=True),
        st.Page(here / "edit.py", title=w.t("page.edit"), icon="✏️", url_path="edit"),
        st.Page(here / "new_service.py", title=w.t("page.new_service"), icon="➕", url_path="new-service"),
        st.Page(here / "versions.py", title=w.t("page.versions"), icon="🕘", url_path="versions"),
        st.Page(here / "tester.py", title=w.t("page.tester"), icon="🧪", url_path="tester"),
        st.Page(here / "visits.py", title=w.t("page.visits"), icon="🏠", url_path="visits"),
        st.Page(here / "visits_report.py", title=w.t("page.visits_report"), icon="📊", url_path="visits-report"),
    ]
)
# Each page under its own heading, one level below the app's title: the pages' sections
# are subheaders (h3), and a jump from h1 to h3 is a heading-order failure (axe-core).
st.header(page.title)
try:
    page.run()
except Exception as exc:
    from ui.worklist_runtime import shown_unavailable  # the home-visit pages' database, if that failed

    if not shown_unavailable(exc):
        raise
