"""Images: a job's OCI image reference and the digest it resolved to.

Revision ID: 0007_images
Revises: 0006_testbed
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_images"
down_revision = "0006_testbed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image_ref", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("image_digest", sa.String(length=71), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("image_digest")
        batch_op.drop_column("image_ref")
