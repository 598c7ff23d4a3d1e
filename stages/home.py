"""The home page: what each role needs first when they log in."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from stages.auth.audit import audit
from stages.auth.models import Role
from stages.auth.permissions import visible_measures, visible_sessions
from stages.enrollment.models import LegalMeasure
from stages.extensions import db
from stages.scheduling.models import CourseSession, SessionStatus
from stages.timeutil import now_utc, today_local

bp = Blueprint("main", __name__)


@bp.route("/")
def index():
    """Upcoming sessions for staff who run courses; referred measures for liaisons."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return _home()


def _home():
    page = request.args.get("page", 1, type=int)
    per_page = current_app.config["ITEMS_PER_PAGE"]
    if current_user.role == Role.LIAISON:
        query = (
            visible_measures(current_user)
            .options(
                selectinload(LegalMeasure.participant), selectinload(LegalMeasure.authority)
            )
            .order_by(LegalMeasure.deadline, LegalMeasure.id)
        )
        pagination = db.paginate(query, page=page, per_page=per_page, error_out=False)
        html = render_template("home/liaison.html", pagination=pagination, today=today_local())
        # The list shows names: a read of participants' data.
        audit("measures.list", details=f"accueil, page {pagination.page}")
        db.session.commit()
        return html
    query = (
        visible_sessions(current_user)
        .where(
            CourseSession.ends_at >= now_utc(),
            CourseSession.status != SessionStatus.CANCELLED,
        )
        .options(
            selectinload(CourseSession.venue),
            selectinload(CourseSession.parts),
            selectinload(CourseSession.organizations),
            selectinload(CourseSession.facilitators),
        )
        .order_by(CourseSession.starts_at, CourseSession.id)
    )
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False)
    return render_template("home/sessions.html", pagination=pagination)
