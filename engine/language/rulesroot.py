"""Where the catalogue and the rules are read from: resolved here, and only here.

In order: an explicit folder (``--rules``, a test's copy), ``LIFEEVENTS_ROOT``, the
checkout this package runs from (``catalog.yaml`` beside ``engine/``), and last the copy
a built wheel carries inside the package (``engine/_rules``, written by ``setup.py``), so
that ``pip install lifeevents`` recommends out of the box.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

ENV = "LIFEEVENTS_ROOT"
CHECKOUT = Path(__file__).resolve().parents[2]
PACKAGED = Path(__file__).resolve().parents[1] / "_rules"


def rules_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The folder that holds ``catalog.yaml`` and ``rules/``."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    if (CHECKOUT / "catalog.yaml").is_file():
        return CHECKOUT
    return PACKAGED


def source_files(root: Path) -> list[Path]:
    """The files a catalogue is read from: ``catalog.yaml`` and every YAML file under
    ``rules/`` (the loader's input, and what its cache's key is made of)."""
    from engine.language.yamlsafe import CatalogueError, Problem

    catalog_path = root / "catalog.yaml"
    if not catalog_path.is_file():
        raise CatalogueError([Problem(str(catalog_path), 1, "catalog.yaml not found")])
    return [catalog_path, *sorted((root / "rules").rglob("*.yaml"))]


class RulesVersion:
    """The rules version: a content hash of the source files, each named by its path
    under the root. One formula for the loader, ``content_version`` and the cache."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()

    def add(self, shown: str, raw: bytes) -> None:
        self._digest.update(shown.encode() + b"\0" + raw)

    @property
    def value(self) -> str:
        return self._digest.hexdigest()[:12]


def cases_dir(root: Path) -> Path:
    """The test cases of a rules root (the staff editor runs them before a save)."""
    return root / "tests" / "cases"
