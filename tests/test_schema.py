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
