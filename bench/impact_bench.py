"""Time an impact preview of one parameter change (the minimum living expense).

    PYTHONPATH=. python bench/impact_bench.py [N]

With the column-wise batch evaluator (engine/services/batch.py) the population is N people
(default 100,000; target under 3 s). Without it, the per-profile engine runs on at most
5,000 profiles and the script says so.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from engine.language.loader import load_catalogue
from engine.services.impact import impact, population, render_impact

ROOT = Path(__file__).resolve().parent.parent
PARAM = "rules/parameters/minimum_living_expense.yaml"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    try:
        import engine.services.batch  # noqa: F401

        method = "batch"
    except ImportError:
        method = "engine"
        if n > 5000:
            print(f"engine.services.batch is absent: the per-profile engine runs on 5,000 people, not {n:,}")
            n = 5000
    old = load_catalogue(ROOT)
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch)
        shutil.copy(ROOT / "catalog.yaml", tree / "catalog.yaml")
        shutil.copytree(ROOT / "rules", tree / "rules")
        text = (tree / PARAM).read_text(encoding="utf-8")
        (tree / PARAM).write_text(text.replace("taipei: 20744", "taipei: 24000"), encoding="utf-8")
        new = load_catalogue(tree)
    started = time.perf_counter()
    people = population(n, seed=0)
    generated = time.perf_counter() - started
    for run in range(3):
        started = time.perf_counter()
        report = impact(old, new, people)
        print(
            f"run {run + 1}: impact preview of {n:,} people ({method}): {time.perf_counter() - started:.2f} s"
        )
    print(f"population generated in {generated:.2f} s (cached by the staff app between previews)")
    print(render_impact(report))


if __name__ == "__main__":
    main()
