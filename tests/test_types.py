"""The type hints are checked, not only written: mypy over engine/ and ui/ with the
settings in pyproject.toml ([tool.mypy]). A hint that says one thing while the code does
another (a list of one kind filled with another, a name reused for a second type, a
node built with arguments it does not take) fails here."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_engine_and_the_apps_type_check(tmp_path):
    from mypy import api

    out, err, status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            str(ROOT / "engine"),
            str(ROOT / "ui"),
        ]
    )
    assert status == 0, out + err
