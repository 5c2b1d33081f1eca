"""Upsert a screening of N people (default 1,000,000) into the worklist and print the time
and the database's size; then a re-screen where a tenth changed and a twentieth no longer
qualify. SQLite always (a fresh file); PostgreSQL too when --postgres URL is given (its
tables are wiped first).

    python bench/worklist_bench.py [--people N] [--postgres URL] [--quick]

The screened people are synthetic (built before the clock starts): what is measured is
the store — the look-up of existing cases, the inserts and updates, the audit events, in
one transaction — not the rules (bench/batch_bench.py measures those). --quick: 20,000.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from engine.services.worklist import CaseService, Screened, WorklistStore, database_url, open_store  # noqa: E402

SERVICES = (
    CaseService("low-income-household", "eligible"),
    CaseService("elderly-living-allowance", "eligible", 8329, "TWD/month"),
    CaseService("disability-living-allowance", "eligible", 5437, "TWD/month"),
    CaseService("seal-certificate", "eligible"),
    CaseService("job-seeker-registration", "unknown"),
)
PLACES = [
    (r, f"district-{d:02d}") for r in ("taipei", "new_taipei", "taichung", "hualien") for d in range(12)
]
REASONS = (("alone_80",), ("alone_65", "remote"), ("disability_severe",), ("job_loss",), ())


def people(n: int, seed: int) -> list[Screened]:
    rng = random.Random(seed)
    combos = [
        tuple(SERVICES[i] for i in sorted(rng.sample(range(len(SERVICES)), k)))
        for k in (1, 2, 3)
        for _ in range(8)
    ]
    out = []
    for i in range(n):
        residence, district = PLACES[i % len(PLACES)]
        out.append(
            Screened(
                f"P{i:08d}",
                residence,
                district,
                i % 500,
                rng.randint(0, 9),
                REASONS[i % 5],
                combos[i % len(combos)],
            )
        )
    return out


def rescreen(before: list[Screened], seed: int) -> list[Screened]:
    rng = random.Random(seed)
    out = []
    for p in before:
        roll = rng.random()
        if roll < 0.05:
            out.append(Screened(p.person_id, p.residence, p.district, p.visit_order, 0, (), ()))
        elif roll < 0.15:
            out.append(
                Screened(
                    p.person_id, p.residence, p.district, p.visit_order, p.priority + 1, p.reasons, p.services
                )
            )
        else:
            out.append(p)
    return out


def size(store: WorklistStore, path: Path | None) -> int:
    if path is not None:
        with store.engine.connect() as connection:  # fold the write-ahead log into the file
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return sum(f.stat().st_size for f in path.parent.glob(path.name + "*"))
    with store.engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one())


def run(label: str, url: str, path: Path | None, first: list[Screened], second: list[Screened]) -> None:
    store = open_store(url)
    started, cpu = time.perf_counter(), time.process_time()
    summary = store.upsert(first, "bench-v1")
    took = time.perf_counter() - started
    print(
        f"{label}: first screening of {len(first):,} people: {took:.1f} s "
        f"({len(first) / took:,.0f} people/s; this process's CPU {time.process_time() - cpu:.1f} s), "
        f"{summary.opened:,} cases opened; "
        f"database {size(store, path) / 2**20:,.0f} MiB",
        flush=True,
    )
    started, cpu = time.perf_counter(), time.process_time()
    summary = store.upsert(second, "bench-v2")
    took = time.perf_counter() - started
    print(
        f"{label}: re-screen under new rules: {took:.1f} s (CPU {time.process_time() - cpu:.1f} s): "
        f"{summary.updated:,} updated, {summary.closed:,} closed, "
        f"{summary.unchanged:,} unchanged; database {size(store, path) / 2**20:,.0f} MiB",
        flush=True,
    )
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--postgres", metavar="URL", help="also into this PostgreSQL database (wiped first)")
    parser.add_argument("--quick", action="store_true", help="20,000 people (CI)")
    args = parser.parse_args()
    n = 20_000 if args.quick else args.people
    first = people(n, seed=1)
    second = rescreen(first, seed=2)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "worklist.sqlite"
        run("sqlite", str(path), path, first, second)
    if args.postgres:
        engine = sa.create_engine(database_url(args.postgres))
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
        run("postgresql", args.postgres, None, first, second)


if __name__ == "__main__":
    main()
