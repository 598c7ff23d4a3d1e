"""Non-execution reports per measure and deadline, and monthly summaries per authority and
month (issue 18): each unique in the database, so that two schedulers draft and send them once.

Revision ID: 0033_non_execution
Revises: 0032_fee_ledger
"""
import sqlalchemy as sa
from alembic import op

revision = '0033_non_execution'
down_revision = '0032_fee_ledger'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('monthly_summaries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('authority_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('summoned', sa.Integer(), nullable=False),
    sa.Column('completed', sa.Integer(), nullable=False),
    sa.Column('not_executed', sa.Integer(), nullable=False),
    sa.Column('pending', sa.Integer(), nullable=False),
    sa.Column('to_act_on', sa.JSON(), nullable=False),
    sa.Column('transmission_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('received >= 0 AND summoned >= 0 AND completed >= 0 AND not_executed >= 0 AND pending >= 0', name=op.f('ck_monthly_summaries_counts_not_negative')),
    sa.ForeignKeyConstraint(['authority_id'], ['organizations.id'], name=op.f('fk_monthly_summaries_authority_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['transmission_id'], ['report_transmissions.id'], name=op.f('fk_monthly_summaries_transmission_id_report_transmissions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monthly_summaries')),
    sa.UniqueConstraint('authority_id', 'month', name=op.f('uq_monthly_summaries_authority_id_month'))
    )
    with op.batch_alter_table('monthly_summaries', schema=None) as batch_op:
        batch_op.create_index('ix_monthly_summaries_month', ['month'], unique=False)
        batch_op.create_index('ix_monthly_summaries_transmission_id', ['transmission_id'], unique=False)

    op.create_table('non_execution_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('measure_id', sa.Integer(), nullable=False),
    sa.Column('authority_id', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('reason', sa.Enum('never_enrolled', 'unreachable', 'absent', 'refused', 'withdrawn', 'late_course', name='non_execution_reason', native_enum=False, create_constraint=True, length=22), nullable=False),
    sa.Column('status', sa.Enum('draft', 'ready', 'withdrawn', name='non_execution_status', native_enum=False, create_constraint=True, length=17), nullable=False),
    sa.Column('drafted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_reason', sa.String(length=300), nullable=True),
    sa.CheckConstraint("(status = 'withdrawn') = (withdrawn_at IS NOT NULL)", name=op.f('ck_non_execution_reports_withdrawn_at_status')),
    sa.CheckConstraint("status <> 'ready' OR reviewed_at IS NOT NULL", name=op.f('ck_non_execution_reports_reviewed_when_ready')),
    sa.ForeignKeyConstraint(['authority_id'], ['organizations.id'], name=op.f('fk_non_execution_reports_authority_id_organizations')),
    sa.ForeignKeyConstraint(['measure_id'], ['legal_measures.id'], name=op.f('fk_non_execution_reports_measure_id_legal_measures'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_non_execution_reports_reviewed_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_non_execution_reports')),
    sa.UniqueConstraint('measure_id', 'deadline', name=op.f('uq_non_execution_reports_measure_id_deadline'))
    )
    with op.batch_alter_table('non_execution_reports', schema=None) as batch_op:
        batch_op.create_index('ix_non_execution_reports_authority_id_status', ['authority_id', 'status'], unique=False)
        batch_op.create_index('ix_non_execution_reports_reason', ['reason'], unique=False)
        batch_op.create_index('ix_non_execution_reports_status_deadline', ['status', 'deadline'], unique=False)



def downgrade():
    with op.batch_alter_table('non_execution_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_non_execution_reports_status_deadline')
        batch_op.drop_index('ix_non_execution_reports_reason')
        batch_op.drop_index('ix_non_execution_reports_authority_id_status')

    op.drop_table('non_execution_reports')
    with op.batch_alter_table('monthly_summaries', schema=None) as batch_op:
        batch_op.drop_index('ix_monthly_summaries_transmission_id')
        batch_op.drop_index('ix_monthly_summaries_month')

    op.drop_table('monthly_summaries')
