"""The user's own account: identity, password, second factor, logging out everywhere."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required, login_user, logout_user

from stages.auth import totp
from stages.auth.forms import ChangePasswordForm, TotpCodeForm
from stages.auth.services import WRONG_CURRENT_PASSWORD, change_password, end_all_sessions
from stages.auth.views.blueprint import bp
from stages.auth.views.login import login_rate_limit
from stages.errors import DomainError
from stages.extensions import db, limiter


@bp.route("/mon-compte", methods=["GET", "POST"])
@login_required
def profile():
    """The user's own account: identity, role, scope, password, 2FA, sessions."""
    user = current_user._get_current_object()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            change_password(user, form.current_password.data, form.new_password.data)
        except DomainError as error:
            wrong_current = error.message == WRONG_CURRENT_PASSWORD
            (form.current_password if wrong_current else form.new_password).errors.append(
                error.message
            )
        else:
            db.session.commit()
            # The epoch changed: log in again in this browser with the new identity.
            login_user(user)
            flash("Votre mot de passe a été modifié.", "success")
            return redirect(url_for("auth.profile"))
    return render_template(
        "auth/profile.html",
        form=form,
        totp_form=TotpCodeForm(formdata=None),
        totp_enabled=totp.is_enabled(user),
        totp_required=totp.enrolment_required_for_role(user),
    )


@bp.route("/mon-compte/double-authentification", methods=["GET", "POST"])
@login_required
def totp_setup():
    """Enrol an authenticator app: its secret and QR code, confirmed by a first code."""
    user = current_user._get_current_object()
    if totp.is_enabled(user):
        flash("La double authentification est déjà activée sur votre compte.", "info")
        return redirect(url_for("auth.profile"))
    form = TotpCodeForm()
    if form.validate_on_submit():
        try:
            totp.confirm_enrolment(user, form.code.data)
        except DomainError as error:
            form.code.errors.append(error.message)
        else:
            db.session.commit()
            login_user(user)  # the epoch changed: keep this browser logged in
            flash("La double authentification est activée.", "success")
            return redirect(url_for("auth.profile"))
    secret = totp.begin_enrolment(user)
    db.session.commit()  # the same secret on every reload, until confirmed
    return render_template(
        "auth/totp_setup.html",
        form=form,
        secret_groups=[secret[i:i + 4] for i in range(0, len(secret), 4)],
        qr_code=totp.qr_code_svg(totp.provisioning_uri(user)),
        required=totp.enrolment_required(user),
    )


@bp.route("/mon-compte/double-authentification/desactiver", methods=["POST"])
@limiter.limit(login_rate_limit)
@login_required
def totp_disable():
    """Turn 2FA off, proven by a current code."""
    form = TotpCodeForm()
    if not form.validate_on_submit():
        flash("Saisissez le code à 6 chiffres de votre application.", "error")
        return redirect(url_for("auth.profile"))
    try:
        totp.disable(current_user._get_current_object(), form.code.data)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash("La double authentification est désactivée.", "success")
    return redirect(url_for("auth.profile"))


@bp.route("/mon-compte/deconnexion-partout", methods=["POST"])
@login_required
def logout_everywhere():
    """End every login session of the user, on every device, this one included."""
    end_all_sessions(current_user._get_current_object())
    db.session.commit()
    logout_user()
    flash("Vous êtes déconnecté·e de tous vos appareils.", "success")
    return redirect(url_for("auth.login"))

