"""Seats of a course reserved for a referring authority until some days before the course.

Revision ID: 0018_seat_reservations
Revises: 0017_signatures
"""
import sqlalchemy as sa
from alembic import op

revision = "0018_seat_reservations"
down_revision = "0017_signatures"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('seat_reservations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('authority_id', sa.Integer(), nullable=False),
    sa.Column('seats', sa.Integer(), nullable=False),
    sa.Column('release_days', sa.Integer(), server_default='14', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('release_days >= 0 AND release_days <= 365', name=op.f('ck_seat_reservations_release_days_range')),
    sa.CheckConstraint('seats > 0', name=op.f('ck_seat_reservations_seats_positive')),
    sa.ForeignKeyConstraint(['authority_id'], ['organizations.id'], name=op.f('fk_seat_reservations_authority_id_organizations')),
    sa.ForeignKeyConstraint(['course_id'], ['course_sessions.id'], name=op.f('fk_seat_reservations_course_id_course_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seat_reservations')),
    sa.UniqueConstraint('course_id', 'authority_id', name=op.f('uq_seat_reservations_course_id_authority_id'))
    )
    with op.batch_alter_table('seat_reservations', schema=None) as batch_op:
        batch_op.create_index('ix_seat_reservations_authority_id', ['authority_id'], unique=False)



def downgrade():
    with op.batch_alter_table('seat_reservations', schema=None) as batch_op:
        batch_op.drop_index('ix_seat_reservations_authority_id')

    op.drop_table('seat_reservations')
