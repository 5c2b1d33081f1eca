"""The child processes of engine.testing.fuzz's crash isolation (``python -m engine.testing.fuzz_child``).

``run ROOT N SEED OUT``: run_fuzz on the catalogue under ROOT, printing ``@k`` as each
example starts, and pickle the report to OUT.
``oracle ROOT``: print ``ready``, then answer one JSON profile per stdin line with one
line (``ok``, ``invalid`` or ``error: …``). A profile that kills the process gets no answer.
"""

from __future__ import annotations

import faulthandler
import json
import pickle
import sys
from datetime import date
from pathlib import Path


def _engine(root: str):
    from engine.language.loader import load_catalogue
    from engine.services.recommend import Engine

    return Engine(load_catalogue(Path(root)))


def run(root: str, n: str, seed: str, out: str) -> int:
    from engine.testing.fuzz import run_fuzz

    engine = _engine(root)

    def trace(k: int) -> None:
        print(f"@{k}", flush=True)

    report = run_fuzz(engine, int(n), int(seed), trace=trace)
    with open(out, "wb") as fh:
        pickle.dump(report, fh)
    return 0


def oracle(root: str) -> int:
    from engine.language.profile import ProfileError, validate_profile

    engine = _engine(root)
    print("ready", flush=True)
    for line in sys.stdin:
        try:
            profile = validate_profile(json.loads(line))
        except ProfileError:
            print("invalid", flush=True)
            continue
        try:
            engine.recommend(profile)
            engine.statuses(profile, profile.as_of or date.today())
        except Exception as exc:  # a Python error is an answer; only death is a crash
            print(f"error: {type(exc).__name__}", flush=True)
            continue
        print("ok", flush=True)
    return 0


def main(argv: list[str]) -> int:
    faulthandler.enable()  # the Python stack of a crash goes to stderr, for the report
    mode, *args = argv
    if mode == "run":
        return run(*args)
    if mode == "oracle":
        return oracle(*args)
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
