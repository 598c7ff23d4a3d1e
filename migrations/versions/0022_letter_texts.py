"""Letter texts (issue 16): the paragraphs an association writes into its convocations, one
row per version, never rewritten.

Revision ID: 0022_letter_texts
Revises: 0021_organization_settings
"""
import sqlalchemy as sa
from alembic import op

revision = "0022_letter_texts"
down_revision = "0021_organization_settings"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('letter_texts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('slot', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=2000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('version >= 1', name=op.f('ck_letter_texts_version_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_letter_texts_created_by_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_letter_texts_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_letter_texts')),
    sa.UniqueConstraint('organization_id', 'slot', 'version', name=op.f('uq_letter_texts_organization_id_slot_version'))
    )


def downgrade():
    op.drop_table('letter_texts')
