"""Progress bars for the long commands (batch, outreach, population, diff, fuzz).

tqdm draws them: one pure-Python package with no dependencies of its own (rich would bring
pygments and markdown-it to every server that installs the engine), it redraws in place
on a terminal, shows the rate and the time left, and it is silenced here whenever stderr
is not a terminal, so a pipe, a log file or CI sees only the command's summary line.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from tqdm import tqdm


def is_terminal(stream: TextIO | None = None) -> bool:
    stream = stream if stream is not None else sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream: no bar
        return False


@contextmanager
def progress_bar(
    description: str, total: int | None, unit: str, stream: TextIO | None = None
) -> Iterator[tqdm]:
    """A bar on ``stream`` (stderr) when it is a terminal, a silent stand-in otherwise.
    The bar is cleared at the end (``leave=False``): the command's summary line follows."""
    stream = stream if stream is not None else sys.stderr
    bar = tqdm(
        total=total,
        desc=description,
        unit=unit,
        unit_scale=unit != "step",  # 12.3k rows; but 1/3 steps, not 1.00/3.00
        file=stream,
        disable=not is_terminal(stream),
        leave=False,
        dynamic_ncols=True,
        mininterval=0.2,
    )
    try:
        yield bar
    finally:
        bar.close()


class AroundTheBar(io.TextIOBase):
    """A stream for the messages a command writes while its bar is drawn (a batch's invalid
    rows): each write clears the bar and draws it again after, so that a message starts a
    line of its own instead of running on from the bar."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.pending = ""  # print() writes a message and its newline apart: whole lines only

    def write(self, text: str) -> int:
        self.pending += text
        if "\n" in self.pending:
            lines, _, self.pending = self.pending.rpartition("\n")
            with tqdm.external_write_mode(file=self.stream):
                self.stream.write(lines + "\n")
        return len(text)

    def flush(self) -> None:
        if self.pending:
            with tqdm.external_write_mode(file=self.stream):
                self.stream.write(self.pending)
            self.pending = ""
        self.stream.flush()


def count_rows(path: Path) -> int | None:
    """The rows of a batch input, for the bar's 100%: Parquet's from its metadata, CSV's
    by polars' fast count, JSON Lines' by its lines. None when the file does not read:
    the run itself then says why."""
    import polars as pl

    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return int(pl.scan_parquet(path).select(pl.len()).collect().item())
        if suffix == ".csv":
            return int(pl.scan_csv(path, infer_schema=False).select(pl.len()).collect().item())
        if suffix == ".jsonl":
            with path.open("rb") as handle:
                return sum(1 for _ in handle)
    except (OSError, pl.exceptions.PolarsError):
        return None
    return None
