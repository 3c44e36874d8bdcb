"""Services: the services, revisions, events and keys tables; ``jobs.service_id`` links a replica run to its
service (and ``service_revision``, ``replica_state`` what it runs and whether the gateway may use it).

Revision ID: 0009_services
Revises: 0009_sessions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aicc.store.models.base import UTCDateTime

revision = "0009_services"
down_revision = "0009_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("previous_revision", sa.Integer(), nullable=True),
        sa.Column("replicas", sa.Integer(), nullable=False),
        sa.Column("min_replicas", sa.Integer(), nullable=False),
        sa.Column("max_replicas", sa.Integer(), nullable=False),
        sa.Column("target_in_flight", sa.Float(), nullable=False),
        sa.Column("scaled_at", UTCDateTime(), nullable=True),
        sa.Column("failed_starts", sa.Integer(), nullable=False),
        sa.Column("next_start_at", UTCDateTime(), nullable=True),
        sa.Column("budget_warned", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_services_project_id_projects")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_services_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_services_project_id_name")),
    )
    op.create_index(op.f("ix_services_project_id"), "services", ["project_id"], unique=False)
    op.create_index(op.f("ix_services_state"), "services", ["state"], unique=False)
    op.create_table(
        "service_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("image_ref", sa.String(length=512), nullable=True),
        sa.Column("command", sa.JSON(), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("health_path", sa.String(length=256), nullable=False),
        sa.Column("flavors", sa.JSON(), nullable=False),
        sa.Column("accelerators", sa.Integer(), nullable=False),
        sa.Column("cpus", sa.Integer(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("env", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"], name=op.f("fk_service_revisions_service_id_services")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_revisions")),
        sa.UniqueConstraint("service_id", "number", name=op.f("uq_service_revisions_service_id_number")),
    )
    op.create_index(op.f("ix_service_revisions_service_id"), "service_revisions", ["service_id"], unique=False)
    op.create_table(
        "service_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"], name=op.f("fk_service_events_service_id_services")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_events")),
    )
    op.create_index("ix_service_events_service_id_id", "service_events", ["service_id", "id"], unique=False)
    op.create_table(
        "service_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("rate_per_s", sa.Float(), nullable=False),
        sa.Column("burst", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"], name=op.f("fk_service_keys_service_id_services")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_keys")),
        sa.UniqueConstraint("public_id", name=op.f("uq_service_keys_public_id")),
    )
    op.create_index(op.f("ix_service_keys_service_id"), "service_keys", ["service_id"], unique=False)
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("service_revision", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("replica_state", sa.String(length=16), nullable=True))
        batch_op.create_index("ix_jobs_service_id", ["service_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_service_id")
        batch_op.drop_column("replica_state")
        batch_op.drop_column("service_revision")
        batch_op.drop_column("service_id")
    op.drop_table("service_keys")
    op.drop_table("service_events")
    op.drop_table("service_revisions")
    op.drop_table("services")
