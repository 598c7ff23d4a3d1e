"""Login, logout, the user's own profile, and the admin's list of accounts."""
from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.orm import selectinload

from stages.auth.audit import audit
from stages.auth.forms import ChangePasswordForm, LoginForm
from stages.auth.models import User
from stages.auth.permissions import Permission, authorize
from stages.auth.services import authenticate, change_password
from stages.errors import DomainError
from stages.extensions import db, limiter

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "Adresse électronique ou mot de passe incorrect."


def _safe_next(target: str | None) -> str | None:
    """Only follow a ``next`` that stays on this site (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/connexion", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    """Log in with email and password; unknown email and wrong password read the same."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    next_url = _safe_next(request.values.get("next"))
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is None:
            audit("auth.login_failed", details="échec de connexion")
            db.session.commit()
            flash(LOGIN_FAILED, "error")
        else:
            login_user(user, remember=form.remember.data)
            audit("auth.login", user, user=user)
            db.session.commit()
            return redirect(next_url or url_for("main.index"))
    return render_template("auth/login.html", form=form, next=next_url or "")


@bp.route("/deconnexion", methods=["POST"])
def logout():
    """Log out (POST only, CSRF-protected, so no link can log a user out)."""
    if current_user.is_authenticated:
        audit("auth.logout", current_user)
        db.session.commit()
        logout_user()
    flash("Vous êtes déconnecté·e.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/mon-compte", methods=["GET", "POST"])
@login_required
def profile():
    """The user's own account: identity, role, scope, password."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            change_password(current_user, form.current_password.data, form.new_password.data)
        except DomainError as error:
            form.current_password.errors.append(error.message)
        else:
            audit("auth.password_changed", current_user)
            db.session.commit()
            # The epoch changed: log in again in this browser with the new identity.
            login_user(current_user)
            flash("Votre mot de passe a été modifié.", "success")
            return redirect(url_for("auth.profile"))
    return render_template("auth/profile.html", form=form)


@bp.route("/admin/comptes")
@login_required
def users():
    """Admin: every account with its role and scope."""
    authorize(Permission.ADMIN)
    page = request.args.get("page", 1, type=int)
    query = (
        sa.select(User)
        .options(selectinload(User.organizations))
        .order_by(User.full_name, User.id)
    )
    pagination = db.paginate(
        query, page=page, per_page=current_app.config["ITEMS_PER_PAGE"], error_out=False
    )
    return render_template("auth/users.html", pagination=pagination)
