"""Staff edits: checked before saving, atomic, traced, diffable and undoable."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest

from engine.language.loader import load_catalogue
from engine.services.versions import RejectedEdit, RuleStore, SaveFailed, StaleEdit

ROOT = Path(__file__).resolve().parent.parent
PARAM = "rules/parameters/household_registration/birth_registration_days.yaml"
REGISTRATION_60 = "1900-01-01: {value: 60}"  # its line in PARAM


@pytest.fixture
def store(tmp_path) -> RuleStore:
    shutil.copy(ROOT / "catalog.yaml", tmp_path / "catalog.yaml")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    shutil.copytree(ROOT / "tests" / "cases", tmp_path / "tests" / "cases")
    return RuleStore(tmp_path)


def test_a_valid_edit_is_saved_with_who_when_and_why(store):
    rules_version = store.current_version()
    text = store.read(PARAM).replace(REGISTRATION_60, REGISTRATION_60 + "\n  2030-01-01: {value: 90}")
    version = store.save(
        PARAM, text, store.base_version(), author="policy.lin", reason="amendment takes effect in 2030"
    )
    assert version.author == "policy.lin" and version.reason.startswith("amendment")
    assert store.current_version() != rules_version
    assert [v.id for v in store.history()] == [1, 2]  # the baseline, then the edit
    assert "2030-01-01" in store.diff(1, 2)


def test_an_edit_that_breaks_a_test_case_cannot_be_saved(store):
    base = store.base_version()
    text = store.read(PARAM).replace("{value: 60}", "{value: 30}")
    proposal = store.propose(PARAM, text)
    assert "birth-registration" in proposal.affected
    assert any("deadline" in f for f in proposal.failed_cases)
    with pytest.raises(RejectedEdit):
        store.save(PARAM, text, base, "policy.lin", "shorter deadline")
    assert "{value: 60}" in store.read(PARAM)


def test_an_edit_with_an_unknown_parameter_is_refused_naming_the_line(store):
    rel = "rules/birth/birth-registration.yaml"
    text = store.read(rel).replace("household_registration.birth_registration_days", "no.such.parameter")
    proposal = store.propose(rel, text)
    assert not proposal.ok and any("unknown parameter 'no.such.parameter'" in p for p in proposal.problems)
    assert any(p.startswith(f"{rel}:") for p in proposal.problems)


def test_a_rule_that_can_never_hold_is_refused_by_lint(store):
    rel = "rules/birth/birth-registration.yaml"
    text = store.read(rel).replace(
        "  all:\n", "  all:\n    - {fact: person.age, lt: 5}\n    - {fact: person.age, gt: 10}\n", 1
    )
    proposal = store.propose(rel, text)
    assert any("can never hold" in p for p in proposal.lint)


def test_a_stale_copy_is_refused(store):
    base = store.base_version()
    first = store.read(PARAM).replace("{value: 60}", "{value: 60}\n  2031-01-01: {value: 61}")
    store.save(PARAM, first, base, "editor.a", "first")
    second = store.read(PARAM).replace("2031-01-01: {value: 61}", "2032-01-01: {value: 62}")
    with pytest.raises(StaleEdit):
        store.save(PARAM, second, base, "editor.b", "based on the old copy")


def test_a_crash_mid_save_leaves_the_old_rules_loadable(store, monkeypatch):
    base = store.current_version()
    before = store.read(PARAM)
    text = before.replace("{value: 60}", "{value: 60}\n  2031-01-01: {value: 61}")

    def crash(*args, **kwargs):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.save(PARAM, text, store.base_version(), "editor", "crash test")
    monkeypatch.undo()
    assert store.read(PARAM) == before
    assert load_catalogue(store.root).version == base
    assert not list((store.root / PARAM).parent.glob(".*.tmp"))


def test_an_earlier_version_can_be_restored(store):
    base = store.current_version()
    text = store.read(PARAM).replace("{value: 60}", "{value: 60}\n  2031-01-01: {value: 61}")
    store.save(PARAM, text, store.base_version(), "editor", "add 2031")
    restored = store.restore(1, "editor", "undo")
    assert store.current_version() == base
    assert restored.files == [PARAM]


def full_disk_under(folder: Path, monkeypatch) -> None:
    """Every rename into ``folder`` fails as on a full disk (each write there ends with one)."""
    real = os.replace

    def full(src, dst):
        if Path(dst).is_relative_to(folder):
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", full)


def test_a_restore_on_a_full_disk_reports_nothing_restored_and_keeps_the_live_rules(store, monkeypatch):
    text = store.read(PARAM).replace("{value: 60}", "{value: 60}\n  2031-01-01: {value: 61}")
    store.save(PARAM, text, store.base_version(), "editor", "add 2031")
    full_disk_under(store.history_dir, monkeypatch)
    with pytest.raises(SaveFailed, match="nothing was saved"):
        store.restore(1, "editor", "undo")
    monkeypatch.undo()
    assert store.read(PARAM) == text and [v.id for v in store.history()] == [1, 2]
    assert [e["event"] for e in store.audit.entries()][-1] == "rules.restore.failed"


def test_a_first_save_on_a_full_disk_reports_nothing_saved_when_the_baseline_cannot_be_recorded(
    store, monkeypatch
):
    """The baseline is recorded before the first staff edit: it failed with a bare OSError,
    which the pages did not expect (a traceback)."""
    before = store.read(PARAM)
    full_disk_under(store.history_dir, monkeypatch)
    text = before.replace("{value: 60}", "{value: 60}\n  2031-01-01: {value: 61}")
    with pytest.raises(SaveFailed, match="nothing was saved"):
        store.save(PARAM, text, store.base_version(), "editor", "add 2031")
    monkeypatch.undo()
    assert store.read(PARAM) == before and store.history() == []
    assert [e["event"] for e in store.audit.entries()][-1] == "rules.save.failed"


def test_staff_cannot_write_outside_the_rules(store):
    with pytest.raises(RejectedEdit):
        store.propose("../evil.yaml", "x: 1")
    with pytest.raises(RejectedEdit):
        store.propose("engine/interfaces/cli.py", "print(1)")


def test_a_rule_that_always_holds_is_refused_by_lint(store):
    rel = "rules/birth/birth-registration.yaml"
    text = (
        "service: birth-registration\nlegal_basis: 戶籍法 §6, §48\neligibility:\n  any:\n"
        "    - {fact: person.age, gte: 0}\n    - {fact: person.age, lt: 0}\n"
    )
    proposal = store.propose(rel, text)
    assert any("always holds" in p for p in proposal.lint), proposal.problems + proposal.lint


def test_exclusive_services_that_overlap_without_a_rule_to_choose_are_refused_by_lint(store):
    text = store.read("catalog.yaml").replace(
        "exclusions: [{service: disability-living-allowance, choose: higher_amount}]",
        "exclusions: [disability-living-allowance]",
    )
    text = text.replace(
        "exclusions: [{service: elderly-living-allowance, choose: higher_amount}]",
        "exclusions: [elderly-living-allowance]",
    )
    proposal = store.propose("catalog.yaml", text)
    assert any("declared exclusive with" in p and "choose" in p for p in proposal.lint), proposal.lint
