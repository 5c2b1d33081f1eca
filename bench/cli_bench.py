"""Benchmark of ``lifeevents recommend`` as a whole process (issue 14's target: ≤ 0.2 s).

Prints figures; asserts nothing. Three ways to start, run interleaved (one of each,
then again) so that a busy machine slows them alike:

- warm: the catalogue cache (engine/language/cache.py) holds the rules: every answer
  but the first after a change of the rules;
- cold: an empty cache folder before every run: the first answer after a change, which
  reads the rules and writes the cache;
- no cache: ``LIFEEVENTS_NO_CACHE=1``, the rules read anew every time (as before the cache);
- wheel: what a user who ran ``pip install lifeevents`` meets: the checkout built into a
  wheel, installed with pip into a fresh virtual environment (its dependencies borrowed
  from this one through a ``.pth`` line, as tests/test_wheel.py does), and its
  ``lifeevents`` script run from a folder outside the checkout, with a warm cache. An
  editable checkout's interpreter also starts its import finder (~10 ms); a wheel has
  none. ``--no-wheel`` leaves it out (building and installing take ~20 s).

``--compare DIR`` adds another checkout (e.g. ``git worktree add /tmp/before main``),
run the same way, as the "before" figures. Wall time and CPU time (user + system, from
``getrusage`` of the children) are both printed: on a shared machine the CPU time is the
steadier one. Then a breakdown of where one answer's time goes, measured inside fresh
processes: interpreter start, imports, load (profile and catalogue), compile
(durable-rules), evaluate, output.

Bytecode is compiled first (``compileall``, as ``pip install`` does), so that no run
pays for compiling the engine's sources: with ``PYTHONDONTWRITEBYTECODE=1`` in the
environment an editable checkout would otherwise compile them on every start.

    python bench/cli_bench.py [--runs 15] [--compare DIR] [--profile FILE] [--no-wheel]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 0.2

# One answer as cmd_recommend gives it, each step timed (wall and CPU). Run in a fresh
# process whose first line is this, so "imports" starts after the interpreter is up.
BREAKDOWN = r"""
import time, sys
wall, cpu = time.perf_counter, time.process_time
marks = [("start", wall(), cpu())]
def mark(name):
    marks.append((name, wall(), cpu()))
sys.path.insert(0, {root!r})
import json, os
from engine.interfaces import cli
from engine.language.profile import load_profile
from engine.language.rulesroot import rules_root
from engine.language.cache import compiled_code_kept, load_catalogue_cached
# As cmd_recommend: the collector paused while long-lived objects are made, and the
# code dataclasses and typing compile, from the cache (unless LIFEEVENTS_NO_CACHE is set).
with cli.long_lived(), compiled_code_kept():
    from engine.services.recommend import Engine
mark("imports")
profile = load_profile({profile!r})
root = rules_root(None)
if os.environ.get("LIFEEVENTS_NO_CACHE"):  # as the command: the YAML loader imported only then
    from engine.language.loader import load_catalogue
    catalogue = load_catalogue(root)
else:
    with cli.long_lived():
        catalogue = load_catalogue_cached(root)
mark("load")
engine = Engine(catalogue)
mark("compile")
if not os.environ.get("LIFEEVENTS_NO_CACHE"):  # as the command: Babel's data from the cache
    from engine.language.cache import locale_data_kept
    from engine.language.i18n import language
    locale_data_kept(language("en").locale)
result = engine.recommend(profile, as_of=None, event=None, lang="en")
mark("evaluate")
text = cli.contract_json(result)  # what --json prints
with open(os.devnull, "w") as out:
    print(text, file=out)
mark("output")
print(json.dumps([(n, w - marks[i][1], c - marks[i][2]) for i, (n, w, c) in enumerate(marks[1:])]))
"""


@dataclass
class Series:
    label: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.label:<28} wall median {ms(statistics.median(self.wall))} "
            f"(min {ms(min(self.wall))}, max {ms(max(self.wall))}), "
            f"CPU median {ms(statistics.median(self.cpu))} over {len(self.wall)} runs"
        )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:6.1f} ms"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    cpu0, wall0 = children_cpu(), time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - wall0, children_cpu() - cpu0


def command(profile: Path) -> list[str]:
    # ``python -m engine`` from the checkout runs that checkout's code and rules (the
    # ``lifeevents`` script would run whichever one is installed).
    return [sys.executable, "-m", "engine", "recommend", str(profile), "--json"]


def compile_bytecode(checkout: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(checkout / "engine")],
        check=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    )


def install_wheel(checkout: Path, scratch: Path) -> Path:
    """Build ``checkout`` into a wheel and install it with pip into a fresh virtual
    environment under ``scratch``; the path of its ``lifeevents`` script."""
    dist, env_dir = scratch / "dist", scratch / "venv"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(checkout)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    shutil.rmtree(checkout / "build", ignore_errors=True)  # setuptools' scratch folder
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The dependencies, borrowed: a folder named in a .pth file joins sys.path without
    # its own .pth files being run, so this checkout's editable install stays out.
    (Path(site) / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next(dist.glob("lifeevents-*.whl"))
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return env_dir / "bin" / "lifeevents"


@dataclass
class Variant:
    series: Series
    cmd: list[str]
    cwd: Path
    env: dict[str, str]
    emptied: Path | None = None  # a cache folder emptied before every run


def whole_process(checkouts: dict[str, Path], profile: Path, runs: int, wheel: bool) -> None:
    base = {k: v for k, v in os.environ.items() if k not in ("LIFEEVENTS_NO_CACHE", "LIFEEVENTS_ROOT")}
    with tempfile.TemporaryDirectory(prefix="cli-bench-") as scratch:
        warm_home, cold_home = Path(scratch) / "warm", Path(scratch) / "cold"
        variants: list[Variant] = []
        for name, checkout in checkouts.items():
            uses_cache = (checkout / "engine" / "language" / "cache.py").is_file()
            run = command(profile)
            if uses_cache:
                home = warm_home / name
                variants.append(
                    Variant(
                        Series(f"{name}: warm cache"), run, checkout, base | {"XDG_CACHE_HOME": str(home)}
                    )
                )
                variants.append(
                    Variant(
                        Series(f"{name}: cold cache"),
                        run,
                        checkout,
                        base | {"XDG_CACHE_HOME": str(cold_home)},
                        cold_home,
                    )
                )
            no_cache = base | {"LIFEEVENTS_NO_CACHE": "1", "XDG_CACHE_HOME": str(Path(scratch) / "none")}
            variants.append(
                Variant(Series(f"{name}: no cache" if uses_cache else name), run, checkout, no_cache)
            )
            if wheel:
                installed = Path(scratch) / "wheel" / name
                installed.mkdir(parents=True)
                script = install_wheel(checkout, installed)
                outside = installed / "work"  # not the checkout: the wheel reads its own rules
                outside.mkdir()
                variants.append(
                    Variant(
                        Series(f"{name}: wheel, warm cache"),
                        [str(script), "recommend", str(profile), "--json"],
                        outside,
                        base | {"XDG_CACHE_HOME": str(warm_home / f"{name}-wheel")},
                    )
                )
        for variant in variants:  # one unmeasured run each: the warm cache is written
            subprocess.run(
                variant.cmd, cwd=variant.cwd, env=variant.env, check=True, stdout=subprocess.DEVNULL
            )
        for _ in range(runs):
            for variant in variants:
                if variant.emptied is not None:
                    shutil.rmtree(variant.emptied, ignore_errors=True)
                wall, cpu = timed(variant.cmd, variant.cwd, variant.env)
                variant.series.wall.append(wall)
                variant.series.cpu.append(cpu)
        start = Series("interpreter start (python -c pass)")
        for _ in range(runs):
            wall, cpu = timed([sys.executable, "-c", "pass"], ROOT, base)
            start.wall.append(wall)
            start.cpu.append(cpu)
    print(
        f"'lifeevents recommend {profile.name} --json' as a whole process (target ≤ {TARGET_S * 1000:.0f} ms):"
    )
    for variant in variants:
        print("  " + variant.series.line())
    print("  " + start.line())


def breakdown(checkout: Path, profile: Path, runs: int) -> None:
    code = BREAKDOWN.format(root=str(checkout), profile=str(profile))
    base = {k: v for k, v in os.environ.items() if k not in ("LIFEEVENTS_NO_CACHE", "LIFEEVENTS_ROOT")}
    with tempfile.TemporaryDirectory(prefix="cli-bench-") as scratch:
        ways = {
            "warm cache": base | {"XDG_CACHE_HOME": scratch},
            "no cache": base | {"LIFEEVENTS_NO_CACHE": "1"},
        }
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=checkout,
            env=ways["warm cache"],
            check=True,
            capture_output=True,
        )
        phases: dict[str, dict[str, list[tuple[float, float]]]] = {way: {} for way in ways}
        for _ in range(runs):
            for way, env in ways.items():
                done = subprocess.run(
                    [sys.executable, "-c", code],
                    cwd=checkout,
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                )
                for name, wall, cpu in json.loads(done.stdout.strip().splitlines()[-1]):
                    phases[way].setdefault(name, []).append((wall, cpu))
    print(f"where one answer's time goes ({checkout}, median of {runs} fresh processes, wall / CPU):")
    for way, steps in phases.items():
        parts = ", ".join(
            f"{name} {ms(statistics.median(w for w, _ in values)).strip()} / {ms(statistics.median(c for _, c in values)).strip()}"
            for name, values in steps.items()
        )
        print(f"  {way}: {parts}")
    print("  (load: without the cache it includes importing the YAML loader, as the command does)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each way (default 15)")
    parser.add_argument("--compare", type=Path, help="another checkout to run the same way, as 'before'")
    parser.add_argument("--profile", type=Path, default=ROOT / "examples" / "newborn.json")
    parser.add_argument(
        "--no-wheel", action="store_false", dest="wheel", help="leave the installed wheel out"
    )
    args = parser.parse_args()
    checkouts = {"this checkout": ROOT}
    if args.compare is not None:
        checkouts = {"before": args.compare.resolve(), "after": ROOT}
    for checkout in checkouts.values():
        compile_bytecode(checkout)
    whole_process(checkouts, args.profile.resolve(), args.runs, args.wheel)
    breakdown(ROOT, args.profile.resolve(), max(5, args.runs // 2))


if __name__ == "__main__":
    main()
