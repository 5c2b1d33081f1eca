"""The engine of the process, shared by every session and rebuilt when the rules change.

``st.cache_resource`` keeps one compiled :class:`engine.Engine` per rules version:
durable-rules refuses to register a ruleset twice, and compiling on every rerun would
also be slow (shared/notes §7). Only the engine is cached; answers and profiles never are
(they live in each session's ``st.session_state`` and nowhere else).

A staff save replaces a rule file in place (engine/services/versions.py writes atomically), so
the cache is keyed by a stamp of the rules tree (every file's name, size and mtime). The
stamp is taken at most once every ``RECHECK_SECONDS`` per process (227 ``stat`` calls,
well under a millisecond each time), never per rerun: a saved version reaches the running
apps within seconds, without a restart. A tree that does not load (a hand edit half
done) keeps the last version that did.
"""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import streamlit as st

from engine import CatalogueError, Engine, load_catalogue, rules_root

RECHECK_SECONDS = 3.0
_lock = threading.Lock()
_stamps: dict[str, tuple[float, str]] = {}  # root -> (when taken, stamp)
_last_good: dict[str, Engine] = {}  # root -> the newest engine that loaded


def catalogue_root() -> Path:
    """The folder with catalog.yaml and rules/ (engine.language.rulesroot decides)."""
    return rules_root()


def build_engine(root: Path | None = None) -> Engine:
    return Engine(load_catalogue(root or catalogue_root()))


def tree_stamp(root: Path) -> str:
    """A digest of the name, size and modification time of every file the rules read."""
    digest = hashlib.sha256()
    for path in [root / "catalog.yaml", *sorted((root / "rules").rglob("*.yaml"))]:
        try:
            info = path.stat()
        except FileNotFoundError:  # removed between listing and stat: the next check sees it
            continue
        digest.update(f"{path.relative_to(root).as_posix()}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _current_stamp(root: Path) -> str:
    key = str(root)
    now = time.monotonic()
    with _lock:
        seen = _stamps.get(key)
        if seen is not None and now - seen[0] < RECHECK_SECONDS:
            return seen[1]
        stamp = tree_stamp(root)
        _stamps[key] = (now, stamp)
        return stamp


@st.cache_resource(show_spinner=False, max_entries=2)
def _engine_for(root: str, stamp: str) -> Engine:
    return build_engine(Path(root))


def get_engine() -> Engine:
    """The engine of the rules as they are now on disk (checked every few seconds)."""
    root = catalogue_root()
    try:
        engine = _engine_for(str(root), _current_stamp(root))
    except CatalogueError:
        if str(root) not in _last_good:
            raise
        return _last_good[str(root)]
    _last_good[str(root)] = engine
    return engine
