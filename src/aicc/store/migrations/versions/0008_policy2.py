"""Topology: a node's switch label from the inventory (``nodes.switch``), so the live policy sees it too.

Revision ID: 0008_policy2
Revises: 0009_services
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_policy2"
down_revision = "0009_services"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("switch", sa.String(length=63), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_column("switch")
