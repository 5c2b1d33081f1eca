"""Issue 12, items 9 and 12 on the server: reloads that cost nothing when nothing changed,
are rate-limited, and answer 409 (never 500) for broken rule files."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from engine.api import create_app

ROOT = Path(__file__).resolve().parent.parent
NEWBORN = json.loads((ROOT / "examples" / "newborn.json").read_text(encoding="utf-8"))
TOKEN = "staff-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def copy_rules(dest: Path) -> Path:
    shutil.copy(ROOT / "catalog.yaml", dest / "catalog.yaml")
    shutil.copytree(ROOT / "rules", dest / "rules")
    return dest


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(root=ROOT, staff_token="")) as c:
        yield c


# --- item 12: reloads --------------------------------------------------------------------------


def test_a_reload_of_unchanged_rules_rebuilds_nothing(tmp_path):
    app = create_app(root=copy_rules(tmp_path), staff_token=TOKEN)
    holder = app.state.rules
    before = holder.current
    with TestClient(app) as staff:
        for _ in range(3):  # unchanged reloads are not rate-limited: they only hash the files
            answer = staff.post("/admin/reload", headers=AUTH)
            assert answer.status_code == 200
            body = answer.json()
            assert body["outcome"] == "unchanged" and body["changed"] is False
            assert body["rules_version"] == body["previous_version"] == before.catalogue.version
    assert holder.current is before and holder.current.engine is before.engine


def test_reloads_that_load_are_rate_limited_with_retry_after(tmp_path):
    root = copy_rules(tmp_path)
    app = create_app(root=root, staff_token=TOKEN, reload_interval=3600)
    with TestClient(app) as staff:
        with (root / "catalog.yaml").open("a", encoding="utf-8") as f:
            f.write("\n# first save\n")
        first = staff.post("/admin/reload", headers=AUTH)
        assert first.status_code == 200 and first.json()["outcome"] == "reloaded"
        engine_after_first = app.state.rules.current.engine
        with (root / "catalog.yaml").open("a", encoding="utf-8") as f:
            f.write("\n# second save\n")
        second = staff.post("/admin/reload", headers=AUTH)
        assert second.status_code == 429
        assert 0 < int(second.headers["Retry-After"]) <= 3600
        assert app.state.rules.current.engine is engine_after_first  # the old rules still serve
        # Without a token the rate limit is not consulted: 401 first.
        assert staff.post("/admin/reload").status_code == 401


def test_the_rate_limit_lets_a_reload_through_once_the_interval_has_passed(tmp_path, monkeypatch):
    root = copy_rules(tmp_path)
    app = create_app(root=root, staff_token=TOKEN, reload_interval=30)
    now = [1000.0]
    monkeypatch.setattr("engine.api.time.monotonic", lambda: now[0])
    with TestClient(app) as staff:
        for n, step in enumerate((0.0, 29.0, 2.0)):
            now[0] += step
            with (root / "catalog.yaml").open("a", encoding="utf-8") as f:
                f.write(f"\n# save {n}\n")
            status = staff.post("/admin/reload", headers=AUTH).status_code
            assert status == (429 if n == 1 else 200), (n, status)


# --- item 9 on the server: broken rule files are a 409, never a 500 ------------------------------


@pytest.mark.parametrize(
    "breakage",
    ["alias", "deep-not", "not-utf8", "nul", "directory", "dangling-link", "prerequisite-cycle", "years"],
)
def test_a_reload_of_broken_rules_is_409_with_file_and_line(tmp_path, breakage):
    root = copy_rules(tmp_path)
    app = create_app(root=root, staff_token=TOKEN, reload_interval=0)
    rule = root / "rules/birth/birth-registration.yaml"
    if breakage == "alias":
        rule.write_text(rule.read_text(encoding="utf-8") + "x: &a [*a]\n", encoding="utf-8")
    elif breakage == "deep-not":
        condition = "{not: " * 900 + "{fact: events.birth.listed, eq: true}" + "}" * 900
        rule.write_text(
            f"service: birth-registration\nlegal_basis: x\neligibility: {condition}\n", encoding="utf-8"
        )
    elif breakage == "not-utf8":
        rule.write_bytes(rule.read_bytes() + b"# \xff\n")
    elif breakage == "nul":
        rule.write_bytes(rule.read_bytes() + b"# \x00\n")
    elif breakage == "directory":
        (root / "rules/x.yaml").mkdir()
    elif breakage == "dangling-link":
        os.symlink(root / "nowhere.yaml", root / "rules/dangling.yaml")
    elif breakage == "prerequisite-cycle":
        catalog = root / "catalog.yaml"
        text = catalog.read_text(encoding="utf-8")
        catalog.write_text(
            text.replace(
                "  birth-registration:\n    events: [birth]\n",
                "  birth-registration:\n    events: [birth]\n    prerequisites: [birth-registration]\n",
                1,
            ),
            encoding="utf-8",
        )
    else:
        move = root / "rules/moving/moving-registration.yaml"
        text = move.read_text(encoding="utf-8")
        move.write_text(
            text.replace("days: {param: moving.registration_days}", "years: 100000"), encoding="utf-8"
        )
    before = app.state.rules.current
    with TestClient(app, raise_server_exceptions=False) as staff:
        answer = staff.post("/admin/reload", headers=AUTH)
        assert answer.status_code == 409, answer.text
        problems = answer.json()["problems"]
        assert problems and all(re.match(r"^[^:]+\.yaml:\d+: ", p) for p in problems), problems
        assert staff.post("/recommend", json=NEWBORN).status_code == 200
    assert app.state.rules.current is before
