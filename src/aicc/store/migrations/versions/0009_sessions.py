"""Interactive sessions: the session detail of a ``kind = 'session'`` job.

Revision ID: 0009_sessions
Revises: 0008_kind
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_sessions"
down_revision = "0008_kind"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("jobs.id"), primary_key=True),
        sa.Column("server", sa.String(length=16), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("idle_limit_s", sa.Integer(), nullable=False),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("connections", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("ended_why", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("sessions")
