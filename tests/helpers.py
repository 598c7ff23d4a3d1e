"""Test helpers: logging in, counting SQL statements."""
from __future__ import annotations

from contextlib import contextmanager

import sqlalchemy as sa

from stages.extensions import db
from tests.factories import PASSWORD


def login(client, user, password: str = PASSWORD):
    """Log ``user`` in through the real login form; returns the response."""
    return client.post(
        "/connexion", data={"email": user.email, "password": password}, follow_redirects=False
    )


class QueryCounter:
    """Counts the SQL statements sent to the database while active."""

    def __init__(self):
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def _on_execute(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)


@contextmanager
def count_queries():
    """``with count_queries() as counter: ...`` then ``counter.count``."""
    counter = QueryCounter()
    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", counter._on_execute)
    try:
        yield counter
    finally:
        sa.event.remove(engine, "before_cursor_execute", counter._on_execute)


def queries_for(client, url: str) -> int:
    """The number of SQL statements one GET of ``url`` sends (asserting it succeeds)."""
    with count_queries() as counter:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return counter.count
