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

import streamlit as st  # noqa: E402

from engine.loader import CatalogueError  # noqa: E402
from engine.staffauth import NoCredentials, check_login, load_credentials  # noqa: E402
from ui.staff_runtime import store, words  # noqa: E402
from ui.text import LANGS  # noqa: E402

st.set_page_config(page_title="lifeevents staff", page_icon="🛠️", layout="wide")
st.session_state.setdefault("staff_lang", LANGS[0])

rules = store()
try:
    catalogue = rules.current()
except CatalogueError as exc:
    st.error(f"{exc.problems[0]}")
    st.stop()
w = words(catalogue)
st.title(w.t("staff.title"))

try:
    credentials = load_credentials()
except NoCredentials:
    st.session_state.pop("staff_user", None)
    st.warning(w.t("staff.disabled"))
    st.stop()

if st.session_state.get("staff_user") not in credentials:
    st.session_state.pop("staff_user", None)
    with st.form("staff:login"):
        name = st.text_input(w.t("staff.username"), key="staff:username")
        password = st.text_input(w.t("staff.password"), type="password", key="staff:password")
        submitted = st.form_submit_button(w.t("staff.login"))
    if submitted:
        if check_login(name, password, credentials):
            st.session_state.staff_user = name
            st.rerun()
        st.error(w.t("staff.login_failed"))
    st.stop()


def _logout() -> None:
    for key in list(st.session_state):
        if key != "staff_lang":
            del st.session_state[key]


with st.sidebar:
    st.radio(
        "Language / 語言",
        LANGS,
        index=LANGS.index(st.session_state.staff_lang),
        key="staff:lang",
        format_func=lambda code: {"zh-TW": "中文（繁體）", "en": "English"}[code],
        on_change=lambda: st.session_state.update(staff_lang=st.session_state["staff:lang"]),
    )
    w = words(catalogue)
    st.caption(w.t("staff.signed_in", user=st.session_state.staff_user))
    st.caption(w.t("staff.rules_version", version=catalogue.version))
    st.button(w.t("staff.logout"), key="staff:logout", on_click=_logout)

here = Path(__file__).parent / "staff_pages"
page = st.navigation(
    [
        st.Page(here / "browse.py", title=w.t("page.browse"), icon="📚", default=True),
        st.Page(here / "edit.py", title=w.t("page.edit"), icon="✏️", url_path="edit"),
        st.Page(here / "versions.py", title=w.t("page.versions"), icon="🕘", url_path="versions"),
        st.Page(here / "tester.py", title=w.t("page.tester"), icon="🧪", url_path="tester"),
        st.Page(here / "visits.py", title=w.t("page.visits"), icon="🏠", url_path="visits"),
        st.Page(here / "visits_report.py", title=w.t("page.visits_report"), icon="📊", url_path="visits-report"),
    ]
)
page.run()
