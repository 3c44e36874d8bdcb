"""Testbed: benchmark results; a default workload class per project.

Revision ID: 0006_testbed
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_testbed"
down_revision = "0005_portal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("workload_class", sa.String(length=63), nullable=True))
    op.create_table(
        "bench_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(length=128), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("workload", sa.String(length=63), nullable=False),
        sa.Column("workload_class", sa.String(length=63), nullable=False),
        sa.Column("scenario", sa.String(length=16), nullable=False),
        sa.Column("flavor", sa.String(length=63), nullable=False),
        sa.Column("device_model", sa.String(length=128), nullable=False),
        sa.Column("driver", sa.String(length=64), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("invalid_reasons", sa.JSON(), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("samples_per_s", sa.Float(), nullable=True),
        sa.Column("p50_ms", sa.Float(), nullable=True),
        sa.Column("p90_ms", sa.Float(), nullable=True),
        sa.Column("p99_ms", sa.Float(), nullable=True),
        sa.Column("accuracy", sa.Float(), nullable=True),
        sa.Column("energy_j_per_sample", sa.Float(), nullable=True),
        sa.Column("samples_per_j", sa.Float(), nullable=True),
        sa.Column("aicc_commit", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_bench_results_job_id_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bench_results")),
        sa.UniqueConstraint("run_key", "scenario", name=op.f("uq_bench_results_run_key_scenario")),
    )
    with op.batch_alter_table("bench_results", schema=None) as batch_op:
        batch_op.create_index("ix_bench_results_class_flavor", ["workload_class", "flavor"], unique=False)
        batch_op.create_index(batch_op.f("ix_bench_results_job_id"), ["job_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bench_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bench_results_job_id"))
        batch_op.drop_index("ix_bench_results_class_flavor")
    op.drop_table("bench_results")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("workload_class")
