"""The command line of spec/profile.md: output keys and exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_KEYS = {
    "service",
    "status",
    "reasons",
    "missing",
    "agency",
    "deadline",
    "amount",
    "fee",
    "documents",
}


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True, text=True, cwd=cwd)


def test_recommend_json_follows_the_contract():
    done = run("recommend", str(ROOT / "examples" / "newborn.json"), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) >= {"as_of", "rules_version", "results"}
    assert out["as_of"] == "2026-03-01"
    services = [r["service"] for r in out["results"]]
    assert len(services) == len(set(services))
    for result in out["results"]:
        assert set(result) >= CONTRACT_KEYS
        assert result["status"] in ("eligible", "ineligible", "unknown")
        for reason in result["reasons"]:
            assert set(reason) >= {"criterion", "met", "text", "legal_basis"}
        for doc in result["documents"]:
            assert set(doc) >= {"name", "verified_electronically"}


def test_event_filter_and_as_of_override():
    done = run(
        "recommend",
        str(ROOT / "examples" / "newborn.json"),
        "--json",
        "--event",
        "birth",
        "--as-of",
        "2026-03-15",
    )
    out = json.loads(done.stdout)
    assert out["as_of"] == "2026-03-15"
    assert all("birth" in r["events"] for r in out["results"])


def test_the_readable_table_prints_in_both_languages():
    en = run("recommend", str(ROOT / "examples" / "newborn.json"))
    zh = run("recommend", str(ROOT / "examples" / "newborn.json"), "--lang", "zh-TW")
    assert en.returncode == zh.returncode == 0
    assert "Likely eligible" in en.stdout
    assert "可能符合資格" in zh.stdout


def test_bad_profile_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"household": {"size": "three"}}')
    done = run("recommend", str(bad))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "household.size" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_profile_file_exits_2(tmp_path):
    done = run("recommend", str(tmp_path / "nope.json"))
    assert done.returncode == 2 and "cannot read" in done.stderr


def test_usage_error_exits_2_with_one_line():
    done = run("recommend")
    assert done.returncode == 2 and done.stderr.count("\n") == 1


def test_validate_passes_on_the_repository():
    done = run("validate")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ok:")


def test_validate_reports_problems_with_file_and_line(tmp_path):
    shutil.copy(ROOT / "catalog.yaml", tmp_path / "catalog.yaml")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    rule = tmp_path / "rules" / "birth" / "birth-registration.yaml"
    rule.write_text(rule.read_text().replace("events.birth.kind", "events.birth.knd"))
    done = run("validate", str(tmp_path))
    assert done.returncode == 1
    assert "rules/birth/birth-registration.yaml:" in done.stdout
    assert "unknown fact 'events.birth.knd'" in done.stdout
