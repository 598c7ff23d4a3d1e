"""The bulk writer: rows buffered per table, inserted many at a time, with ids computed here."""
from __future__ import annotations

from collections import Counter, defaultdict

import sqlalchemy as sa

from stages.extensions import db
from bench.generate.plan import CHUNK


# ---------------------------------------------------------------------------------------------
# Bulk writing


class _Writer:
    """Buffers rows per table and inserts them in bulk, parents first, ``CHUNK`` rows at a time."""

    def __init__(self):
        self.tables = {table.name: table for table in db.metadata.sorted_tables}
        self.order = [table.name for table in db.metadata.sorted_tables]
        self.rows: dict[str, list[dict]] = defaultdict(list)
        self.counts: Counter = Counter()
        self._ids: dict[str, int] = {}
        self._checked: set[str] = set()
        self.pending = 0

    def next_id(self, table: str) -> int:
        if table not in self._ids:
            column = self.tables[table].c.id
            self._ids[table] = (db.session.scalar(sa.select(sa.func.max(column))) or 0) + 1
        value = self._ids[table]
        self._ids[table] += 1
        return value

    def add(self, table: str, row: dict) -> None:
        if table not in self._checked:
            # Catch a misspelt column at the first row; columns left out (added since, by a
            # migration) take their defaults, as long as every row of the table leaves them out.
            unknown = set(row) - set(self.tables[table].c.keys())
            if unknown:
                raise AssertionError(f"{table}: unknown columns {sorted(unknown)}")
            self._checked.add(table)
        self.rows[table].append(row)
        self.pending += 1
        if self.pending >= CHUNK:
            self.flush()

    def flush(self) -> None:
        """Insert everything buffered, in foreign-key order."""
        for name in self.order:
            rows = self.rows.pop(name, None)
            if rows:
                db.session.execute(sa.insert(self.tables[name]), rows)
                self.counts[name] += len(rows)
        self.pending = 0

    def fix_sequences(self) -> None:
        """PostgreSQL: explicit ids do not move the serial sequences; move them past the max."""
        if db.session.get_bind().dialect.name != "postgresql":
            return
        for name in list(self.counts):
            if name in self.tables and "id" in self.tables[name].c:
                db.session.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT max(id) FROM {name}))"
                    )
                )
