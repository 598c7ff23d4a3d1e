"""Public checks of attestation codes are counted per day, outcome and attestation instead of
each writing an audit entry.

Revision ID: 0011_verification_tallies
Revises: 0010_certificate_snapshot
"""
from alembic import op
import sqlalchemy as sa

revision = "0011_verification_tallies"
down_revision = "0010_certificate_snapshot"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "verification_tallies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.CheckConstraint("count >= 0", name="ck_verification_tallies_count_positive"),
        sa.ForeignKeyConstraint(
            ["certificate_id"], ["certificates.id"],
            name="fk_verification_tallies_certificate_id_certificates", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_verification_tallies"),
        sa.UniqueConstraint(
            "day", "outcome", "certificate_id", name="uq_verification_tallies_day_outcome_certificate_id"
        ),
    )
    op.create_index("ix_verification_tallies_certificate_id", "verification_tallies", ["certificate_id"])
    op.create_index(
        "uq_verification_tallies_unknown", "verification_tallies", ["day", "outcome"], unique=True,
        postgresql_where=sa.text("certificate_id IS NULL"), sqlite_where=sa.text("certificate_id IS NULL"),
    )


def downgrade():
    op.drop_index("uq_verification_tallies_unknown", table_name="verification_tallies")
    op.drop_index("ix_verification_tallies_certificate_id", table_name="verification_tallies")
    op.drop_table("verification_tallies")
