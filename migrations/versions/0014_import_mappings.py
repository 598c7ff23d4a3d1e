"""Referral import: the column choices an organizer made for a list, remembered per authority.

Revision ID: 0014_import_mappings
Revises: 0013_outbox
"""
from alembic import op
import sqlalchemy as sa

revision = "0014_import_mappings"
down_revision = "0013_outbox"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_column_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("authority_id", sa.Integer(), nullable=False),
        sa.Column("header_key", sa.String(length=200), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("header_key <> ''", name=op.f("ck_import_column_mappings_header_key_not_empty")),
        sa.CheckConstraint("field <> ''", name=op.f("ck_import_column_mappings_field_not_empty")),
        sa.ForeignKeyConstraint(
            ["authority_id"], ["organizations.id"],
            name=op.f("fk_import_column_mappings_authority_id_organizations"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"],
            name=op.f("fk_import_column_mappings_updated_by_id_users"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_column_mappings")),
        sa.UniqueConstraint(
            "authority_id", "header_key", name=op.f("uq_import_column_mappings_authority_id_header_key")
        ),
    )


def downgrade():
    op.drop_table("import_column_mappings")
