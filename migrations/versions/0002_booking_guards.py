"""Booking guards: no room and no facilitator booked twice at once, enforced by the database.

PostgreSQL: exclusion constraints over time ranges (btree_gist). SQLite: triggers; SQLite runs one
writer at a time, so a trigger's check and the write it guards cannot interleave with another.
Also the history of changes to a session.

Revision ID: 0002_booking_guards
Revises: 0001_initial_schema
"""
from alembic import op
import sqlalchemy as sa

revision = "0002_booking_guards"
down_revision = "0001_initial_schema"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = {
    "session_parts": ("venue_id", "venue_overlap"),
    "facilitator_bookings": ("user_id", "facilitator_overlap"),
}


def upgrade():
    op.create_table(
        "session_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["course_sessions.id"], name=op.f("fk_session_changes_session_id_course_sessions"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_session_changes_user_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_changes")),
    )
    op.create_index("ix_session_changes_session_id_at", "session_changes", ["session_id", "at"])

    # Parts copy their session's venue and "not cancelled" flag; fill them for existing rows.
    with op.batch_alter_table("session_parts") as batch_op:
        batch_op.add_column(sa.Column("venue_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.execute(
        "UPDATE session_parts SET venue_id = (SELECT venue_id FROM course_sessions "
        "WHERE course_sessions.id = session_parts.session_id), "
        "is_active = (SELECT status <> 'cancelled' FROM course_sessions "
        "WHERE course_sessions.id = session_parts.session_id)"
    )
    with op.batch_alter_table("session_parts") as batch_op:
        batch_op.alter_column("venue_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_index("ix_session_parts_venue_id_starts_at", ["venue_id", "starts_at"])
        batch_op.create_foreign_key(op.f("fk_session_parts_venue_id_venues"), "venues", ["venue_id"], ["id"])

    op.create_table(
        "facilitator_bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_facilitator_bookings_end_after_start")),
        sa.ForeignKeyConstraint(["part_id"], ["session_parts.id"], name=op.f("fk_facilitator_bookings_part_id_session_parts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_facilitator_bookings_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facilitator_bookings")),
        sa.UniqueConstraint("part_id", "user_id", name=op.f("uq_facilitator_bookings_part_id_user_id")),
    )
    op.create_index("ix_facilitator_bookings_user_id_starts_at", "facilitator_bookings", ["user_id", "starts_at"])
    op.execute(
        "INSERT INTO facilitator_bookings (part_id, user_id, starts_at, ends_at, is_active) "
        "SELECT p.id, f.user_id, p.starts_at, p.ends_at, p.is_active FROM session_parts p "
        "JOIN session_facilitators f ON f.session_id = p.session_id"
    )

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE session_parts ADD CONSTRAINT ex_session_parts_venue_overlap "
            "EXCLUDE USING gist (venue_id WITH =, tstzrange(starts_at, ends_at) WITH &&) "
            "WHERE (is_active)"
        )
        op.execute(
            "ALTER TABLE facilitator_bookings ADD CONSTRAINT ex_facilitator_bookings_overlap "
            "EXCLUDE USING gist (user_id WITH =, tstzrange(starts_at, ends_at) WITH &&) "
            "WHERE (is_active)"
        )
    elif dialect == "sqlite":
        for table, (column, message) in SQLITE_TRIGGERS.items():
            for event in ("INSERT", "UPDATE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_overlap_{event.lower()} BEFORE {event} ON {table} "
                    f"WHEN NEW.is_active AND EXISTS (SELECT 1 FROM {table} o "
                    f"WHERE o.{column} = NEW.{column} AND o.is_active AND o.id IS NOT NEW.id "
                    f"AND o.starts_at < NEW.ends_at AND o.ends_at > NEW.starts_at) "
                    f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
                )


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in SQLITE_TRIGGERS:
            for event in ("insert", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_overlap_{event}")
    op.drop_index("ix_facilitator_bookings_user_id_starts_at", table_name="facilitator_bookings")
    op.drop_table("facilitator_bookings")
    with op.batch_alter_table("session_parts") as batch_op:
        if dialect == "postgresql":
            batch_op.drop_constraint("ex_session_parts_venue_overlap")
        batch_op.drop_constraint(op.f("fk_session_parts_venue_id_venues"), type_="foreignkey")
        batch_op.drop_index("ix_session_parts_venue_id_starts_at")
        batch_op.drop_column("is_active")
        batch_op.drop_column("venue_id")
    op.drop_index("ix_session_changes_session_id_at", table_name="session_changes")
    op.drop_table("session_changes")
