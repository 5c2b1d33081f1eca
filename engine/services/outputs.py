"""Output files that appear whole or not at all.

``batch``, ``outreach`` and ``population`` write files that look complete when cut
short: a Parquet file of the first chunks is valid, a CSV cut mid-row still opens. So a
command writes each output into a private folder beside it (same filesystem, so the
final rename is atomic) and renames it into place only when the whole run succeeded. On
any other exit (an error, a full disk, Ctrl-C, SIGTERM turned into an exception by the
command line) the folder and everything in it (Parquet parts included) is removed, and
an existing file at the output path is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.services.columns import FileError, write_error


def _final(path: Path) -> Path:
    # An output given through a symlink replaces the file it points to, not the link.
    return path.resolve() if path.is_symlink() else path


def refuse_overwriting_input(inputs: list[Path], outputs: list[Path]) -> None:
    """FileError when an output is an input (the same file, also through links) or two
    outputs are the same file: the run would truncate what it reads."""
    seen: list[tuple[Path, Path, tuple[int, int] | None]] = []
    for role, path in [("input", p) for p in inputs] + [("output", p) for p in outputs]:
        try:
            st = os.stat(path)
            identity: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except OSError:
            identity = None
        resolved = path.resolve()
        for other, other_resolved, other_identity in seen:
            if resolved == other_resolved or (identity is not None and identity == other_identity):
                what = "the input" if other in inputs else "another output"
                raise FileError(
                    f"{path}: this {role} is the same file as {what} {other}; refusing to overwrite it"
                )
        seen.append((path, resolved, identity))


def check_readable(path: Path) -> None:
    """FileError unless ``path`` is a regular file that can be opened for reading, checked
    before anything is written."""
    if not path.is_file():
        raise FileError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise FileError(f"{path}: cannot read: {exc.strerror or exc}") from None


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is done: renaming the outputs into place and
    removing the temporary folders are not cut in half. (Python runs signal handlers in
    the main thread only; blocking the signal there would not do, as polars' threads
    would still take it.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def note(signum: int, frame: Any) -> None:
        pending.append(signum)

    previous = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        if pending:
            signal.raise_signal(pending[0])  # handled now, as it would have been


@contextlib.contextmanager
def atomic_outputs(*paths: Path) -> Iterator[list[Path]]:
    """Temporary paths (same names and suffixes) to write ``paths`` to; each is renamed
    onto its output when the block ends normally, and all are removed otherwise."""
    finals = [_final(p) for p in paths]
    folders: list[Path] = []
    try:
        for final in finals:
            try:
                final.parent.mkdir(parents=True, exist_ok=True)
                folders.append(
                    Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent))
                )
            except OSError as exc:
                raise write_error(final, exc) from None
        temporaries = [folder / final.name for folder, final in zip(folders, finals, strict=True)]
        yield temporaries
        with _signals_deferred():
            for temporary, final in zip(temporaries, finals, strict=True):
                if not temporary.exists():
                    raise FileError(f"{final}: nothing was written")
            for temporary, final in zip(temporaries, finals, strict=True):
                try:
                    os.replace(temporary, final)
                except OSError as exc:
                    raise write_error(final, exc) from None
    finally:
        with _signals_deferred():
            for folder in folders:
                shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """One output: see :func:`atomic_outputs`."""
    with atomic_outputs(path) as (temporary,):
        yield temporary
