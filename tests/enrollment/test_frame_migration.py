"""Migration 0020 on a database in use: the measures of ``flask stages generate --scale 0.01``
keep their count per frame, nothing else is lost, and « ordonnance_penale » becomes the
complementary penalty pronounced by ordonnance pénale.

The data is generated at the head of the migrations, taken back to 0019 (where the frame had its
former code), then migrated again: the counts are compared at each step.
"""
from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner
from flask_migrate import downgrade, upgrade

from stages import create_app
from stages.extensions import db

TABLES = ("participants", "legal_measures", "enrollments", "certificates", "attendance_marks", "audit_entries")


def _counts(conn) -> dict:
    frames = dict(conn.execute(sa.text("SELECT frame, count(*) FROM legal_measures GROUP BY frame")).all())
    rows = {table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() for table in TABLES}
    # What each measure holds, but for its frame: a checksum over the columns the migration copies.
    fingerprint = conn.execute(sa.text(
        "SELECT sum(id), sum(participant_id), sum(authority_id), count(DISTINCT case_reference), "
        "count(final_date), count(closed_at), sum(fee_cents) FROM legal_measures"
    )).one()
    return {"frames": frames, "rows": rows, "fingerprint": tuple(fingerprint)}


def test_migration_0020_keeps_every_measure_of_a_generated_database(tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'generated.sqlite3'}"})
    with app.app_context():
        upgrade()
        result = CliRunner().invoke(
            app.cli, ["stages", "generate", "--scale", "0.01", "--yes", "--today", "2026-06-01"],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        with db.engine.connect() as conn:
            generated = _counts(conn)
            orphans = conn.execute(sa.text(
                "SELECT count(*) FROM legal_measures WHERE (procedure IS NOT NULL) "
                "<> (frame = 'stage_contravention')"
            )).scalar_one()
        assert generated["frames"]["stage_contravention"] > 100 and orphans == 0

        downgrade(revision="0019_retention_settings")
        with db.engine.connect() as conn:
            before = _counts(conn)
        assert before["frames"] == {
            ("ordonnance_penale" if frame == "stage_contravention" else frame): count
            for frame, count in generated["frames"].items()
        }

        upgrade()
        with db.engine.connect() as conn:
            after = _counts(conn)
            procedures = dict(conn.execute(sa.text(
                "SELECT frame, count(procedure) FROM legal_measures GROUP BY frame"
            )).all())
            lateness = conn.execute(sa.text(
                "SELECT count(*) FROM organizations WHERE NOT lateness_counts_as_attended"
            )).scalar_one()
            assert conn.execute(sa.text("PRAGMA foreign_key_check")).all() == []
        assert after == generated
        assert before["rows"] == after["rows"] and before["fingerprint"] == after["fingerprint"]
        # Every migrated measure was an ordonnance pénale; no other frame has a procedure.
        assert procedures == {frame: (count if frame == "stage_contravention" else 0)
                              for frame, count in after["frames"].items()}
        assert lateness == 0  # every association keeps the rule it had
        db.engine.dispose()
