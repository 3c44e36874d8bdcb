"""Reservations for class hours; fractional accelerators (a flavor that is a slice of a device, a node's device
selectors).

Revision ID: 0010_classes
Revises: 0008_policy2
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_classes"
down_revision = "0010_cli"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=63), nullable=False, unique=True),
        sa.Column("flavor_id", sa.Integer(), sa.ForeignKey("flavors.id"), nullable=False, index=True),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("projects.id"), nullable=False, index=True),
        sa.Column("course_id", sa.Integer(), sa.ForeignKey("courses.id"), nullable=True),
        sa.Column("first_local", sa.DateTime(timezone=False), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("length_min", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("every_days", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("flavors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slice_of", sa.String(length=63), nullable=True))
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("devices", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_column("devices")
    with op.batch_alter_table("flavors", schema=None) as batch_op:
        batch_op.drop_column("slice_of")
    op.drop_table("reservations")
