"""Runs of three kinds (job, session, service) in the one jobs table: ``jobs.kind``.

Revision ID: 0008_kind
Revises: 0007_ctl
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_kind"
down_revision = "0007_ctl"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="job"))
        batch_op.create_index("ix_jobs_kind", ["kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_kind")
        batch_op.drop_column("kind")
