"""The person's confirmation page (issue 17): each summons' link (only the SHA-256 of its code
is kept) and the replies the person sends through it, tasks for the course's organizers.

Revision ID: 0025_summons_replies
Revises: 0024_sms
"""
import sqlalchemy as sa
from alembic import op

revision = '0025_summons_replies'
down_revision = '0024_sms'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('summons_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'], name=op.f('fk_summons_links_enrollment_id_enrollments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_summons_links')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_summons_links_code_hash')),
    sa.UniqueConstraint('enrollment_id', name=op.f('uq_summons_links_enrollment_id'))
    )
    op.create_table('summons_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('confirmed', 'other_date', name='summons_reply_kind', native_enum=False, create_constraint=True, length=18), nullable=False),
    sa.Column('reason', sa.Enum('medical', 'work', 'other', name='summons_change_reason', native_enum=False, create_constraint=True, length=15), nullable=True),
    sa.Column('reason_text', sa.String(length=200), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_agent_hash', sa.String(length=64), nullable=True),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('handled_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(kind = 'confirmed') = (reason IS NULL)", name=op.f('ck_summons_replies_reason_for_requests_only')),
    sa.CheckConstraint("reason_text IS NULL OR (reason = 'other' AND length(reason_text) <= 200)", name=op.f('ck_summons_replies_reason_text_for_other')),
    sa.CheckConstraint('handled_by_id IS NULL OR handled_at IS NOT NULL', name=op.f('ck_summons_replies_handled_by_when_handled')),
    sa.ForeignKeyConstraint(['course_id'], ['course_sessions.id'], name=op.f('fk_summons_replies_course_id_course_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'], name=op.f('fk_summons_replies_enrollment_id_enrollments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['handled_by_id'], ['users.id'], name=op.f('fk_summons_replies_handled_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_summons_replies'))
    )
    with op.batch_alter_table('summons_replies', schema=None) as batch_op:
        batch_op.create_index('ix_summons_replies_course_id_handled_at', ['course_id', 'handled_at'], unique=False)
        batch_op.create_index('uq_summons_replies_one_confirmation', ['enrollment_id'], unique=True, postgresql_where=sa.text("kind = 'confirmed'"), sqlite_where=sa.text("kind = 'confirmed'"))
        batch_op.create_index('uq_summons_replies_one_pending_request', ['enrollment_id'], unique=True, postgresql_where=sa.text("kind = 'other_date' AND handled_at IS NULL"), sqlite_where=sa.text("kind = 'other_date' AND handled_at IS NULL"))



def downgrade():
    with op.batch_alter_table('summons_replies', schema=None) as batch_op:
        batch_op.drop_index('uq_summons_replies_one_pending_request', postgresql_where=sa.text("kind = 'other_date' AND handled_at IS NULL"), sqlite_where=sa.text("kind = 'other_date' AND handled_at IS NULL"))
        batch_op.drop_index('uq_summons_replies_one_confirmation', postgresql_where=sa.text("kind = 'confirmed'"), sqlite_where=sa.text("kind = 'confirmed'"))
        batch_op.drop_index('ix_summons_replies_course_id_handled_at')

    op.drop_table('summons_replies')
    op.drop_table('summons_links')
