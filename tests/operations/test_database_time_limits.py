"""A database that does not answer costs a request seconds, never minutes: the connect and
statement timeouts, the pool's wait and the check of a pooled connection (config.py DB_*,
stages/database.py), each ending in the French 503 page.

The silent server needs no PostgreSQL (psycopg talks to a socket that never answers), so that
test runs on both suites like the closed-port one; the statement and pool limits need a real
PostgreSQL server and are skipped on SQLite.
"""
from __future__ import annotations

import threading
import time
from datetime import date, timezone
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from stages.auth.models import Role
from stages.extensions import db
from tests.conftest import TEST_DATABASE_URL, requires_postgres
from tests.helpers import login
from tests.operations.netns import CuttablePath, unavailable_reason
from tests.operations.tcp_proxy import SilentServer, TcpProxy
from tests.operations.test_unavailable import (
    assert_unavailable_page,
    disposed,
    logged_in_cookie,
    other_app,
)

# The page must come well before a user gives up; psycopg alone waited about 130 s.
WITHIN_SECONDS = 5


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_silent_server_gives_the_503_within_seconds():
    """A host that accepts the connection and never answers (a partition, a frozen server)."""
    with SilentServer() as silent:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{silent.port}/stages"
        with disposed(other_app(url, DB_CONNECT_TIMEOUT=2)) as app:
            client = app.test_client()
            response, seconds = timed(lambda: client.get("/verification/ABCD-EFGH-IJKL"))
            assert_unavailable_page(response)
            assert seconds < WITHIN_SECONDS
            assert silent.accepted >= 1  # it did reach the silent server, and waited for it

            # A logged-in user: loading the user is what waits, then the same page.
            logged_in_cookie(app, client, 1)
            response, seconds = timed(lambda: client.get("/"))
            assert_unavailable_page(response)
            assert seconds < WITHIN_SECONDS

            # Static files never wait for the database.
            response, seconds = timed(lambda: client.get("/static/css/stages.css"))
            assert response.status_code == 200
            assert seconds < 1
            response.close()


@requires_postgres
def test_partition_after_connections_are_pooled_gives_the_503_within_seconds(make):
    """The server stops answering once the pool holds a connection (a partition, a frozen
    host): the check made as a request takes that connection is bounded too, then the 503;
    when the network is back, the same login session works again."""
    user = make.user(Role.ORGANIZER, [make.organization()])
    db.session.commit()
    account = SimpleNamespace(email=user.email)
    real = sa.make_url(TEST_DATABASE_URL)
    with TcpProxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        with disposed(other_app(url, DB_CONNECT_TIMEOUT=1)) as app:
            client = app.test_client()
            assert login(client, account).status_code == 302
            assert client.get("/").status_code == 200  # the pool now holds a connection

            proxy.freeze()
            response, seconds = timed(lambda: client.get("/"))
            assert_unavailable_page(response)
            assert seconds < WITHIN_SECONDS
            response, seconds = timed(lambda: client.get("/calendrier"))
            assert_unavailable_page(response)
            assert seconds < WITHIN_SECONDS

            proxy.thaw()
            response = client.get("/")
            assert response.status_code == 200
            assert "Se déconnecter" in response.get_data(as_text=True)


@requires_postgres
def test_partition_while_a_statement_waits_gives_the_503_within_seconds(make):
    """The network fails while a statement waits for its answer: no packet comes back, no
    reset, the server may never learn of it. TCP's keepalives (DB_SILENCE_TIMEOUT) end the
    wait, then the 503; the network back, the same login works again. Without them the
    request waited on (the system's keepalives start after two hours)."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    user = make.user(Role.ORGANIZER, [make.organization()])
    db.session.commit()
    account = SimpleNamespace(email=user.email)
    real = sa.make_url(TEST_DATABASE_URL)
    name = f"partition-{threading.get_native_id()}"
    with CuttablePath(real.host or "127.0.0.1", real.port or 5432) as path:
        url = real.set(host=path.host, port=path.port).update_query_dict(
            {"options": f"-c application_name={name}"}
        ).render_as_string(hide_password=False)
        with disposed(other_app(url, DB_SILENCE_TIMEOUT=3)) as app:
            client = app.test_client()
            assert login(client, account).status_code == 302
            db.session.rollback()  # the test's own session must not wait on the lock below
            outcome = {}
            request = threading.Thread(target=lambda: outcome.update(response=client.get("/")))
            try:
                with db.engine.connect() as holder:
                    holder.execute(sa.text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
                    request.start()
                    _wait_for_lock_wait(name)
                    path.cut()
                    started = time.monotonic()
                    holder.rollback()  # the server answers now; the answer is lost
                request.join(timeout=60)
                seconds = time.monotonic() - started
                assert not request.is_alive()
                assert_unavailable_page(outcome["response"])
                # The timers count from the statement's sending, a little before the cut.
                assert 2 <= seconds < WITHIN_SECONDS
            finally:
                path.restore()
                _end_backends(name)
            response = client.get("/")
            assert response.status_code == 200
            assert "Se déconnecter" in response.get_data(as_text=True)


def _wait_for_lock_wait(application_name: str) -> None:
    """Until the app's statement waits on the lock, on the server (5 s at most)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with db.engine.connect() as probe:
            waiting = probe.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = :name AND wait_event_type = 'Lock'"
            ), {"name": application_name}).scalar()
        if waiting:
            return
        time.sleep(0.05)
    raise AssertionError("the app's statement never waited on the lock")


def _end_backends(application_name: str) -> None:
    """End the server's side of the app's cut connections (it may wait for its client)."""
    with db.engine.connect() as conn:
        conn.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"
        ), {"name": application_name})


@requires_postgres
def test_statement_past_the_limit_is_cancelled_into_the_503(make):
    """A statement stuck behind a lock is cancelled by the server after DB_STATEMENT_TIMEOUT."""
    user = make.user(Role.ORGANIZER, [make.organization()])
    db.session.commit()
    account = SimpleNamespace(email=user.email)
    # The URL's own server options are kept beside the statement timeout.
    url = sa.make_url(TEST_DATABASE_URL).update_query_dict({"options": "-c application_name=limits"})
    with disposed(other_app(url.render_as_string(hide_password=False), DB_STATEMENT_TIMEOUT=1)) as app:
        with app.app_context():
            with db.engine.connect() as conn:
                assert conn.execute(sa.text("SHOW statement_timeout")).scalar() == "1s"
                assert conn.execute(sa.text("SHOW application_name")).scalar() == "limits"
        client = app.test_client()
        assert login(client, account).status_code == 302

        # Another connection holds the users table: loading the user waits for the lock. (The
        # test's own session ends its transaction first: it read a user, the lock would wait.)
        db.session.rollback()
        with db.engine.connect() as holder:
            holder.execute(sa.text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
            response, seconds = timed(lambda: client.get("/"))
            holder.rollback()
        assert_unavailable_page(response)
        assert 1 <= seconds < WITHIN_SECONDS

        # The lock gone, the same login session works again: the connection was not lost.
        response = client.get("/")
        assert response.status_code == 200
        assert "Se déconnecter" in response.get_data(as_text=True)


@requires_postgres
def test_sessions_run_in_utc_whatever_the_servers_zone():
    """Every connection's zone is UTC, what the columns store, even where the server's own
    default is local time: psycopg then returns ``timezone.utc`` datetimes, kept as they are,
    and the date of a timestamp is its UTC date, as on SQLite."""
    url = sa.make_url(TEST_DATABASE_URL).update_query_dict({"options": "-c TimeZone=Europe/Paris"})
    with disposed(other_app(url.render_as_string(hide_password=False))) as app:
        with app.app_context():
            with db.engine.connect() as conn:
                assert conn.execute(sa.text("SHOW TimeZone")).scalar() == "UTC"
                moment = conn.execute(
                    sa.text("SELECT TIMESTAMPTZ '2026-12-31 23:30:00+00'")
                ).scalar()
                assert moment.tzinfo is timezone.utc
                assert conn.execute(
                    sa.text("SELECT CAST(TIMESTAMPTZ '2026-12-31 23:30:00+00' AS DATE)")
                ).scalar() == date(2026, 12, 31)


@requires_postgres
def test_waiting_for_a_pooled_connection_is_bounded(make):
    """Every connection of the pool busy (here: the only one): the 503 after DB_POOL_TIMEOUT."""
    user = make.user(Role.ORGANIZER, [make.organization()])
    db.session.commit()
    account = SimpleNamespace(email=user.email)
    engine_options = {"pool_size": 1, "max_overflow": 0}
    with disposed(other_app(TEST_DATABASE_URL, DB_POOL_TIMEOUT=1,
                            SQLALCHEMY_ENGINE_OPTIONS=engine_options)) as app:
        client = app.test_client()
        assert login(client, account).status_code == 302
        with app.app_context():
            busy = db.engine.connect()  # as a long request in another thread would hold it
        try:
            response, seconds = timed(lambda: client.get("/"))
        finally:
            busy.close()
        assert_unavailable_page(response)
        assert 1 <= seconds < WITHIN_SECONDS
        assert client.get("/").status_code == 200


def test_time_limits_are_postgresql_only(app):
    """SQLite's driver knows none of these arguments: its engine options stay as they were."""
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        assert "connect_args" not in options and "pool_timeout" not in options
    else:
        assert options["connect_args"]["connect_timeout"] == app.config["DB_CONNECT_TIMEOUT"]
        assert options["pool_timeout"] == app.config["DB_POOL_TIMEOUT"]
        # SQLAlchemy's own check of a pooled connection waits without limit: ours replaces it.
        assert options["pool_pre_ping"] is False
        assert options["connect_args"]["keepalives"] == 1
        assert options["connect_args"]["tcp_user_timeout"] == app.config["DB_SILENCE_TIMEOUT"] * 1000
