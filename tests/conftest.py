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


@pytest.fixture(scope="session", autouse=True)
def _private_catalogue_cache(tmp_path_factory):
    """The command line keeps a catalogue cache under $XDG_CACHE_HOME (engine/language/cache.py):
    the tests, and the commands they start, keep theirs in a folder of their own rather than
    in the home of whoever runs them."""
    import os

    folder = tmp_path_factory.mktemp("xdg-cache")
    folder.chmod(0o700)
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture(autouse=True)
def _main_module_restored():
    """Streamlit's AppTest runs an app as ``__main__`` and leaves it there. A later
    multiprocessing "spawn" child then runs that app as its own main: after
    tests/test_staff.py, the staff app failed at once in every child of
    tests/test_worklist.py's two-process test, and the pool started new ones for ever (a
    hang); after tests/test_ui.py each child ran the citizen app first. Every test gets
    back the ``__main__`` it started with."""
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None and sys.modules.get("__main__") is not main:
        sys.modules["__main__"] = main
