"""Émargement électronique: signatures on the screen, hash-chained and sealed; tablet sync.

``attendance_signatures`` is an append-only chain per half-day (see
``stages.attendance.models.AttendanceSignature``); two triggers make it so in the database:
no row is ever rewritten, except the retention purge erasing an image (image set to NULL with
``erased_at``), and once a half-day is countersigned (a countersignature no ``void`` entry
cancels) nothing but a ``void`` entry is added to it. ``attendance_sync_receipts`` holds the
client UUID of every item a tablet sent, so that a replayed batch writes nothing.
Marks and revisions gain the device's clock (``recorded_at``) and revisions the item's UUID.

Revision ID: 0017_signatures
Revises: 0016_feed_cache
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_signatures"
down_revision = "0016_feed_cache"
branch_labels = None
depends_on = None

# Every column but the image and its erasure: none may change once written.
FIXED_COLUMNS = (
    "id", "client_id", "part_id", "seq", "kind", "enrollment_id", "voids_id", "reason",
    "image_sha256", "record_sha256", "signed_at", "received_at", "user_agent", "recorded_by_id",
    "previous_hash", "chain_hash",
)
REWRITE_REFUSED = "attendance_signatures: a signature is never rewritten"
SEALED_REFUSED = "attendance_signatures: the half-day is countersigned"
SEALED = (
    "NEW.kind <> 'void' AND EXISTS (SELECT 1 FROM attendance_signatures c "
    "WHERE c.part_id = NEW.part_id AND c.kind = 'countersignature' AND NOT EXISTS "
    "(SELECT 1 FROM attendance_signatures v WHERE v.voids_id = c.id))"
)


def _erasure_only(same: str) -> str:
    """The one UPDATE allowed: the image erased, every other column as it was."""
    unchanged = " AND ".join(f"NEW.{c} {same} OLD.{c}" for c in FIXED_COLUMNS)
    return f"NEW.image IS NULL AND OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL AND {unchanged}"


def _guards(create: bool) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        if create:
            op.execute(
                "CREATE TRIGGER attendance_signatures_immutable BEFORE UPDATE ON attendance_signatures "
                f"WHEN NOT ({_erasure_only('IS')}) "
                f"BEGIN SELECT RAISE(ABORT, '{REWRITE_REFUSED}'); END"
            )
            op.execute(
                "CREATE TRIGGER attendance_signatures_sealed BEFORE INSERT ON attendance_signatures "
                f"WHEN {SEALED} BEGIN SELECT RAISE(ABORT, '{SEALED_REFUSED}'); END"
            )
        else:
            op.execute("DROP TRIGGER IF EXISTS attendance_signatures_immutable")
            op.execute("DROP TRIGGER IF EXISTS attendance_signatures_sealed")
    elif dialect == "postgresql":
        if create:
            op.execute(
                "CREATE OR REPLACE FUNCTION attendance_signatures_immutable() RETURNS trigger AS $$ "
                f"BEGIN IF NOT ({_erasure_only('IS NOT DISTINCT FROM')}) THEN "
                f"RAISE EXCEPTION '{REWRITE_REFUSED}'; END IF; RETURN NEW; END; $$ LANGUAGE plpgsql"
            )
            op.execute(
                "CREATE TRIGGER attendance_signatures_immutable BEFORE UPDATE ON attendance_signatures "
                "FOR EACH ROW EXECUTE FUNCTION attendance_signatures_immutable()"
            )
            op.execute(
                "CREATE OR REPLACE FUNCTION attendance_signatures_sealed() RETURNS trigger AS $$ "
                f"BEGIN IF {SEALED} THEN RAISE EXCEPTION '{SEALED_REFUSED}'; END IF; RETURN NEW; END; "
                "$$ LANGUAGE plpgsql"
            )
            op.execute(
                "CREATE TRIGGER attendance_signatures_sealed BEFORE INSERT ON attendance_signatures "
                "FOR EACH ROW EXECUTE FUNCTION attendance_signatures_sealed()"
            )
        else:
            op.execute("DROP TRIGGER IF EXISTS attendance_signatures_immutable ON attendance_signatures")
            op.execute("DROP TRIGGER IF EXISTS attendance_signatures_sealed ON attendance_signatures")
            op.execute("DROP FUNCTION IF EXISTS attendance_signatures_immutable()")
            op.execute("DROP FUNCTION IF EXISTS attendance_signatures_sealed()")


def upgrade():
    op.create_table('attendance_sync_receipts',
    sa.Column('client_id', sa.String(length=36), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course_sessions.id'], name=op.f('fk_attendance_sync_receipts_course_id_course_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_attendance_sync_receipts_user_id_users')),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_attendance_sync_receipts'))
    )
    with op.batch_alter_table('attendance_sync_receipts', schema=None) as batch_op:
        batch_op.create_index('ix_attendance_sync_receipts_course_id', ['course_id'], unique=False)
        batch_op.create_index('ix_attendance_sync_receipts_user_id', ['user_id'], unique=False)

    op.create_table('attendance_signatures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=36), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('signature', 'refusal', 'countersignature', 'void', name='signature_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=True),
    sa.Column('voids_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('image', sa.LargeBinary(), nullable=True),
    sa.Column('image_sha256', sa.String(length=64), nullable=True),
    sa.Column('record_sha256', sa.String(length=64), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_agent', sa.String(length=300), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('previous_hash', sa.String(length=64), nullable=False),
    sa.Column('chain_hash', sa.String(length=64), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(kind = 'void') = (voids_id IS NOT NULL AND reason IS NOT NULL)", name=op.f('ck_attendance_signatures_voids_name_their_entry_and_reason')),
    sa.CheckConstraint("(kind IN ('signature', 'refusal')) = (enrollment_id IS NOT NULL)", name=op.f('ck_attendance_signatures_participant_entries_name_the_enrollment')),
    sa.CheckConstraint("kind NOT IN ('signature', 'countersignature') OR image_sha256 IS NOT NULL", name=op.f('ck_attendance_signatures_signatures_have_an_image')),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'], name=op.f('fk_attendance_signatures_enrollment_id_enrollments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['part_id'], ['session_parts.id'], name=op.f('fk_attendance_signatures_part_id_session_parts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_attendance_signatures_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['voids_id'], ['attendance_signatures.id'], name=op.f('fk_attendance_signatures_voids_id_attendance_signatures')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance_signatures')),
    sa.UniqueConstraint('client_id', name=op.f('uq_attendance_signatures_client_id')),
    sa.UniqueConstraint('part_id', 'seq', name=op.f('uq_attendance_signatures_part_id_seq'))
    )
    with op.batch_alter_table('attendance_signatures', schema=None) as batch_op:
        batch_op.create_index('ix_attendance_signatures_enrollment_id', ['enrollment_id'], unique=False)
        batch_op.create_index('ix_attendance_signatures_voids_id', ['voids_id'], unique=False)

    with op.batch_alter_table('attendance_marks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('attendance_revisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_attendance_revisions_client_id'), ['client_id'])
    _guards(create=True)


def downgrade():
    _guards(create=False)
    with op.batch_alter_table('attendance_revisions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_attendance_revisions_client_id'), type_='unique')
        batch_op.drop_column('recorded_at')
        batch_op.drop_column('client_id')

    with op.batch_alter_table('attendance_marks', schema=None) as batch_op:
        batch_op.drop_column('recorded_at')

    with op.batch_alter_table('attendance_signatures', schema=None) as batch_op:
        batch_op.drop_index('ix_attendance_signatures_voids_id')
        batch_op.drop_index('ix_attendance_signatures_enrollment_id')

    op.drop_table('attendance_signatures')
    with op.batch_alter_table('attendance_sync_receipts', schema=None) as batch_op:
        batch_op.drop_index('ix_attendance_sync_receipts_user_id')
        batch_op.drop_index('ix_attendance_sync_receipts_course_id')

    op.drop_table('attendance_sync_receipts')
