"""Session reminders: when organizers were reminded to close a session and send its bilans.

Revision ID: 0003_session_reminders
Revises: 0002_booking_guards
"""
from alembic import op
import sqlalchemy as sa

revision = "0003_session_reminders"
down_revision = "0002_booking_guards"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("course_sessions") as batch_op:
        batch_op.add_column(sa.Column("closing_reminder_sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("bilan_reminder_sent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("course_sessions") as batch_op:
        batch_op.drop_column("bilan_reminder_sent_at")
        batch_op.drop_column("closing_reminder_sent_at")
