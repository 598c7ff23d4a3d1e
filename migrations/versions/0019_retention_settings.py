"""Retention periods set by an admin on « Conservation des données » (one row; without it, the
environment's defaults apply).

Revision ID: 0019_retention_settings
Revises: 0018_seat_reservations
"""
import sqlalchemy as sa
from alembic import op

revision = "0019_retention_settings"
down_revision = "0018_seat_reservations"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('retention_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('measure_days', sa.Integer(), nullable=False),
    sa.Column('grace_days', sa.Integer(), nullable=False),
    sa.Column('audit_days', sa.Integer(), nullable=False),
    sa.Column('backup_days', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('audit_days BETWEEN 90 AND 1095', name=op.f('ck_retention_settings_audit_days_range')),
    sa.CheckConstraint('backup_days BETWEEN 1 AND measure_days', name=op.f('ck_retention_settings_backup_days_range')),
    sa.CheckConstraint('grace_days BETWEEN 0 AND 365', name=op.f('ck_retention_settings_grace_days_range')),
    sa.CheckConstraint('id = 1', name=op.f('ck_retention_settings_one_row')),
    sa.CheckConstraint('measure_days BETWEEN 180 AND 3650', name=op.f('ck_retention_settings_measure_days_range')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_retention_settings_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_settings'))
    )


def downgrade():
    op.drop_table('retention_settings')
