"""Isolation: each project's Unix uid (= gid), allocated by AICC from AICC_UID_BASE/AICC_UID_COUNT.

Revision ID: 0007_iso
Revises: 0007_images
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_iso"
down_revision = "0007_images"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unix_uid", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_projects_unix_uid", ["unix_uid"])


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_constraint("uq_projects_unix_uid", type_="unique")
        batch_op.drop_column("unix_uid")
