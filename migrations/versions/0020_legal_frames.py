"""Legal frames as the law writes them; the association's rule on lateness.

The frame « ordonnance_penale » mixed a procedure with a penalty: it becomes
« stage_contravention », the stage as the complementary penalty of the 611-1 contravention, and
the procedure that pronounced it is kept beside it (``procedure``: every measure migrated was
recorded as an ordonnance pénale, so says its procedure). A peine de stage gains whether the court
set a penalty in advance (unknown for the measures recorded before: NULL) and the reason for a
deadline other than the legal one. Organizations gain ``lateness_counts_as_attended``, true: the
rule every course was closed by until now.

Revision ID: 0020_legal_frames
Revises: 0019_retention_settings
"""
import sqlalchemy as sa
from alembic import op

revision = "0020_legal_frames"
down_revision = "0019_retention_settings"
branch_labels = None
depends_on = None

OLD_FRAMES = ("alternative_poursuites", "composition_penale", "ordonnance_penale", "peine_stage", "sursis_probatoire")
NEW_FRAMES = ("alternative_poursuites", "composition_penale", "stage_contravention", "peine_stage", "sursis_probatoire")


def _frames_check(frames: tuple[str, ...]) -> str:
    return "frame IN (" + ", ".join(f"'{frame}'" for frame in frames) + ")"


def upgrade():
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(
            sa.Column("lateness_counts_as_attended", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    # SQLite rewrites the table (batch mode) to drop the old list of frames; the data moves to the
    # new code in between; then the new list and the rules tying the new columns to their frame.
    with op.batch_alter_table("legal_measures") as batch:
        batch.drop_constraint(op.f("ck_legal_measures_legal_frame"), type_="check")
        batch.add_column(sa.Column(
            "procedure",
            sa.Enum("ordonnance_penale", "jugement_tribunal_police", name="decision_procedure",
                    native_enum=False, create_constraint=True, length=32),
            nullable=True,
        ))
        batch.add_column(sa.Column("penalty_set_in_advance", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("deadline_reason", sa.String(length=500), nullable=True))
    op.execute(
        "UPDATE legal_measures SET frame = 'stage_contravention', procedure = 'ordonnance_penale' "
        "WHERE frame = 'ordonnance_penale'"
    )
    with op.batch_alter_table("legal_measures") as batch:
        batch.create_check_constraint(op.f("ck_legal_measures_legal_frame"), _frames_check(NEW_FRAMES))
        batch.create_check_constraint(
            op.f("ck_legal_measures_procedure_frame"), "procedure IS NULL OR frame = 'stage_contravention'"
        )
        batch.create_check_constraint(
            op.f("ck_legal_measures_penalty_frame"), "penalty_set_in_advance IS NULL OR frame = 'peine_stage'"
        )


def downgrade():
    # The old model had one frame for the complementary penalty, whatever its procedure.
    with op.batch_alter_table("legal_measures") as batch:
        batch.drop_constraint(op.f("ck_legal_measures_penalty_frame"), type_="check")
        batch.drop_constraint(op.f("ck_legal_measures_procedure_frame"), type_="check")
        batch.drop_constraint(op.f("ck_legal_measures_legal_frame"), type_="check")
        batch.drop_constraint(op.f("ck_legal_measures_decision_procedure"), type_="check")
        batch.drop_column("deadline_reason")
        batch.drop_column("penalty_set_in_advance")
        batch.drop_column("procedure")
    op.execute("UPDATE legal_measures SET frame = 'ordonnance_penale' WHERE frame = 'stage_contravention'")
    with op.batch_alter_table("legal_measures") as batch:
        batch.create_check_constraint(op.f("ck_legal_measures_legal_frame"), _frames_check(OLD_FRAMES))
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("lateness_counts_as_attended")
