"""Personal access tokens on « Mon compte »: created with a name and an expiry, shown once,
stored hashed, listed, revoked one by one (POST + CSRF, audited)."""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from stages.api.models import ApiToken
from stages.api.tokens import TOKEN_PATTERN
from stages.auth.models import AuditEntry, Role
from stages.extensions import db
from stages.timeutil import today_local
from tests.helpers import login

VALUE = re.compile(r'value="(stg_[0-9a-f]{12}_[A-Za-z0-9_-]{43})"')


def _create(client, name="Logiciel du greffe", days=90):
    return client.post("/mon-compte/jetons-api/nouveau", data={
        "name": name, "expires_on": (today_local() + timedelta(days=days)).isoformat()})


@pytest.mark.parametrize("role", [Role.LIAISON, Role.ORGANIZER, Role.ADMIN])
def test_token_is_shown_once_and_stored_hashed(client, make, role):
    user = make.user(role, [make.authority()] if role == Role.LIAISON else [])
    login(client, user)
    response = _create(client)
    assert response.status_code == 200
    value = VALUE.search(response.text).group(1)
    prefix, secret = TOKEN_PATTERN.fullmatch(value).groups()
    row = db.session.scalar(sa.select(ApiToken))
    assert row.prefix == prefix and row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in row.secret_hash
    assert response.headers["Cache-Control"] == "no-store"
    profile = client.get("/mon-compte").text
    assert "Logiciel du greffe" in profile and f"stg_{prefix}" in profile and secret not in profile
    assert db.session.scalar(sa.select(AuditEntry.action).where(AuditEntry.object_type == "ApiToken")) == "api_token.created"
    # The token works at once.
    assert client.get("/api/v1/measures", headers={"Authorization": f"Bearer {value}"}).status_code == 200


@pytest.mark.parametrize("days, expected", [(366, "au plus dans 365 jours"), (0, "après aujourd"), (-3, "après aujourd")])
def test_expiry_is_required_and_at_most_a_year(client, make, days, expected):
    login(client, make.user(Role.ORGANIZER, [make.organization()]))
    response = _create(client, days=days)
    assert response.status_code == 200 and expected in response.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0
    missing = client.post("/mon-compte/jetons-api/nouveau", data={"name": "x", "expires_on": ""})
    assert "Indiquez la date d" in missing.text and "expiration." in missing.text


def test_facilitators_are_offered_no_token(client, make):
    login(client, make.user(Role.FACILITATOR, [make.organization()]))
    assert client.get("/mon-compte/jetons-api/nouveau").status_code == 403
    assert "Jetons d'accès à l'API" not in client.get("/mon-compte").text


@pytest.fixture
def csrf_after_login(app):
    """CSRF protection turned on by the test once logged in (the login form has its own tests)."""
    yield lambda: app.config.update(WTF_CSRF_ENABLED=True)
    app.config["WTF_CSRF_ENABLED"] = False


def test_revoke_needs_csrf_and_is_audited(client, make, csrf_after_login):
    user = make.user(Role.LIAISON, [make.authority()])
    value = make.api_token(user, name="Script")
    row_id = db.session.scalar(sa.select(ApiToken.id))
    login(client, user)
    csrf_after_login()
    assert client.post(f"/mon-compte/jetons-api/{row_id}/revoquer").status_code == 400
    page = client.get("/mon-compte").text
    assert "Révoquer" in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(f"/mon-compte/jetons-api/{row_id}/revoquer", data={"csrf_token": csrf})
    assert response.status_code == 302
    assert db.session.get(ApiToken, row_id).revoked_at is not None
    assert db.session.scalar(sa.select(AuditEntry.action).where(AuditEntry.action == "api_token.revoked"))
    assert client.get("/api/v1/measures", headers={"Authorization": f"Bearer {value}"}).status_code == 401
    assert "Révoqué" in client.get("/mon-compte").text


def test_someone_elses_token_cannot_be_revoked(client, make):
    owner = make.user(Role.LIAISON, [make.authority()])
    make.api_token(owner)
    row_id = db.session.scalar(sa.select(ApiToken.id))
    login(client, make.user(Role.ADMIN))
    assert client.post(f"/mon-compte/jetons-api/{row_id}/revoquer").status_code == 403
    assert db.session.get(ApiToken, row_id).revoked_at is None
