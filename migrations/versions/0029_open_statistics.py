"""Open statistics: an association opts in (« Statistiques ouvertes ») before its courses count
in the public, anonymized national dataset. Off by default: nothing is published without it.

Revision ID: 0029_open_statistics
Revises: 0028_report_transmissions
"""
import sqlalchemy as sa
from alembic import op

revision = "0029_open_statistics"
down_revision = "0028_report_transmissions"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(
            sa.Column("open_statistics", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("open_statistics")
