"""The ``stages`` application: client-awareness courses for French justice partners."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, request, send_from_directory, url_for
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from stages.database import configure_engine_options, register_connection_checks
from stages.extensions import csrf, db, limiter, login_manager, migrate


# The areas in their one-way order (STYLE.md): a higher area may import a lower one, never the
# reverse. Each area's rules register with the permission helper; each area's views define one
# blueprint named after it, ``bp``, and register what the area adds to lower areas' pages.
AREAS = (
    "auth", "scheduling", "calendar_feeds", "enrollment", "attendance", "evaluation", "certificates", "reports",
    "privacy", "api", "home", "jobs",
)
AREAS_WITH_RULES = ("auth", "scheduling", "enrollment", "certificates", "reports")


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

    configure_engine_options(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(project / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    _warn_about_local_rate_limits(app)
    _warn_about_base_url(app)
    _init_login(app)
    register_connection_checks(app)

    from stages import outbox, sms_brevo  # noqa: F401 (sms_brevo: the « brevo » SMS backend)
    from stages.auth.security import register_security
    from stages.errors import register_error_handlers

    for area in AREAS_WITH_RULES:
        importlib.import_module(f"stages.{area}.rules")
    for area in AREAS:
        app.register_blueprint(importlib.import_module(f"stages.{area}.views").bp)
    register_error_handlers(app)
    _register_favicon(app)
    register_security(app)
    outbox.init_app(app)
    _register_template_helpers(app)

    from stages.cli import register_cli

    register_cli(app)
    return app


def _project_dir() -> Path:
    return Path(__file__).resolve().parent.parent


def _register_favicon(app: Flask) -> None:
    """``/favicon.ico``, which browsers and tools ask for on their own: the icon, not a 404 in
    the logs. Pages name the SVG icon too (base.html); both are in static/img."""
    folder = Path(app.static_folder) / "img"

    def favicon():
        """The application's icon (public, like the static files)."""
        return send_from_directory(folder, "favicon.ico", mimetype="image/vnd.microsoft.icon")

    app.add_url_rule("/favicon.ico", endpoint="favicon", view_func=favicon)


def _warn_about_local_rate_limits(app: Flask) -> None:
    """Say at start-up when rate limits are counted per worker (no shared store configured)."""
    if app.config["RATELIMIT_STORAGE_URI"].startswith("memory") and not (app.testing or app.debug):
        app.logger.warning(
            "Limites de débit comptées par processus (memory://) : avec plusieurs workers ou "
            "serveurs, chacun compte de son côté. Définissez STAGES_REDIS_URL (ou "
            "STAGES_RATELIMIT_STORAGE_URI) pour les partager."
        )


def _warn_about_base_url(app: Flask) -> None:
    """Say at start-up when links follow each request's address (no STAGES_BASE_URL set)."""
    if not app.config.get("BASE_URL") and not (app.testing or app.debug):
        app.logger.warning(
            "STAGES_BASE_URL n'est pas défini : les liens des courriels, PDF et agendas suivent "
            "l'adresse de chaque requête (usage de développement). Définissez-le en production."
        )


def _init_login(app: Flask) -> None:
    from stages.auth.login_sessions import load_login
    from stages.auth.security import unauthorized

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Connectez-vous pour accéder à cette page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    login_manager.user_loader(load_login)
    login_manager.unauthorized_handler(unauthorized)


def _navigation() -> list[NavItem]:
    from stages.auth.models import Role

    if not current_user.is_authenticated:
        return []
    role = current_user.role
    # Each label is the start of its page's title: « Suivi des mesures » is the liaison's home.
    items = [("reports.dashboard", "Suivi des mesures") if role == Role.LIAISON else ("home.index", "Tableau de bord")]
    if role != Role.LIAISON:
        items.append(("scheduling.calendar_month", "Calendrier"))
    if role in (Role.ADMIN, Role.ORGANIZER):
        items += [
            ("enrollment.measures", "Personnes"),
            ("scheduling.series_create", "Programmer une série"),
            ("scheduling.venues", "Lieux"),
            ("enrollment.accounting", "Registre des frais"),
        ]
    if role != Role.FACILITATOR:
        items.append(("reports.non_execution_reports", "Non-exécution"))
        items.append(("reports.statistics", "Statistiques"))
    if role == Role.ADMIN:
        items += [
            ("auth.organizations", "Organisations"),
            ("auth.users", "Comptes"),
            ("jobs.runs", "Tâches"),
            ("privacy.audit_log", "Journal"),
        ]
    items.append(("auth.profile", "Mon compte"))
    return [NavItem(endpoint, label, url_for(endpoint)) for endpoint, label in items]


def _register_template_helpers(app: Flask) -> None:
    from stages import i18n, timeutil, wording
    from stages.phones import display_phone
    from stages.auth.audit import action_label, object_type_label
    from stages.enrollment import frames, needs
    from stages.enrollment.convocation.delivery import format_letter_number
    from stages.enrollment.deadlines import is_after_deadline, measure_deadline_state
    from stages.enrollment.models import EnrollmentStatus

    app.jinja_env.filters["fr_date"] = timeutil.fr_date
    app.jinja_env.filters["fr_time"] = timeutil.fr_time
    app.jinja_env.filters["fr_time_range"] = timeutil.fr_time_range
    app.jinja_env.filters["fr_datetime"] = timeutil.fr_datetime
    app.jinja_env.filters["fr_half_day"] = timeutil.fr_half_day
    app.jinja_env.filters["hhmm"] = timeutil.hhmm
    app.jinja_env.filters["phone"] = display_phone
    app.jinja_env.filters["letter_number"] = format_letter_number
    app.jinja_env.filters["audit_action_label"] = action_label
    app.jinja_env.filters["audit_object_type_label"] = object_type_label
    app.jinja_env.filters["enrollment_status_label"] = lambda value: EnrollmentStatus(value).label
    app.jinja_env.filters["euros"] = lambda cents: (
        f"{cents / 100:,.2f} €".replace(",", "\u202f").replace(".", ",") if cents is not None else ""
    )

    app.jinja_env.globals["ngettext"] = wording.ngettext
    app.jinja_env.globals["seats_text"] = wording.seats_text
    app.jinja_env.globals["deadline_state"] = measure_deadline_state
    app.jinja_env.globals["is_after_deadline"] = is_after_deadline
    # What the law makes of a measure's frame (stages.enrollment.frames), for the person's page.
    app.jinja_env.globals["frame_title"] = frames.frame_title
    app.jinja_env.globals["criminal_record"] = lambda measure: frames.CRIMINAL_RECORD[measure.frame]
    app.jinja_env.globals["absence_consequence"] = frames.absence_consequence
    app.jinja_env.globals["deadline_basis"] = frames.deadline_basis
    # A person's language and needs (stages.enrollment.needs), on their page, the course page and
    # the sign-in sheet.
    app.jinja_env.filters["language_label"] = i18n.language_label
    app.jinja_env.globals["language_line"] = needs.language_line
    app.jinja_env.globals["needs_labels"] = needs.needs_labels
    app.jinja_env.globals["venue_lacks"] = needs.venue_lacks

    @app.context_processor
    def inject_layout():
        return {"app_name": "Stages", "nav_items": _navigation() if request else []}
