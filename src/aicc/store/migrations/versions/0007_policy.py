"""Reasons as data: a job's reason code and parameters beside its English text.

Revision ID: 0007_policy
Revises: 0007_iso
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_policy"
down_revision = "0007_iso"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason_code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("reason_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("reason_params")
        batch_op.drop_column("reason_code")
