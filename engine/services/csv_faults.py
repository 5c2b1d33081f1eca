"""Why polars refused a CSV file, said as an editor shows it: the line and the problem.

Polars reads a CSV file fast, and when it cannot it names no line ("found more fields
than defined in 'Schema'", "invalid utf-8 sequence", "could not parse `"male`"); nor does
its header say that a column is repeated: it renames the second ``NAME_duplicated_0``.
This module runs only then, on the way to the error. It reads the file again in Python,
line by line (a line break inside quotes continues a row: polars splits rows by the
parity of the quotes too), and finds the first line that

- is not UTF-8 text;
- breaks the CSV format (RFC 4180, polars' dialect): a quote that is never closed, text
  after a closing quote, a quote inside a field that does not start with one;
- has more fields than the header (polars reads a row with fewer as empty cells).

Memory stays bounded whatever the file: one row at a time, cut at :data:`LONGEST_ROW`
bytes (an unclosed quote would otherwise draw the rest of the file into one row).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from engine.language.messages import shown

LONGEST_ROW = 16 * 2**20
"""Bytes. A profile's row is a few kilobytes: a longer one is a quote left open, or not a
register at all."""

_BOM = b"\xef\xbb\xbf"  # polars skips it before the header
_QUOTED = re.compile(rb'"(?:[^"]|"")*"')
_PLAIN = re.compile(rb'[^",\n]*')
_FIELD = rb'(?:"(?:[^"]|"")*"|[^",\n]*)'
_WELL_FORMED = re.compile(rb"%s(?:,%s)*" % (_FIELD, _FIELD))
_RENAMED = re.compile(r"_duplicated_\d+$")  # polars' name for a repeated column
_QUOTES_TWICE = 'write a quote inside a field twice and quote the whole field: "a ""b"" c"'


@dataclass(frozen=True)
class Fault:
    """A problem of a CSV file: its line (1-based, as an editor counts) and what is wrong."""

    line: int
    problem: str


class _Broken(Exception):
    """A line that cannot be read at all (not UTF-8, too long): the search stops there."""

    def __init__(self, fault: Fault):
        super().__init__(fault.problem)
        self.fault = fault


def first_fault(path: Path) -> Fault | None:
    """The first line of the file that polars cannot read; None when none is found, or
    when the file cannot be opened again (the caller's own reason then stands)."""
    header: list[str] | None = None
    try:
        with path.open("rb") as handle:
            for line, row, cut in _rows(_lines(handle)):
                width = _width(row) if cut is None else None
                if width is None:
                    return _format_fault(row, line, cut, header)
                if header is None:
                    header = _names(row)
                elif width > len(header):
                    return Fault(
                        line,
                        f"{width} fields, but the header has {len(header)} "
                        '(a value with a comma is quoted: "a,b")',
                    )
    except _Broken as broken:
        return broken.fault
    except OSError:
        return None
    return None


def repeated_column(path: Path, names: list[str]) -> Fault | None:
    """A column the header names more than once, which polars' ``names`` hide by a
    renaming; None when polars renamed nothing (the usual case: the file is not read)."""
    if not any(_RENAMED.search(name) for name in names):
        return None
    try:
        with path.open("rb") as handle:
            line, row, cut = next(_rows(_lines(handle)))
    except (_Broken, StopIteration):
        return None
    header = _names(row) if cut is None and _width(row) is not None else []
    for name in header:
        columns = [i + 1 for i, other in enumerate(header) if other == name]
        if len(columns) > 1:
            times = "twice" if len(columns) == 2 else f"{len(columns)} times"
            listed = ", ".join(map(str, columns[:-1])) + f" and {columns[-1]}"
            return Fault(line, f"column '{shown(name)}' appears {times} (columns {listed})")
    return None


def _lines(handle: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(number, line) with its line end cut, each checked as UTF-8 text."""
    number = 0
    while raw := handle.readline(LONGEST_ROW + 1):
        number += 1
        if len(raw) > LONGEST_ROW:
            raise _Broken(Fault(number, f"a line longer than {LONGEST_ROW // 2**20} MiB"))
        if number == 1:
            raw = raw.removeprefix(_BOM)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            column = len(raw[: exc.start].decode("utf-8")) + 1
            problem = (
                f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at column {column} (save the file as UTF-8)"
            )
            raise _Broken(Fault(number, problem)) from None
        yield number, raw.removesuffix(b"\n").removesuffix(b"\r")


def _rows(lines: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, bytes, str | None]]:
    """(first line, row, cut): the lines joined while a quote is open. ``cut`` says why a
    row still open stops: at the end of the file, or past :data:`LONGEST_ROW`."""
    parts: list[bytes] = []
    first, size, open_quote = 0, 0, False
    for number, line in lines:
        if not parts:
            first = number
        parts.append(line)
        size += len(line) + 1
        open_quote ^= line.count(b'"') % 2 == 1
        if not open_quote:
            yield first, b"\n".join(parts), None
            parts, size = [], 0
        elif size > LONGEST_ROW:
            yield first, b"\n".join(parts), f"within {LONGEST_ROW // 2**20} MiB"
            return
    if parts:
        yield first, b"\n".join(parts), "before the end of the file"


def _width(row: bytes) -> int | None:
    """How many fields a well-formed row has; None when it breaks the format."""
    if b'"' not in row:
        return row.count(b",") + 1
    if _WELL_FORMED.fullmatch(row) is None:
        return None
    return _QUOTED.sub(b"", row).count(b",") + 1


def _format_fault(row: bytes, line: int, cut: str | None, header: list[str] | None) -> Fault:
    """Where a row breaks the format, field by field (only the one row that does)."""
    at, field = 0, 0
    while at <= len(row):
        field += 1
        name = f"field {field}"
        if header is not None and field <= len(header):
            name += f" ({shown(header[field - 1])})"
        if row.startswith(b'"', at):
            closed = _QUOTED.match(row, at)
            if closed is None:
                problem = f"{name}: its opening quote is not closed {cut or 'on its row'}"
                return Fault(_line_at(row, at, line), problem)
            at = closed.end()
            if at < len(row) and row[at] != ord(","):
                problem = f"{name}: text after its closing quote ({_QUOTES_TWICE})"
                return Fault(_line_at(row, at, line), problem)
        else:
            plain = _PLAIN.match(row, at)
            at = plain.end() if plain is not None else at
            if at < len(row) and row[at] != ord(","):
                problem = f"{name}: a quote inside a field that does not open with one ({_QUOTES_TWICE})"
                return Fault(_line_at(row, at, line), problem)
        at += 1  # past the comma
    return Fault(line, "not a CSV row")


def _line_at(row: bytes, at: int, first: int) -> int:
    """The line of the file that holds byte ``at`` of a row starting on line ``first``."""
    return first + row.count(b"\n", 0, at)


def _names(row: bytes) -> list[str]:
    """The header's column names, from a row already found well-formed."""
    return next(csv.reader([row.decode("utf-8")]), [])
