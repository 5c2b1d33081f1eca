"""How a message quotes what it was given: a short prefix, never the whole value.

A 50 MB cell was once echoed whole into a batch's stderr; a key, a cell, a column name
or an argument is quoted by at most :data:`SHOWN_CHARS` characters.
"""

from __future__ import annotations

from collections.abc import Iterable

SHOWN_CHARS = 80


def closest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice closest to ``word``, or None when none is close. difflib is imported
    here, on a mistake only: not by every command's start."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """``"; did you mean 'X'?"`` for the choice closest to ``word``, or ""."""
    found = closest(word, choices, cutoff)
    return f"; did you mean '{found}'?" if found else ""


def shown(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` as a message quotes it: at most ``limit`` characters, then an ellipsis."""
    return text if len(text) <= limit else text[:limit] + "…"
