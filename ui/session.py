"""The session: what one browser tab has answered, in ``st.session_state`` only.

Privacy: answers are never written to disk, logs, caches or any server-side store. They
live in this session's memory and die with it; ``st.cache_data`` is never used for
them. The only way out is the citizen's own: the downloaded plan, or a link that carries
the answers in its query string (``?a=`` base64url JSON), restored here on load.

The draft: the same token is kept in the page's own address (``?d=``), rewritten after
every answer. Streamlit pushes a browser history entry when the script changes a query
parameter and reruns the page when Back or Forward changes it, so browser Back steps
back through the answers, and a reload (F5) brings the draft and the language back.
The address lives in the browser (its history); the server only reads it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import streamlit as st

from engine import ProfileError
from ui.answers import decode_draft, encode_token
from ui.text import LANGS, browser_language

LINK_PARAM = "a"
DRAFT_PARAM = "d"
DEFAULTS: dict[str, Any] = {
    "answers": {},  # profile path -> answer (None: "I don't know")
    "life_events": [],  # the catalogue's life events the citizen chose
    "editing": None,  # the path of an answer being changed
    "question_error": None,  # (path, text key, message) of a refused answer
    "flash": None,  # (kind, text key, message) shown once at the top of the page
    "counter_events": None,  # the counter page's life events (None: none picked yet)
    "cards": [],  # the facts answered on their own card, in order (numbers, "Previous")
    "focus_card": False,  # move the view and the focus to the question card on this run
    "dont_know": None,  # the fact just answered "I don't know" (say where to look it up)
    "draft_token": None,  # the draft as last read from or written to the address
}
# What the draft in the address carries; the rest is this run's (or the counter's).
DRAFT_KEYS = ("answers", "life_events", "cards", "editing", "question_error", "dont_know")


def init() -> None:
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value.copy() if isinstance(value, dict | list) else value
    if "lang" not in st.session_state:
        # A first visit opens in the browser's language (a draft or a link may change it).
        st.session_state.lang = browser_language(st.context.headers.get("Accept-Language"), st.context.locale)


def restore_from_link(known_events: set[str]) -> None:
    """Load the answers a share link carries, then drop them from the address bar."""
    token = st.query_params.get(LINK_PARAM)
    if not token:
        return
    try:
        draft = decode_draft(token, known_events)
    except ProfileError as exc:
        st.session_state.flash = ("error", "share.bad_link", str(exc))
    else:
        st.session_state.life_events = draft.life_events
        st.session_state.answers = draft.answers
        st.session_state.cards = draft.cards
        st.session_state.editing = None
        if draft.lang in LANGS:
            st.session_state.lang = draft.lang
        st.session_state.flash = ("success", "share.restored", "")
    del st.query_params[LINK_PARAM]


def draft_token() -> str | None:
    """This session's draft as a token (None: nothing chosen or answered yet)."""
    state = st.session_state
    if not state.life_events and not state.answers:
        return None
    return encode_token(state.life_events, state.answers, state.lang, state.cards)


def sync_draft(known_events: set[str]) -> None:
    """Keep the draft in the address and the session in step, once per run.

    The address changed by itself (a reload, or browser Back/Forward): restore from it.
    Otherwise the session may have changed (callbacks run before the script): write it.
    """
    in_address = st.query_params.get(DRAFT_PARAM)
    if in_address != st.session_state.draft_token:
        st.session_state.draft_token = in_address
        if in_address:
            _restore_draft(in_address, known_events)
        else:  # Back to before the first choice: the empty questionnaire
            for key in DRAFT_KEYS:
                value = DEFAULTS[key]
                st.session_state[key] = value.copy() if isinstance(value, dict | list) else value
        st.session_state.focus_card = bool(st.session_state.answers)
        return
    token = draft_token()
    if token == in_address:
        return
    if token is None:
        del st.query_params[DRAFT_PARAM]
    else:
        st.query_params[DRAFT_PARAM] = token
    st.session_state.draft_token = token


def _restore_draft(token: str, known_events: set[str]) -> None:
    try:
        draft = decode_draft(token, known_events)
    except ProfileError as exc:
        st.session_state.flash = ("error", "share.bad_link", str(exc))
        return
    st.session_state.life_events = draft.life_events
    st.session_state.answers = draft.answers
    st.session_state.cards = draft.cards
    st.session_state.editing = None
    st.session_state.question_error = None
    st.session_state.dont_know = None
    if draft.lang in LANGS:
        st.session_state.lang = draft.lang


def share_link(page_url: str | None) -> str:
    """The link that restores this session's answers; absolute when the page's own
    address is known (``st.context.url``), otherwise relative."""
    state = st.session_state
    token = encode_token(state.life_events, state.answers, state.lang, state.cards)
    if not page_url:
        return f"?{LINK_PARAM}={token}"
    parts = urlsplit(page_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", f"{LINK_PARAM}={token}", ""))


def reset() -> None:
    for key, value in DEFAULTS.items():
        if key == "draft_token":  # what the address holds: the next run writes the empty draft
            continue
        st.session_state[key] = value.copy() if isinstance(value, dict | list) else value
