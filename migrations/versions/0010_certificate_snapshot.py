"""An issued attestation keeps its bytes and the facts its verification page shows.

Revision ID: 0010_certificate_snapshot
Revises: 0009_login_sessions
"""
from alembic import op
import sqlalchemy as sa

revision = "0010_certificate_snapshot"
down_revision = "0009_login_sessions"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMNs (nullable): no table copy on SQLite. Attestations issued before keep
    # being redrawn until their first download whose bytes still match their SHA-256 stores them.
    op.add_column("certificates", sa.Column("pdf", sa.LargeBinary(), nullable=True))
    op.add_column("certificates", sa.Column("holder_initials", sa.String(length=12), nullable=True))
    op.add_column("certificates", sa.Column("holder_birth_year", sa.Integer(), nullable=True))
    op.add_column("certificates", sa.Column("course_days", sa.JSON(), nullable=True))


def downgrade():
    for column in ("course_days", "holder_birth_year", "holder_initials", "pdf"):
        op.drop_column("certificates", column)  # SQLite 3.35+: ALTER TABLE DROP COLUMN
