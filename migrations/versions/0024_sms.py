"""SMS (issue 17): phone numbers in E.164, SMS consent, and the SMS sent with their status.

Numbers stored before this revision were free text. Those ``phonenumbers`` reads (the same
reader as the forms, ``stages.phones.parse_phone``) are rewritten in E.164; the others are kept
exactly as typed and flagged ``phone_to_check`` (« numéro à vérifier » on the person's page):
no number is lost. A CHECK then holds every later number to E.164 unless so flagged.

Revision ID: 0024_sms
Revises: 0023_delivery_proofs
"""
import sqlalchemy as sa
from alembic import op

revision = "0024_sms"
down_revision = "0023_delivery_proofs"
branch_labels = None
depends_on = None

participants = sa.table(
    "participants",
    sa.column("id", sa.Integer),
    sa.column("phone", sa.String),
    sa.column("phone_to_check", sa.Boolean),
)


def normalize_phones(connection) -> tuple[int, int]:
    """Rewrite the readable numbers in E.164 and flag the others; (rewritten, flagged)."""
    from stages.phones import PhoneError, parse_phone

    rows = connection.execute(
        sa.select(participants.c.id, participants.c.phone).where(participants.c.phone.is_not(None))
    ).all()
    rewritten, flagged = [], []
    for row in rows:
        try:
            e164 = parse_phone(row.phone)
        except PhoneError:
            flagged.append({"pid": row.id})
            continue
        if e164 is None:  # blank: no number
            rewritten.append({"pid": row.id, "new_phone": None})
        else:
            rewritten.append({"pid": row.id, "new_phone": e164})
    if rewritten:
        connection.execute(
            participants.update().where(participants.c.id == sa.bindparam("pid"))
            .values(phone=sa.bindparam("new_phone"), phone_to_check=False),
            rewritten,
        )
    if flagged:
        connection.execute(
            participants.update().where(participants.c.id == sa.bindparam("pid"))
            .values(phone_to_check=True),
            flagged,
        )
    return len(rewritten), len(flagged)


def upgrade():
    op.create_table('sms_consents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('given_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('given_by_id', sa.Integer(), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_by_id', sa.Integer(), nullable=True),
    sa.Column('withdrawn_how', sa.Enum('stop', 'organizer', 'number_changed', name='sms_consent_withdrawal', native_enum=False, create_constraint=True, length=22), nullable=True),
    sa.CheckConstraint('(withdrawn_at IS NULL) = (withdrawn_how IS NULL)', name=op.f('ck_sms_consents_withdrawal_complete')),
    sa.ForeignKeyConstraint(['given_by_id'], ['users.id'], name=op.f('fk_sms_consents_given_by_id_users')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_sms_consents_participant_id_participants')),
    sa.ForeignKeyConstraint(['withdrawn_by_id'], ['users.id'], name=op.f('fk_sms_consents_withdrawn_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_consents'))
    )
    op.create_index('uq_sms_consents_live', 'sms_consents', ['participant_id'], unique=True,
                    sqlite_where=sa.text('withdrawn_at IS NULL'),
                    postgresql_where=sa.text('withdrawn_at IS NULL'))

    op.create_table('sms_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbox_key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('provider_id', sa.String(length=80), nullable=False),
    sa.Column('encoding', sa.String(length=10), nullable=False),
    sa.Column('segments', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('sent', 'accepted', 'delivered', 'soft_bounce', 'hard_bounce', 'rejected', name='sms_status', native_enum=False, create_constraint=True, length=19), nullable=False),
    sa.Column('status_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('segments >= 1', name=op.f('ck_sms_messages_segments_positive')),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'], name=op.f('fk_sms_messages_enrollment_id_enrollments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_messages')),
    sa.UniqueConstraint('outbox_key', name=op.f('uq_sms_messages_outbox_key'))
    )
    op.create_index('ix_sms_messages_enrollment_id', 'sms_messages', ['enrollment_id'], unique=False)
    op.create_index('ix_sms_messages_provider_id', 'sms_messages', ['provider', 'provider_id'], unique=False)

    with op.batch_alter_table('participants') as batch_op:
        batch_op.add_column(sa.Column('phone_to_check', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index('ix_participants_phone', ['phone'], unique=False)

    normalize_phones(op.get_bind())

    with op.batch_alter_table('participants') as batch_op:
        batch_op.create_check_constraint(
            op.f('ck_participants_phone_e164'), "phone IS NULL OR phone_to_check OR phone LIKE '+%'"
        )


def downgrade():
    with op.batch_alter_table('participants') as batch_op:
        batch_op.drop_constraint(op.f('ck_participants_phone_e164'), type_='check')
        batch_op.drop_index('ix_participants_phone')
        batch_op.drop_column('phone_to_check')
    op.drop_index('ix_sms_messages_provider_id', table_name='sms_messages')
    op.drop_index('ix_sms_messages_enrollment_id', table_name='sms_messages')
    op.drop_table('sms_messages')
    op.drop_index('uq_sms_consents_live', table_name='sms_consents')
    op.drop_table('sms_consents')
