"""Calendar identity: a SEQUENCE per enrollment that only grows, the updates owed to people whose
course moved, and a token per calendar feed (each renewable alone).

- ``enrollments.invitation_sequence``: the SEQUENCE of the last invitation emailed for the
  enrollment's UIDs. Before this revision a request carried the course's ``ical_sequence`` and a
  cancellation that number plus one, so ``ical_sequence + 1`` is at least what any enrollment
  already summoned was sent: the next invitation goes above it.
- ``invitation_updates``: who must still be told that their course moved.
- ``users.feed_key``: the key each feed's own token is derived from; ``users.feed_token`` stays,
  so the URLs subscribed to before keep working (each until its feed is renewed).
- ``renewed_calendar_feeds``: the feeds renewed, and how many times.

Revision ID: 0015_calendar_identity
Revises: 0014_import_mappings
"""
import secrets

from alembic import op
import sqlalchemy as sa

revision = "0015_calendar_identity"
down_revision = "0014_import_mappings"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMNs: batch mode would copy `users`, which the audit trigger refuses on SQLite
    # (see 0008), and needlessly copy `enrollments`.
    op.add_column("enrollments", sa.Column("invitation_sequence", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE enrollments SET invitation_sequence = (SELECT ical_sequence + 1 FROM course_sessions "
        "WHERE course_sessions.id = enrollments.session_id) WHERE convocation_sent_at IS NOT NULL"
    )
    op.add_column(
        "users", sa.Column("feed_key", sa.String(length=64), server_default="", nullable=False)
    )
    users = sa.table("users", sa.column("id", sa.Integer()), sa.column("feed_key", sa.String()))
    bind = op.get_bind()
    for (user_id,) in bind.execute(sa.select(users.c.id)).all():
        bind.execute(
            users.update().where(users.c.id == user_id).values(feed_key=secrets.token_urlsafe(32))
        )

    op.create_table(
        "invitation_updates",
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("due_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("previous_days", sa.Text(), nullable=False),
        sa.Column("previous_venue", sa.String(length=600), nullable=False),
        sa.Column("withdrawn_parts", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["enrollment_id"], ["enrollments.id"], name=op.f("fk_invitation_updates_enrollment_id_enrollments"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_id"], ["course_sessions.id"], name=op.f("fk_invitation_updates_session_id_course_sessions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("enrollment_id", name=op.f("pk_invitation_updates")),
    )
    op.create_index("ix_invitation_updates_session_id", "invitation_updates", ["session_id"])

    op.create_table(
        "renewed_calendar_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.Integer(), server_default="0", nullable=False),
        sa.Column("generation", sa.Integer(), server_default="1", nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("generation >= 1", name=op.f("ck_renewed_calendar_feeds_generation_positive")),
        sa.CheckConstraint("kind IN ('mine', 'all', 'venue', 'organization')", name=op.f("ck_renewed_calendar_feeds_known_kind")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_renewed_calendar_feeds_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_renewed_calendar_feeds")),
        sa.UniqueConstraint("user_id", "kind", "target_id", name=op.f("uq_renewed_calendar_feeds_user_id_kind_target_id")),
    )


def downgrade():
    op.drop_table("renewed_calendar_feeds")
    op.drop_index("ix_invitation_updates_session_id", table_name="invitation_updates")
    op.drop_table("invitation_updates")
    op.drop_column("users", "feed_key")  # SQLite 3.35+: ALTER TABLE DROP COLUMN
    op.drop_column("enrollments", "invitation_sequence")
