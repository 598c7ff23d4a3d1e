"""The home page: what each role needs first when they log in."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from stages.auth.models import Role
from stages.auth.permissions import visible
from stages.extensions import db
from stages.scheduling.models import Course, CourseStatus
from stages.timeutil import now_utc

bp = Blueprint("home", __name__)


@bp.route("/")
def index():
    """Upcoming sessions for staff who run courses; the dashboard for liaisons."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.role == Role.LIAISON:
        # A liaison's work starts from the measures their authority referred.
        return redirect(url_for("reports.dashboard"))
    query = (
        visible(Course, current_user)
        .where(
            Course.ends_at >= now_utc(),
            Course.status != CourseStatus.CANCELLED,
        )
        .options(
            selectinload(Course.venue),
            selectinload(Course.parts),
            selectinload(Course.organizations),
            selectinload(Course.facilitators),
        )
        .order_by(Course.starts_at, Course.id)
    )
    pagination = db.paginate(
        query, page=request.args.get("page", 1, type=int),
        per_page=current_app.config["ITEMS_PER_PAGE"], error_out=False,
    )
    return render_template("home/index.html", pagination=pagination)
