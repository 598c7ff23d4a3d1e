"""The home page: what each role needs first when they log in."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from stages.auth.models import Role
from stages.enrollment.views.imports import import_under_way
from stages.home import queries

bp = Blueprint("home", __name__)


@bp.route("/")
def index():
    """Each role's to-do list and next courses; the dashboard for liaisons."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.role == Role.LIAISON:
        # A liaison's work starts from the measures their authority referred.
        return redirect(url_for("reports.dashboard"))
    return render_template(
        "home/index.html", **queries.home_page(current_user, import_under_way=import_under_way())
    )
