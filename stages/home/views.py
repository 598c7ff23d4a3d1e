"""The home page: what each role needs first when they log in."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from stages.auth.models import Role
from stages.auth.permissions import Permission, can
from stages.home import queries
from stages.pages import paginate

bp = Blueprint("home", __name__)


@bp.route("/")
def index():
    """Upcoming courses for staff who run courses; the dashboard for liaisons."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.role == Role.LIAISON:
        # A liaison's work starts from the measures their authority referred.
        return redirect(url_for("reports.dashboard"))
    return render_template(
        "home/index.html",
        pagination=paginate(queries.upcoming_courses(current_user)),
        can_schedule=can(current_user, Permission.SCHEDULE),
    )
