"""While the database is unreachable: a French 503 page with Retry-After; recovery on its own.

Each test builds a separate app pointed at a database that fails: a closed port (PostgreSQL
semantics, runs everywhere psycopg is installed), a SQLite file whose folder disappears, and,
on PostgreSQL, the test database behind a TCP proxy that the test stops and starts again.
"""
from __future__ import annotations

import contextlib
import logging
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from stages import create_app
from stages.auth.models import Role
from stages.errors import is_database_unavailable
from stages.extensions import db, login_manager
from tests import factories
from tests.conftest import TEST_DATABASE_URL, requires_postgres
from tests.helpers import login
from tests.operations.tcp_proxy import TcpProxy

# Nothing listens on port 1: connecting is refused at once.
CLOSED_PORT_URL = "postgresql+psycopg://postgres@127.0.0.1:1/stages"
NAME = "DUPONT"  # a name in a query string must never come back on an error page
# The token of a login session that the unreachable database would be asked about.
TOKEN = "an-unguessable-login-session-token"


def other_app(url: str, **config):
    """An app of its own, as a worker started against ``url`` would be."""
    settings = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": "stages.test",
        "MAIL_BACKEND": "memory",
    }
    settings.update(config)
    return create_app(settings)


@contextlib.contextmanager
def disposed(app):
    """Close the app's pooled connections at the end, whatever happened."""
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()


def connection_attempts(app) -> list:
    """Record every DBAPI connect the app's engine tries."""
    attempts = []
    with app.app_context():
        sa.event.listen(db.engine, "do_connect", lambda *args: attempts.append(1))
    return attempts


def logged_in_cookie(app, client, user_id: int) -> None:
    """Put a login session for ``user_id`` in the client's cookie without asking the database
    (the login form would need it). Session protection checks the browser's fingerprint."""
    with app.test_request_context(environ_base=client.environ_base):
        identifier = login_manager._session_identifier_generator()
    with client.session_transaction() as session:
        session["_user_id"] = f"{user_id}:0:{TOKEN}"
        session["_fresh"] = True
        session["_id"] = identifier


def assert_unavailable_page(response) -> str:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert "Service momentanément indisponible" in html
    assert NAME not in html
    return html


def test_closed_port_gives_the_french_503_and_touches_the_db_once(caplog):
    with disposed(other_app(CLOSED_PORT_URL)) as app:
        attempts = connection_attempts(app)
        client = app.test_client()

        # The login page reads nothing: it still works.
        response = client.get("/connexion")
        assert response.status_code == 200 and "Se connecter" in response.get_data(as_text=True)
        assert attempts == []

        # A public page that reads the database.
        with caplog.at_level(logging.WARNING):
            response = client.get(f"/verification/ABCD-EFGH-IJKL?nom={NAME}")
        assert_unavailable_page(response)
        assert len(attempts) == 1  # the 503 page itself did not try again
        assert any("Base de données injoignable" in r.getMessage() for r in caplog.records)
        assert all(NAME not in r.getMessage() and "SELECT" not in r.getMessage() for r in caplog.records)

        # A logged-in user: loading the user is what fails; the page is still served, with no
        # navigation (it would need the user) and the session kept for when the base is back.
        attempts.clear()
        logged_in_cookie(app, client, 1)
        html = assert_unavailable_page(client.get(f"/?q={NAME}"))
        assert len(attempts) == 1
        assert "Se déconnecter" not in html and "nav-list" not in html
        with client.session_transaction() as session:
            assert session["_user_id"] == f"1:0:{TOKEN}"

        # A form post gets the same page, and the form's data is not echoed.
        html = assert_unavailable_page(client.post("/personnes/nouvelle", data={"surname": NAME}))


def test_other_database_errors_stay_500s(app):
    """A missing table is a bug, not an outage: it must not hide behind a 503."""
    missing_table = sa.exc.OperationalError("SELECT 1", {}, Exception("no such table: x"))
    assert not is_database_unavailable(missing_table)
    assert not is_database_unavailable(sa.exc.IntegrityError("INSERT", {}, Exception("unique")))
    with app.app_context():
        engine = sa.create_engine("sqlite://")
        with engine.connect() as conn, pytest.raises(sa.exc.OperationalError) as caught:
            conn.execute(sa.text("SELECT * FROM nowhere"))
        engine.dispose()
    assert not is_database_unavailable(caught.value)


def test_sqlite_file_out_of_reach_then_back(tmp_path):
    """A SQLite file on a share that goes away (its folder renamed), then comes back."""
    folder = tmp_path / "partage"
    folder.mkdir()
    url = f"sqlite:///{folder / 'stages.sqlite3'}"
    # NullPool: every request opens the file again, as it would after the share came back.
    with disposed(other_app(url, SQLALCHEMY_ENGINE_OPTIONS={"poolclass": sa.pool.NullPool})) as app:
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            user = factories.user(Role.ADMIN)
            account = SimpleNamespace(email=user.email)
            db.session.commit()
        client = app.test_client()
        assert login(client, account).status_code == 302
        assert client.get("/").status_code == 200

        folder.rename(tmp_path / "ailleurs")
        assert_unavailable_page(client.get(f"/?q={NAME}"))
        assert app.test_client().get("/connexion").status_code == 200

        (tmp_path / "ailleurs").rename(folder)
        response = client.get("/")
        assert response.status_code == 200  # same login session, no restart
        assert "Se déconnecter" in response.get_data(as_text=True)


@requires_postgres
def test_postgresql_goes_away_and_comes_back(make):
    """The app sees its PostgreSQL server disappear (connections cut, new ones refused), serves
    the 503 page meanwhile, and recovers by itself when the server is back."""
    user = make.user(Role.ORGANIZER, [make.organization()])
    db.session.commit()
    account = SimpleNamespace(email=user.email)
    real = sa.make_url(TEST_DATABASE_URL)
    with TcpProxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        url = real.set(host="127.0.0.1", port=proxy.port)
        with disposed(other_app(url.render_as_string(hide_password=False))) as app:
            client = app.test_client()
            assert login(client, account).status_code == 302
            assert client.get("/").status_code == 200  # a pooled connection now exists

            proxy.stop()
            html = assert_unavailable_page(client.get(f"/?q={NAME}"))
            assert "Réessayer" in html
            assert_unavailable_page(client.get("/calendrier"))
            assert app.test_client().get("/connexion").status_code == 200

            proxy.start()
            response = client.get("/")
            assert response.status_code == 200
            assert "Se déconnecter" in response.get_data(as_text=True)
