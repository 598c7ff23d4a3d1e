"""The database connections' settings: time limits and zone on PostgreSQL, pragmas on SQLite.

A PostgreSQL server that stops answering (a network partition, a frozen host) must cost a
request seconds, never minutes. Three limits of config.py bound each wait: opening a connection
(DB_CONNECT_TIMEOUT, libpq's connect_timeout), a statement (DB_STATEMENT_TIMEOUT, cancelled by
the server) and a free pooled connection (DB_POOL_TIMEOUT). A connection already in the pool is
checked as a request takes it, within DB_CONNECT_TIMEOUT too (``_check_on_checkout``):
SQLAlchemy's own ``pool_pre_ping`` has no time limit, so after a partition every request
waited on its pooled connection until the operating system gave up on it, which it may never
do while the other host's network still acknowledges. And a statement whose answer never
comes (no packet comes back at all) ends after DB_SILENCE_TIMEOUT, by TCP's own timers
(``_silence_limits``), instead of the system's two hours and more.
"""
from __future__ import annotations

import logging
import select
import time

import sqlalchemy as sa
from flask import Flask

from stages.extensions import db

logger = logging.getLogger(__name__)


def configure_engine_options(app: Flask) -> None:
    """On PostgreSQL, the time limits of config.py added to the engine options unless these set
    them already, and each connection's zone: UTC (below). Before the engine is built."""
    url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "postgresql":
        return
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = dict(options.get("connect_args") or {})
    connect_args.setdefault("connect_timeout", app.config["DB_CONNECT_TIMEOUT"])
    # libpq's "options" (server settings at connection start): the URL's own are kept.
    server_options = connect_args.get("options", url.query.get("options", ""))
    statement_ms = app.config["DB_STATEMENT_TIMEOUT"] * 1000
    # The session's zone is UTC, what every column stores: psycopg then hands back datetimes
    # in ``timezone.utc``, which UTCDateTime keeps as they are, instead of converting each one
    # from the server's zone (a feed of 1,200 half-days reads some 3,500), and a date taken of
    # a timestamp is the UTC date on PostgreSQL as on SQLite, whatever the server's setting.
    connect_args["options"] = (
        f"{server_options} -c statement_timeout={statement_ms} -c TimeZone=UTC".strip()
    )
    for key, value in _silence_limits(app.config["DB_SILENCE_TIMEOUT"]).items():
        connect_args.setdefault(key, value)
    options["connect_args"] = connect_args
    # The check of a pooled connection as it is taken is ours, with a time limit (below).
    options["pool_pre_ping"] = False
    if issubclass(options.get("poolclass", sa.pool.QueuePool), sa.pool.QueuePool):
        options.setdefault("pool_timeout", app.config["DB_POOL_TIMEOUT"])
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _silence_limits(seconds: int) -> dict[str, int]:
    """libpq's settings that drop a connection after ``seconds`` without an answer from the
    server's host: keepalive probes once the connection has been quiet for a while (waiting
    for a statement's answer is quiet), two of them unanswered end it; and what is sent but
    not acknowledged gives up after the same time (tcp_user_timeout)."""
    if seconds <= 0:
        return {}
    interval = max(1, seconds // 5)
    return {
        "keepalives": 1,
        "keepalives_idle": max(1, seconds - 2 * interval),
        "keepalives_interval": interval,
        "keepalives_count": 2,
        "tcp_user_timeout": seconds * 1000,
    }


def register_connection_checks(app: Flask) -> None:
    """SQLite: its pragmas on every connection. PostgreSQL: a pooled connection is checked,
    within DB_CONNECT_TIMEOUT, each time it is taken from the pool."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    elif engine.dialect.name == "postgresql":
        seconds = app.config["DB_CONNECT_TIMEOUT"]

        def check(dbapi_connection, _record, _proxy):
            _check_on_checkout(dbapi_connection, seconds)

        sa.event.listen(engine, "checkout", check)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """SQLite enforces foreign keys only when asked, per connection; WAL lets readers run along."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _check_on_checkout(connection, seconds: float) -> None:
    """Raise InvalidatePoolError unless the server answers on ``connection`` within
    ``seconds``. The pool then drops every connection opened before this one (they all go to
    the same server) and opens a new one, itself limited by connect_timeout: the request gets
    the 503 page in seconds, and the next ones reconnect once the server answers again."""
    started = time.monotonic()
    if _answers_within(connection, seconds):
        return
    connection.close()
    logger.warning(
        "Connexion à la base sans réponse après %.1f s : connexions du pool remplacées.",
        time.monotonic() - started,
    )
    raise sa.exc.InvalidatePoolError("La base de données ne répond pas sur une connexion du pool.")


def _answers_within(connection, seconds: float) -> bool:
    """Whether the server answers an empty query on the idle psycopg ``connection`` within
    ``seconds``: one round trip, through libpq's own calls (psycopg.pq), each wait bounded."""
    import psycopg
    from psycopg import pq

    pgconn = connection.pgconn
    if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return False
    deadline = time.monotonic() + seconds
    try:
        pgconn.send_query(b"")
        while pgconn.flush():  # 1 while some of the query is still to be sent
            if not _ready(pgconn.socket, select.POLLOUT, deadline):
                return False
        pgconn.consume_input()
        while pgconn.is_busy():
            if not _ready(pgconn.socket, select.POLLIN, deadline):
                return False
            pgconn.consume_input()
        answered = True
        while (result := pgconn.get_result()) is not None:
            answered = answered and result.status == pq.ExecStatus.EMPTY_QUERY
    except psycopg.Error:
        return False
    return answered and pgconn.transaction_status == pq.TransactionStatus.IDLE


def _ready(fileno: int, events: int, deadline: float) -> bool:
    """Wait until the socket is ready for ``events``, until ``deadline`` at most."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    poller = select.poll()
    poller.register(fileno, events | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(remaining * 1000))
