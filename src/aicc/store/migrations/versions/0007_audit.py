"""Audit: keyed-chain bookkeeping on the head; membership history; organization invitations.

``audit_head.keyed_from`` / ``chain_id`` stay NULL here: the server fills them at its first start with
an audit key (older events stay under their SHA-256 chain, sealed by the first anchor). Membership
history starts with one open period per existing membership, from when it was created.

Revision ID: 0007_audit
Revises: 0007_policy
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_audit"
down_revision = "0007_policy"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("keyed_from", _SEQ, nullable=True))
        batch_op.add_column(sa.Column("chain_id", sa.String(length=32), nullable=True))
    op.create_table(
        "membership_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_membership_periods_organization_id_organizations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_membership_periods_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_periods")),
    )
    with op.batch_alter_table("membership_periods", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_membership_periods_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_membership_periods_user_id"), ["user_id"], unique=False)
    op.execute("INSERT INTO membership_periods (user_id, organization_id, role, started_at) "
               "SELECT user_id, organization_id, role, created_at FROM memberships")
    op.create_table(
        "org_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("invited_by", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["invited_by"], ["users.id"], name=op.f("fk_org_invitations_invited_by_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_org_invitations_organization_id_organizations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_org_invitations_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_invitations")),
    )
    with op.batch_alter_table("org_invitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_org_invitations_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_org_invitations_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("org_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_org_invitations_user_id"))
        batch_op.drop_index(batch_op.f("ix_org_invitations_organization_id"))
    op.drop_table("org_invitations")
    with op.batch_alter_table("membership_periods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membership_periods_user_id"))
        batch_op.drop_index(batch_op.f("ix_membership_periods_organization_id"))
    op.drop_table("membership_periods")
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("chain_id")
        batch_op.drop_column("keyed_from")
