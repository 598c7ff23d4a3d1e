"""``flask stages backup`` / ``restore``: a round trip on the test database (SQLite or PostgreSQL).

The same tests run on both databases: SQLite through the online backup API, PostgreSQL through
pg_dump / pg_restore (CI runs the suite once on each).
"""
from __future__ import annotations

import re
import stat

import pytest
import sqlalchemy as sa

from stages import backup
from stages.enrollment.models import LegalMeasure, Participant
from stages.extensions import db


@pytest.fixture
def backup_dir(app, tmp_path, monkeypatch):
    """Default backups go to a temporary folder of this test, not the project's instance/."""
    monkeypatch.setitem(app.config, "BACKUP_DIR", str(tmp_path / "sauvegardes"))
    return tmp_path / "sauvegardes"


def surnames() -> list[str]:
    db.session.rollback()  # read what is committed now, not what this session remembers
    return sorted(db.session.scalars(sa.select(Participant.surname)))


def test_backup_then_restore_brings_the_data_back(runner, make, backup_dir, tmp_path):
    person = make.participant(surname="AVANT")
    make.measure(person, case_reference="25.000.001")
    db.session.commit()
    person_id = person.id
    target = tmp_path / "ma-sauvegarde.bin"

    result = runner.invoke(args=["stages", "backup", str(target)])
    assert result.exit_code == 0, result.output
    assert f"Sauvegarde écrite : {target} (" in result.output
    assert target.exists() and target.stat().st_size > 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # criminal-offence data: owner only

    # Life goes on: a rename, a deletion, a new person.
    db.session.get(Participant, person_id).surname = "APRES"
    db.session.execute(sa.delete(LegalMeasure))
    make.participant(surname="NOUVEAU")
    db.session.commit()
    assert surnames() == ["APRES", "NOUVEAU"]

    result = runner.invoke(args=["stages", "restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    assert "Base restaurée" in result.output
    assert surnames() == ["AVANT"]
    assert db.session.scalars(sa.select(LegalMeasure.case_reference)).all() == ["25.000.001"]
    # The base as it was just before is kept, in case the wrong file was restored.
    (safety,) = backup_dir.glob("*-avant-restauration*")
    assert "Base actuelle sauvegardée au préalable" in result.output

    # The app keeps working on the restored base (the pool was disposed, no stale connection).
    make.participant(surname="ENSUITE")
    db.session.commit()
    assert surnames() == ["AVANT", "ENSUITE"]

    # And the safety backup restores the state before the restore.
    result = runner.invoke(args=["stages", "restore", str(safety), "--yes", "--sans-sauvegarde"])
    assert result.exit_code == 0, result.output
    assert surnames() == ["APRES", "NOUVEAU"]


def test_default_path_is_dated_in_the_backup_folder(runner, app, make, backup_dir):
    make.participant()
    db.session.commit()
    result = runner.invoke(args=["stages", "backup"])
    assert result.exit_code == 0, result.output
    (written,) = backup_dir.iterdir()
    suffix = "sqlite3" if db.engine.dialect.name == "sqlite" else "dump"
    assert re.fullmatch(rf"stages-\d{{8}}-\d{{6}}\.{suffix}", written.name)
    assert str(written) in result.output
    assert stat.S_IMODE(backup_dir.stat().st_mode) == 0o700
    assert not list(backup_dir.glob(".partielle-*"))  # no temporary file left behind


def test_restore_without_yes_changes_nothing(runner, make, backup_dir, tmp_path):
    make.participant(surname="AVANT")
    db.session.commit()
    target = tmp_path / "sauvegarde"
    assert runner.invoke(args=["stages", "backup", str(target)]).exit_code == 0
    make.participant(surname="APRES")
    db.session.commit()

    result = runner.invoke(args=["stages", "restore", str(target)])
    assert result.exit_code == 1
    assert "remplace TOUTES les données actuelles" in result.output
    assert "--yes" in result.output
    assert surnames() == ["APRES", "AVANT"]
    assert not backup_dir.exists()  # not even a safety backup


def test_restore_refuses_a_file_that_is_not_a_backup(runner, make, backup_dir, tmp_path):
    make.participant(surname="INTACT")
    db.session.commit()
    bogus = tmp_path / "pas-une-sauvegarde.dump"
    bogus.write_text("Nom;Prénom\nDUPONT;Jean\n", encoding="utf-8")
    result = runner.invoke(args=["stages", "restore", str(bogus), "--yes"])
    assert result.exit_code == 1
    assert "n'est pas une sauvegarde" in result.output
    assert surnames() == ["INTACT"]


def test_libpq_url_keeps_the_password_off_the_command_line():
    url = sa.make_url("postgresql+psycopg://stages:s3cr%40t@db.example:6543/prod?sslmode=require")
    conninfo, env = backup.libpq_connection(url)
    assert conninfo == "postgresql://stages@db.example:6543/prod?sslmode=require"
    assert env["PGPASSWORD"] == "s3cr@t"
    assert "s3cr" not in conninfo
