"""A venue may be managed by one association; without one it is shared and edited by admins.

Revision ID: 0012_venue_owner
Revises: 0011_verification_tallies
"""
from alembic import op
import sqlalchemy as sa

revision = "0012_venue_owner"
down_revision = "0011_verification_tallies"
branch_labels = None
depends_on = None


def upgrade():
    # A table of its own rather than a column: adding a foreign key to `venues` on SQLite would
    # copy the table, which courses refer to.
    op.create_table(
        "venue_owners",
        sa.Column("venue_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"],
            name="fk_venue_owners_organization_id_organizations", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["venue_id"], ["venues.id"], name="fk_venue_owners_venue_id_venues", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("venue_id", name="pk_venue_owners"),
    )
    op.create_index("ix_venue_owners_organization_id", "venue_owners", ["organization_id"])


def downgrade():
    op.drop_index("ix_venue_owners_organization_id", table_name="venue_owners")
    op.drop_table("venue_owners")
