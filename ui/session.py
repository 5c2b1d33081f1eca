"""The session: what one browser tab has answered, in ``st.session_state`` only.

Privacy: answers are never written to disk, logs, caches or any server-side store. They
live in this session's memory and die with it; ``st.cache_data`` is never used for
them. The only way out is the citizen's own: the downloaded plan, or a link that carries
the answers in its query string (``?a=`` base64url JSON), restored here on load.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import streamlit as st

from engine import ProfileError
from ui.answers import decode_share, encode_token
from ui.text import LANGS

LINK_PARAM = "a"
DEFAULTS: dict[str, Any] = {
    "answers": {},  # profile path -> answer (None: "I don't know")
    "life_events": [],  # the catalogue's life events the citizen chose
    "editing": None,  # the path of an answer being changed
    "question_error": None,  # (path, text key, message) of a refused answer
    "flash": None,  # (kind, text key, message) shown once at the top of the page
    "counter_events": None,  # the counter page's life events (None: none picked yet)
}


def init() -> None:
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value.copy() if isinstance(value, dict | list) else value
    if "lang" not in st.session_state:
        st.session_state.lang = LANGS[0]


def restore_from_link(known_events: set[str]) -> None:
    """Load the answers a share link carries, then drop them from the address bar."""
    token = st.query_params.get(LINK_PARAM)
    if not token:
        return
    try:
        life_events, answers, lang = decode_share(token, known_events)
    except ProfileError as exc:
        st.session_state.flash = ("error", "share.bad_link", str(exc))
    else:
        st.session_state.life_events = life_events
        st.session_state.answers = answers
        st.session_state.editing = None
        if lang in LANGS:
            st.session_state.lang = lang
        st.session_state.flash = ("success", "share.restored", "")
    del st.query_params[LINK_PARAM]


def share_link(page_url: str | None) -> str:
    """The link that restores this session's answers; absolute when the page's own
    address is known (``st.context.url``), otherwise relative."""
    token = encode_token(st.session_state.life_events, st.session_state.answers, st.session_state.lang)
    if not page_url:
        return f"?{LINK_PARAM}={token}"
    parts = urlsplit(page_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", f"{LINK_PARAM}={token}", ""))


def reset() -> None:
    for key, value in DEFAULTS.items():
        st.session_state[key] = value.copy() if isinstance(value, dict | list) else value
