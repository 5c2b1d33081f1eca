"""A copy of the repository's catalogue and rules to break on purpose, and what loading
it then says: shared by the tests of the loader and of the note lint."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.language.loader import CatalogueError, load_catalogue

ROOT = Path(__file__).resolve().parent.parent


def copy_tree(dest: Path) -> Path:
    """``catalog.yaml`` and ``rules/`` of the repository, copied into ``dest``."""
    shutil.copy(ROOT / "catalog.yaml", dest / "catalog.yaml")
    shutil.copytree(ROOT / "rules", dest / "rules")
    return dest


def problems(tree: Path) -> list[str]:
    """The problems loading ``tree`` reports, each ``file:line: message``."""
    with pytest.raises(CatalogueError) as info:
        load_catalogue(tree)
    return [str(p) for p in info.value.problems]


def edit(tree: Path, rel: Path, old: str, new: str, first: bool = False) -> None:
    """Replace ``old``, which must be in the file exactly once, by ``new``; with ``first``,
    the first of several (a line the catalogue repeats for many services)."""
    path = tree / rel
    text = path.read_text(encoding="utf-8")
    if first:
        assert old in text, f"{old!r} not in {rel}"
    else:
        assert text.count(old) == 1, f"{old!r} is not once in {rel}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(tree: Path, rel: Path, fragment: str) -> int:
    """The number of the first line of the file that holds ``fragment``."""
    for n, line in enumerate((tree / rel).read_text(encoding="utf-8").splitlines(), 1):
        if fragment in line:
            return n
    raise AssertionError(fragment)


def the_problem_at(tree: Path, rel: Path, fragment: str) -> str:
    """The one problem loading ``tree`` reports, which must name ``rel`` at the line that
    holds ``fragment``."""
    (found,) = problems(tree)
    assert found.startswith(f"{rel.as_posix()}:{line_of(tree, rel, fragment)}:"), found
    return found
