"""Anonymous evaluation (issue 19): questionnaires per association and moment, versioned;
responses naming only the course and the version (no person, no time, random ids, WITHOUT ROWID
on SQLite); the « has answered » markers, one per enrollment and moment; the phone links' hashes.
And the half-day incidents a facilitator notes.

Revision ID: 0030_evaluation
Revises: 0029_open_statistics
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0030_evaluation'
down_revision = '0029_open_statistics'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('evaluation_questionnaires',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('moment', sa.Enum('before', 'after', name='evaluation_moment', native_enum=False, create_constraint=True, length=14), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('version >= 1', name=op.f('ck_evaluation_questionnaires_version_from_one')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_evaluation_questionnaires_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_evaluation_questionnaires_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_questionnaires')),
    sa.UniqueConstraint('organization_id', 'moment', 'version', name=op.f('uq_evaluation_questionnaires_organization_id_moment_version'))
    )
    op.create_table('evaluation_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('questionnaire_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('likert', 'text', name='evaluation_item_kind', native_enum=False, create_constraint=True, length=14), nullable=False),
    sa.Column('text', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['questionnaire_id'], ['evaluation_questionnaires.id'], name=op.f('fk_evaluation_items_questionnaire_id_evaluation_questionnaires'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_items')),
    sa.UniqueConstraint('questionnaire_id', 'position', name=op.f('uq_evaluation_items_questionnaire_id_position'))
    )
    op.create_table('evaluation_responses',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('questionnaire_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course_sessions.id'], name=op.f('fk_evaluation_responses_course_id_course_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['questionnaire_id'], ['evaluation_questionnaires.id'], name=op.f('fk_evaluation_responses_questionnaire_id_evaluation_questionnaires')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_responses')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('evaluation_responses', schema=None) as batch_op:
        batch_op.create_index('ix_evaluation_responses_course_id', ['course_id'], unique=False)
        batch_op.create_index('ix_evaluation_responses_questionnaire_id', ['questionnaire_id'], unique=False)

    op.create_table('attendance_incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.Enum('behaviour', 'interruption', 'health', 'safety', 'other', name='incident_kind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('text', sa.String(length=1000), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('length(text) > 0', name=op.f('ck_attendance_incidents_incident_has_text')),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'], name=op.f('fk_attendance_incidents_enrollment_id_enrollments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['part_id'], ['session_parts.id'], name=op.f('fk_attendance_incidents_part_id_session_parts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_attendance_incidents_recorded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance_incidents'))
    )
    with op.batch_alter_table('attendance_incidents', schema=None) as batch_op:
        batch_op.create_index('ix_attendance_incidents_enrollment_id', ['enrollment_id'], unique=False)
        batch_op.create_index('ix_attendance_incidents_part_id_occurred_at', ['part_id', 'occurred_at'], unique=False)

    op.create_table('evaluation_answers',
    sa.Column('response_id', sa.String(length=36), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Integer(), nullable=True),
    sa.Column('text', sa.String(length=1000), nullable=True),
    sa.CheckConstraint('(value IS NULL) <> (text IS NULL)', name=op.f('ck_evaluation_answers_value_or_text')),
    sa.CheckConstraint('value IS NULL OR value BETWEEN 1 AND 5', name=op.f('ck_evaluation_answers_value_on_scale')),
    sa.ForeignKeyConstraint(['item_id'], ['evaluation_items.id'], name=op.f('fk_evaluation_answers_item_id_evaluation_items')),
    sa.ForeignKeyConstraint(['response_id'], ['evaluation_responses.id'], name=op.f('fk_evaluation_answers_response_id_evaluation_responses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('response_id', 'item_id', name=op.f('pk_evaluation_answers')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('evaluation_answers', schema=None) as batch_op:
        batch_op.create_index('ix_evaluation_answers_item_id', ['item_id'], unique=False)

    op.create_table('evaluation_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=False),
    sa.Column('moment', sa.Enum('before', 'after', name='evaluation_moment', native_enum=False, create_constraint=True, length=14), nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'], name=op.f('fk_evaluation_links_enrollment_id_enrollments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_links')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_evaluation_links_code_hash')),
    sa.UniqueConstraint('enrollment_id', 'moment', name=op.f('uq_evaluation_links_enrollment_id_moment'))
    )
    op.create_table('evaluation_markers',
    sa.Column('enrollment_id', sa.Integer(), nullable=False),
    sa.Column('moment', sa.Enum('before', 'after', name='evaluation_moment', native_enum=False, create_constraint=True, length=14), nullable=False),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'], name=op.f('fk_evaluation_markers_enrollment_id_enrollments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('enrollment_id', 'moment', name=op.f('pk_evaluation_markers')),
    sqlite_with_rowid=False
    )


def downgrade():
    op.drop_table('evaluation_markers')
    op.drop_table('evaluation_links')
    with op.batch_alter_table('evaluation_answers', schema=None) as batch_op:
        batch_op.drop_index('ix_evaluation_answers_item_id')

    op.drop_table('evaluation_answers')
    with op.batch_alter_table('attendance_incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_attendance_incidents_part_id_occurred_at')
        batch_op.drop_index('ix_attendance_incidents_enrollment_id')

    op.drop_table('attendance_incidents')
    with op.batch_alter_table('evaluation_responses', schema=None) as batch_op:
        batch_op.drop_index('ix_evaluation_responses_questionnaire_id')
        batch_op.drop_index('ix_evaluation_responses_course_id')

    op.drop_table('evaluation_responses')
    op.drop_table('evaluation_items')
    op.drop_table('evaluation_questionnaires')
