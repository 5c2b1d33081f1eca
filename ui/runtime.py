"""The one engine of the process, built once and shared by every session.

``st.cache_resource`` keeps one compiled :class:`engine.Engine` per process: durable-rules
refuses to register a ruleset twice, and compiling on every rerun would also be slow
(shared/notes §7). Only the engine is cached; answers and profiles never are (they live
in each session's ``st.session_state`` and nowhere else).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from engine import Engine, load_catalogue
from engine.rulesroot import rules_root


def catalogue_root() -> Path:
    """The folder with catalog.yaml and rules/ (engine.rulesroot decides)."""
    return rules_root()


def build_engine(root: Path | None = None) -> Engine:
    return Engine(load_catalogue(root or catalogue_root()))


@st.cache_resource(show_spinner=False)
def get_engine() -> Engine:
    return build_engine()
