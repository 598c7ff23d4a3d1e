"""The person's language and needs (issue 17): language spoken, interpreter needed and booked
(per enrollment), accessibility needs; the venue's accessibility as flags beside its text.

Revision ID: 0026_language_needs
Revises: 0025_summons_replies
"""
import sqlalchemy as sa
from alembic import op

revision = "0026_language_needs"
down_revision = "0025_summons_replies"
branch_labels = None
depends_on = None

_NEEDS = ("interpreter_needed", "needs_reduced_mobility", "needs_hearing", "needs_sight")
_VENUE_FLAGS = ("step_free_access", "hearing_loop", "visual_aids")


def upgrade():
    with op.batch_alter_table("participants") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), server_default="fr", nullable=False))
        for name in _NEEDS:
            batch.add_column(sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("needs_other", sa.String(length=300), nullable=True))
        batch.create_check_constraint(
            "language_code", "length(language) = 2 AND language = lower(language)"
        )
    with op.batch_alter_table("venues") as batch:
        for name in _VENUE_FLAGS:
            batch.add_column(sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "interpreter_bookings",
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("interpreter_name", sa.String(length=120), nullable=False),
        sa.Column("cost_cents", sa.Integer(), nullable=True),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "cost_cents IS NULL OR cost_cents BETWEEN 0 AND 500000",
            name=op.f("ck_interpreter_bookings_cost_range"),
        ),
        sa.CheckConstraint(
            "interpreter_name <> ''", name=op.f("ck_interpreter_bookings_interpreter_name_not_empty")
        ),
        sa.ForeignKeyConstraint(
            ["enrollment_id"], ["enrollments.id"],
            name=op.f("fk_interpreter_bookings_enrollment_id_enrollments"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"],
            name=op.f("fk_interpreter_bookings_updated_by_id_users"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("enrollment_id", name=op.f("pk_interpreter_bookings")),
    )


def downgrade():
    op.drop_table("interpreter_bookings")
    with op.batch_alter_table("venues") as batch:
        for name in _VENUE_FLAGS:
            batch.drop_column(name)
    with op.batch_alter_table("participants") as batch:
        batch.drop_constraint(op.f("ck_participants_language_code"), type_="check")
        for name in ("needs_other", *reversed(_NEEDS), "language"):
            batch.drop_column(name)
