"""Fixtures: one app and one migrated database per test run, emptied after each test.

The schema is built by the real migrations, so what the tests see is what production gets.
Set TEST_DATABASE_URL (postgresql+psycopg://...) to run the suite on PostgreSQL; tests that only
make sense there are skipped, with the reason, on SQLite.
"""
from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")

from stages import create_app  # noqa: E402
from stages.extensions import db  # noqa: E402
from tests import factories  # noqa: E402

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def pytest_report_header(config):
    return f"database: {TEST_DATABASE_URL or 'SQLite (set TEST_DATABASE_URL for PostgreSQL)'}"


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    """The application, bound to a freshly migrated test database."""
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": "stages.test",
            "BASE_URL": "http://stages.test",
            "MAIL_BACKEND": "memory",
            # Never the project's instance/backups: the purge job prunes that folder.
            "BACKUP_DIR": str(tmp_path_factory.mktemp("backups")),
        }
    )
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
        from flask_migrate import upgrade

        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_database(request, app):
    """Run each test in an app context and leave the database empty after it."""
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()
        _empty_all_tables()
        app.extensions.get("mail_outbox", []).clear()


def _empty_all_tables() -> None:
    tables = [t.name for t in db.metadata.sorted_tables]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(tables):
                conn.execute(sa.text(f"DELETE FROM {name}"))


class IsolatedClient(FlaskClient):
    """A test client whose requests run like real ones, each with its own database session.

    What the test built is committed first (a real request could not see it otherwise), and the
    test's own objects are expired afterwards so that its assertions read the database again.
    """

    def open(self, *args, **kwargs):
        db.session.commit()
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.expire_all()
        return response


@pytest.fixture
def client(app):
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make():
    """The test data factories (tests/factories.py)."""
    return factories


@pytest.fixture
def csrf_enabled(app):
    """Turn CSRF protection back on for one test."""
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


def is_postgres() -> bool:
    return bool(TEST_DATABASE_URL) and TEST_DATABASE_URL.startswith("postgresql")


requires_postgres = pytest.mark.skipif(
    not is_postgres(), reason="needs PostgreSQL: set TEST_DATABASE_URL=postgresql+psycopg://..."
)
