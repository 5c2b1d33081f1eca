"""Shared by the tests/test_worklist*.py files: a fresh store on SQLite always, and on
PostgreSQL when LIFEEVENTS_TEST_POSTGRES_URL names a database the tests may wipe
(.ci/run starts one and sets it; locally those cases are skipped)."""

from __future__ import annotations

import os
import random
import sqlite3

import pytest
import sqlalchemy as sa

from engine.services.worklist import CaseService, Screened, WorklistStore, database_url, open_store

POSTGRES_ENV = "LIFEEVENTS_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql"]


def wipe_postgres(url: str) -> None:
    engine = sa.create_engine(database_url(url))
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def store_url(backend: str, tmp_path) -> str:
    if backend == "sqlite":
        return str(tmp_path / "worklist.sqlite")
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set: PostgreSQL runs in CI (.ci/run starts it)")
    wipe_postgres(url)
    return url


def fresh_store(backend: str, tmp_path) -> WorklistStore:
    return open_store(store_url(backend, tmp_path))


# -- databases that are not one, or damaged ------------------------------------------------------


def not_a_database(path) -> None:
    """4 KiB of noise where the database should be (a file given by mistake, a lost disk)."""
    path.write_bytes(random.Random(path.name).randbytes(4096))


def sqlite_store_with_cases(path, people: int = 2000, worker: str = "policy.lin") -> None:
    """A real SQLite store with ``people`` open cases in taipei / Wanhua, ``worker`` working
    there, closed (its WAL written back into the file)."""
    store = open_store(path)
    low_income = (CaseService("low-income-household", "eligible"),)
    store.upsert(
        [Screened(f"p-{i}", "taipei", "Wanhua", None, 3, (), low_income) for i in range(people)], "v1"
    )
    store.add_district(worker, "taipei", "Wanhua")
    store.close()


def truncated(path) -> None:
    """A copy cut short, as an interrupted copy or a full disk leaves it."""
    sqlite_store_with_cases(path)
    with open(path, "r+b") as file:
        file.truncate(20_000)


def cases_page_damaged(path) -> None:
    """A store that opens (its schema and migration record are intact) and lists the worker's
    districts, but whose ``cases`` table starts on an overwritten page: the damage surfaces
    only when a query reads the cases."""
    sqlite_store_with_cases(path)
    with sqlite3.connect(path) as connection:
        (root,) = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = 'cases'").fetchone()
        (page_size,) = connection.execute("PRAGMA page_size").fetchone()
    connection.close()
    with open(path, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * page_size)
