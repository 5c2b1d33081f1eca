"""Issue 12, files and input: nothing lost, no crash from any input.

Each test is one sentence of what must hold: an output that is the input is refused;
an interrupted or failed run leaves no output and nothing beside it; input a register
or a citizen could send (a wide header, a far date, a lone surrogate, a bad line) is a
one-line problem, never a crash or an exhausted machine; a spreadsheet opening the
outreach list runs no formula.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from test_outreach import POOR_ALONE as OUTREACH_POOR_ALONE  # the same person, registered in Taipei

from engine.interfaces.cli import main
from engine.language.profile import (
    EARLIEST_DATE,
    LATEST_DATE,
    MAX_PROFILE_BYTES,
    ProfileError,
    load_profile,
    validate_profile,
)
from engine.services import batch
from engine.services.batch import Writer, evaluate_profiles
from engine.services.columns import FileError
from engine.services.outputs import atomic_output, atomic_outputs
from engine.services.outreach import FORMULA_STARTS, run_outreach

ROOT = Path(__file__).resolve().parent.parent

AS_OF = date(2026, 3, 1)
POOR_ALONE = {"residence": "taipei", **OUTREACH_POOR_ALONE}


def _csv(path: Path, rows: list[dict[str, str]]) -> Path:
    columns = sorted({c for r in rows for c in r})
    pl.DataFrame(
        {c: [r.get(c) for r in rows] for c in columns}, schema=dict.fromkeys(columns, pl.String)
    ).write_csv(path)
    return path


def _cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def _one_line(err: str) -> bool:
    return err.count("\n") == 1 and "Traceback" not in err and "internal error" not in err


# --- 1. an output that is the input ----------------------------------------------------------


@pytest.mark.parametrize("link", ["same", "symlink", "hardlink", "dotted"])
def test_batch_refuses_an_output_that_is_its_input(tmp_path, capsys, link):
    source = _csv(tmp_path / "x.csv", [{"residence": "taipei"}])
    before = source.read_bytes()
    target = {
        "same": source,
        "symlink": tmp_path / "y.csv",
        "hardlink": tmp_path / "z.csv",
        "dotted": tmp_path / "sub" / ".." / "x.csv",
    }[link]
    (tmp_path / "sub").mkdir()
    if link == "symlink":
        target.symlink_to(source)
    elif link == "hardlink":
        os.link(source, target)
    code, err = _cli(capsys, "batch", str(source), "-o", str(target))
    assert code == 2 and _one_line(err) and "same file as the input" in err
    assert source.read_bytes() == before


def test_outreach_refuses_an_output_or_printable_list_that_is_its_input(tmp_path, capsys):
    source = _csv(tmp_path / "register.csv", [POOR_ALONE])
    before = source.read_bytes()
    code, err = _cli(capsys, "outreach", str(source), "-o", str(source))
    assert code == 2 and "same file as the input" in err
    code, err = _cli(capsys, "outreach", str(source), "-o", str(tmp_path / "v.csv"), "--html", str(source))
    assert code == 2 and "same file as the input" in err
    assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["register.csv"]


def test_a_batch_whose_input_is_missing_leaves_an_existing_output_alone(tmp_path, capsys):
    target = tmp_path / "out.csv"
    target.write_text("yesterday's results\n")
    code, err = _cli(capsys, "batch", str(tmp_path / "missing.csv"), "-o", str(target))
    assert code == 2 and _one_line(err) and "missing.csv: no such file" in err
    assert target.read_text() == "yesterday's results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_a_batch_that_fails_on_its_input_leaves_an_existing_output_alone(tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_text("residence,nonsense\ntaipei,1\n")
    target = tmp_path / "out.csv"
    target.write_text("yesterday's results\n")
    code, err = _cli(capsys, "batch", str(source), "-o", str(target))
    assert code == 2 and "unknown column 'nonsense'" in err
    assert target.read_text() == "yesterday's results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


_GOOD_ROWS = b"2026-03-01,female\n" * 3  # more than one chunk of --chunk-rows 2 before the break


@pytest.mark.parametrize(
    "content, says",
    [
        (
            b"as_of,person.sex\n" + _GOOD_ROWS + b"2026-03-01,female,x\n",
            'in.csv:5: 3 fields, but the header has 2 (a value with a comma is quoted: "a,b")',
        ),
        (
            b"as_of,person.sex\n" + _GOOD_ROWS + b'2026-03-01,"female\n2026-03-01,male\n',
            "in.csv:5: field 2 (person.sex): its opening quote is not closed before the end of the file",
        ),
        (
            b"as_of,person.sex\n" + _GOOD_ROWS + b"2026-03-01,fem\xffale\n",
            "in.csv:5: not UTF-8 text: byte 0xff at column 15 (save the file as UTF-8)",
        ),
        (b"as_of,person.s\xe9x\n" + _GOOD_ROWS, "in.csv:1: not UTF-8 text: byte 0xe9 at column 15"),
        (
            b"as_of,person.sex\n" + _GOOD_ROWS + b'2026-03-01,fe"male\n',
            "in.csv:5: field 2 (person.sex): a quote inside a field that does not open with one",
        ),
        (
            b"as_of,person.sex\n" + _GOOD_ROWS + b'2026-03-01,"fe"male\n',
            "in.csv:5: field 2 (person.sex): text after its closing quote",
        ),
        (  # a quoted cell over two lines counts two lines, as an editor shows them
            b'as_of,person.sex\r\n"2026-03-01\r\n",female\r\n' + _GOOD_ROWS + b"2026-03-01,female,x\r\n",
            "in.csv:7: 3 fields, but the header has 2",
        ),
    ],
    ids=[
        "more-fields",
        "unclosed-quote",
        "not-utf8",
        "not-utf8-header",
        "stray-quote",
        "after-quote",
        "crlf",
    ],
)
def test_a_broken_csv_line_is_named_with_its_line_and_the_output_is_left_alone(
    tmp_path, capsys, content, says
):
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    target = tmp_path / "out.csv"
    target.write_text("yesterday's results\n")
    code, err = _cli(capsys, "batch", str(source), "-o", str(target), "--chunk-rows", "2")
    assert code == 2 and _one_line(err), err
    assert err.startswith(f"{tmp_path}{os.sep}{says}")
    assert target.read_text() == "yesterday's results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


def test_a_quote_left_open_is_found_without_reading_the_rest_of_the_file(tmp_path, monkeypatch):
    from engine.services import csv_faults

    monkeypatch.setattr(csv_faults, "LONGEST_ROW", 2**20)
    source = tmp_path / "in.csv"
    source.write_bytes(b'as_of,person.sex\n2026-03-01,"female\n' + b"2026-03-01,male\n" * 200_000)
    fault = csv_faults.first_fault(source)
    assert fault == csv_faults.Fault(2, "field 2 (person.sex): its opening quote is not closed within 1 MiB")


def test_a_csv_file_that_reads_is_not_read_again(tmp_path, capsys, monkeypatch):
    """The search for a broken line is the failure path's: a good file costs nothing more."""

    def searched(*_: object) -> None:
        raise AssertionError("a file polars read was searched for a broken line")

    monkeypatch.setattr(batch, "first_fault", searched)
    source = _csv(tmp_path / "in.csv", [{"as_of": "2026-03-01", "person.sex": "female"}] * 3)
    code, err = _cli(capsys, "batch", str(source), "-o", str(tmp_path / "out.csv"), "--chunk-rows", "2")
    assert code == 0, err


def test_a_batch_output_through_a_symlink_replaces_the_file_it_points_to(tmp_path, capsys):
    source = _csv(tmp_path / "in.csv", [{"residence": "taipei"}])
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    (tmp_path / "link.csv").symlink_to(real)
    code, _ = _cli(capsys, "batch", str(source), "-o", str(tmp_path / "link.csv"), "--as-of", "2026-03-01")
    assert code == 0
    assert (tmp_path / "link.csv").is_symlink()
    assert pl.read_csv(real)["row"].to_list() == [0]


# --- 2. interrupted or failed runs leave nothing ----------------------------------------------


def _register_lines(path: Path, n: int) -> Path:
    """Every other line valid; each empty one writes a line to stderr, so a run whose
    stderr nobody reads blocks mid-run (after some chunks are written), whatever the
    machine's speed: the test interrupts it there, with no timing involved."""
    valid = json.dumps({"residence": "taipei", "person": {"birth_date": "1990-01-01"}})
    path.write_text("".join(f"{valid}\n" if i % 2 else "\n" for i in range(n)))
    return path


def _output_written(folder: Path) -> bool:
    """Whether some output (partial or not, wherever it is) has data on disk yet."""
    return any(f.is_file() and f.name != "in.jsonl" and f.stat().st_size > 0 for f in folder.rglob("*"))


def _wait_for(condition, what: str, limit_s: float = 300) -> None:
    # A deadline against hanging forever, not an assertion about speed.
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never saw {what}")
        time.sleep(0.05)


# `python -m engine`, with Ctrl-C's usual meaning: a shell starting a background job
# ignores SIGINT, and Python would then not turn it into KeyboardInterrupt.
_CLI = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from engine.interfaces.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _CLI, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


@pytest.mark.parametrize("fmt", [".csv", ".parquet"])
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_batch_leaves_no_output_and_no_parts(tmp_path, fmt, sig, code):
    _register_lines(tmp_path / "in.jsonl", 40_000)
    out = f"out{fmt}"
    proc = _start(["batch", "in.jsonl", "-o", out, "--as-of", "2026-03-01", "--chunk-rows", "50"], tmp_path)
    try:
        if fmt == ".parquet":  # its chunks are held in memory (batch.Writer): mid-run once a row is reported
            assert proc.stderr is not None
            proc.stderr.readline()
        else:
            _wait_for(lambda: _output_written(tmp_path), "a partial output")
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=300)  # drains stderr: the process can finish exiting
    finally:
        proc.kill()
    assert proc.returncode == code, err.decode()[-500:]
    assert b"Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_a_library_renames_still_ends_the_command_as_the_signal(
    tmp_path, monkeypatch, capsys, sig, code
):
    """A signal's exception raised inside a library's callback can come out as the
    library's own error (a full test run once saw polars' "TypeError: … is not a Polars
    data type" after SIGTERM): the command still exits as the signal says, leaves no
    output, and reports no internal error."""
    _register_lines(tmp_path / "in.jsonl", 400)
    real_write = Writer._write

    def write_then_signalled_inside_a_library(self, frame):
        real_write(self, frame)
        try:
            signal.raise_signal(sig)  # the handler raises here, as inside a callback
        except BaseException as exc:
            raise TypeError("'<unprintable str object>' is not a Polars data type") from exc

    monkeypatch.setattr(Writer, "_write", write_then_signalled_inside_a_library)
    monkeypatch.chdir(tmp_path)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert (
            main(["batch", "in.jsonl", "-o", "out.csv", "--as-of", "2026-03-01", "--chunk-rows", "50"])
            == code
        )
    finally:
        signal.signal(signal.SIGINT, previous_int)
    assert "internal error" not in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_a_terminated_outreach_leaves_neither_list(tmp_path):
    _register_lines(tmp_path / "in.jsonl", 40_000)
    args = ["outreach", "in.jsonl", "-o", "visit.csv", "--html", "visit.html", "--chunk-rows", "50"]
    proc = _start(args, tmp_path)
    try:
        assert proc.stderr is not None
        proc.stderr.readline()  # the first invalid row: the register is being read
        # Its stderr fills up and nobody reads it: the run cannot finish before the signal.
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 143, err.decode()[-500:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


@pytest.mark.parametrize("fmt", [".csv", ".jsonl", ".parquet"])
def test_a_write_failing_mid_batch_leaves_no_output_and_the_old_one_intact(
    tmp_path, capsys, monkeypatch, fmt
):
    _register_lines(tmp_path / "in.jsonl", 400)
    target = tmp_path / f"out{fmt}"
    target.write_text("yesterday's results\n")
    monkeypatch.setattr(batch, "PARQUET_HELD_BYTES", 0)  # Parquet: every chunk a part file, to be removed
    real_write = Writer._write
    calls = []

    def disk_full_at_the_third_chunk(self, frame):
        calls.append(1)
        if len(calls) == 3:
            real_write(self, frame[: frame.height // 2])  # half a chunk reaches the disk
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, frame)

    monkeypatch.setattr(Writer, "_write", disk_full_at_the_third_chunk)
    code, err = _cli(capsys, "batch", str(tmp_path / "in.jsonl"), "-o", str(target), "--chunk-rows", "50")
    assert code == 2 and err.splitlines()[-1] == f"{target}: cannot write: No space left on device"
    assert target.read_text() == "yesterday's results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", f"out{fmt}"]


def test_a_failed_merge_of_parquet_parts_leaves_no_output(tmp_path, capsys, monkeypatch):
    _register_lines(tmp_path / "in.jsonl", 200)
    monkeypatch.setattr(batch, "PARQUET_HELD_BYTES", 0)  # parts to merge, and to remove
    real_sink = pl.LazyFrame.sink_parquet
    merges = []

    def disk_full_in_the_merge(self, path, *args, **kwargs):
        if Path(path).name != "o.parquet":  # a part (polars writes those through sink_parquet too)
            return real_sink(self, path, *args, **kwargs)
        merges.append(path)
        Path(path).write_bytes(b"PAR1 half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pl.LazyFrame, "sink_parquet", disk_full_in_the_merge)
    args = ["batch", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "o.parquet"), "--chunk-rows", "50"]
    code, err = _cli(capsys, *args)
    assert merges and code == 2 and "o.parquet: cannot write" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


@pytest.mark.parametrize("fmt", [".csv", ".parquet"])
def test_a_failed_population_write_leaves_no_output(tmp_path, capsys, monkeypatch, fmt):
    def disk_full(self, path, *args, **kwargs):
        Path(path).write_bytes(b"half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_csv" if fmt == ".csv" else "write_parquet", disk_full)
    target = tmp_path / f"people{fmt}"
    code, err = _cli(capsys, "population", "-n", "50", "-o", str(target))
    assert code == 2 and err.strip() == f"{target}: cannot write: No space left on device"
    assert list(tmp_path.iterdir()) == []


def test_a_failed_printable_list_leaves_no_outreach_list_either(tmp_path, catalogue, monkeypatch):
    source = _csv(tmp_path / "register.csv", [POOR_ALONE])

    def disk_full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)
    with pytest.raises(FileError, match=r"visit\.html: cannot write"):
        run_outreach(
            catalogue,
            source,
            tmp_path / "visit.csv",
            html=tmp_path / "visit.html",
            as_of=AS_OF,
            err=io.StringIO(),
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["register.csv"]


def test_an_atomic_output_appears_only_when_the_block_succeeds(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(KeyboardInterrupt), atomic_output(target) as partial:
        partial.write_text("half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with atomic_output(target) as partial:
        partial.write_text("whole")
    assert target.read_text() == "whole" and list(tmp_path.iterdir()) == [target]


def test_a_signal_during_the_renames_waits_until_every_output_is_in_place(tmp_path, monkeypatch):
    real_replace = os.replace

    def interrupted_replace(source, target):
        signal.raise_signal(signal.SIGINT)
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt), atomic_outputs(tmp_path / "a.csv", tmp_path / "b.html") as (a, b):
        a.write_text("list")
        b.write_text("page")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.html"]


# --- 4. child columns beyond the profile's twenty children -------------------------------------


@pytest.mark.parametrize(
    "column", ["children.99999999999.order", "children.20.order", "children." + "9" * 5000 + ".order"]
)
def test_a_child_column_beyond_the_twentieth_child_is_refused_at_the_header(tmp_path, capsys, column):
    source = tmp_path / "c.csv"
    source.write_text(f"residence,{column}\ntaipei,1\n")
    code, err = _cli(capsys, "batch", str(source), "-o", str(tmp_path / "o.csv"))
    assert code == 2 and _one_line(err)
    assert "a profile has at most 20 children" in err and len(err) < 300
    assert column[:40] in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv"]


def test_the_twentieth_child_column_is_read(tmp_path, capsys):
    source = tmp_path / "c.csv"
    source.write_text("residence,children.19.order\ntaipei,1\n")
    code, err = _cli(capsys, "batch", str(source), "-o", str(tmp_path / "o.csv"), "--as-of", "2026-03-01")
    assert code == 0, err


def test_ten_thousand_child_columns_are_refused_at_the_first_one_too_many(tmp_path, capsys):
    header = ",".join(["residence", *(f"children.{i}.order" for i in range(10_000))])
    source = tmp_path / "c.csv"
    source.write_text(header + "\n" + "taipei" + ",1" * 10_000 + "\n")
    code, err = _cli(capsys, "batch", str(source), "-o", str(tmp_path / "o.csv"))
    assert code == 2 and _one_line(err) and "column 'children.20.order'" in err


def test_a_wide_parquet_header_is_refused_too(tmp_path, capsys):
    source = tmp_path / "c.parquet"
    pl.DataFrame({"residence": ["taipei"], "children.99999999999.order": [1]}).write_parquet(source)
    code, err = _cli(capsys, "batch", str(source), "-o", str(tmp_path / "o.csv"))
    assert code == 2 and "column 'children.99999999999.order'" in err


def test_a_json_lines_profile_with_more_than_twenty_children_is_that_rows_problem(tmp_path, capsys):
    lines = [{"residence": "taipei", "children": [{"order": 1}] * n} for n in (20, 21, 1)]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(p) + "\n" for p in lines))
    target = tmp_path / "o.csv"
    code, err = _cli(capsys, "batch", str(source), "-o", str(target), "--as-of", "2026-03-01")
    assert code == 0
    assert "row 1: children: List should have at most 20 items" in err
    statuses = pl.read_csv(target).drop("row")
    assert [set(r.values()) == {"invalid"} for r in statuses.iter_rows(named=True)] == [False, True, False]


# --- 5. dates bounded -------------------------------------------------------------------------


DATED = {
    "as_of": lambda d: {"as_of": d},
    "person.birth_date": lambda d: {"person": {"birth_date": d}},
    "person.residence_registered_since": lambda d: {"person": {"residence_registered_since": d}},
    "events.move.date": lambda d: {"events": {"move": {"date": d}}},
    "events.birth.date": lambda d: {"events": {"birth": {"date": d}}},
    "children[0].birth_date": lambda d: {"children": [{"birth_date": d}]},
}


@pytest.mark.parametrize("path", DATED)
def test_every_profile_date_lies_between_1900_and_2200(path):
    assert (date(1900, 1, 1), date(2200, 12, 31)) == (EARLIEST_DATE, LATEST_DATE)
    for inside in ("1900-01-01", "2200-12-31"):
        validate_profile(DATED[path](inside))
    for outside in ("1899-12-31", "2201-01-01", "9999-12-31"):
        with pytest.raises(ProfileError, match=rf"{re.escape(path)}: Input should be .* or equal to"):
            validate_profile(DATED[path](outside))


def test_the_engine_and_the_batch_answer_at_both_date_bounds(engine, catalogue):
    for day in ("1900-01-01", "2200-12-31"):
        profile = {
            "as_of": day,
            "residence": "taipei",
            "person": {"birth_date": day, "residence_registered_since": day},
            "children": [{"birth_date": day, "order": 1}],
            "events": {
                "birth": {"date": day, "kind": "live"},
                "move": {"date": day, "new_residence": "taichung"},
                "home_purchase": {"date": day},
                "job_loss": {"date": day, "involuntary": True},
                "business_start": {"date": day, "kind": "company"},
            },
        }
        assert engine.recommend(validate_profile(profile)).results
        assert evaluate_profiles(catalogue, [profile])


def test_the_command_line_refuses_far_dates_in_one_line(tmp_path):
    profile = tmp_path / "p.json"
    profile.write_text('{"residence": "taipei"}')
    done = _run("recommend", str(profile), "--as-of", "9999-12-31")
    assert done.returncode == 2 and _one_line(done.stderr) and "2200-12-31" in done.stderr
    profile.write_text('{"residence": "taipei", "events": {"move": {"date": "9999-12-31"}}}')
    done = _run("recommend", str(profile))
    assert done.returncode == 2 and _one_line(done.stderr) and "events.move.date" in done.stderr
    profile.write_text('{"residence": "taipei"}')
    assert _run("recommend", str(profile), "--as-of", "2200-12-31", "--json").returncode == 0


def test_a_far_date_in_a_batch_is_that_rows_problem(tmp_path, capsys):
    source = _csv(
        tmp_path / "in.csv",
        [
            {"residence": "taipei", "as_of": "2026-03-01", "person.birth_date": "9996-01-01"},
            {"residence": "taipei", "as_of": "9999-12-31"},
            {"residence": "taipei", "as_of": "2200-12-31", "events.move.date": "2200-12-31"},
        ],
    )
    target = tmp_path / "o.csv"
    code, err = _cli(capsys, "batch", str(source), "-o", str(target))
    assert code == 0, err
    lines = err.splitlines()
    assert lines[0].startswith(
        "row 0: person.birth_date: must be a date (YYYY-MM-DD) from 1900-01-01 to 2200-12-31"
    )
    assert lines[1].startswith("row 1: as_of: must be a date")
    rows = pl.read_csv(target).drop("row").rows()
    assert set(rows[0]) == set(rows[1]) == {"invalid"} and "invalid" not in rows[2]


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from engine import Engine, load_catalogue
    from engine.interfaces.api import create_app

    app = create_app(engine=Engine(load_catalogue(ROOT)), root=ROOT)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize(
    ("query", "body"),
    [
        ("?as_of=9999-12-31", {"residence": "taipei"}),
        ("", {"residence": "taipei", "events": {"move": {"date": "9999-12-31"}}}),
        ("", {"residence": "taipei", "person": {"birth_date": "9995-06-01"}}),
        ("", {"residence": "taipei", "as_of": "1899-12-31"}),
    ],
)
def test_the_api_answers_422_for_a_far_date(client, query, body):
    answer = client.post(f"/recommend{query}", json=body)
    assert answer.status_code == 422, answer.text


def test_the_api_answers_at_the_last_date(client):
    answer = client.post("/recommend?as_of=2200-12-31", json={"residence": "taipei"})
    assert answer.status_code == 200


def test_a_share_link_with_a_far_date_is_refused_and_its_answer_never_logged(caplog):
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    from ui.answers import decode_token, encode_token

    answers = {"events.birth": True, "events.birth.date": "9999-12-31", "person.sex": "female"}
    token = encode_token(["birth"], answers)
    with pytest.raises(ProfileError, match=r"events\.birth\.date"):
        decode_token(token, {"birth"})
    with caplog.at_level(logging.DEBUG):
        at = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=60)
        at.query_params["a"] = token
        at.run()
    assert not at.exception
    assert at.error and at.session_state.answers == {}
    assert "9999-12-31" not in caplog.text


def test_a_share_link_with_a_huge_child_index_or_deep_nesting_is_refused():
    import base64

    from ui.answers import decode_token, encode_token

    huge = encode_token(["birth"], {"children": 1, f"children[{'9' * 5000}].order": 1})
    deep = base64.urlsafe_b64encode(b'{"v":1,"e":[],"a":' + b"[" * 5000 + b"]" * 5000 + b"}").decode()
    for token in (huge, deep):
        with pytest.raises(ProfileError, match="link"):
            decode_token(token, {"birth"})


# --- 6. lone surrogates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b'{"residence":"\\ud800"}', b'{"residence":"taipei","\\udc00":1}', b'{"person":{"sex":"x\\ud800"}}'],
)
def test_the_api_answers_422_for_a_lone_surrogate(client, body):
    answer = client.post("/recommend", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert "\\ud800" in answer.text or "\\udc00" in answer.text


def test_the_command_line_names_a_lone_surrogate(tmp_path):
    profile = tmp_path / "p.json"
    profile.write_text('{"residence":"\\ud800"}')
    done = _run("recommend", str(profile))
    assert done.returncode == 2 and _one_line(done.stderr) and "residence" in done.stderr


# --- 7. one bad line is one bad row ------------------------------------------------------------


def test_bad_json_lines_are_their_rows_problems_and_the_run_goes_on(tmp_path, capsys):
    good = json.dumps({"residence": "taipei"})
    lines = [
        good,
        '{"household": {"size": ' + "9" * 5000 + "}}",
        "[" * 100_000 + "]" * 100_000,
        good,
        '{"residence": "taipei", "person": {"sex": "' + "x" * 1_000_000 + '"}}',
    ]
    source = tmp_path / "in.jsonl"
    source.write_bytes("\n".join(lines).encode() + b"\n\xff\xfe{}\n" + good.encode() + b"\n")
    target = tmp_path / "o.csv"
    code, err = _cli(capsys, "batch", str(source), "-o", str(target), "--as-of", "2026-03-01")
    assert code == 0, err[:500]
    messages = err.splitlines()
    assert messages[0] == "row 1: not a profile: a number with too many digits"
    assert messages[1] == "row 2: not a profile: nested too deeply"
    assert messages[2].startswith("row 4: person.sex:")
    assert messages[3] == "row 5: not UTF-8 text (byte 0)"
    assert all(len(m) < 300 for m in messages)
    statuses = pl.read_csv(target)
    assert statuses["row"].to_list() == [0, 1, 2, 3, 4, 5, 6]
    invalid = [set(r[1:]) == {"invalid"} for r in statuses.rows()]
    assert invalid == [False, True, True, False, True, True, False]


def test_a_huge_cell_or_column_name_is_quoted_by_a_short_prefix(tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_text("residence,household.size\ntaipei," + "7" * 1_000_000 + "\n")
    code, err = _cli(capsys, "batch", str(source), "-o", str(tmp_path / "o.csv"), "--as-of", "2026-03-01")
    assert code == 0 and err.startswith("row 0: household.size:") and len(err) < 300
    source.write_text("residence," + "x" * 1_000_000 + "\ntaipei,1\n")
    code, err = _cli(capsys, "batch", str(source), "-o", str(tmp_path / "o.csv"))
    assert code == 2 and _one_line(err) and "unknown column 'xxx" in err and len(err) < 300


def test_a_huge_key_or_argument_is_quoted_by_a_short_prefix(capsys):
    with pytest.raises(ProfileError) as info:
        validate_profile({"person": {"x" * 1_000_000: 1}})
    assert str(info.value).startswith("profile: person.xxx") and len(str(info.value)) < 300
    code, err = _cli(capsys, "recommend", "p.json", "--lang", "x" * 100_000)
    assert code == 2 and _one_line(err) and len(err) < 400


# --- 10. problems the command line names ----------------------------------------------------------


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("p.json", b"\xff\xfe{}", "not UTF-8 text"),
        ("p.json", b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
        ("p.yaml", b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
        ("p.json", b"{}" + b" " * MAX_PROFILE_BYTES, "too large for a profile"),
        ("p.yaml", b"#" * (MAX_PROFILE_BYTES + 1), "too large for a profile"),
        ("p.json", b'{"household": {"size": ' + b"9" * 5000 + b"}}", "a number with too many digits"),
        ("p.yaml", b"household:\n  size: " + b"9" * 5000 + b"\n", "a number with too many digits"),
        ("p.json", b"", "empty"),
        ("p.json", b"  \n", "empty"),
        ("p.json", b'{"person":{"birth_date":2026-01-01}}', "not valid JSON"),
        ("p.json", b"person:\n  sex: female\n", "not valid JSON"),
    ],
)
def test_a_profile_file_that_is_not_one_is_named(tmp_path, name, content, says):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(info.value).startswith(f"{path}") and says in str(info.value)
    assert len(str(info.value)) < 300


def test_a_profile_of_the_largest_size_is_read(tmp_path):
    path = tmp_path / "p.json"
    path.write_bytes(b'{"person": {"sex": "female"}}'.ljust(MAX_PROFILE_BYTES))
    assert load_profile(path).person.sex == "female"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_profile_file_is_refused_after_the_largest_size(tmp_path):
    """/dev/zero (or a link named like a profile to it) never ends: reading it whole
    filled 6 GB in 7 s. The command reads one byte more than a profile may hold."""
    link = tmp_path / "p.json"
    link.symlink_to("/dev/zero")
    done = _run("recommend", str(link))
    assert done.returncode == 2 and _one_line(done.stderr) and "too large for a profile" in done.stderr


@pytest.mark.parametrize("name", ["p.json", "p.yaml"])
def test_a_byte_order_mark_is_dropped_as_the_api_drops_it(tmp_path, client, name):
    path = tmp_path / name
    path.write_bytes(b'\xef\xbb\xbf{"person": {"sex": "female"}}')
    assert load_profile(path).person.sex == "female"
    answer = client.post(
        "/recommend", content=path.read_bytes(), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 200


def test_yaml_profiles_keep_their_reading(tmp_path):
    empty = tmp_path / "p.yaml"
    empty.write_text("")
    assert load_profile(empty) == validate_profile({})
    dated = tmp_path / "q.yml"
    dated.write_text("person:\n  birth_date: 2026-01-01\n")
    assert load_profile(dated).person.birth_date == date(2026, 1, 1)


def test_a_bad_profile_file_exits_2_in_one_line(tmp_path):
    path = tmp_path / "p.json"
    path.write_bytes(b'{"household": {"size": ' + b"9" * 5000 + b"}}")
    done = _run("recommend", str(path))
    assert done.returncode == 2 and _one_line(done.stderr)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["batch", "in.csv", "-o", "o.csv", "--chunk-rows", "99999999999999999999999"], "--chunk-rows"),
        (["batch", "in.csv", "-o", "o.csv", "--chunk-rows", "0"], "--chunk-rows"),
        (["population", "-n", "10", "--seed", "-1", "-o", "p.csv"], "--seed"),
        (["population", "-n", "99999999999999999999", "-o", "p.csv"], "-n"),
        (["recommend", "p.json", "--as-of", "9999-12-31"], "--as-of"),
    ],
)
def test_bad_arguments_are_usage_errors(capsys, args, says):
    code, err = _cli(capsys, *args)
    assert code == 2 and _one_line(err) and says in err


def test_serve_on_a_port_in_use_says_so(tmp_path):
    pytest.importorskip("uvicorn")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run("serve", "--port", str(port))
    assert done.returncode == 2 and _one_line(done.stderr)
    assert f"port {port} is in use" in done.stderr


# --- 19. no formula in the outreach list ---------------------------------------------------------


def test_outreach_csv_cells_that_a_spreadsheet_would_run_are_escaped(tmp_path, catalogue):
    names = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tTab", "\rReturn", "Lin", "a=b"]
    rows = [{**POOR_ALONE, "id": str(i), "name": n, "address": n} for i, n in enumerate(names)]
    target = tmp_path / "visit.csv"
    run_outreach(catalogue, _csv(tmp_path / "register.csv", rows), target, as_of=AS_OF, err=io.StringIO())
    out = pl.read_csv(target, infer_schema=False)
    listed = dict(zip(out["id"], out["name"], strict=True))
    assert len(listed) == len(names)
    for i, name in enumerate(names):
        expected = "'" + name if name.startswith(FORMULA_STARTS) else name
        assert listed[str(i)] == expected
        assert out.filter(pl.col("id") == str(i))["address"][0] == expected
