"""Account management by admins: create, edit role/scope/state, reset, unlock; audited; guarded."""
from __future__ import annotations

from types import SimpleNamespace
import html
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from stages.auth.models import AuditEntry, Role, User
from stages.auth.services import authenticate, check_password
from stages.extensions import db
from stages.models import OrganizationKind
from stages.timeutil import now_utc
from tests.conftest import IsolatedClient
from tests.factories import PASSWORD
from tests.helpers import login


@pytest.fixture
def accounts(make):
    w = SimpleNamespace()
    w.association = make.organization(OrganizationKind.ASSOCIATION)
    w.parquet = make.authority()
    w.admin = make.user(Role.ADMIN)
    w.organizer = make.user(
        Role.ORGANIZER, [w.association], full_name="Camille Martin",
        email="camille.martin@example.org",
    )
    db.session.commit()
    return w


@pytest.fixture
def admin_client(client, accounts):
    login(client, accounts.admin)
    return client


def entries(action: str) -> list[AuditEntry]:
    return db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    ).all()


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def shown_password(response) -> str:
    page = response.get_data(as_text=True)
    return re.search(r'id="temporary-password" value="([^"]+)"', page).group(1)


def fresh(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


# --- Create ------------------------------------------------------------------------------------


def test_admin_creates_an_account_with_a_temporary_password(admin_client, accounts):
    assert "Créer un compte" in text(admin_client.get("/admin/comptes"))
    assert admin_client.get("/admin/comptes/nouveau").status_code == 200
    response = admin_client.post(
        "/admin/comptes/nouveau",
        data={
            "full_name": "Nadia Benali",
            "email": "N.Benali@Example.org",
            "role": "liaison",
            "organizations": [str(accounts.parquet.id)],
        },
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"  # the password must not be cached
    password = shown_password(response)
    user = authenticate("n.benali@example.org", password)
    assert user is not None and user.role == Role.LIAISON
    assert [o.id for o in user.organizations] == [accounts.parquet.id]
    [created] = entries("user.created")
    assert (created.user_id, created.object_id, created.details) == (
        accounts.admin.id, user.id, "rôle : liaison"
    )
    assert password not in (created.details or "")


def test_admin_may_set_the_password_but_not_a_weak_one(admin_client, accounts):
    data = {"full_name": "Paul Durand", "email": "p.durand@example.org", "role": "admin"}
    weak = admin_client.post("/admin/comptes/nouveau", data={**data, "password": "motdepasse123"})
    assert weak.status_code == 200
    assert "trop courant ou trop facile à deviner" in text(weak)
    assert db.session.scalar(sa.select(User).where(User.email == "p.durand@example.org")) is None

    strong = "girafe lunaire sous la pluie tiède"
    response = admin_client.post("/admin/comptes/nouveau", data={**data, "password": strong})
    assert response.status_code == 302
    assert authenticate("p.durand@example.org", strong) is not None


def test_creation_applies_the_scope_rules(admin_client, accounts):
    response = admin_client.post(
        "/admin/comptes/nouveau",
        data={
            "full_name": "Léa Petit",
            "email": "l.petit@example.org",
            "role": "liaison",
            "organizations": [str(accounts.association.id)],
        },
    )
    assert response.status_code == 200
    assert "autorité prescriptrice" in text(response)
    duplicate = admin_client.post(
        "/admin/comptes/nouveau",
        data={
            "full_name": "Autre",
            "email": accounts.organizer.email,
            "role": "organizer",
            "organizations": [str(accounts.association.id)],
        },
    )
    assert "Un compte existe déjà" in text(duplicate)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 2


# --- Edit: role, scope, state ------------------------------------------------------------------


def test_role_and_scope_changes_are_audited(admin_client, accounts):
    response = admin_client.post(
        f"/admin/comptes/{accounts.organizer.id}/modifier",
        data={"role": "liaison", "organizations": [str(accounts.parquet.id)], "active": "y"},
    )
    assert response.status_code == 302
    user = fresh(accounts.organizer)
    assert user.role == Role.LIAISON and [o.id for o in user.organizations] == [accounts.parquet.id]
    [role] = entries("user.role_changed")
    assert (role.details, role.object_id, role.user_id) == (
        "organizer → liaison", user.id, accounts.admin.id
    )
    [scope] = entries("user.scope_changed")
    assert scope.details == f"{accounts.association.short_name} → {accounts.parquet.short_name}"
    # Nothing personal in the details: no name, no email.
    for entry in (role, scope):
        assert "Camille" not in entry.details and "@" not in entry.details
    assert "Compte modifié" in text(admin_client.get(response.headers["Location"]))


def test_saving_without_change_writes_nothing(admin_client, accounts):
    admin_client.post(
        f"/admin/comptes/{accounts.organizer.id}/modifier",
        data={"role": "organizer", "organizations": [str(accounts.association.id)], "active": "y"},
    )
    assert entries("user.role_changed") == entries("user.scope_changed") == []


def test_edit_applies_the_scope_rules(admin_client, accounts):
    response = admin_client.post(
        f"/admin/comptes/{accounts.organizer.id}/modifier",
        data={"role": "liaison", "organizations": [str(accounts.association.id)], "active": "y"},
    )
    assert response.status_code == 200 and "autorité prescriptrice" in text(response)
    assert fresh(accounts.organizer).role == Role.ORGANIZER
    assert entries("user.role_changed") == []


def test_deactivated_accounts_cannot_log_in_and_are_kept(app, admin_client, accounts):
    app.test_client_class = IsolatedClient
    their = app.test_client()
    login(their, accounts.organizer)
    response = admin_client.post(
        f"/admin/comptes/{accounts.organizer.id}/modifier",
        data={"role": "organizer", "organizations": [str(accounts.association.id)]},
    )
    assert response.status_code == 302
    assert fresh(accounts.organizer).active is False
    assert len(entries("user.deactivated")) == 1
    assert their.get("/").status_code == 302  # their open session ends at once
    assert login(their, accounts.organizer).status_code == 200  # refused
    assert "Désactivé" in text(admin_client.get("/admin/comptes"))


# --- The last admin ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {"role": "organizer", "active": "y"},  # demote
        {"role": "admin"},  # deactivate (the checkbox unticked)
    ],
)
def test_the_last_active_admin_cannot_demote_or_deactivate_themselves(admin_client, accounts, data):
    organizations = [str(accounts.association.id)] if data["role"] == "organizer" else []
    response = admin_client.post(
        f"/admin/comptes/{accounts.admin.id}/modifier", data={**data, "organizations": organizations}
    )
    assert response.status_code == 200
    assert "dernier compte administrateur actif" in text(response)
    admin = fresh(accounts.admin)
    assert (admin.role, admin.active) == (Role.ADMIN, True)
    assert entries("user.role_changed") == entries("user.deactivated") == []


def test_an_admin_may_step_down_when_another_remains(admin_client, accounts, make):
    make.user(Role.ADMIN)
    response = admin_client.post(
        f"/admin/comptes/{accounts.admin.id}/modifier",
        data={"role": "organizer", "organizations": [str(accounts.association.id)], "active": "y"},
    )
    assert response.status_code == 302
    assert fresh(accounts.admin).role == Role.ORGANIZER
    assert entries("user.role_changed")[0].details == "admin → organizer"
    assert admin_client.get("/admin/comptes").status_code == 403  # the new role applies at once


def test_an_inactive_admin_does_not_count(admin_client, accounts, make):
    make.user(Role.ADMIN, active=False)
    response = admin_client.post(
        f"/admin/comptes/{accounts.admin.id}/modifier", data={"role": "admin", "organizations": []}
    )
    assert "dernier compte administrateur actif" in text(response)


# --- Reset password, unlock, reset 2FA ---------------------------------------------------------


def test_reset_password_shows_a_temporary_one_and_ends_sessions(app, admin_client, accounts):
    app.test_client_class = IsolatedClient
    their = app.test_client()
    login(their, accounts.organizer)
    accounts.organizer.locked_until = now_utc() + timedelta(minutes=10)
    accounts.organizer.failed_logins = 7
    response = admin_client.post(f"/admin/comptes/{accounts.organizer.id}/mot-de-passe")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    password = shown_password(response)
    user = fresh(accounts.organizer)
    assert check_password(user, password) and not check_password(user, PASSWORD)
    assert (user.failed_logins, user.locked_until) == (0, None)
    assert their.get("/").status_code == 302
    assert len(entries("user.password_reset")) == 1
    assert login(their, user, password).status_code == 302


def test_unlock(admin_client, accounts):
    accounts.organizer.locked_until = now_utc() + timedelta(minutes=10)
    accounts.organizer.failed_logins = 6
    page = text(admin_client.get(f"/admin/comptes/{accounts.organizer.id}/modifier"))
    assert "Débloquer le compte" in page
    admin_client.post(f"/admin/comptes/{accounts.organizer.id}/debloquer")
    user = fresh(accounts.organizer)
    assert (user.failed_logins, user.locked_until) == (0, None)
    assert len(entries("user.unlocked")) == 1


def test_reset_two_factor(admin_client, accounts):
    accounts.organizer.totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    accounts.organizer.totp_confirmed_at = now_utc()
    epoch = accounts.organizer.session_epoch
    response = admin_client.post(f"/admin/comptes/{accounts.organizer.id}/double-authentification")
    assert response.status_code == 302
    user = fresh(accounts.organizer)
    assert (user.totp_secret, user.totp_confirmed_at) == (None, None)
    assert user.session_epoch == epoch + 1
    assert len(entries("user.2fa_reset")) == 1


def test_own_password_and_2fa_go_through_my_account(admin_client, accounts):
    for action in ("mot-de-passe", "double-authentification"):
        response = admin_client.post(f"/admin/comptes/{accounts.admin.id}/{action}")
        assert response.status_code == 302
    assert check_password(fresh(accounts.admin), PASSWORD)
    assert entries("user.password_reset") == entries("user.2fa_reset") == []


# --- Permissions and CSRF ----------------------------------------------------------------------


ADMIN_REQUESTS = [
    ("get", "/admin/comptes"),
    ("get", "/admin/comptes/nouveau"),
    ("post", "/admin/comptes/nouveau"),
    ("get", "/admin/comptes/{id}/modifier"),
    ("post", "/admin/comptes/{id}/modifier"),
    ("post", "/admin/comptes/{id}/mot-de-passe"),
    ("post", "/admin/comptes/{id}/debloquer"),
    ("post", "/admin/comptes/{id}/double-authentification"),
]


@pytest.mark.parametrize("role", [Role.ORGANIZER, Role.FACILITATOR, Role.LIAISON])
def test_only_admins_manage_accounts(client, accounts, make, role):
    scope = [accounts.parquet] if role == Role.LIAISON else [accounts.association]
    login(client, make.user(role, scope))
    for method, url in ADMIN_REQUESTS:
        response = getattr(client, method)(
            url.format(id=accounts.organizer.id),
            data={"role": "admin", "full_name": "X", "email": "x@example.org"},
        )
        assert response.status_code == 403, (role, method, url)
    assert fresh(accounts.organizer).role == Role.ORGANIZER
    assert client.get("/admin/comptes/999999/modifier").status_code == 403  # no probing


def test_anonymous_users_are_sent_to_login(client, accounts):
    for method, url in ADMIN_REQUESTS:
        response = getattr(client, method)(url.format(id=accounts.organizer.id))
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/connexion")


def test_unknown_account_is_404_for_admins(admin_client):
    assert admin_client.get("/admin/comptes/999999/modifier").status_code == 404


def test_a_post_without_csrf_token_is_refused(admin_client, accounts, csrf_enabled):
    response = admin_client.post(
        f"/admin/comptes/{accounts.organizer.id}/modifier",
        data={"role": "admin", "organizations": [], "active": "y"},
    )
    assert response.status_code == 400
    assert fresh(accounts.organizer).role == Role.ORGANIZER
    assert admin_client.post("/admin/comptes/nouveau", data={}).status_code == 400


# --- A password chosen by an admin is replaced at the first login ------------------------------


def change_own_password(client, current: str, new: str):
    return client.post(
        "/mon-compte",
        data={"current_password": current, "new_password": new, "confirm_password": new},
    )


def test_a_new_account_must_choose_its_own_password_before_anything_else(app, admin_client, accounts):
    response = admin_client.post(
        "/admin/comptes/nouveau",
        data={"full_name": "Nadia Benali", "email": "n.benali@example.org", "role": "organizer",
              "organizations": [str(accounts.association.id)]},
    )
    temporary = shown_password(response)
    app.test_client_class = IsolatedClient
    theirs = app.test_client()
    assert theirs.post("/connexion", data={"email": "n.benali@example.org", "password": temporary}).status_code == 302
    for url in ("/", "/calendrier", "/personnes", "/mon-compte/double-authentification"):
        blocked = theirs.get(url)
        assert (blocked.status_code, blocked.headers.get("Location")) == (302, "/mon-compte"), url
    page = text(theirs.get("/mon-compte"))
    assert "Votre mot de passe actuel est provisoire" in page
    same = change_own_password(theirs, temporary, temporary)
    assert "différent du mot de passe actuel" in text(same)
    own = "girafe lunaire sous la pluie tiède"
    assert change_own_password(theirs, temporary, own).status_code == 302
    user = db.session.scalar(sa.select(User).where(User.email == "n.benali@example.org"))
    assert user.password_change_required is False and check_password(user, own)
    assert theirs.get("/calendrier").status_code == 200
    assert "provisoire" not in text(theirs.get("/mon-compte"))


def test_a_reset_password_must_be_replaced_but_a_password_typed_by_the_admin_too(admin_client, accounts):
    admin_client.post(f"/admin/comptes/{accounts.organizer.id}/mot-de-passe")
    assert fresh(accounts.organizer).password_change_required is True
    admin_client.post("/admin/comptes/nouveau", data={
        "full_name": "Paul Durand", "email": "p.durand@example.org", "role": "admin",
        "password": "girafe lunaire sous la pluie tiède",
    })
    created = db.session.scalar(sa.select(User).where(User.email == "p.durand@example.org"))
    assert created.password_change_required is True  # the admin knows it: it is not the user's own
    # The admin's own session is untouched.
    assert admin_client.get("/admin/comptes").status_code == 200


def test_with_required_2fa_the_password_comes_first_then_the_enrolment(app, client, make, monkeypatch):
    monkeypatch.setitem(app.config, "REQUIRE_2FA", True)
    liaison = make.user(Role.LIAISON, [make.authority()])
    liaison.password_change_required = True
    db.session.commit()
    login(client, liaison)
    assert client.get("/").headers["Location"] == "/mon-compte"
    assert client.get("/mon-compte").status_code == 200  # no loop between the two guards
    assert client.get("/mon-compte/double-authentification").headers["Location"] == "/mon-compte"
    change_own_password(client, PASSWORD, "girafe lunaire sous la pluie tiède")
    assert client.get("/").headers["Location"] == "/mon-compte/double-authentification"
