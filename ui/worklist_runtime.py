"""The home-visit pages' plumbing: the worklist store (``LIFEEVENTS_WORKLIST``, default
``worklist.sqlite`` in the working folder: engine.services.worklist.database_url), one per URL and
process, and the engine that prints a case's plan."""

from __future__ import annotations

import streamlit as st

from engine import Catalogue, Engine


@st.cache_resource(show_spinner=False)
def _store(url: str):
    from engine import open_store

    return open_store(url)


def worklist_store():
    """The store, or an error shown on the page and the page stopped."""
    try:
        from engine import WorklistError, database_url
    except ImportError as exc:
        st.error(f"pip install 'lifeevents[worklist]' ({exc.name} is missing)")
        st.stop()
    try:
        return _store(database_url())
    except WorklistError as exc:
        st.error(str(exc))
        st.stop()


def shown_unavailable(exc: Exception) -> bool:
    """A worklist database that fails after it opened (a damaged page, a lock held too
    long) shown as its one-line message instead of a traceback; False for anything else."""
    try:
        from engine import WorklistUnavailable
    except ImportError:  # no worklist packages: the exception cannot be the worklist's
        return False
    if not isinstance(exc, WorklistUnavailable):
        return False
    st.error(str(exc))
    return True


@st.cache_resource(show_spinner=False, max_entries=4)
def _engine(version: str, _catalogue: Catalogue) -> Engine:
    return Engine(_catalogue)


def plan_engine(catalogue: Catalogue) -> Engine:
    return _engine(catalogue.version, catalogue)
