"""Delivery proofs (issue 17): what became of each convocation — the email accepted or refused
by the mail server, its bounce, a letter posted, a registered letter and its avis de réception.

Revision ID: 0023_delivery_proofs
Revises: 0022_letter_texts
"""
import sqlalchemy as sa
from alembic import op

revision = '0023_delivery_proofs'
down_revision = '0022_letter_texts'
branch_labels = None
depends_on = None

ONCE_CONDITION = "message_id IS NOT NULL AND status IN ('bounced', 'delivered')"


def upgrade():
    op.create_table('summons_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.Enum('email', 'letter', 'registered_letter', 'sms', 'confirmation', name='delivery_channel', native_enum=False, create_constraint=True, length=25), nullable=False),
    sa.Column('status', sa.Enum('accepted', 'refused', 'bounced', 'delayed', 'posted', 'delivered', 'acknowledged', name='delivery_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('message_id', sa.String(length=250), nullable=True),
    sa.Column('detail', sa.String(length=300), nullable=True),
    sa.Column('letter_number', sa.String(length=13), nullable=True),
    sa.Column('acknowledged_on', sa.Date(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(acknowledged_on IS NOT NULL) = (channel = 'registered_letter' AND status = 'acknowledged')", name=op.f('ck_summons_deliveries_acknowledged_on_status')),
    sa.CheckConstraint("(channel = 'registered_letter') = (letter_number IS NOT NULL)", name=op.f('ck_summons_deliveries_letter_number_channel')),
    sa.CheckConstraint("message_id IS NULL OR channel IN ('email', 'sms')", name=op.f('ck_summons_deliveries_message_id_channel')),
    sa.CheckConstraint("status <> 'posted' OR channel IN ('letter', 'registered_letter')", name=op.f('ck_summons_deliveries_posted_channel')),
    sa.CheckConstraint('letter_number IS NULL OR length(letter_number) = 13', name=op.f('ck_summons_deliveries_letter_number_length')),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'], name=op.f('fk_summons_deliveries_enrollment_id_enrollments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_summons_deliveries_recorded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_summons_deliveries')),
    sa.UniqueConstraint('letter_number', 'status', name=op.f('uq_summons_deliveries_letter_number_status'))
    )
    with op.batch_alter_table('summons_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_summons_deliveries_enrollment_id_at', ['enrollment_id', 'at'], unique=False)
        batch_op.create_index('ix_summons_deliveries_message_id', ['message_id'], unique=False)
        batch_op.create_index('uq_summons_deliveries_message_outcome', ['message_id', 'status'], unique=True,
                              postgresql_where=sa.text(ONCE_CONDITION), sqlite_where=sa.text(ONCE_CONDITION))



def downgrade():
    with op.batch_alter_table('summons_deliveries', schema=None) as batch_op:
        batch_op.drop_index('uq_summons_deliveries_message_outcome')
        batch_op.drop_index('ix_summons_deliveries_message_id')
        batch_op.drop_index('ix_summons_deliveries_enrollment_id_at')

    op.drop_table('summons_deliveries')
