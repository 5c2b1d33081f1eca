"""A crash in the middle of an upsert leaves the database as it was: the screening is one
transaction. A child process upserts many people and is killed (SIGKILL) once it has
written several chunks; the store then holds exactly what it held before, with every
invariant intact. SQLite always; PostgreSQL when LIFEEVENTS_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from worklist_support import BACKENDS, store_url

from engine.services.worklist import CaseService, Screened, open_store

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import sys
from engine.services.worklist import CaseService, Screened, open_store

def people():
    for i in range(400_000):
        if i == 60_000:  # a dozen chunks of 5,000 are written inside the open transaction
            print("halfway", flush=True)
        yield Screened(f"p-{i}", "taipei", "Wanhua", None, 2, ("remote",),
                       (CaseService("low-income-household", "eligible"),))

store = open_store(sys.argv[1])
store.upsert(people(), "v2")
print("committed", flush=True)
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_killing_the_process_mid_upsert_leaves_the_database_consistent(backend, tmp_path):
    url = store_url(backend, tmp_path)
    store = open_store(url)
    before = [
        Screened(
            f"p-{i}", "taipei", "Wanhua", None, 1, (), (CaseService("elderly-living-allowance", "eligible"),)
        )
        for i in range(1000)
    ]
    store.upsert(before, "v1")
    counts = store.counts()
    store.close()

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = child.stdout.readline().strip()
    assert line == "halfway", child.stderr.read()
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    child.stdout.close()
    child.stderr.close()

    store = open_store(url)
    assert store.counts() == counts
    with store.engine.connect() as connection:
        versions = connection.execute(sa.text("SELECT DISTINCT rules_version, version FROM cases")).all()
        orphans = connection.execute(
            sa.text(
                "SELECT count(*) FROM cases c WHERE NOT EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.id)"
            )
        ).scalar_one()
        duplicates = connection.execute(
            sa.text(
                "SELECT count(*) FROM (SELECT person_id FROM cases GROUP BY person_id HAVING count(*) > 1) d"
            )
        ).scalar_one()
    assert [tuple(v) for v in versions] == [("v1", 1)]
    assert orphans == 0 and duplicates == 0
    # And the store still works: the same screening, run to the end, goes through.
    summary = store.upsert(
        [
            Screened(
                "p-0", "taipei", "Wanhua", None, 2, (), (CaseService("low-income-household", "eligible"),)
            )
        ],
        "v2",
    )
    assert summary.updated == 1
    store.close()
