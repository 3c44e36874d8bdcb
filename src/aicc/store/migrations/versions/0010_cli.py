"""Held jobs: who holds a pending job (`aicc hold`), so the controller never admits it until it is released.

Revision ID: 0010_cli
Revises: 0008_policy2
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_cli"
down_revision = "0008_policy2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("held_by")
