"""Support programs: programs, calls, applications, reviews, agreements, amendments, utilization, outcomes.

Revision ID: 0004_programs
Revises: 0002 (the lead re-chains it at merge)
Create Date: 2026-12-01 23:58:59.229827
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_programs"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("programs",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=63), nullable=False),
    sa.Column("title", sa.String(length=200), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("budget_su", sa.JSON(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_programs")),
    sa.UniqueConstraint("name", name=op.f("uq_programs_name"))
    )
    op.create_table("program_calls",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("program_id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=63), nullable=False),
    sa.Column("title", sa.String(length=200), nullable=False),
    sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("tracks", sa.JSON(), nullable=False),
    sa.Column("eligible_kinds", sa.JSON(), nullable=False),
    sa.Column("eligible_regions", sa.JSON(), nullable=False),
    sa.Column("budget_su", sa.JSON(), nullable=True),
    sa.Column("cap_su", sa.Float(), nullable=True),
    sa.Column("rubric", sa.JSON(), nullable=False),
    sa.Column("reviewers_per_application", sa.Integer(), nullable=False),
    sa.Column("auto_award_threshold", sa.Float(), nullable=True),
    sa.Column("regional_discount", sa.Float(), nullable=False),
    sa.Column("discount_regions", sa.JSON(), nullable=False),
    sa.Column("youth_discount", sa.Float(), nullable=False),
    sa.Column("cost_share", sa.Float(), nullable=False),
    sa.Column("su_price_krw", sa.Float(), nullable=True),
    sa.Column("borrowing_ratio", sa.Float(), nullable=False),
    sa.Column("underuse_threshold", sa.Float(), nullable=False),
    sa.Column("grace_days", sa.Float(), nullable=False),
    sa.Column("check_interval_days", sa.Float(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["program_id"], ["programs.id"], name=op.f("fk_program_calls_program_id_programs")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_program_calls")),
    sa.UniqueConstraint("program_id", "name", name=op.f("uq_program_calls_program_id_name"))
    )
    with op.batch_alter_table("program_calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_program_calls_program_id"), ["program_id"], unique=False)

    op.create_table("program_applications",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("call_id", sa.Integer(), nullable=False),
    sa.Column("project_id", sa.Integer(), nullable=False),
    sa.Column("organization_id", sa.Integer(), nullable=False),
    sa.Column("track", sa.String(length=16), nullable=False),
    sa.Column("title", sa.String(length=200), nullable=False),
    sa.Column("plan", sa.Text(), nullable=False),
    sa.Column("expected_outcomes", sa.Text(), nullable=False),
    sa.Column("team", sa.JSON(), nullable=False),
    sa.Column("requested_su", sa.JSON(), nullable=False),
    sa.Column("requested_accelerators", sa.JSON(), nullable=False),
    sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("youth", sa.Boolean(), nullable=False),
    sa.Column("state", sa.String(length=24), nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("decision_reason", sa.Text(), nullable=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["call_id"], ["program_calls.id"],
                            name=op.f("fk_program_applications_call_id_program_calls")),
    sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                            name=op.f("fk_program_applications_organization_id_organizations")),
    sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_program_applications_project_id_projects")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_program_applications"))
    )
    with op.batch_alter_table("program_applications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_program_applications_call_id"), ["call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_program_applications_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_program_applications_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_program_applications_state"), ["state"], unique=False)

    op.create_table("program_agreements",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("application_id", sa.Integer(), nullable=False),
    sa.Column("call_id", sa.Integer(), nullable=False),
    sa.Column("project_id", sa.Integer(), nullable=False),
    sa.Column("organization_id", sa.Integer(), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("awarded_su", sa.JSON(), nullable=False),
    sa.Column("current_su", sa.JSON(), nullable=False),
    sa.Column("accelerators", sa.JSON(), nullable=False),
    sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("cost_share_ratio", sa.Float(), nullable=False),
    sa.Column("terms", sa.Text(), nullable=False),
    sa.Column("allocation_id", sa.Integer(), nullable=True),
    sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("amendment_no", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["allocation_id"], ["allocations.id"],
                            name=op.f("fk_program_agreements_allocation_id_allocations")),
    sa.ForeignKeyConstraint(["application_id"], ["program_applications.id"],
                            name=op.f("fk_program_agreements_application_id_program_applications")),
    sa.ForeignKeyConstraint(["call_id"], ["program_calls.id"],
                            name=op.f("fk_program_agreements_call_id_program_calls")),
    sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                            name=op.f("fk_program_agreements_organization_id_organizations")),
    sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_program_agreements_project_id_projects")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_program_agreements")),
    sa.UniqueConstraint("application_id", name=op.f("uq_program_agreements_application_id"))
    )
    with op.batch_alter_table("program_agreements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_program_agreements_call_id"), ["call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_program_agreements_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_program_agreements_project_id"), ["project_id"], unique=False)

    op.create_table("program_attachments",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("application_id", sa.Integer(), nullable=False),
    sa.Column("filename", sa.String(length=200), nullable=False),
    sa.Column("stored_name", sa.String(length=80), nullable=False),
    sa.Column("content_type", sa.String(length=100), nullable=False),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("sha256", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["application_id"], ["program_applications.id"],
                            name=op.f("fk_program_attachments_application_id_program_applications")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_program_attachments")),
    sa.UniqueConstraint("stored_name", name=op.f("uq_program_attachments_stored_name"))
    )
    with op.batch_alter_table("program_attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_program_attachments_application_id"), ["application_id"], unique=False)

    op.create_table("program_reviews",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("application_id", sa.Integer(), nullable=False),
    sa.Column("reviewer_id", sa.Integer(), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("scores", sa.JSON(), nullable=True),
    sa.Column("total", sa.Float(), nullable=True),
    sa.Column("comment", sa.Text(), nullable=False),
    sa.Column("conflict_reason", sa.Text(), nullable=True),
    sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["application_id"], ["program_applications.id"],
                            name=op.f("fk_program_reviews_application_id_program_applications")),
    sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"], name=op.f("fk_program_reviews_reviewer_id_users")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_program_reviews")),
    sa.UniqueConstraint("application_id", "reviewer_id", name=op.f("uq_program_reviews_application_id_reviewer_id"))
    )
    with op.batch_alter_table("program_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_program_reviews_application_id"), ["application_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_program_reviews_reviewer_id"), ["reviewer_id"], unique=False)

    op.create_table("program_amendments",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("agreement_id", sa.Integer(), nullable=False),
    sa.Column("number", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("delta_su", sa.JSON(), nullable=False),
    sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("actor", sa.String(length=100), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["agreement_id"], ["program_agreements.id"],
                            name=op.f("fk_program_amendments_agreement_id_program_agreements")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_program_amendments")),
    sa.UniqueConstraint("agreement_id", "number", name=op.f("uq_program_amendments_agreement_id_number"))
    )
    with op.batch_alter_table("program_amendments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_program_amendments_agreement_id"), ["agreement_id"], unique=False)

    op.create_table("program_outcomes",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("agreement_id", sa.Integer(), nullable=False),
    sa.Column("publications", sa.Integer(), nullable=False),
    sa.Column("products", sa.Integer(), nullable=False),
    sa.Column("patents", sa.Integer(), nullable=False),
    sa.Column("hires", sa.Integer(), nullable=False),
    sa.Column("follow_on_funding_krw", sa.Float(), nullable=False),
    sa.Column("note", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["agreement_id"], ["program_agreements.id"],
                            name=op.f("fk_program_outcomes_agreement_id_program_agreements")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_program_outcomes"))
    )
    with op.batch_alter_table("program_outcomes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_program_outcomes_agreement_id"), ["agreement_id"], unique=False)

    op.create_table("program_reclaims",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("agreement_id", sa.Integer(), nullable=False),
    sa.Column("amount_su", sa.Float(), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["agreement_id"], ["program_agreements.id"],
                            name=op.f("fk_program_reclaims_agreement_id_program_agreements")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_program_reclaims"))
    )
    with op.batch_alter_table("program_reclaims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_program_reclaims_agreement_id"), ["agreement_id"], unique=False)

    op.create_table("program_utilization_checks",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("agreement_id", sa.Integer(), nullable=False),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("planned_su", sa.Float(), nullable=False),
    sa.Column("used_su", sa.Float(), nullable=False),
    sa.Column("ratio", sa.Float(), nullable=True),
    sa.Column("status", sa.String(length=24), nullable=False),
    sa.ForeignKeyConstraint(["agreement_id"], ["program_agreements.id"],
                            name=op.f("fk_program_utilization_checks_agreement_id_program_agreements")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_program_utilization_checks"))
    )
    with op.batch_alter_table("program_utilization_checks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_program_utilization_checks_agreement_id"), ["agreement_id"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("program_utilization_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_program_utilization_checks_agreement_id"))

    op.drop_table("program_utilization_checks")
    with op.batch_alter_table("program_reclaims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_program_reclaims_agreement_id"))

    op.drop_table("program_reclaims")
    with op.batch_alter_table("program_outcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_program_outcomes_agreement_id"))

    op.drop_table("program_outcomes")
    with op.batch_alter_table("program_amendments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_program_amendments_agreement_id"))

    op.drop_table("program_amendments")
    with op.batch_alter_table("program_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_program_reviews_reviewer_id"))
        batch_op.drop_index(batch_op.f("ix_program_reviews_application_id"))

    op.drop_table("program_reviews")
    with op.batch_alter_table("program_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_program_attachments_application_id"))

    op.drop_table("program_attachments")
    with op.batch_alter_table("program_agreements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_program_agreements_project_id"))
        batch_op.drop_index(batch_op.f("ix_program_agreements_organization_id"))
        batch_op.drop_index(batch_op.f("ix_program_agreements_call_id"))

    op.drop_table("program_agreements")
    with op.batch_alter_table("program_applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_program_applications_state"))
        batch_op.drop_index(batch_op.f("ix_program_applications_project_id"))
        batch_op.drop_index(batch_op.f("ix_program_applications_organization_id"))
        batch_op.drop_index(batch_op.f("ix_program_applications_call_id"))

    op.drop_table("program_applications")
    with op.batch_alter_table("program_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_program_calls_program_id"))

    op.drop_table("program_calls")
    op.drop_table("programs")
