"""Throwaway PostgreSQL databases of the benchmarks, the load test and the probes: created empty
before a run, dropped after it (even when it fails).

``prefix`` is a server's URL without a database, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432``; the statements run on its ``postgres``
database, outside any transaction (``CREATE DATABASE`` cannot run inside one).
"""
from __future__ import annotations


def admin_sql(prefix: str, statement: str) -> None:
    """Run ``statement`` on the server's ``postgres`` database, in autocommit."""
    import psycopg

    dsn = prefix.replace("postgresql+psycopg://", "postgresql://").rstrip("/") + "/postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement)


def fresh_database(prefix: str, name: str) -> str:
    """Database ``name``, empty (an earlier one of that name, left by a killed run, is dropped
    first); returns its URL."""
    drop_database(prefix, name)
    admin_sql(prefix, f'CREATE DATABASE "{name}"')
    return f"{prefix.rstrip('/')}/{name}"


def drop_database(prefix: str, name: str) -> None:
    """Drop database ``name`` if it exists, closing its connections."""
    admin_sql(prefix, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
