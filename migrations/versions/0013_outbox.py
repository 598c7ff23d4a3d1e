"""The outbox: one row per logical email sent by a job or a background change, claimed before it
is sent and marked sent after, so that each goes out once even across a crash (stages/outbox.py).

Revision ID: 0013_outbox
Revises: 0012_venue_owner
"""
from alembic import op
import sqlalchemy as sa

revision = "0013_outbox"
down_revision = "0012_venue_owner"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("refs", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_attempts_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_key")),
    )
    op.create_index("ix_outbox_sent_at_due_at", "outbox", ["sent_at", "due_at"], unique=False)


def downgrade():
    op.drop_index("ix_outbox_sent_at_due_at", table_name="outbox")
    op.drop_table("outbox")
