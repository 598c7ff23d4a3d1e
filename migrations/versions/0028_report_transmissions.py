"""Transmissions of reports to the referring authorities (issue 18): each authority's reporting
mailbox (per frame if it wishes), format and acknowledgment delay; every transmission with its
files' SHA-256, the mail server's answer and the acknowledgment; a bilan's latest transmission.

Revision ID: 0028_report_transmissions
Revises: 0027_api_tokens
"""
import sqlalchemy as sa
from alembic import op

revision = '0028_report_transmissions'
down_revision = '0027_api_tokens'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('authority_reporting',
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('report_email', sa.String(length=254), nullable=True),
    sa.Column('report_format', sa.Enum('pdf', 'csv', 'both', name='report_format', native_enum=False, create_constraint=True, length=12), nullable=False),
    sa.Column('acknowledgment_days', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("report_email IS NULL OR report_email LIKE '%_@_%'", name=op.f('ck_authority_reporting_report_email_shape')),
    sa.CheckConstraint('acknowledgment_days BETWEEN 1 AND 90', name=op.f('ck_authority_reporting_acknowledgment_days_range')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_authority_reporting_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_authority_reporting_updated_by_id_users')),
    sa.PrimaryKeyConstraint('organization_id', name=op.f('pk_authority_reporting'))
    )
    op.create_table('report_transmissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('authority_id', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('bilan', 'non_execution', 'monthly_summary', name='transmission_kind', native_enum=False, create_constraint=True, length=23), nullable=False),
    sa.Column('refs', sa.JSON(), nullable=False),
    sa.Column('document_key', sa.String(length=200), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('queued', 'sent', 'failed', 'bounced', name='transmission_status', native_enum=False, create_constraint=True, length=15), nullable=False),
    sa.Column('recipients', sa.String(length=500), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('message_id', sa.String(length=250), nullable=True),
    sa.Column('refusal', sa.String(length=300), nullable=True),
    sa.Column('refusal_code', sa.Integer(), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.Column('acknowledged_via', sa.Enum('app', 'link', name='acknowledgment_channel', native_enum=False, create_constraint=True, length=12), nullable=True),
    sa.CheckConstraint("(status IN ('sent', 'bounced')) = (sent_at IS NOT NULL)", name=op.f('ck_report_transmissions_sent_at_status')),
    sa.CheckConstraint("acknowledged_via <> 'app' OR acknowledged_by_id IS NOT NULL OR acknowledged_at IS NULL", name=op.f('ck_report_transmissions_acknowledged_by_in_app')),
    sa.CheckConstraint("status <> 'queued' OR acknowledged_at IS NULL", name=op.f('ck_report_transmissions_acknowledged_once_sent')),
    sa.CheckConstraint('(acknowledged_at IS NULL) = (acknowledged_via IS NULL)', name=op.f('ck_report_transmissions_acknowledged_via_set')),
    sa.CheckConstraint('number >= 1', name=op.f('ck_report_transmissions_number_positive')),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['users.id'], name=op.f('fk_report_transmissions_acknowledged_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['authority_id'], ['organizations.id'], name=op.f('fk_report_transmissions_authority_id_organizations')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_report_transmissions_requested_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sender_id'], ['organizations.id'], name=op.f('fk_report_transmissions_sender_id_organizations'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_transmissions')),
    sa.UniqueConstraint('authority_id', 'kind', 'document_key', 'number', name=op.f('uq_report_transmissions_authority_id_kind_document_key_number'))
    )
    with op.batch_alter_table('report_transmissions', schema=None) as batch_op:
        batch_op.create_index('ix_report_transmissions_document', ['authority_id', 'kind', 'document_key'], unique=False)
        batch_op.create_index('ix_report_transmissions_message_id', ['message_id'], unique=False)
        batch_op.create_index('ix_report_transmissions_requested_at', ['requested_at'], unique=False)
        batch_op.create_index('ix_report_transmissions_sender_status', ['sender_id', 'status', 'acknowledged_at', 'sent_at'], unique=False)

    op.create_table('report_transmission_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transmission_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('mimetype', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.CheckConstraint('length(sha256) = 64', name=op.f('ck_report_transmission_files_sha256_length')),
    sa.CheckConstraint('size >= 0', name=op.f('ck_report_transmission_files_size_not_negative')),
    sa.ForeignKeyConstraint(['transmission_id'], ['report_transmissions.id'], name=op.f('fk_report_transmission_files_transmission_id_report_transmissions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_transmission_files'))
    )
    with op.batch_alter_table('report_transmission_files', schema=None) as batch_op:
        batch_op.create_index('ix_report_transmission_files_transmission_id', ['transmission_id'], unique=False)

    with op.batch_alter_table('bilans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('transmission_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_bilans_transmission_id', ['transmission_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_bilans_transmission_id_report_transmissions'), 'report_transmissions', ['transmission_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('frame_defaults', schema=None) as batch_op:
        batch_op.add_column(sa.Column('report_email', sa.String(length=254), nullable=True))
        batch_op.create_check_constraint('report_email_shape', "report_email IS NULL OR report_email LIKE '%_@_%'")



def downgrade():
    with op.batch_alter_table('frame_defaults', schema=None) as batch_op:
        batch_op.drop_constraint('report_email_shape', type_='check')
        batch_op.drop_column('report_email')

    with op.batch_alter_table('bilans', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_bilans_transmission_id_report_transmissions'), type_='foreignkey')
        batch_op.drop_index('ix_bilans_transmission_id')
        batch_op.drop_column('transmission_id')

    with op.batch_alter_table('report_transmission_files', schema=None) as batch_op:
        batch_op.drop_index('ix_report_transmission_files_transmission_id')

    op.drop_table('report_transmission_files')
    with op.batch_alter_table('report_transmissions', schema=None) as batch_op:
        batch_op.drop_index('ix_report_transmissions_sender_status')
        batch_op.drop_index('ix_report_transmissions_requested_at')
        batch_op.drop_index('ix_report_transmissions_message_id')
        batch_op.drop_index('ix_report_transmissions_document')

    op.drop_table('report_transmissions')
    op.drop_table('authority_reporting')
