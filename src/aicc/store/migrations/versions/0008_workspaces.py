"""Workspaces: the storage an allocation grants its project (``allocations.storage_gib``).

Revision ID: 0008_workspaces
Revises: 0008_multinode
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_workspaces"
down_revision = "0008_multinode"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("storage_gib", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_column("storage_gib")
