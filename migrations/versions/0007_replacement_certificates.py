"""A revoked attestation can be replaced: one valid attestation per enrollment, not one in all.

The unique constraint on ``certificates.enrollment_id`` becomes a partial unique index over the
attestations not revoked; ``replaces_id`` links a replacement to the revoked attestation (once).

Revision ID: 0007_replacement_certificates
Revises: 0006_feed_and_bilan_indexes
"""
from alembic import op
import sqlalchemy as sa

revision = "0007_replacement_certificates"
down_revision = "0006_feed_and_bilan_indexes"
branch_labels = None
depends_on = None

VALID = "revoked_at IS NULL"


def upgrade():
    # SQLite cannot drop a constraint in place: batch mode copies the table.
    with op.batch_alter_table("certificates") as batch:
        batch.drop_constraint("uq_certificates_enrollment_id", type_="unique")
        batch.add_column(sa.Column("replaces_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_certificates_replaces_id_certificates", "certificates", ["replaces_id"], ["id"]
        )
        batch.create_unique_constraint("uq_certificates_replaces_id", ["replaces_id"])
    op.create_index("ix_certificates_enrollment_id", "certificates", ["enrollment_id"])
    op.create_index(
        "uq_certificates_one_valid_per_enrollment", "certificates", ["enrollment_id"], unique=True,
        postgresql_where=sa.text(VALID), sqlite_where=sa.text(VALID),
    )


def downgrade():
    op.drop_index("uq_certificates_one_valid_per_enrollment", table_name="certificates")
    op.drop_index("ix_certificates_enrollment_id", table_name="certificates")
    with op.batch_alter_table("certificates") as batch:
        batch.drop_constraint("uq_certificates_replaces_id", type_="unique")
        batch.drop_constraint("fk_certificates_replaces_id_certificates", type_="foreignkey")
        batch.drop_column("replaces_id")
        batch.create_unique_constraint("uq_certificates_enrollment_id", ["enrollment_id"])
