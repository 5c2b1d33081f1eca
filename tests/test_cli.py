"""The command line of spec/profile.md: output keys and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


# --- progress bars: on a terminal only (engine/interfaces/progress.py) --------------------------------


def run_on_a_terminal(*args: str, cwd: Path = ROOT) -> tuple[int, str]:
    """The command with its stderr on a pseudo-terminal 100 columns wide (stdout a pipe), as
    a person at a shell sees it; returns the exit code and what the terminal received."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        cwd=cwd,
    )
    os.close(terminal)
    received = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the command closed its end
            break
        if not chunk:
            break
        received += chunk
    os.close(controller)
    return proc.wait(timeout=600), received.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def register(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("register")
    done = run("population", "-n", "400", "-o", str(folder / "people.csv"))
    assert done.returncode == 0, done.stderr
    return folder / "people.csv"


def _commands(register: Path, out: Path) -> dict[str, list[str]]:
    return {
        "batch": ["batch", str(register), "-o", str(out / "statuses.csv")],
        "outreach": ["outreach", str(register), "-o", str(out / "visits.csv")],
        "population": ["population", "-n", "300", "-o", str(out / "people.parquet")],
        "diff": ["diff", str(ROOT), str(ROOT), "--population", "100"],
        "fuzz": ["fuzz", "--n", "10"],
    }


@pytest.mark.parametrize("command", ["batch", "outreach", "population", "diff", "fuzz"])
def test_a_progress_bar_is_drawn_on_a_terminal(command, register, tmp_path):
    code, screen = run_on_a_terminal(*_commands(register, tmp_path)[command])
    assert code in ((0, 1) if command == "fuzz" else (0,)), screen[-1000:]  # fuzz: 1 on coverage gaps
    # tqdm's bar: the command's name, a percentage and the bar itself, redrawn in place.
    assert f"\r{command}" in screen and "%|" in screen, screen[-1000:]


# fuzz is left out here to keep CI short (a run costs ~20 s): its bar is the same
# progress_bar, whose silence off a terminal the next test checks directly.
@pytest.mark.parametrize("command", ["batch", "outreach", "population", "diff"])
def test_no_progress_bar_in_a_pipe(command, register, tmp_path):
    done = run(*_commands(register, tmp_path)[command])
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "%|" not in done.stderr
    # Only the summary line of the commands that write a file; nothing from diff.
    expected = 0 if command == "diff" else 1
    assert len(done.stderr.splitlines()) == expected, done.stderr


def test_the_progress_bar_writes_nothing_off_a_terminal():
    import io

    from engine.interfaces.progress import progress_bar

    stream = io.StringIO()  # isatty() is False, as for a pipe or a file
    with progress_bar("fuzz", 10, "profiles", stream) as bar:
        bar.update(5)
        bar.set_description("fuzz: shrinking")
        bar.refresh()
    assert stream.getvalue() == ""


def test_serve_refuses_a_root_path_that_is_not_a_path():
    # It is written into the documentation pages' URLs.
    for bad in ("api", "/api/", "/a b", "/x'onload='y"):
        done = run("serve", "--root-path", bad)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--root-path" in done.stderr, bad


def test_an_invalid_row_is_reported_on_a_line_of_its_own_beside_the_bar(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{}\nnot json\n{"person": {"sex": "female"}}\n', encoding="utf-8")
    code, screen = run_on_a_terminal("batch", str(rows), "-o", str(tmp_path / "out.csv"))
    assert code == 0, screen
    # The bar is cleared before the message and drawn again after its line, never over it.
    assert "\rrow 1: not valid JSON" in screen, screen
    assert "%|" not in screen.split("row 1:")[1].split("\n")[0], screen


def test_the_printed_json_is_json_dumps_of_the_result_for_every_case(engine):
    """recommend --json prints pydantic's JSON (engine.interfaces.cli.contract_json), which
    must be, to the byte, what json.dumps of the result's model_dump printed before: every
    case's answer, in each language in turn."""
    from engine.interfaces.cli import contract_json
    from engine.language.i18n import LANGUAGES
    from engine.language.profile import validate_profile
    from engine.services.cases import load_cases

    cases = load_cases(Path(__file__).parent / "cases")
    assert len(cases) > 700
    for number, case in enumerate(cases):
        profile = validate_profile(case.input, f"{case.file}#{case.index}")
        result = engine.recommend(profile, as_of=case.as_of, lang=LANGUAGES[number % len(LANGUAGES)])
        printed = json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2)
        assert contract_json(result) == printed, f"{case.file}#{case.index}"


PLUGINS = r"""
import os, sys
from engine.interfaces import cli
from engine.language.profile import validate_profile
validate_profile({})  # pydantic's first validators asked the stand-in for plugins
import pydantic.plugin._loader as loader
import pydantic.plugin._schema_validator as schema_validator
print(loader.get_plugins() == (), 'importlib.metadata' in sys.modules)
os.environ["PYDANTIC_DISABLE_PLUGINS"] = sys.argv[1]
found = loader.get_plugins()
real = sys.modules["pydantic.plugin._loader"]
print(real is not loader, list(found) == list(real.get_plugins()), 'importlib.metadata' in sys.modules)
import inspect
print("from ._loader import get_plugins" in inspect.getsource(schema_validator.create_schema_validator))
"""


@pytest.mark.parametrize("value", ["", "some-plugin"])
def test_pydantic_plugins_are_read_as_pydantic_reads_them_without_its_metadata_scan(value):
    """The command keeps pydantic's plugin loader (and the importlib.metadata it imports)
    out while plugins are off; the first call that finds them on gets the real loader's
    answer. The last line checks that pydantic still asks ``._loader`` for get_plugins
    and nothing else, which the stand-in provides."""
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    done = subprocess.run(
        [sys.executable, "-c", PLUGINS, value], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "True", "True", "True", "True"]


def test_the_process_ends_at_once_only_after_an_answer(monkeypatch, capsys):
    """``run`` (the lifeevents script, python -m engine) skips the interpreter's teardown
    after ``recommend`` has printed its answer, flushed; after anything else, or an
    error, the process ends through sys.exit as before. (Every subprocess test of
    recommend reads its whole output through run.)"""
    from engine.interfaces import cli as command

    ended: list[int] = []

    def at_once(code: int) -> None:
        ended.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(command.os, "_exit", at_once)
    newborn = str(ROOT / "examples" / "newborn.json")
    monkeypatch.setattr(sys, "argv", ["lifeevents", "recommend", newborn, "--json"])
    with pytest.raises(SystemExit) as done:
        command.run()
    assert done.value.code == 0 and ended == [0]
    assert json.loads(capsys.readouterr().out)["as_of"] == "2026-03-01"
    for argv, code in ((["recommend", "missing.json"], 2), (["validate", str(ROOT / "rules")], 2)):
        monkeypatch.setattr(sys, "argv", ["lifeevents", *argv])
        with pytest.raises(SystemExit) as done:
            command.run()
        assert done.value.code == code and ended == [0], argv
