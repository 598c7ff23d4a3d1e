"""Accounts given a password by someone else (admin creation, reset) must choose their own.

Revision ID: 0008_password_change_required
Revises: 0007_replacement_certificates
"""
from alembic import op
import sqlalchemy as sa

revision = "0008_password_change_required"
down_revision = "0007_replacement_certificates"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (SQLite can add a NOT NULL column that has a default): batch mode would
    # copy the table, and dropping the old `users` on SQLite nulls audit_entries.user_id, which
    # the append-only trigger refuses on a database that has audit entries.
    op.add_column(
        "users",
        sa.Column("password_change_required", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade():
    op.drop_column("users", "password_change_required")  # SQLite 3.35+: ALTER TABLE DROP COLUMN
