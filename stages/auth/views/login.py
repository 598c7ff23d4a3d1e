"""Logging in (the password, then the second factor when the account has one) and out."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import (
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from stages.auth import totp
from stages.auth.audit import audit
from stages.auth.login_sessions import close_login_session, open_login_session
from stages.auth.forms import LoginForm, TotpCodeForm
from stages.auth.models import User
from stages.auth.services import (
    authenticate,
    complete_login,
    is_locked,
    record_failed_login,
)
from stages.auth.views.blueprint import bp
from stages.extensions import db, limiter

# One message for every failure of the first step: unknown email, wrong password, deactivated or
# locked account. Naming the lock would tell an attacker the email exists; this wording still
# tells a real user who locked themselves out why their right password fails, and to wait.
LOGIN_FAILED = (
    "Adresse électronique ou mot de passe incorrect, ou compte temporairement bloqué après "
    "plusieurs échecs."
)
# Session key of a login waiting for its second factor: the user is NOT logged in meanwhile.
PENDING_LOGIN = "pending_login"


def login_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _safe_next(target: str | None) -> str | None:
    """Only follow a ``next`` that stays on this site (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


# --- Login -------------------------------------------------------------------------------------


@bp.route("/connexion", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def login():
    """Log in with email and password; every failure reads the same (no account enumeration)."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    next_url = _safe_next(request.values.get("next"))
    if form.validate_on_submit():
        session.pop(PENDING_LOGIN, None)
        user = authenticate(form.email.data, form.password.data)
        if user is None:
            audit("auth.login_failed", details="échec de connexion")
            db.session.commit()
            flash(LOGIN_FAILED, "error")
        elif totp.is_enabled(user):
            session[PENDING_LOGIN] = {
                "user_id": user.id,
                "epoch": user.session_epoch,
                "expires": time.time() + current_app.config["TOTP_LOGIN_TIMEOUT"],
                "remember": bool(form.remember.data),
                "next": next_url,
            }
            db.session.commit()  # a password rehash, if argon2's parameters changed
            return redirect(url_for("auth.login_code"))
        else:
            return _finish_login(user, bool(form.remember.data), next_url)
    return render_template("auth/login.html", form=form, next=next_url or "")


@bp.route("/connexion/code", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def login_code():
    """Second step of login: the code of the user's authenticator app."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    user, pending = _pending_login()
    if user is None:
        flash(
            "Votre demande de connexion a expiré : saisissez de nouveau vos identifiants.", "info"
        )
        return redirect(url_for("auth.login"))
    form = TotpCodeForm()
    if form.validate_on_submit():
        if not is_locked(user) and totp.verify_login_code(user, form.code.data):
            return _finish_login(user, pending["remember"], pending["next"])
        audit("auth.login_failed", details="code de double authentification refusé")
        locked = is_locked(user) or record_failed_login(user)
        db.session.commit()
        if locked:
            # The code step no longer helps: start again, with the first step's single message.
            session.pop(PENDING_LOGIN, None)
            flash(LOGIN_FAILED, "error")
            return redirect(url_for("auth.login"))
        form.code.errors.append(totp.WRONG_CODE)
    return render_template("auth/login_code.html", form=form)


def _pending_login() -> tuple[User | None, dict]:
    """The user whose password was right and who still owes a code, if not expired."""
    pending = session.get(PENDING_LOGIN)
    if not isinstance(pending, dict) or pending.get("expires", 0) < time.time():
        session.pop(PENDING_LOGIN, None)
        return None, {}
    user_id = pending.get("user_id")
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    # A password change or "log out everywhere" since the first step cancels it.
    if user is None or not user.active or user.session_epoch != pending.get("epoch"):
        session.pop(PENDING_LOGIN, None)
        return None, {}
    return user, pending


# Where Flask-WTF keeps the secret its form tokens are derived from (WTF_CSRF_FIELD_NAME).
CSRF_SECRET = "csrf_token"


def _finish_login(user: User, remember: bool, next_url: str | None):
    """Every factor checked: log in, then go on (to enrolment first when 2FA is required)."""
    session.pop(PENDING_LOGIN, None)
    # A new login gets new form tokens: a page kept from the previous one (a tablet's offline
    # copy) asks for a fresh token instead of posting with the old one.
    session.pop(CSRF_SECRET, None)
    complete_login(user)
    open_login_session(user, remember=remember)
    login_user(user, remember=remember)
    audit("auth.login", user, user=user)
    db.session.commit()
    if totp.enrolment_required(user):
        return redirect(url_for("auth.totp_setup"))
    return redirect(next_url or url_for("home.index"))


@bp.route("/deconnexion", methods=["POST"])
def logout():
    """Log out (POST only, CSRF-protected, so no link can log a user out)."""
    if current_user.is_authenticated:
        audit("auth.logout", current_user)
        close_login_session(current_user)
        db.session.commit()
        logout_user()
    session.pop(PENDING_LOGIN, None)
    session.pop(CSRF_SECRET, None)
    flash("Vous êtes déconnecté·e.", "info")
    return redirect(url_for("auth.login"))
