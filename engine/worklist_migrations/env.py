"""Alembic's environment for the worklist: run in-process by engine.services.worklist.migrate, on
the connection it is handed (config.attributes["connection"]); no alembic.ini needed."""

from __future__ import annotations

from alembic import context

from engine.services.worklist import Base

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` from the command line: not how the worklist is migrated
    raise RuntimeError("run the worklist migrations through engine.services.worklist.open_store(URL)")

# render_as_batch: SQLite alters a table by copying it, which batch mode does for us.
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
