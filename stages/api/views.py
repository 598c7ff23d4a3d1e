"""The read-only JSON API ``/api/v1`` (a ``Bearer`` token, never the login cookie) and the
tokens' part of « Mon compte »."""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required

from stages.api import queries, schemas
from stages.api.forms import TokenForm
from stages.api.models import ApiToken
from stages.api.openapi import Doc, build_spec
from stages.api.pagination import next_url, page_request
from stages.api.problems import problem, render_problem
from stages.api.tokens import (
    DEFAULT_LIFETIME_DAYS, MAX_LIFETIME_DAYS, create_token, may_hold_tokens, revoke_token,
    token_from_header, token_state, user_tokens,
)
from stages.auth.audit import audit
from stages.errors import refused, render_errors_under
from stages.extensions import db, limiter, login_manager
from stages.timeutil import now_utc, today_local
from stages.wording import ngettext

bp = Blueprint("api", __name__)
API = "/api/v1"
render_errors_under("/api/")(render_problem)
GET = {"methods": ["GET"], "provide_automatic_options": False}


@bp.before_app_request
def _no_login_cookie_on_the_api():
    """Under /api/ the login cookie counts for nothing: the token alone says who asks (so no
    CSRF either, and no session activity or cookie written)."""
    if request.path.startswith("/api/"):
        g._login_user = login_manager.anonymous_user()


def api_rate_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


def _rate_key() -> str:
    # Per token: the header's hash (a wrong secret gets a bucket of its own, so nobody can use
    # up a token's allowance without holding it); per address without a header.
    header = request.headers.get("Authorization")
    if header:
        return "api:" + hashlib.sha256(header.encode()).hexdigest()[:32]
    return "api-ip:" + get_remote_address()


@dataclass
class Read:
    """What one API view read: the body before serialization, and what the audit names."""

    body: object
    obj: object = None
    participant_id: int | None = None
    rows: int | None = None


def api_read(schema, summary: str, *, paginated: bool = False):
    """Authenticate by token, run the view with the token's user, serialize with ``schema``,
    audit the read (one row per request), and answer with an ETag (304 when unchanged)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(**kwargs):
            token = token_from_header(request.headers.get("Authorization"))
            if token is None:
                return problem(401)
            read = view(token.user, **kwargs)
            body = json.dumps(schema().dump(read.body), ensure_ascii=False, separators=(",", ":")).encode()
            rows = f", {ngettext('%(num)d ligne', '%(num)d lignes', read.rows)}" if read.rows is not None else ""
            audit("api.read", read.obj or token, participant_id=read.participant_id, user=token.user,
                  details=f"GET {request.path}{rows} (jeton {token.prefix})")
            token.last_used_at = now_utc()
            db.session.commit()
            response = current_app.response_class(body, mimetype="application/json")
            response.headers["Cache-Control"] = "private, no-cache"
            response.headers["Vary"] = "Authorization"
            response.set_etag(hashlib.sha256(body).hexdigest()[:40])
            return response.make_conditional(request)

        wrapper.api_doc = Doc(summary, schema, paginated)
        return wrapper

    return decorate


def _page(user, kind: str, endpoint: str) -> Read:
    page = page_request(kind)
    rows = queries.page_rows(user, page)
    items = rows[: page.limit]
    return Read({"items": items, "next": next_url(page, rows, endpoint)}, rows=len(items))


def _one(user, kind: str, object_id: int):
    row = queries.one_row(user, kind, object_id)
    if row is None:
        abort(404)
    return row


api_limit = limiter.limit(api_rate_limit, key_func=_rate_key)


@bp.route(f"{API}/measures", **GET)
@api_limit
@api_read(schemas.MeasurePage, "Les mesures visibles, avec statut, issue, cadre, autorité et date limite", paginated=True)
def measures(user):
    """A page of the legal measures the token's user may see."""
    return _page(user, "measures", "api.measures")


@bp.route(f"{API}/measures/<int:measure_id>", **GET)
@api_limit
@api_read(schemas.Measure, "Une mesure")
def measure(user, measure_id: int):
    """One legal measure (404 when it is outside the token's scope, as when it does not exist)."""
    row = _one(user, "measures", measure_id)
    return Read(row, row, participant_id=row.participant_id)


@bp.route(f"{API}/measures/<int:measure_id>/attendance", **GET)
@api_limit
@api_read(schemas.MeasureAttendance, "La présence et l'issue de chaque inscription d'une mesure")
def measure_attendance(user, measure_id: int):
    """Each enrollment of one measure: its course, its outcome, each half-day's attendance."""
    row = _one(user, "measures", measure_id)
    return Read(queries.measure_attendance(row), row, participant_id=row.participant_id)


@bp.route(f"{API}/sessions", **GET)
@api_limit
@api_read(schemas.SessionPage, "Les stages visibles et leurs demi-journées", paginated=True)
def sessions(user):
    """A page of the courses the token's user may see."""
    return _page(user, "sessions", "api.sessions")


@bp.route(f"{API}/sessions/<int:session_id>", **GET)
@api_limit
@api_read(schemas.Session, "Un stage")
def session(user, session_id: int):
    """One course."""
    row = _one(user, "sessions", session_id)
    return Read(row, row)


@bp.route(f"{API}/certificates", **GET)
@api_limit
@api_read(schemas.CertificatePage, "Les attestations visibles : numéro, validité", paginated=True)
def certificates(user):
    """A page of the attestations of the measures the token's user may see."""
    return _page(user, "certificates", "api.certificates")


@bp.route(f"{API}/certificates/<int:certificate_id>", **GET)
@api_limit
@api_read(schemas.Certificate, "Une attestation")
def certificate(user, certificate_id: int):
    """One attestation."""
    row = _one(user, "certificates", certificate_id)
    return Read(row, row)


@bp.route(f"{API}/bilans", **GET)
@api_limit
@api_read(schemas.BilanPage, "Les bilans visibles et leur transmission", paginated=True)
def bilans(user):
    """A page of the bilans the token's user may see."""
    return _page(user, "bilans", "api.bilans")


@bp.route(f"{API}/bilans/<int:bilan_id>", **GET)
@api_limit
@api_read(schemas.Bilan, "Un bilan")
def bilan(user, bilan_id: int):
    """One bilan and its transmission state."""
    row = _one(user, "bilans", bilan_id)
    return Read(row, row)


@bp.route(f"{API}/non-execution-reports", **GET)
@api_limit
@api_read(schemas.NonExecutionReportPage, "Les rapports de non-exécution visibles et leur état", paginated=True)
def non_execution_reports(user):
    """A page of the non-execution reports the token's user may see (a liaison: those
    transmitted to their authority)."""
    return _page(user, "non-execution-reports", "api.non_execution_reports")


@bp.route(f"{API}/non-execution-reports/<int:report_id>", **GET)
@api_limit
@api_read(schemas.NonExecutionReport, "Un rapport de non-exécution")
def non_execution_report(user, report_id: int):
    """One non-execution report and its state."""
    row = _one(user, "non-execution-reports", report_id)
    return Read(row, row)


@bp.route(f"{API}/openapi.json", **GET)
def openapi():
    """The OpenAPI 3.1 document of the API (public: it holds no data)."""
    spec = current_app.extensions.get("api_openapi")
    if spec is None:
        spec = current_app.extensions["api_openapi"] = build_spec(current_app)
    response = current_app.response_class(json.dumps(spec, ensure_ascii=False), mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# --- « Mon compte » : the user's tokens ----------------------------------------------------


@bp.route("/mon-compte/jetons-api/nouveau", methods=["GET", "POST"])
@login_required
def token_create():
    """Create a personal access token; its value is shown on the answer, once."""
    user = current_user._get_current_object()
    if not may_hold_tokens(user):
        abort(403)
    form = TokenForm(data={"expires_on": today_local() + timedelta(days=DEFAULT_LIFETIME_DAYS)})
    if form.validate_on_submit():
        with refused(form) as outcome:
            new = create_token(user, form.name.data, form.expires_on.data)
            db.session.commit()
        if outcome.ok:
            return render_template("api/token_created.html", token=new.token, value=new.value)
    return render_template("api/token_new.html", form=form, max_days=MAX_LIFETIME_DAYS)


@bp.route("/mon-compte/jetons-api/<int:token_id>/revoquer", methods=["POST"])
@login_required
def token_revoke(token_id: int):
    """Revoke one of the user's tokens (someone else's is a 403, as a missing one)."""
    user = current_user._get_current_object()
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        abort(403)
    revoke_token(user, token)
    db.session.commit()
    flash(f"Le jeton « {token.name} » est révoqué : il ne donne plus accès à l'API.", "success")
    return redirect(url_for("auth.profile"))


@bp.app_context_processor
def _inject_api_tokens():
    # A function, not its result: only « Mon compte » calls it.
    def api_tokens(user):
        if not getattr(user, "is_authenticated", False) or not may_hold_tokens(user):
            return None
        return [(token, token_state(token)) for token in user_tokens(user)]

    return {"api_tokens": api_tokens}
