from __future__ import annotations

from pathlib import Path

import pytest

from engine import Engine, load_catalogue

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def catalogue():
    return load_catalogue(ROOT)


@pytest.fixture(scope="session")
def engine(catalogue):
    return Engine(catalogue)
