"""Multi-node jobs: tasks per node and MPI on each job.

Revision ID: 0008_multinode
Revises: 0008_kind
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_multinode"
down_revision = "0008_kind"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tasks_per_node", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("mpi", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("mpi")
        batch_op.drop_column("tasks_per_node")
