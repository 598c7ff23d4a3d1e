"""The ``stages`` application: client-awareness courses for French justice partners."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, request, url_for
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from stages.extensions import csrf, db, limiter, login_manager, migrate


# Each module defines a blueprint named ``bp``.
BLUEPRINT_MODULES = (
    "stages.home",
    "stages.auth.views",
    "stages.scheduling.views",
    "stages.scheduling.calendar_views",
    "stages.enrollment.views",
    "stages.enrollment.convocation_views",
    "stages.enrollment.import_views",
    "stages.attendance.views",
    "stages.jobs.views",
    "stages.certificates.views",
    "stages.calendar_feeds.views",
    "stages.reports.views",
    "stages.auth.audit_views",
    "stages.enrollment.subject_views",
)


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` limited to what an INTEGER column holds."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    url: str


def create_app(config=None) -> Flask:
    """Build the app. ``config`` is a mapping or an object of settings overriding ``Config``."""
    from config import INSTANCE_DIR, Config

    project = _project_dir()
    app = Flask(
        __name__,
        instance_path=str(INSTANCE_DIR),
        template_folder=str(project / "templates"),
        static_folder=str(project / "static"),
    )
    # Ids in URLs fit the database's integers: a larger one is a 404, never an overflow (500).
    app.url_map.converters["int"] = BoundedIntConverter
    app.config.from_object(Config)
    if config is not None:
        if isinstance(config, dict):
            app.config.from_mapping(config)
        else:
            app.config.from_object(config)
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    if app.config.get("PROXY_FIX"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    from stages import models  # noqa: F401  (register every model before binding)

    _database_time_limits(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(project / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    _init_login(app)
    _register_sqlite_pragmas(app)

    from stages.errors import register_error_handlers
    from stages.security import register_security

    for module in BLUEPRINT_MODULES:
        app.register_blueprint(importlib.import_module(module).bp)
    register_error_handlers(app)
    register_security(app)
    _register_template_helpers(app)

    from stages.cli import stages_cli
    from stages.jobs import cli as _jobs_cli  # noqa: F401  (adds the scheduler commands)
    from stages import backup_cli as _backup_cli  # noqa: F401  (adds backup / restore)
    from stages import bench_cli  # noqa: F401  (adds `flask stages generate`)

    app.cli.add_command(stages_cli)
    return app


def _project_dir() -> Path:
    return Path(__file__).resolve().parent.parent


def _init_login(app: Flask) -> None:
    from stages.auth.models import User

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Connectez-vous pour accéder à cette page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(identity: str):
        user_id, _, epoch = identity.partition(":")
        if not user_id.isdigit() or not epoch.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        if user is None or user.session_epoch != int(epoch) or not user.active:
            return None
        return user


def _database_time_limits(app: Flask) -> None:
    """On PostgreSQL, the connect and statement timeouts and the pool's wait of config.py
    (DB_CONNECT_TIMEOUT, DB_STATEMENT_TIMEOUT, DB_POOL_TIMEOUT), added to the engine options
    unless these set them already: an unanswering server then gives the 503 page in seconds."""
    url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "postgresql":
        return
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = dict(options.get("connect_args") or {})
    connect_args.setdefault("connect_timeout", app.config["DB_CONNECT_TIMEOUT"])
    # libpq's "options" (server settings at connection start): the URL's own are kept.
    server_options = connect_args.get("options", url.query.get("options", ""))
    statement_ms = app.config["DB_STATEMENT_TIMEOUT"] * 1000
    connect_args["options"] = f"{server_options} -c statement_timeout={statement_ms}".strip()
    options["connect_args"] = connect_args
    if issubclass(options.get("poolclass", sa.pool.QueuePool), sa.pool.QueuePool):
        options.setdefault("pool_timeout", app.config["DB_POOL_TIMEOUT"])
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _register_sqlite_pragmas(app: Flask) -> None:
    """SQLite enforces foreign keys only when asked, per connection; WAL lets readers run along."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def _navigation() -> list[NavItem]:
    from stages.auth.models import Role

    if not current_user.is_authenticated:
        return []
    role = current_user.role
    items = [("reports.dashboard" if role == Role.LIAISON else "main.index", "Tableau de bord")]
    if role != Role.LIAISON:
        items.append(("calendar.month", "Calendrier"))
    if role in (Role.ADMIN, Role.ORGANIZER):
        items += [
            ("enrollment.measures", "Personnes"),
            ("scheduling.series_create", "Programmer une série"),
            ("scheduling.venues", "Lieux"),
        ]
    if role != Role.FACILITATOR:
        items.append(("reports.statistics", "Statistiques"))
    if role == Role.ADMIN:
        items += [
            ("scheduling.organizations", "Organisations"),
            ("auth.users", "Comptes"),
            ("jobs.runs", "Tâches"),
            ("audit_log.entries", "Journal"),
        ]
    items.append(("auth.profile", "Mon compte"))
    return [NavItem(endpoint, label, url_for(endpoint)) for endpoint, label in items]


def _register_template_helpers(app: Flask) -> None:
    from stages import timeutil
    from stages.auth.audit import action_label
    from stages.enrollment.models import EnrollmentStatus

    app.jinja_env.filters["fr_date"] = timeutil.fr_date
    app.jinja_env.filters["fr_time"] = timeutil.fr_time
    app.jinja_env.filters["fr_datetime"] = timeutil.fr_datetime
    app.jinja_env.filters["hhmm"] = timeutil.hhmm
    app.jinja_env.filters["audit_action_label"] = action_label
    app.jinja_env.filters["enrollment_status_label"] = lambda value: EnrollmentStatus(value).label
    app.jinja_env.filters["euros"] = lambda cents: (
        f"{cents / 100:,.2f} €".replace(",", "\u202f").replace(".", ",") if cents is not None else ""
    )

    @app.context_processor
    def inject_layout():
        return {"app_name": "Stages", "nav_items": _navigation() if request else []}
