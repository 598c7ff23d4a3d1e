"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from stages.extensions import db
from stages.models import AuditEntry


def test_migrated_schema_matches_the_models():
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


# "Who did it" columns: shown, never filtered or joined on from the user's side.
AUTHOR_COLUMNS = {"enrollment_events.user_id", "session_changes.user_id"}


def test_every_foreign_key_is_indexed():
    """Foreign keys lead some index or key, so joins and cascades never scan a table."""
    inspector = sa.inspect(db.engine)
    missing = []
    for table in db.metadata.sorted_tables:
        leading = {idx["column_names"][0] for idx in inspector.get_indexes(table.name)}
        leading |= {uq["column_names"][0] for uq in inspector.get_unique_constraints(table.name)}
        pk = inspector.get_pk_constraint(table.name)["constrained_columns"]
        if pk:
            leading.add(pk[0])
        for fk in inspector.get_foreign_keys(table.name):
            column = fk["constrained_columns"][0]
            name = f"{table.name}.{column}"
            if column not in leading and not column.endswith("_by_id") and name not in AUTHOR_COLUMNS:
                missing.append(name)
    assert missing == [], f"foreign keys without an index: {missing}"


def test_audit_log_is_append_only(make):
    entry = AuditEntry(action="test")
    db.session.add(entry)
    db.session.commit()
    with pytest.raises(sa.exc.DatabaseError):
        db.session.execute(sa.update(AuditEntry).values(action="rewritten"))
        db.session.flush()
    db.session.rollback()
    # Deleting stays possible: the retention purge needs it.
    db.session.execute(sa.delete(AuditEntry))
    db.session.commit()


def test_migrations_upgrade_a_sqlite_database_that_holds_data(tmp_path):
    """Later migrations run over a database in use: here users with audit entries.

    On SQLite, a migration that copies the `users` table (batch mode) drops the old one, which
    nulls audit_entries.user_id and is refused by the append-only trigger: such a migration
    passes on an empty test database and fails in production. Migrations must not do that.
    """
    from flask_migrate import upgrade

    from stages import create_app

    old = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.sqlite3'}"})
    with old.app_context():
        upgrade(revision="0006_feed_and_bilan_indexes")
        with db.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO users (id, email, full_name, password_hash, role, active, created_at,"
                " session_epoch, failed_logins, feed_token)"
                " VALUES (7, 'a@example.org', 'A', 'x', 'admin', 1, '2026-01-01 00:00:00', 0, 0, 't')"
            ))
            conn.execute(sa.text(
                "INSERT INTO audit_entries (at, user_id, action) VALUES ('2026-01-01 00:00:00', 7, 'test')"
            ))
        upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT user_id FROM audit_entries")).scalar_one() == 7
            assert not conn.execute(sa.text("SELECT password_change_required FROM users")).scalar_one()
            # Each account gets its own key for its feeds' tokens; its older token stays.
            key, token = conn.execute(sa.text("SELECT feed_key, feed_token FROM users")).one()
            assert len(key) == 43 and token == "t"
        db.engine.dispose()
