"""Change one dated value of a parameter file, leaving every other line as it was.

The staff form used to load the file, change the value and dump it again: the saved
diff then showed every line re-quoted, comments gone. Here only the lines of the dated
entry that changes (or one new line) differ; the result is read back to make sure it
says what was meant.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import yaml

ENTRY = re.compile(r"^(?P<indent>[ \t]+)(?P<day>\d{4}-\d{2}-\d{2})\s*:(?P<rest>.*)$")


class ParamEditError(ValueError):
    pass


def _flow(value: Any) -> str:
    return (
        yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000)
        .strip()
        .removesuffix("...")
        .strip()
    )


def _entries(lines: list[str]) -> tuple[int, list[tuple[str, int, int, str]]]:
    """The line after ``values:``, and (day, first line, end line, indent) of every entry."""
    try:
        start = next(i for i, line in enumerate(lines) if re.match(r"^values\s*:\s*(#.*)?$", line))
    except StopIteration:
        raise ParamEditError("the file has no 'values' block") from None
    out: list[tuple[str, int, int, str]] = []
    i = start + 1
    while i < len(lines):
        line = lines[i]
        if line.strip() and not line.startswith((" ", "\t", "#")):
            break  # the next top-level key
        match = ENTRY.match(line)
        if match:
            indent = match["indent"]
            end = i + 1
            while end < len(lines):
                nxt = lines[end]
                if (
                    nxt.strip()
                    and not nxt.lstrip().startswith("#")
                    and len(nxt) - len(nxt.lstrip()) <= len(indent)
                ):
                    break
                end += 1
            while end > i + 1 and not lines[end - 1].strip():
                end -= 1
            out.append((match["day"], i, end, indent))
            i = end
            continue
        i += 1
    return start + 1, out


def set_value(text: str, day: date | str, value: Any) -> str:
    """``text`` with the value in force from ``day`` set to ``value`` (added when new)."""
    key = str(day)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    first, entries = _entries(lines)
    found = next((e for e in entries if e[0] == key), None)
    if found is not None:
        _, begin, end, indent = found
        old = yaml.safe_load("".join(lines[begin:end]).replace(indent, "", 1)) or {}
        entry = old.get(date.fromisoformat(key), old.get(key))
        entry = {**entry, "value": value} if isinstance(entry, dict) else {"value": value}
        scalar = re.match(
            r"^(\s*\S+\s*:\s*\{\s*value\s*:\s*)([^,{}]+?)(\s*[,}].*)$", lines[begin].rstrip("\n")
        )
        if end == begin + 1 and scalar and not isinstance(value, dict):
            lines[begin] = scalar[1] + _flow(value) + scalar[3] + "\n"
        else:
            lines[begin:end] = [f"{indent}{key}: {_flow(entry)}\n"]
    else:
        indent = entries[0][3] if entries else "  "
        after = [e for e in entries if e[0] > key]
        at = after[0][1] if after and entries == sorted(entries) else (entries[-1][2] if entries else first)
        lines.insert(at, f"{indent}{key}: {_flow({'value': value})}\n")
    new = "".join(lines)
    values = (yaml.safe_load(new) or {}).get("values") or {}
    got = values.get(date.fromisoformat(key), values.get(key))
    if not isinstance(got, dict) or got.get("value") != value:
        raise ParamEditError(f"could not place the value dated {key} in the file")
    return new
