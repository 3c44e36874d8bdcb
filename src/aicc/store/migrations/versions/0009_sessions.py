"""Interactive sessions (the session detail of a ``kind = 'session'`` job) and courses with their rosters.

Revision ID: 0009_sessions
Revises: 0008_oidc
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_sessions"
down_revision = "0008_oidc"
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
    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=63), nullable=False, unique=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("projects.id"), nullable=False, index=True),
        sa.Column("image", sa.String(length=512), nullable=True),
        sa.Column("max_sessions", sa.Integer(), nullable=False),
        sa.Column("accelerator_hours_per_day", sa.Integer(), nullable=False),
    )
    op.create_table(
        "course_members",
        sa.Column("course_id", sa.Integer(), sa.ForeignKey("courses.id"), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("student_number", sa.String(length=32), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("course_members")
    op.drop_table("courses")
    op.drop_table("sessions")
