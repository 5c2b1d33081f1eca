"""The home-visit worklist: cases, their append-only events, who works where, purges.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = "case_events is append-only: an event is never changed"


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person_id", sa.String(128), nullable=False, unique=True),
        sa.Column("residence", sa.String(32), nullable=False),
        sa.Column("district", sa.String(64), nullable=False),
        sa.Column("visit_order", sa.Integer),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("services", sa.JSON, nullable=False),
        sa.Column("rules_version", sa.String(64), nullable=False),
        sa.Column("opened_at", sa.DateTime, nullable=False),
        sa.Column("screened_at", sa.DateTime, nullable=False),
        sa.Column("assigned_to", sa.String(128)),
        sa.Column("visit_on", sa.Date),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("applied_for", sa.JSON, nullable=False),
        sa.Column("visited_at", sa.DateTime),
        sa.Column("closed_reason", sa.String(32)),
        sa.Column("closed_at", sa.DateTime),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("state IN ('open', 'closed')", name="ck_cases_state"),
    )
    op.create_index("ix_cases_place", "cases", ["state", "residence", "district"])
    op.create_index("ix_cases_closed_at", "cases", ["closed_at"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])
    op.create_table(
        "worker_districts",
        sa.Column("username", sa.String(128), primary_key=True),
        sa.Column("residence", sa.String(32), primary_key=True),
        sa.Column("district", sa.String(64), primary_key=True),
    )
    op.create_table("supervisors", sa.Column("username", sa.String(128), primary_key=True))
    op.create_table(
        "purges",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("older_than_days", sa.Integer, nullable=False),
        sa.Column("cases_deleted", sa.Integer, nullable=False),
    )
    # The audit is append-only in the database itself, not only by our code's habit.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events "
            "FOR EACH ROW EXECUTE FUNCTION case_events_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER case_events_no_update ON case_events")
        op.execute("DROP FUNCTION case_events_append_only()")
    for table in ("purges", "supervisors", "worker_districts", "case_events", "cases"):
        op.drop_table(table)
