"""Secure data zone: datasets, grants, held outputs and decisions; jobs name their datasets.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 00:00:07.986968
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("classification", sa.String(length=16), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("published_path", sa.Text(), nullable=True),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("pseudonymize", sa.Boolean(), nullable=False),
        sa.Column("k_required", sa.Integer(), nullable=False),
        sa.Column("k_report", sa.JSON(), nullable=True),
        sa.Column("sdc", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_datasets_created_by_users")),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_datasets_organization_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("name", name=op.f("uq_datasets_name")),
    )
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_datasets_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "dataset_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], name=op.f("fk_dataset_grants_dataset_id_datasets")),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_dataset_grants_decided_by_users")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_dataset_grants_project_id_projects")),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"], name=op.f("fk_dataset_grants_requested_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_grants")),
    )
    with op.batch_alter_table("dataset_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dataset_grants_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_dataset_grants_project_id"), ["project_id"], unique=False)

    op.create_table(
        "output_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("custodian_ids", sa.JSON(), nullable=False),
        sa.Column("dataset_ids", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retain_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_output_requests_job_id_jobs")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_output_requests_project_id_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_output_requests")),
        sa.UniqueConstraint("job_id", name=op.f("uq_output_requests_job_id")),
    )
    with op.batch_alter_table("output_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_output_requests_project_id"), ["project_id"], unique=False)

    op.create_table(
        "output_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("check_status", sa.String(length=16), nullable=False),
        sa.Column("check_reasons", sa.JSON(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_output_files_decided_by_users")),
        sa.ForeignKeyConstraint(
            ["request_id"], ["output_requests.id"], name=op.f("fk_output_files_request_id_output_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_output_files")),
        sa.UniqueConstraint("request_id", "path", name=op.f("uq_output_files_request_id_path")),
    )
    with op.batch_alter_table("output_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_output_files_request_id"), ["request_id"], unique=False)

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("datasets", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("datasets")

    with op.batch_alter_table("output_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_output_files_request_id"))

    op.drop_table("output_files")
    with op.batch_alter_table("output_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_output_requests_project_id"))

    op.drop_table("output_requests")
    with op.batch_alter_table("dataset_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_grants_project_id"))
        batch_op.drop_index(batch_op.f("ix_dataset_grants_dataset_id"))

    op.drop_table("dataset_grants")
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_datasets_organization_id"))

    op.drop_table("datasets")
