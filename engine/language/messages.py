"""How a message quotes what it was given: a short prefix, never the whole value.

A 50 MB cell was once echoed whole into a batch's stderr; a key, a cell, a column name
or an argument is quoted by at most :data:`SHOWN_CHARS` characters.
"""

from __future__ import annotations

SHOWN_CHARS = 80


def shown(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` as a message quotes it: at most ``limit`` characters, then an ellipsis."""
    return text if len(text) <= limit else text[:limit] + "…"
