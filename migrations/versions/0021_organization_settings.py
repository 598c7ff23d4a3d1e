"""Organization settings (issue 16): an association's letterhead, logo, signatory and payment
instructions; per organization and legal frame, an association's fee and an authority's usual
deadline.

Revision ID: 0021_organization_settings
Revises: 0020_legal_frames
"""
import sqlalchemy as sa
from alembic import op

revision = "0021_organization_settings"
down_revision = "0020_legal_frames"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('association_settings',
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('letterhead', sa.String(length=300), nullable=True),
    sa.Column('logo', sa.LargeBinary(), nullable=True),
    sa.Column('logo_sha256', sa.String(length=64), nullable=True),
    sa.Column('signatory_name', sa.String(length=120), nullable=True),
    sa.Column('signatory_title', sa.String(length=120), nullable=True),
    sa.Column('payment_instructions', sa.String(length=1000), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_association_settings_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_association_settings_updated_by_id_users')),
    sa.PrimaryKeyConstraint('organization_id', name=op.f('pk_association_settings'))
    )
    op.create_table('frame_defaults',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('frame', sa.Enum('alternative_poursuites', 'composition_penale', 'stage_contravention', 'peine_stage', 'sursis_probatoire', name='legal_frame', native_enum=False, create_constraint=True, length=30), nullable=False),
    sa.Column('fee_cents', sa.Integer(), nullable=True),
    sa.Column('deadline_days', sa.Integer(), nullable=True),
    sa.CheckConstraint('deadline_days IS NULL OR deadline_days BETWEEN 1 AND 730', name=op.f('ck_frame_defaults_deadline_days_range')),
    sa.CheckConstraint('fee_cents IS NULL OR fee_cents BETWEEN 0 AND 45000', name=op.f('ck_frame_defaults_fee_range')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_frame_defaults_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_frame_defaults')),
    sa.UniqueConstraint('organization_id', 'frame', name=op.f('uq_frame_defaults_organization_id_frame'))
    )


def downgrade():
    op.drop_table('frame_defaults')
    op.drop_table('association_settings')
