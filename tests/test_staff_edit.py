"""Issue 13, items 14 and 15, in the rule store: a threshold saved together with the cases
that pin it, and a new service (catalogue entry, rule, parameter, cases) saved as one
checked change; case files written by the same journaled, crash-safe protocol as the
rules (tests/test_staff_hardening.py)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import staff_new_service as new
from streamlit.testing.v1 import AppTest
from test_staff import _open, credentials, login, staff_app, tree  # noqa: F401
from test_staff_hardening import ROOT, assert_consistent, copy_rules

from engine.language.loader import load_catalogue
from engine.services.versions import (
    CASES,
    RejectedEdit,
    RuleStore,
    SaveFailed,
    StaleEdit,
    _case_bytes,
    _snapshot_bytes,
)

PARAM = "rules/parameters/household_registration/birth_registration_days.yaml"
PINNED = ("birth/birth-grant-top-up.yaml", "birth/newborn-health-insurance.yaml")


def shorter_deadline(text: str) -> str:
    return text.replace("1900-01-01: {value: 60}", "1900-01-01: {value: 30}")


def fixed_cases(store: RuleStore) -> dict[str, str]:
    """The cases that pin the 60-day deadline, expecting 30 days instead."""
    out = {}
    for name, body in store.case_files({"birth-registration", "newborn-health-insurance"}).items():
        fixed = "\n".join(
            line.replace("deadline: 2026-04-02", "deadline: 2026-03-03")
            if ("birth-registration:" in line or "newborn-health-insurance:" in line)
            else line
            for line in body.split("\n")
        )
        if fixed != body:
            out[name] = fixed
    assert set(PINNED) <= set(out), sorted(out)
    return out


def with_entry(catalogue: str) -> str:
    """catalog.yaml with the new service at the end of ``services:`` (its last block)."""
    indented = "".join("  " + line if line.strip() else line for line in new.ENTRY.splitlines(True))
    return catalogue.rstrip("\n") + "\n\n" + indented


@pytest.fixture
def store(tmp_path) -> RuleStore:
    root = copy_rules(tmp_path / "rules")
    return RuleStore(root, history=tmp_path / "history")


# -- item 14 ------------------------------------------------------------------------------------


def test_a_threshold_a_boundary_case_pins_is_saved_with_its_cases_as_one_version(store):
    text = shorter_deadline(store.read(PARAM))
    with pytest.raises(RejectedEdit) as refused:
        store.save(PARAM, text, store.base_version(), "policy.lin", "30 days")
    assert "tests/cases/birth/birth-grant-top-up.yaml" in str(refused.value)
    assert str(store.root) not in str(refused.value) and "/tmp" not in str(refused.value)

    cases = fixed_cases(store)
    version = store.save(PARAM, text, store.base_version(), "policy.lin", "30 days", cases=cases)
    assert store.read(PARAM) == text
    for name, body in cases.items():
        assert (store.cases_dir / name).read_text(encoding="utf-8") == body
    assert [v.author for v in store.history()] == ["(baseline)", "policy.lin"]  # one version
    assert version.files == sorted([PARAM, *(CASES + n for n in cases)])
    assert f"+++ v{version.id}/tests/cases/birth/birth-grant-top-up.yaml" in store.diff(
        version.id - 1, version.id
    )
    assert_consistent(store.root, store.history_dir)

    # a restore brings the rule and its cases back together
    restored = store.restore(version.id - 1, "policy.lin", "withdrawn")
    assert "1900-01-01: {value: 60}" in store.read(PARAM)
    assert _case_bytes(store.cases_dir) == {
        k: v for k, v in _snapshot_bytes(store.snapshot_path(version.id - 1)).items() if k.startswith(CASES)
    }
    assert set(restored.files) == set(version.files)


def test_a_save_over_case_files_changed_since_they_were_opened_is_refused(store):
    """Two editors open the same rule beside the same case file and each changes only the
    case: the second save would overwrite the first, so it is stale. The rules' version
    alone did not see the first save (no case changes an answer, so it stays the same)."""
    rules_version, base = store.current_version(), store.base_version()
    assert base.startswith(rules_version + "+")  # the rules' version, then the cases'
    text, opened = store.read(PARAM), store.case_files({"birth-registration"})[PINNED[0]]
    store.save(PARAM, text, base, "policy.lin", "A", cases={PINNED[0]: opened + "\n# reviewed by A\n"})
    assert store.current_version() == rules_version and store.base_version() != base
    with pytest.raises(StaleEdit):
        store.save(PARAM, text, base, "other.wu", "B", cases={PINNED[0]: opened + "\n# reviewed by B\n"})
    assert "# reviewed by A" in (store.cases_dir / PINNED[0]).read_text(encoding="utf-8")
    assert [v.author for v in store.history()] == ["(baseline)", "policy.lin"]


BROKEN_CASE = "- name: [unclosed\n  as_of: 2026-03-01\n"  # not YAML: the bracket is never closed


def test_a_case_file_edited_beside_an_unchanged_rule_is_checked_before_it_is_saved(store):
    """No rule changed, so no service is affected: the edited case file is still read and
    the cases of the services it checks run, and a case may not take a service's last one."""
    text, name = store.read(PARAM), PINNED[0]
    broken = store.propose(PARAM, text, cases={name: BROKEN_CASE})
    assert broken.failed_cases == [f"{CASES}{name}:2: not valid YAML: expected ',' or ']', but got ':'"]
    with pytest.raises(RejectedEdit):
        store.save(PARAM, text, store.base_version(), "policy.lin", "r", cases={name: BROKEN_CASE})
    assert (store.cases_dir / name).read_text(encoding="utf-8") != BROKEN_CASE
    assert len(store.history()) <= 1  # nothing saved

    opened = store.case_files({"birth-grant-top-up"})[name]
    wrong = store.propose(
        PARAM, text, cases={name: opened.replace("amount: 40000, deadline", "amount: 40001, deadline")}
    )
    assert wrong.affected == [] and "birth-grant-top-up" in wrong.checked
    assert [m for m in wrong.failed_cases if m.startswith(f"{CASES}{name}#1 ")], wrong.failed_cases

    emptied = store.propose(PARAM, text, cases={PINNED[1]: "[]\n"})
    assert emptied.failed_cases == [
        f"newborn-health-insurance: no test case under {CASES} checks it any more; every service needs one"
    ]
    reviewed = store.propose(PARAM, text, cases={name: opened + "\n# reviewed\n"})
    assert reviewed.ok and "birth-grant-top-up" in reviewed.checked


def test_a_case_file_outside_the_cases_folder_is_refused(store):
    with pytest.raises(RejectedEdit, match="inside the cases folder"):
        store.save(PARAM, store.read(PARAM), store.base_version(), "a", "b", cases={"../../x.yaml": "[]"})


def test_a_full_disk_while_writing_a_case_file_leaves_rules_and_cases_as_they_were(store, monkeypatch):
    text, cases = shorter_deadline(store.read(PARAM)), fixed_cases(store)
    live = store._live_bytes()
    target = store.cases_dir / PINNED[1]
    real = os.replace

    def full(src, dst):
        if Path(dst) == target:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(SaveFailed, match="nothing was saved"):
        store.save(PARAM, text, store.base_version(), "policy.lin", "30 days", cases=cases)
    monkeypatch.undo()
    assert store._live_bytes() == live  # the rule file written before it was put back too
    assert [v.author for v in store.history()] == ["(baseline)"]
    assert_consistent(store.root, store.history_dir)


KILLED_SAVE = r"""
import os, signal, sys
from pathlib import Path
sys.path.insert(0, "tests")
from test_staff_edit import PARAM, fixed_cases, shorter_deadline
from engine.services.versions import RuleStore

root, history, victim = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
store = RuleStore(root, history=history)
text, cases = shorter_deadline(store.read(PARAM)), fixed_cases(store)
real = os.replace

def dying(src, dst):
    if Path(dst).name == victim:  # SIGKILL just before this rename: a crash, no cleanup
        os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst)

os.replace = dying
store.save(PARAM, text, store.base_version(), "policy.lin", "30 days", cases=cases)
"""


@pytest.mark.parametrize(
    ("victim", "outcome"), [("2", "dropped"), ("newborn-health-insurance.yaml", "forward")]
)
def test_a_kill_during_a_save_with_cases_is_rolled_forward_or_dropped_whole(tmp_path, victim, outcome):
    """Killed before the record is named (the snapshot's rename to "2"): nothing changed.
    Killed while the live files are replaced (after the rule, before a case file): the
    next start finishes the save, cases included."""
    root, history = copy_rules(tmp_path / "rules"), tmp_path / "history"
    RuleStore(root, history=history)._ensure_baseline()
    before = RuleStore(root, history=history)._live_bytes()
    saver = subprocess.run(
        [sys.executable, "-c", KILLED_SAVE, str(root), str(history), victim], cwd=ROOT, check=False
    )
    assert saver.returncode == -signal.SIGKILL
    assert (history / "journal.json").exists()
    store = assert_consistent(root, history)  # the repair at start, then the chain is whole
    if outcome == "dropped":
        assert store._live_bytes() == before and len(store.history()) == 1
    else:
        assert len(store.history()) == 2
        assert "{value: 30}" in store.read(PARAM)
        assert "2026-03-03" in (store.cases_dir / PINNED[1]).read_text(encoding="utf-8")


def test_cases_changed_outside_the_staff_area_are_recorded_as_found(store):
    store._ensure_baseline()
    path = store.cases_dir / PINNED[0]
    path.write_text(path.read_text(encoding="utf-8") + "\n# a developer's note\n", encoding="utf-8")
    again = RuleStore(store.root, history=store.history_dir)
    assert [v.author for v in again.history()] == ["(baseline)", "(recovery)"]
    assert _snapshot_bytes(again.snapshot_path(2))[CASES + PINNED[0]] == path.read_bytes()


# -- item 15 ------------------------------------------------------------------------------------


def test_a_new_service_is_refused_piecemeal_and_saved_whole_as_one_version(store):
    catalogue = with_entry(store.read("catalog.yaml"))
    base = store.base_version()
    alone = store.propose("catalog.yaml", catalogue)
    assert not alone.ok and any("no rule file" in p for p in alone.problems)
    assert not store.propose(new.RULE, new.RULE_TEXT).ok
    without_cases = store.propose_change(
        {"catalog.yaml": catalogue, new.RULE: new.RULE_TEXT, new.PARAM: new.PARAM_TEXT}
    )
    assert without_cases.failed_cases == [
        f"{new.SERVICE}: a new service needs at least one test case under {CASES}"
    ]
    wrong = new.CASES_TEXT.replace("2026-05-02", "2026-05-01")
    broken = store.propose_change(
        {"catalog.yaml": catalogue, new.RULE: new.RULE_TEXT, new.PARAM: new.PARAM_TEXT},
        cases={new.CASES: wrong},
    )
    assert any("deadline" in m and m.startswith(f"{CASES}{new.CASES}") for m in broken.failed_cases)
    with pytest.raises(RejectedEdit):
        store.save_change(
            {"catalog.yaml": catalogue, new.RULE: new.RULE_TEXT, new.PARAM: new.PARAM_TEXT},
            base, "policy.lin", "new", cases={new.CASES: wrong},
        )  # fmt: skip
    assert not (store.root / new.RULE).exists() and len(store.history()) <= 1

    version = store.save_change(
        {"catalog.yaml": catalogue, new.RULE: new.RULE_TEXT, new.PARAM: new.PARAM_TEXT},
        base, "policy.lin", "a welcome kit for every newborn", cases={new.CASES: new.CASES_TEXT},
    )  # fmt: skip
    assert version.files == sorted(["catalog.yaml", new.RULE, new.PARAM, CASES + new.CASES])
    assert [v.files for v in store.history()].count(version.files) == 1
    assert new.SERVICE in load_catalogue(store.root).services
    assert (store.cases_dir / new.CASES).read_text(encoding="utf-8") == new.CASES_TEXT
    assert_consistent(store.root, store.history_dir)


def new_service(catalogue: str, **paths: str) -> tuple[dict[str, str], dict[str, str]]:
    """The files and cases of the new service, with ``rule``, ``param`` or ``cases`` paths
    replaced."""
    rule, param, cases = (
        paths.get("rule", new.RULE),
        paths.get("param", new.PARAM),
        paths.get("cases", new.CASES),
    )
    return {"catalog.yaml": catalogue, rule: new.RULE_TEXT, param: new.PARAM_TEXT}, {cases: new.CASES_TEXT}


def test_a_new_service_may_not_take_an_existing_file_of_another(store):
    """An existing case file holds other services' cases, an existing rule or parameter
    file another service's rules: a new service's file replaced them whole (9 cases of
    maternity leave gave way to the kit's 2). Editing them stays the Edit page's work."""
    catalogue, before = with_entry(store.read("catalog.yaml")), store._live_bytes()
    for kind, path, problem in (
        (
            "cases",
            "birth/maternity-leave.yaml",
            f"{CASES}birth/maternity-leave.yaml: the file exists already and holds other services' "
            "cases; a new service's cases go in a file of their own",
        ),
        (
            "rule",
            "rules/birth/maternity-leave.yaml",
            "rules/birth/maternity-leave.yaml: the file exists already; a new service's rule and "
            "parameter files are new files (an existing file is changed on the Edit page)",
        ),
    ):
        files, cases = new_service(catalogue, **{kind: path})
        with pytest.raises(RejectedEdit) as refused:
            store.propose_change(files, cases=cases, new_service=True)
        assert refused.value.problems == [problem]
        with pytest.raises(RejectedEdit):
            store.save_change(files, store.base_version(), "policy.lin", "kit", cases, new_service=True)
    assert store._live_bytes() == before
    edit = store.propose(PARAM, store.read(PARAM), cases={"birth/maternity-leave.yaml": "[]"})
    assert f"{CASES}birth/maternity-leave.yaml" in edit.files  # the Edit page may change it


@pytest.mark.parametrize(
    ("kind", "path", "problem"),
    [
        ("param", "", "the path is empty"),
        ("rule", "   ", "the path is empty"),
        ("cases", "", "the path is empty"),
        (
            "rule",
            "rules/birth/birth-registration.yaml/x.yaml",
            "rules/birth/birth-registration.yaml/x.yaml: rules/birth/birth-registration.yaml is a file, not a folder",
        ),
        (
            "cases",
            "birth/maternity-leave.yaml/x.yaml",
            f"{CASES}birth/maternity-leave.yaml/x.yaml: {CASES}birth/maternity-leave.yaml is a file, not a folder",
        ),
        (
            "cases",
            f"{new.CASES}/x.yaml",
            f"{CASES}{new.CASES}/x.yaml: {CASES}{new.CASES} is named like a YAML file, not a folder",
        ),
        (
            "param",
            "rules/parameters/" + "a" * 196 + ".yaml",
            f"rules/parameters/{'a' * 43}…{'a' * 10}.yaml: a file or folder name may have at most 200 bytes; "
            f"{'a' * 60}…{'a' * 10}.yaml has 201",
        ),
        (
            "cases",
            "birth/" + "b" * 300 + ".yaml",
            f"{CASES}birth/{'b' * 42}…{'b' * 10}.yaml: a file or folder name may have at most 200 bytes; "
            f"{'b' * 60}…{'b' * 10}.yaml has 305",
        ),
        (
            "rule",
            "rules/birth/kit\n.yaml",
            "'rules/birth/kit\\n.yaml': the path holds a control character (a tab, a line break…)",
        ),
    ],
    ids=[
        "blank parameter path",
        "rule path of spaces",
        "blank cases path",
        "rule path through a file",
        "cases path through a file",
        "cases folder named like a YAML file",
        "parameter name of 201 bytes",
        "cases name of 305 bytes",
        "line break in a rule path",
    ],
)
def test_a_path_the_files_cannot_take_is_refused_naming_it_never_the_server(store, kind, path, problem):
    """Each was a traceback showing the server's scratch path (IndexError, OSError: File
    name too long, FileExistsError, IsADirectoryError); now a refusal before anything is
    written, the path named relative to the rules root or under tests/cases/."""
    files, cases = new_service(with_entry(store.read("catalog.yaml")), **{kind: path})
    with pytest.raises(RejectedEdit) as refused:
        store.propose_change(files, cases=cases, new_service=True)
    assert refused.value.problems == [problem]
    assert str(store.root) not in problem and "/tmp" not in problem


def test_a_name_of_200_bytes_is_saved_and_one_of_201_is_refused(store):
    """The file system takes 255 bytes a name; atomic_write's temporary name is 14 longer."""
    longest = "birth/" + "k" * 195 + ".yaml"  # a 200-byte name
    files, cases = new_service(with_entry(store.read("catalog.yaml")), cases=longest)
    with pytest.raises(RejectedEdit, match="has 201"):
        store.propose_change(files, cases={longest.replace("k.yaml", "kk.yaml"): new.CASES_TEXT})
    version = store.save_change(files, store.base_version(), "policy.lin", "kit", cases, new_service=True)
    assert CASES + longest in version.files and (store.cases_dir / longest).is_file()


# -- in the app ---------------------------------------------------------------------------------


def test_round_trip_editing_keeps_every_rules_file_byte_for_byte():
    """ui/param_edit.py's settings: catalog.yaml and every parameter file load and dump back
    unchanged, so a form's edit changes the lines of its entry only."""
    from io import StringIO

    from ui.param_edit import round_trip

    for path in [ROOT / "catalog.yaml", *(ROOT / "rules" / "parameters").rglob("*.yaml")]:
        text = path.read_text(encoding="utf-8")
        out = StringIO()
        rt = round_trip()
        rt.dump(rt.load(text), out)
        assert out.getvalue() == text, path


def test_the_form_keeps_comments_between_dated_values():
    """A new dated value is one added line, a correction one changed line; the comments and
    the other entries stay (the old line editor only knew one-line entries)."""
    import difflib

    from ui.param_edit import set_value

    text = (
        "description: d\nvalues:\n  # the first amount\n  2020-01-01: {value: 1}  # law §3\n"
        "  # raised\n  2024-01-01:\n    value: 2\n    note: block style\n"
    )
    added = list(difflib.ndiff(text.splitlines(), set_value(text, "2022-01-01", 5).splitlines()))
    assert [line for line in added if line[0] in "+-"] == ["+   2022-01-01: {value: 5}"]
    assert set_value(text, "2020-01-01", 7) == text.replace("{value: 1}", "{value: 7}")
    assert set_value(text, "2024-01-01", 3) == text.replace("value: 2", "value: 3")


def test_a_case_edited_beside_its_rule_is_saved_with_it_in_the_app(tree, credentials):  # noqa: F811
    at = _open(login(staff_app()), PARAM)
    at.text_area(key="staff:text").input(shorter_deadline(at.text_area(key="staff:text").value)).run()
    at.button(key="staff:check").click().run()
    failed = next(e.value for e in at.error if "未通過的測試案例" in e.value)
    assert "`tests/cases/birth/newborn-health-insurance.yaml` 第" in failed  # reworded in Chinese
    assert "的期限為 `2026-03-03`，案例預期為 `2026-04-02`" in failed
    assert str(tree) not in failed and "/tmp" not in failed

    store = RuleStore(tree, history=tree.parent / "history", cases=tree / "tests" / "cases")
    for name, body in fixed_cases(store).items():
        at.text_area(key=f"staff:case:{name}").input(body)
    at.run()
    at.button(key="staff:check").click().run()
    assert any("檢查通過" in s.value for s in at.success), [e.value for e in at.error]
    at.text_input(key="staff:reason").input("registration within 30 days").run()
    assert not at.button(key="staff:save").disabled
    at.button(key="staff:save").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("已儲存為第 2 版" in s.value for s in at.success)
    saved = store.history()[-1]
    assert saved.author == "policy.lin" and PARAM in saved.files
    assert CASES + PINNED[1] in saved.files
    assert "2026-03-03" in (tree / "tests" / "cases" / PINNED[1]).read_text(encoding="utf-8")


def test_a_case_only_save_from_an_editor_opened_before_anothers_save_is_refused_in_the_app(
    tree,  # noqa: F811
    credentials,  # noqa: F811
):
    first, second = _open(login(staff_app()), PARAM), _open(login(staff_app()), PARAM)
    for at, who in ((first, "A"), (second, "B")):
        area = at.text_area(key=f"staff:case:{PINNED[0]}")
        area.input(area.value + f"\n# reviewed by {who}\n").run()
        at.button(key="staff:check").click().run()
        at.text_input(key="staff:reason").input(f"{who} reviewed the case").run()
        at.button(key="staff:save").click().run()
        assert not at.exception
    assert any("已儲存為第 2 版" in s.value for s in first.success), [e.value for e in first.error]
    assert any("您開啟後規則已被更動" in e.value for e in second.error), [s.value for s in second.success]
    live = (tree / "tests" / "cases" / PINNED[0]).read_text(encoding="utf-8")
    assert "# reviewed by A" in live and "# reviewed by B" not in live


def test_a_broken_case_file_beside_an_unchanged_rule_is_refused_in_the_app(tree, credentials):  # noqa: F811
    live = (tree / "tests" / "cases" / PINNED[0]).read_text(encoding="utf-8")
    at = _open(login(staff_app()), PARAM)
    at.text_area(key=f"staff:case:{PINNED[0]}").input(BROKEN_CASE).run()
    at.button(key="staff:check").click().run()
    assert not at.exception and not at.success
    assert any(f"`{CASES}{PINNED[0]}` 第 2 行" in e.value for e in at.error), [e.value for e in at.error]
    at.text_input(key="staff:reason").input("fix a case").run()
    assert at.button(key="staff:save").disabled
    assert (tree / "tests" / "cases" / PINNED[0]).read_text(encoding="utf-8") == live


def test_a_new_service_is_added_in_one_save_in_the_app(tree, credentials):  # noqa: F811
    at = fill_new_service(login(staff_app()), cases=None)
    assert not at.exception
    assert any("請至少為它加上一個測試案例" in e.value for e in at.error), [e.value for e in at.error]
    assert at.button(key="staff:new:save").disabled

    at.text_area(key="staff:new:cases").input(new.CASES_TEXT).run()
    at.button(key="staff:new:check").click().run()
    assert any("檢查通過" in s.value for s in at.success), [e.value for e in at.error]
    at.text_input(key="staff:new:reason").input("a welcome kit for every newborn").run()
    at.button(key="staff:new:save").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    store = RuleStore(tree, history=tree.parent / "history", cases=tree / "tests" / "cases")
    assert [len(v.files) for v in store.history()] == [0, 4]
    assert new.SERVICE in load_catalogue(tree).services
    original = (ROOT / "catalog.yaml").read_text(encoding="utf-8")
    assert (tree / "catalog.yaml").read_text(encoding="utf-8").startswith(original)  # only lines added


def fill_new_service(at: AppTest, cases: str | None = new.CASES_TEXT, **paths: str) -> AppTest:
    """The new service's form filled in (without test cases when ``cases`` is None),
    ``rule_path``, ``param_path:0`` or ``cases_path`` as given, and checked."""
    at.switch_page("staff_pages/new_service.py").run()
    at.text_input(key="staff:new:id").input(new.SERVICE).run()
    at.selectbox(key="staff:new:event").select("birth")
    at.text_area(key="staff:new:entry").input(new.ENTRY)
    at.text_area(key="staff:new:rule").input(new.RULE_TEXT)
    at.text_area(key="staff:new:param:0").input(new.PARAM_TEXT)
    if cases is not None:
        at.text_area(key="staff:new:cases").input(cases)
    at.text_input(key="staff:new:param_path:0").input(new.PARAM)
    for field, path in paths.items():
        at.text_input(key=f"staff:new:{field}").input(path)
    at.run()
    return at.button(key="staff:new:check").click().run()


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        ({"param_path:0": ""}, ["參數檔 1（路徑；不需要則留空）：路徑是空白的"]),
        (
            {"rule_path": "rules/birth/" + "a" * 300 + ".yaml"},
            ["規則檔路徑（留空則使用提示的路徑）：`rules/birth/", "檔案或資料夾名稱最多 200 位元組"],
        ),
        (
            {"rule_path": "rules/birth/birth-registration.yaml/x.yaml"},
            ["規則檔路徑", "`rules/birth/birth-registration.yaml` 是檔案，不是資料夾"],
        ),
        (
            {"cases_path": f"{new.CASES}/x.yaml"},
            ["測試案例檔，位於 tests/cases 之下", f"`tests/cases/{new.CASES}` 是 YAML 檔的名稱"],
        ),
        (
            {"cases_path": "birth/maternity-leave.yaml"},
            ["`tests/cases/birth/maternity-leave.yaml` 已存在，內含其他服務的測試案例"],
        ),
        ({"param_path:0": "catalog.yaml"}, ["參數檔 1（路徑；不需要則留空）：與「目錄項目"]),
    ],
    ids=[
        "blank parameter path",
        "rule name of 300 characters",
        "rule path through a file",
        "cases folder named like a YAML file",
        "an existing case file",
        "catalog.yaml as a parameter path",
    ],
)
def test_a_path_field_that_cannot_be_saved_is_refused_naming_the_field_in_the_app(
    tree,  # noqa: F811
    credentials,  # noqa: F811
    fields,
    shown,
):
    before = {path: path.read_bytes() for path in tree.rglob("*.yaml")}
    at = fill_new_service(login(staff_app()), **fields)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and all(part in errors[0] for part in shown), errors
    assert str(tree) not in errors[0] and "/tmp" not in errors[0]
    assert at.button(key="staff:new:save").disabled
    assert {path: path.read_bytes() for path in tree.rglob("*.yaml")} == before


def test_a_rule_path_of_spaces_is_the_path_shown_as_the_field_says(tree, credentials):  # noqa: F811
    at = fill_new_service(login(staff_app()), rule_path="   ")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert new.RULE in at.session_state["staff:new:checked"]["files"]


def test_the_chinese_impact_table_names_services_in_chinese_only(tree, credentials):  # noqa: F811
    at = _open(login(staff_app()), PARAM)
    text = at.text_area(key="staff:text").value
    at.text_area(key="staff:text").input(
        text.replace("1900-01-01: {value: 60}", "1900-01-01: {value: 60}\n  2030-01-01: {value: 90}")
    ).run()
    at.button(key="staff:check").click().run()
    at.number_input(key="staff:impact:n").set_value(300).run()
    at.button(key="staff:impact:run").click().run()
    assert not at.exception
    names = list(at.dataframe[0].value["名稱"])
    assert "出生登記" in names and not [n for n in names if any("a" <= c.lower() <= "z" for c in n)], names


def test_no_staff_choice_shows_streamlits_english_placeholder():
    """A multiselect, or a selectbox that starts empty (index=None), shows Streamlit's
    "Choose an option" / "Choose options" unless given a placeholder in the page's words."""
    import ast

    bare = []
    for path in sorted((ROOT / "ui").glob("staff*.py")) + sorted((ROOT / "ui" / "staff_pages").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            kinds = {k.arg: k.value for k in node.keywords}
            starts_empty = node.func.attr == "multiselect" or (
                node.func.attr == "selectbox"
                and isinstance(kinds.get("index"), ast.Constant)
                and kinds["index"].value is None
            )
            if starts_empty and "placeholder" not in kinds:
                bare.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bare, bare


def test_live_rules_that_do_not_load_are_reported_in_chinese_without_the_server_path(tree, credentials):  # noqa: F811
    (tree / PARAM).write_text("values: [not, a, mapping\n", encoding="utf-8")
    at = staff_app()
    shown = [e.value for e in at.error]
    assert shown and shown[0].startswith("目前的規則無法載入：")
    assert str(tree) not in shown[0] and PARAM in shown[0]
