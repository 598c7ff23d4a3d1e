"""The domain error that services raise, how a view turns it into a French message, and the
French error pages."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, current_app, flash, g, has_request_context, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from stages.extensions import db, login_manager


class DomainError(Exception):
    """A request the business rules refuse; the message is French and shown to the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Outcome:
    """How a user action went: ``ok``, or refused with a French ``message``."""

    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.message is None


@contextmanager
def refused(form=None, *, field=None, also: dict[type[Exception], str] | None = None):
    """Run one user action; a refusal undoes all of it and tells the user why.

    A ``DomainError`` (or an exception listed in ``also``, with the message to show) rolls the
    transaction back; its message goes to ``field``'s or ``form``'s errors when the page shows the
    form again, otherwise it is flashed. The caller reads ``outcome.ok`` after the block::

        with refused(form) as outcome:
            services.update_measure(measure, data)
            db.session.commit()
        if outcome.ok:
            return redirect(...)
    """
    outcome = Outcome()
    caught = (DomainError, *(also or {}))
    try:
        yield outcome
    except caught as error:
        db.session.rollback()
        if isinstance(error, DomainError):
            outcome.message = error.message
        else:
            outcome.message = next(m for kind, m in also.items() if isinstance(error, kind))
        if field is not None:
            field.errors = [*field.errors, outcome.message]
        elif form is not None:
            form.form_errors.append(outcome.message)
        else:
            flash(outcome.message, "error")


ERROR_TEXTS = {
    400: ("Requête invalide", "La demande n'a pas pu être traitée. Rechargez la page et réessayez."),
    403: ("Accès refusé", "Vous n'avez pas l'autorisation d'accéder à cette page."),
    404: ("Page introuvable", "La page demandée n'existe pas ou n'existe plus."),
    405: ("Méthode non autorisée", "Cette action n'est pas possible de cette manière."),
    413: ("Fichier trop volumineux", "Le fichier envoyé dépasse la taille autorisée."),
    429: (
        "Trop de tentatives",
        "Vous avez fait trop de demandes en peu de temps. Patientez une minute avant de réessayer.",
    ),
    500: (
        "Erreur interne",
        "Une erreur inattendue s'est produite. L'équipe technique en est informée ; réessayez "
        "dans quelques instants.",
    ),
    503: (
        "Service momentanément indisponible",
        "Le service est temporairement indisponible. Réessayez dans quelques instants.",
    ),
}


# Path prefix → renderer(code, message, error) for the URLs whose errors are not pages (the
# JSON API answers problem+json): a higher area registers it at start-up (STYLE.md, rule 2).
_ERROR_RENDERERS: dict[str, object] = {}


def render_errors_under(prefix: str):
    """Register ``renderer(code, message, error)`` for every error under the path ``prefix``
    (decorator): the French pages are not shown there."""

    def register(renderer):
        _ERROR_RENDERERS[prefix] = renderer
        return renderer

    return register


def _renderer_for_request():
    if not has_request_context():
        return None
    return next((r for prefix, r in _ERROR_RENDERERS.items() if request.path.startswith(prefix)), None)


def render_error(code: int, message: str | None = None, error: HTTPException | None = None):
    """Render the French error page for ``code`` (or what the request's path registered)."""
    renderer = _renderer_for_request()
    if renderer is not None:
        return renderer(code, message, error)
    title, default = ERROR_TEXTS.get(code, ERROR_TEXTS[500])
    return render_template("errors/error.html", code=code, title=title, message=message or default), code


def wants_json() -> bool:
    """Whether the request comes from a script that reads JSON (the tablet's sync)."""
    return request.is_json or request.accept_mimetypes.best == "application/json"


def json_error(code: int, error: str, message: str, **extra):
    """An error for a script (the tablet's sync), in French: ``{"error", "message", …}``."""
    from flask import jsonify

    return jsonify(error=error, message=message, **extra), code


# Seconds a client (or a proxy's health check) is asked to wait before trying again.
RETRY_AFTER_SECONDS = 30
# SQLSTATE classes that mean "the server cannot serve us right now": connection exceptions,
# insufficient resources (too many connections…), operator intervention (shutting down…), and
# 57014, a statement cancelled by the server: past DB_STATEMENT_TIMEOUT (config.py) it is the
# answer to a query stuck behind a lock or an overloaded server, which a retry may not meet.
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P", "57014")
# SQLite has no SQLSTATE: these messages mean the file is out of reach or busy, not a bug.
_UNAVAILABLE_SQLITE_MESSAGES = ("unable to open database file", "database is locked", "disk i/o error")


def is_database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database is out of reach (a 503) rather than a bug (a 500).

    SQLite reports a missing table as an OperationalError too: that one must stay a 500 (and
    propagate in tests), so the decision reads the driver's error, not only its class.
    """
    if isinstance(error, sa.exc.TimeoutError):  # every pooled connection busy
        return True
    if not isinstance(error, sa.exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None)
    module = type(orig).__module__
    if module.startswith("psycopg"):
        import psycopg

        if not isinstance(orig, (psycopg.OperationalError, psycopg.InterfaceError)):
            return False
        # No SQLSTATE: the client library failed to reach or keep the server.
        return sqlstate is None or sqlstate.startswith(_UNAVAILABLE_SQLSTATES)
    if module == "sqlite3":
        return str(orig).lower().startswith(_UNAVAILABLE_SQLITE_MESSAGES)
    return False


def render_unavailable():
    """The French 503 page, rendered without touching the database again.

    The user is forgotten for the rest of the request: loading them, the navigation and the
    security headers' hook would each query the database that just failed.
    """
    # Flask-Login keeps the request's user in g._login_user: an anonymous one there is never
    # loaded again from the database.
    g._login_user = login_manager.anonymous_user()
    title, message = ERROR_TEXTS[503]
    body = render_template("errors/unavailable.html", code=503, title=title, message=message)
    return body, 503, {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}


def _database_error(error: Exception):
    """A 503 while the database is unreachable; any other database error stays a 500.

    The database session is rolled back so that the request's teardown does not wait on a dead
    connection; the pool needs no disposal: each connection is checked as it is taken
    (``pool_pre_ping`` on SQLite, stages/database.py on PostgreSQL) and SQLAlchemy already
    invalidated the pool on a disconnect, so the app recovers by itself when the server is back
    (disposing here would close other threads' connections).
    """
    if not is_database_unavailable(error):
        raise error
    try:
        db.session.rollback()
    except sa.exc.SQLAlchemyError:
        pass  # the connection is gone; the teardown's remove() discards the session
    orig = getattr(error, "orig", None)
    # Never str(error): it quotes the SQL statement and its parameters (names, case numbers).
    current_app.logger.warning(
        "Base de données injoignable (%s%s) : page 503 pour %s %s",
        type(orig or error).__name__,
        f", SQLSTATE {orig.sqlstate}" if getattr(orig, "sqlstate", None) else "",
        request.method,
        request.path,
    )
    return render_unavailable()


NUL_REFUSED = (
    "La demande contient un caractère nul, qu'aucun champ ne peut contenir. Rechargez la page et "
    "saisissez de nouveau."
)


def refuse_nul_characters():
    """A NUL character is no text anyone types: refused in a query or a form, before a view hands
    it to the database, which would fail on it."""
    # The path is left to its route: ids are bounded by their converter, and the text ones (a
    # feed token, an attestation code) are checked against their format before any query.
    values = [*request.args.keys(), *request.args.values()]
    if request.method == "POST" and request.mimetype in (
        "application/x-www-form-urlencoded", "multipart/form-data",
    ):
        values += [*request.form.keys(), *request.form.values()]
    if any("\x00" in value for value in values):
        return render_error(400, NUL_REFUSED)
    return None


def register_error_handlers(app: Flask) -> None:
    """French pages for every HTTP error; a CSRF failure is a 400 that says why; a 503 page
    while the database is unreachable; input no field may hold refused with a 400."""
    app.before_request(refuse_nul_characters)

    # DBAPIError covers OperationalError and InterfaceError (and connection_invalidated on any
    # of its kinds); the handler re-raises what is not an outage, which then takes the 500 path.
    app.register_error_handler(sa.exc.DBAPIError, _database_error)
    app.register_error_handler(sa.exc.TimeoutError, _database_error)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        if wants_json():  # a device's sync: it fetches a new token and sends again
            return json_error(400, "csrf", "Jeton de sécurité expiré ou absent : rechargez la page.")
        return render_error(
            400,
            "Le formulaire a expiré ou n'a pas pu être vérifié (jeton de sécurité absent ou "
            "invalide). Rechargez la page et recommencez.",
        )

    # Unhandled exceptions reach this handler as InternalServerError (500) once Flask has logged
    # them; in tests they propagate instead, so failures show their traceback.
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        if _renderer_for_request() is not None:
            return render_error(error.code, None, error)
        if wants_json():
            return json_error(error.code, str(error.code), ERROR_TEXTS.get(error.code, ERROR_TEXTS[500])[1])
        return render_error(error.code)

