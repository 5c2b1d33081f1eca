"""Benchmark of screening on Spark (issue 15): the same Parquet file through
``lifeevents batch`` and through ``engine.interfaces.spark.screen`` in local mode.

Prints figures; asserts nothing. Target: Spark local mode within 5× of ``lifeevents
batch`` on 1,000,000 generated profiles (with partners), the session's start excluded.

Both runs go file to file: Parquet in, Parquet out, every service and every
``partner:SERVICE`` column. The Spark session starts first and its time is printed
apart; the Python workers' start, the package's import and the rules' compilation on
each executor count in the Spark time, as they do in any real job. Also prints the Dask
time (``engine.interfaces.dask.screen``, threads) when Dask is installed.

    python bench/spark_bench.py [--profiles 1000000] [--master local[2]] [--quick] [--no-dask]

``--quick`` runs 20,000 profiles.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from contextlib import redirect_stderr
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = date(2026, 3, 1)


def time_batch(source: Path, target: Path) -> float:
    from engine.interfaces.cli import main

    err = io.StringIO()
    started = time.perf_counter()
    with redirect_stderr(err):
        code = main(["batch", str(source), "-o", str(target)])
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"lifeevents batch failed: {err.getvalue()}")
    return seconds


def time_spark(source: Path, target: Path, master: str) -> tuple[float, float, int]:
    from pyspark.sql import SparkSession

    from engine.interfaces.spark import screen
    from engine.language.loader import load_catalogue
    from engine.language.rulesroot import rules_root

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    started = time.perf_counter()
    session = (
        SparkSession.builder.master(master)
        .appName("lifeevents spark_bench")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    start = time.perf_counter() - started
    try:
        started = time.perf_counter()
        catalogue = load_catalogue(rules_root(None))
        df = session.read.parquet(str(source))
        partitions = df.rdd.getNumPartitions()
        screen(df, catalogue, today=AS_OF).write.mode("overwrite").parquet(str(target))
        seconds = time.perf_counter() - started
    finally:
        session.stop()
    return start, seconds, partitions


def time_dask(source: Path, target: Path) -> float:
    import dask.dataframe as dd

    from engine.interfaces.dask import screen
    from engine.language.loader import load_catalogue
    from engine.language.rulesroot import rules_root

    started = time.perf_counter()
    catalogue = load_catalogue(rules_root(None))
    ddf = dd.read_parquet(str(source), dtype_backend="pyarrow")
    screen(ddf, catalogue, today=AS_OF).to_parquet(str(target), compute_kwargs={"scheduler": "threads"})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--quick", action="store_true", help="20,000 profiles")
    parser.add_argument("--no-dask", action="store_true", dest="no_dask")
    args = parser.parse_args()
    n = 20_000 if args.quick else args.profiles
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # each figure as it comes

    import warnings

    from engine.services.population import generate_population

    warnings.filterwarnings("ignore", category=FutureWarning)  # pyspark 4.3 on pandas 3
    with tempfile.TemporaryDirectory(prefix="spark-bench-") as folder:
        work = Path(folder)
        source = work / "people.parquet"
        # Row groups of 100,000: Spark splits a Parquet file by row group.
        generate_population(n, seed=1, as_of=AS_OF).write_parquet(source, row_group_size=100_000)
        print(f"{n:,} generated profiles with partners, {source.stat().st_size / 2**20:.0f} MiB Parquet")
        batch = time_batch(source, work / "batch.parquet")
        print(f"lifeevents batch      {batch:8.1f} s   {n / batch:>10,.0f} profiles/s")
        start, spark, partitions = time_spark(source, work / "spark.parquet", args.master)
        print(
            f"Spark {args.master:<10}      {spark:8.1f} s   {n / spark:>10,.0f} profiles/s   "
            f"×{spark / batch:.1f} of batch ({partitions} partitions; session start {start:.1f} s apart)"
        )
        if not args.no_dask:
            try:
                dask = time_dask(source, work / "dask")
            except ImportError:
                print("Dask: not installed (pip install 'lifeevents[dask]')")
            else:
                print(
                    f"Dask (threads)        {dask:8.1f} s   {n / dask:>10,.0f} profiles/s   ×{dask / batch:.1f} of batch"
                )
    print(
        f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
