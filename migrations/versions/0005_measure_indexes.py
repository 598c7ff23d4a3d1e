"""Indexes for the liaison dashboard and case-reference search; one live enrollment per measure.

Revision ID: 0005_measure_indexes
Revises: 0004_account_security
"""
from alembic import op
import sqlalchemy as sa

revision = "0005_measure_indexes"
down_revision = "0004_account_security"
branch_labels = None
depends_on = None

LIVE_CONDITION = (
    "status IN ('waitlisted', 'enrolled', 'summoned', 'confirmed', 'attended', "
    "'partly_attended', 'absent_excused', 'absent_unexcused')"
)


def upgrade():
    op.drop_index("ix_legal_measures_authority_id_status", table_name="legal_measures")
    op.create_index(
        "ix_legal_measures_authority_status_deadline", "legal_measures",
        ["authority_id", "status", "deadline"],
    )
    op.create_index("ix_legal_measures_case_reference", "legal_measures", ["case_reference"])
    op.create_index(
        "uq_enrollments_one_live_per_measure", "enrollments", ["measure_id"], unique=True,
        postgresql_where=sa.text(LIVE_CONDITION), sqlite_where=sa.text(LIVE_CONDITION),
    )


def downgrade():
    op.drop_index("uq_enrollments_one_live_per_measure", table_name="enrollments")
    op.drop_index("ix_legal_measures_case_reference", table_name="legal_measures")
    op.drop_index("ix_legal_measures_authority_status_deadline", table_name="legal_measures")
    op.create_index("ix_legal_measures_authority_id_status", "legal_measures", ["authority_id", "status"])
