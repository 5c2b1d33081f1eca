"""Benchmark of batch screening (issue 5): a synthetic population against every service.

Prints figures; asserts nothing. Targets: 1,000,000 profiles against every service in
under 10 s and under 4 GiB peak on a 2-core machine (issue 5); with partners, file to
file in at most 5 s (issue 14). The machine is shared: compare CPU times, or runs of the
code before and after made alternately (docs/batch.md, "Figures measured").

For each size it generates a population (engine/services/population.py) into a temporary file,
then runs, each in a fresh process so that its peak memory is its own:

- ``batch``: ``lifeevents batch`` end to end, file to file (streamed in chunks);
- ``eval``: the evaluation alone on the whole frame in memory (read, parse/check,
  rules), which is the compiler's throughput without chunking or writing.

It also times the per-profile engine (``Engine.statuses``) on profiles of the same
population, and prints the ratio, the growth from size to size and the extrapolation to
Taiwan's 23.4 million.

    python bench/batch_bench.py [--sizes 100000,1000000] [--big] [--format parquet|csv|both]
                                [--engine-profiles 2000] [--rules DIR] [--quick]
                                [--no-partners]

``--big`` adds 5,000,000; ``--quick`` (CI) runs 20,000 and 100,000 only. The population
describes partners (``partner.*``, so the output has ``partner:SERVICE`` columns and two
views per couple); ``--no-partners`` leaves them out, for figures comparable with before.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = date(2026, 3, 1)
TAIWAN = 23_400_000


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# --- child processes ---------------------------------------------------------------------


def child_generate(n: int, path: Path, partners: bool = True) -> dict:
    from engine.services.population import csv_ready, generate_population

    t0 = time.perf_counter()
    frame = generate_population(n, seed=1, as_of=AS_OF, partners=partners)
    t1 = time.perf_counter()
    if path.suffix == ".csv":
        csv_ready(frame).write_csv(path)
    else:
        frame.write_parquet(path)
    return {"generate": t1 - t0, "write": time.perf_counter() - t1, "bytes": path.stat().st_size}


def child_batch(rules: Path, source: Path, target: Path) -> dict:
    import io

    from engine import load_catalogue
    from engine.services.batch import run_batch

    catalogue = load_catalogue(rules)
    c0, t0 = time.process_time(), time.perf_counter()
    summary = run_batch(catalogue, source, target, as_of=AS_OF, err=io.StringIO())
    return {
        "wall": time.perf_counter() - t0,
        "cpu": time.process_time() - c0,
        "rows": summary.rows,
        "peak_mib": peak_mib(),
        "statuses": summary.statuses,
    }


def child_eval(rules: Path, source: Path) -> dict:
    import polars as pl

    from engine import load_catalogue
    from engine.services.batch import BatchEvaluator
    from engine.services.columns import normalise

    catalogue = load_catalogue(rules)
    evaluator = BatchEvaluator(catalogue)
    t0 = time.perf_counter()
    raw = pl.read_parquet(source) if source.suffix == ".parquet" else pl.read_csv(source, infer_schema=False)
    t1 = time.perf_counter()
    chunk = normalise(raw, 0, AS_OF, AS_OF)
    t2 = time.perf_counter()
    evaluator.statuses(chunk)
    t3 = time.perf_counter()
    return {"read": t1 - t0, "check": t2 - t1, "rules": t3 - t2, "rows": raw.height, "peak_mib": peak_mib()}


def run_child(*args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"child {args[0]} failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the per-profile engine ---------------------------------------------------------------


def engine_rate(rules: Path, n: int) -> tuple[float, int]:
    """Profiles per second of Engine.statuses on people of the same population."""
    from engine import Engine, load_catalogue
    from engine.language.profile import Profile
    from engine.services.columns import unflatten_row
    from engine.services.population import generate_population

    catalogue = load_catalogue(rules)
    engine = Engine(catalogue)
    people = generate_population(n, seed=2, as_of=AS_OF)
    profiles = [Profile.model_validate(unflatten_row(r)) for r in people.iter_rows(named=True)]
    engine.statuses(profiles[0], AS_OF)  # warm up
    t0 = time.perf_counter()
    for profile in profiles:
        engine.statuses(profile, AS_OF)
    return n / (time.perf_counter() - t0), len(catalogue.services)


# --- the report -------------------------------------------------------------------------------


def fmt_rate(rows: float, seconds: float) -> str:
    return f"{rows / seconds / 1e6:.2f} M/s" if seconds > 0 else "-"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--big", action="store_true", help="also 5,000,000 profiles")
    parser.add_argument("--format", choices=("parquet", "csv", "both"), default="both")
    parser.add_argument("--engine-profiles", type=int, default=2000)
    parser.add_argument("--rules", default=str(ROOT))
    parser.add_argument("--quick", action="store_true", help="CI: 20,000 and 100,000 profiles")
    parser.add_argument(
        "--no-partners",
        action="store_true",
        help="a population without partner.* columns (as before issue 11)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, *rest = args.child
        if kind == "generate":
            result = child_generate(int(rest[0]), Path(rest[1]), rest[2:] != ["no-partners"])
        elif kind == "batch":
            result = child_batch(Path(rest[0]), Path(rest[1]), Path(rest[2]))
        else:
            result = child_eval(Path(rest[0]), Path(rest[1]))
        print(json.dumps(result))
        return

    rules = Path(args.rules)
    sizes = [20_000, 100_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    if args.big:
        sizes.append(5_000_000)
    formats = ["parquet", "csv"] if args.format == "both" else [args.format]
    if args.quick:
        formats = ["parquet"]

    rate, n_services = engine_rate(rules, 200 if args.quick else args.engine_profiles)
    print(f"machine: {os.cpu_count()} CPU(s); catalogue: {n_services} services")
    print(f"per-profile engine (Engine.statuses, durable-rules): {rate:,.0f} profiles/s")

    results: dict[tuple[str, int], dict] = {}
    with tempfile.TemporaryDirectory(prefix="batch-bench-") as tmp:
        for n in sizes:
            for fmt in formats:
                source = Path(tmp) / f"people-{n}.{fmt}"
                gen = run_child(
                    "generate", str(n), str(source), *(["no-partners"] if args.no_partners else [])
                )
                batch = run_child("batch", str(rules), str(source), str(Path(tmp) / f"statuses-{n}.parquet"))
                ev = run_child("eval", str(rules), str(source))
                results[(fmt, n)] = {"gen": gen, "batch": batch, "eval": ev}
                print(
                    f"{n:>10,} {fmt:<7} generate {gen['generate']:.1f} s ({gen['bytes'] / 2**20:,.0f} MiB file) | "
                    f"batch file→file {batch['wall']:.1f} s (cpu {batch['cpu']:.1f} s), "
                    f"{fmt_rate(n, batch['wall'])}, peak {batch['peak_mib']:,.0f} MiB | "
                    f"in memory: read {ev['read']:.1f} + check {ev['check']:.1f} + rules {ev['rules']:.1f} s, "
                    f"peak {ev['peak_mib']:,.0f} MiB"
                )
                source.unlink()

    print()
    for fmt in formats:
        measured = sorted(n for f, n in results if f == fmt)
        for small, large in itertools.pairwise(measured):
            a, b = results[(fmt, small)]["batch"], results[(fmt, large)]["batch"]
            print(
                f"growth {fmt} {small:,} → {large:,} (×{large / small:g}): time ×{b['wall'] / a['wall']:.1f}, "
                f"peak memory ×{b['peak_mib'] / a['peak_mib']:.2f}"
            )
        largest = measured[-1]
        b = results[(fmt, largest)]["batch"]
        per_row = b["wall"] / largest
        print(
            f"extrapolation {fmt} to {TAIWAN / 1e6:.1f} million (linear from {largest:,}): "
            f"{per_row * TAIWAN / 60:.1f} min, peak memory ≈ {b['peak_mib']:,.0f} MiB "
            "(streamed in chunks: the peak follows the chunk size, not the row count)"
        )
        throughput = largest / b["wall"]
        in_memory = largest / results[(fmt, largest)]["eval"]["rules"]
        print(
            f"batch vs per-profile engine ({fmt}, {largest:,}): file→file {throughput:,.0f} profiles/s "
            f"= ×{throughput / rate:,.0f}; rules alone {in_memory:,.0f} profiles/s = ×{in_memory / rate:,.0f}"
        )


if __name__ == "__main__":
    main()
