"""Shared by the tests/test_worklist*.py files: a fresh store on SQLite always, and on
PostgreSQL when LIFEEVENTS_TEST_POSTGRES_URL names a database the tests may wipe
(.ci/run starts one and sets it; locally those cases are skipped)."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from engine.services.worklist import WorklistStore, database_url, open_store

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
