"""The entry point: ``streamlit run ui/app.py`` opens on the citizen questionnaire.

This script runs on every interaction of every session: it sets up the page, restores
answers from a share link or the draft in the address, offers the language switch (in
the sidebar, and on top of every page where a phone shows it), and hands over to the page.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run ui/app.py` puts ui/ on sys.path, not the checkout: put the checkout
# first, so that `ui` and `engine` are this checkout's even if another is installed.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path[:1]:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from ui import session  # noqa: E402
from ui.runtime import get_engine  # noqa: E402
from ui.text import LANGS, words  # noqa: E402
from ui.views import page_language, page_style  # noqa: E402

session.init()
engine = get_engine()
session.restore_from_link(set(engine.catalogue.events))
session.sync_draft(set(engine.catalogue.events))


def _switch_language() -> None:
    # Kept outside the widget's own state, which Streamlit may drop between pages.
    st.session_state.lang = st.session_state["w:lang"]


def _other_language() -> None:
    st.session_state.lang = next(code for code in LANGS if code != st.session_state.lang)
    st.session_state.pop("w:lang", None)  # the sidebar's radio follows


w = words(engine.catalogue, st.session_state.lang)
# The tab's title is the app's name in the page's language (set once the language is known).
st.set_page_config(page_title=w.t("app.name"), page_icon="🧭", layout="centered")
page_style()
page_language(w.lang)
with st.container(horizontal=True, horizontal_alignment="right", key="language_bar"):
    st.button(w.t("language.switch"), key="language:switch", on_click=_other_language, type="tertiary")
with st.sidebar:
    st.radio(
        w.t("language.label"),
        LANGS,
        index=LANGS.index(st.session_state.lang),
        key="w:lang",
        format_func=lambda code: w.t(f"language.{code}"),
        on_change=_switch_language,
    )
w = words(engine.catalogue, st.session_state.lang)
with st.sidebar:
    st.caption(w.t("sidebar.privacy"))
    st.caption(w.t("sidebar.rules_version", version=engine.catalogue.version))

flash = st.session_state.flash
if flash:
    kind, key, message = flash
    (st.error if kind == "error" else st.success)(w.t(key, message=message))
    st.session_state.flash = None

here = Path(__file__).parent
page = st.navigation(
    [
        st.Page(here / "app_pages" / "citizen.py", title=w.t("page.citizen"), icon="📝", default=True),
        st.Page(here / "app_pages" / "counter.py", title=w.t("page.counter"), icon="🏢", url_path="counter"),
    ]
)
page.run()
