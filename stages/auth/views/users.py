"""The admin's management of accounts: the list, creating one, editing its role and scope, and
its security actions (temporary password, unlock, forgetting its authenticator app)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from stages.auth import totp
from stages.auth.forms import UserCreateForm, UserEditForm
from stages.auth.models import Role, User
from stages.auth.permissions import Permission, authorize, get_authorized
from stages.auth.services import (
    create_user,
    generate_temporary_password,
    is_locked,
    password_inputs,
    reset_password,
    unlock_user,
    update_user,
)
from stages.auth.views.blueprint import bp
from stages.errors import DomainError
from stages.extensions import db
from stages.pages import paginate
from stages.forms import select_choices
from stages.timeutil import now_utc
from stages.auth.models import Organization


LOCKED = "bloques"


# --- Accounts (admin) --------------------------------------------------------------------------


@bp.route("/admin/comptes")
@login_required
def users():
    """Admin: every account with its role, scope and state; ``?etat=bloques``: the locked ones."""
    authorize(Permission.ADMIN)
    locked_only = request.args.get("etat") == LOCKED
    query = sa.select(User).options(selectinload(User.organizations)).order_by(User.full_name, User.id)
    if locked_only:
        query = query.where(User.locked_until > now_utc())
    return render_template(
        "auth/users.html", pagination=paginate(query), is_locked=is_locked, locked_only=locked_only,
        filter_args={"etat": LOCKED} if locked_only else {},
    )


@bp.route("/admin/comptes/nouveau", methods=["GET", "POST"])
@login_required
def user_create():
    """Admin: create an account; a generated temporary password is shown once."""
    authorize(Permission.ADMIN)
    form = UserCreateForm()
    _set_organization_choices(form, [])
    if form.validate_on_submit():
        generated = not form.password.data
        password = form.password.data or generate_temporary_password(
            password_inputs(form.full_name.data, form.email.data)
        )
        try:
            account = create_user(
                form.email.data,
                form.full_name.data,
                Role(form.role.data),
                password,
                _organizations(form.organizations.data),
                temporary=True,
            )
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            if generated:
                # Rendered, not redirected: a flash would keep the password in the session cookie.
                return render_template(
                    "auth/temporary_password.html", account=account, password=password, created=True
                )
            flash("Le compte a été créé.", "success")
            return redirect(url_for("auth.user_edit", user_id=account.id))
    return render_template("auth/user_form.html", form=form, account=None)


@bp.route("/admin/comptes/<int:user_id>/modifier", methods=["GET", "POST"])
@login_required
def user_edit(user_id: int):
    """Admin: an account's role, scope and active flag, and its security actions."""
    account = get_authorized(User, user_id, Permission.ADMIN)
    form = UserEditForm(
        data={
            "role": account.role.value,
            "organizations": [o.id for o in account.organizations],
            "active": account.active,
        }
    )
    _set_organization_choices(form, account.organizations)
    if form.validate_on_submit():
        try:
            changes = update_user(
                account,
                role=Role(form.role.data),
                organizations=_organizations(form.organizations.data),
                active=form.active.data,
            )
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            if changes:
                flash("Compte modifié : " + ", ".join(changes) + ".", "success")
            else:
                flash("Aucune modification.", "info")
            return redirect(url_for("auth.user_edit", user_id=account.id))
    return render_template(
        "auth/user_form.html",
        form=form,
        account=account,
        locked=is_locked(account),
        totp_enabled=totp.is_enabled(account),
    )


@bp.route("/admin/comptes/<int:user_id>/mot-de-passe", methods=["POST"])
@login_required
def user_reset_password(user_id: int):
    """Admin: replace an account's password by a temporary one, shown once; ends its sessions."""
    account = get_authorized(User, user_id, Permission.ADMIN)
    if account.id == current_user.id:
        flash(_OWN_ACCOUNT, "error")
        return redirect(url_for("auth.user_edit", user_id=account.id))
    password = reset_password(account)
    db.session.commit()
    return render_template(
        "auth/temporary_password.html", account=account, password=password, created=False
    )


@bp.route("/admin/comptes/<int:user_id>/debloquer", methods=["POST"])
@login_required
def user_unlock(user_id: int):
    """Admin: lift a lockout after failed logins."""
    account = get_authorized(User, user_id, Permission.ADMIN)
    unlock_user(account)
    db.session.commit()
    flash("Le compte est débloqué.", "success")
    return redirect(url_for("auth.user_edit", user_id=account.id))


@bp.route("/admin/comptes/<int:user_id>/double-authentification", methods=["POST"])
@login_required
def user_reset_totp(user_id: int):
    """Admin: forget an account's authenticator app (lost phone); ends its sessions."""
    account = get_authorized(User, user_id, Permission.ADMIN)
    if account.id == current_user.id:
        flash(_OWN_ACCOUNT, "error")
        return redirect(url_for("auth.user_edit", user_id=account.id))
    totp.reset(account)
    db.session.commit()
    flash("La double authentification de ce compte est réinitialisée.", "success")
    return redirect(url_for("auth.user_edit", user_id=account.id))


# Resetting one's own password or 2FA here would skip the proof "Mon compte" asks for.
_OWN_ACCOUNT = "Pour votre propre compte, passez par « Mon compte »."


def _set_organization_choices(form: UserEditForm, current: list[Organization]) -> None:
    """Every organization not archived, plus the archived ones the account still belongs to."""
    current_ids = [o.id for o in current]
    organizations = db.session.scalars(
        sa.select(Organization)
        .where(sa.or_(Organization.archived_at.is_(None), Organization.id.in_(current_ids)))
        .order_by(Organization.kind, Organization.name)
    ).all()
    form.organizations.choices = select_choices(
        (o.id, f"{o.name} ({o.kind.label})") for o in organizations
    )


def _organizations(ids: list[int] | None) -> list[Organization]:
    if not ids:
        return []
    return list(db.session.scalars(sa.select(Organization).where(Organization.id.in_(ids))))
