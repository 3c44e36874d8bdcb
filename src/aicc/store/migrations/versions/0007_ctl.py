"""Change stamps for the controller's incremental state: ``jobs.change_seq`` and the ``aicc_changes`` counters.

Revision ID: 0007_ctl
Revises: 0007_audit
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_ctl"
down_revision = "0007_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("change_seq", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.create_index("ix_jobs_change_seq", ["change_seq"], unique=False)
    op.create_table(
        "aicc_changes",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("aicc_changes")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_change_seq")
        batch_op.drop_column("change_seq")
