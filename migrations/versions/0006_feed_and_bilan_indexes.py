"""Indexes the benchmark asked for: sessions by end (feeds, their 304), bilans by authority
and sending date (the liaison's latest bilans).

Revision ID: 0006_feed_and_bilan_indexes
Revises: 0005_measure_indexes
"""
from alembic import op

revision = "0006_feed_and_bilan_indexes"
down_revision = "0005_measure_indexes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_course_sessions_ends_at", "course_sessions", ["ends_at"])
    op.drop_index("ix_bilans_authority_id", table_name="bilans")
    op.create_index("ix_bilans_authority_id_sent_at", "bilans", ["authority_id", "sent_at"])


def downgrade():
    op.drop_index("ix_bilans_authority_id_sent_at", table_name="bilans")
    op.create_index("ix_bilans_authority_id", "bilans", ["authority_id"])
    op.drop_index("ix_course_sessions_ends_at", table_name="course_sessions")
