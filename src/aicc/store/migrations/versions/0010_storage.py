"""Storage: programs' awards grant workspace storage, and storage held is charged in SU per GB-month.

- ``program_applications.requested_storage_gib``, ``program_agreements.awarded_storage_gib`` /
  ``current_storage_gib``, ``program_amendments.delta_storage_gib``: storage beside the SU of an award; the
  accepted agreement's allocation carries it (``allocations.storage_gib``).
- ``sites.storage_su_per_gb_month``: the inventory's ``[storage] su_per_gb_month`` rate.
- ``usage_ledger.kind`` (``run`` or ``storage``) and ``usage_ledger.gib`` (the size held, storage rows); the
  ledger's idempotence key gains ``kind`` and ``project_id`` so each project's storage interval is one row.

Revision ID: 0010_storage
Revises: 0008_policy2
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_storage"
down_revision = "0010_classes"
branch_labels = None
depends_on = None

OLD_KEY = "uq_usage_ledger_job_id_attempt_interval"
NEW_KEY = "uq_usage_ledger_kind_project_id_job_id_attempt_interval"


def upgrade() -> None:
    with op.batch_alter_table("program_applications") as b:
        b.add_column(sa.Column("requested_storage_gib", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("program_agreements") as b:
        b.add_column(sa.Column("awarded_storage_gib", sa.Integer(), nullable=False, server_default="0"))
        b.add_column(sa.Column("current_storage_gib", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("program_amendments") as b:
        b.add_column(sa.Column("delta_storage_gib", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("sites") as b:
        b.add_column(sa.Column("storage_su_per_gb_month", sa.Float(), nullable=False, server_default="0"))
    with op.batch_alter_table("usage_ledger") as b:
        b.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="run"))
        b.add_column(sa.Column("gib", sa.Float(), nullable=True))
        b.drop_constraint(OLD_KEY, type_="unique")
        b.create_unique_constraint(NEW_KEY, ["kind", "project_id", "job_id", "attempt", "interval"])


def downgrade() -> None:
    op.execute("DELETE FROM usage_ledger WHERE kind = 'storage'")
    with op.batch_alter_table("usage_ledger") as b:
        b.drop_constraint(NEW_KEY, type_="unique")
        b.create_unique_constraint(OLD_KEY, ["job_id", "attempt", "interval"])
        b.drop_column("gib")
        b.drop_column("kind")
    with op.batch_alter_table("sites") as b:
        b.drop_column("storage_su_per_gb_month")
    with op.batch_alter_table("program_amendments") as b:
        b.drop_column("delta_storage_gib")
    with op.batch_alter_table("program_agreements") as b:
        b.drop_column("current_storage_gib")
        b.drop_column("awarded_storage_gib")
    with op.batch_alter_table("program_applications") as b:
        b.drop_column("requested_storage_gib")
