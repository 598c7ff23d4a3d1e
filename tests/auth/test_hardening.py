"""Login hardening: progressive lockout, shared rate limits, TOTP second factor, required 2FA,
idle timeout, "log out everywhere" and the password policy."""
from __future__ import annotations

import html
import os
import re
import socket
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import time_machine

from stages.auth import services, totp
from stages.auth.models import AuditEntry, Role, User
from stages.auth.services import lockout_seconds, validate_password
from stages.errors import DomainError
from stages.extensions import db, limiter
from stages.timeutil import UTC
from tests.conftest import IsolatedClient
from tests.factories import PASSWORD
from tests.helpers import login

FAILED = (
    "Adresse électronique ou mot de passe incorrect, ou compte temporairement bloqué après "
    "plusieurs échecs."
)
# Mid-step, so that ±30 s stays inside the neighbouring steps.
NOW = datetime(2026, 3, 12, 9, 0, 10, tzinfo=UTC)
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def fail(client, user, password="not the password!"):
    return client.post("/connexion", data={"email": user.email, "password": password})


def flashes(response) -> str:
    """The flash messages of a page, unescaped, one per line."""
    page = response.get_data(as_text=True)
    found = re.findall(r'<span class="flash-label">[^<]*</span>\s*(.*?)</p>', page, re.S)
    return "\n".join(html.unescape(message) for message in found)


def audit_actions(action: str) -> list[AuditEntry]:
    return db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)).all()


def fresh(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


# --- Progressive lockout -----------------------------------------------------------------------


def test_lockout_grows_then_a_success_resets_it(client, make):
    user = make.user(Role.ORGANIZER, [make.organization()])
    with time_machine.travel(NOW, tick=False) as clock:
        for _ in range(4):
            assert FAILED in flashes(fail(client, user))
        user = fresh(user)
        assert (user.failed_logins, user.locked_until) == (4, None)

        fail(client, user)  # the 5th failure in a row locks for 1 minute
        assert fresh(user).locked_until == NOW + timedelta(seconds=60)
        # While locked, even the right password fails, with the same message, and is not counted.
        response = login(client, user)
        assert response.status_code == 200 and FAILED in flashes(response)
        assert client.get("/").status_code == 302
        assert fresh(user).failed_logins == 5

        clock.shift(61)
        fail(client, user)  # each further failure doubles the lock
        assert fresh(user).locked_until == NOW + timedelta(seconds=61 + 120)
        clock.shift(121)
        fail(client, user)
        assert fresh(user).locked_until == NOW + timedelta(seconds=61 + 121 + 240)
        assert len(audit_actions("auth.locked")) == 3
        locks = audit_actions("auth.locked")
        assert all(e.user_id is None and e.object_id == user.id for e in locks)

        clock.shift(241)
        assert login(client, user).status_code == 302  # the lock is over: the password works
        user = fresh(user)
        assert (user.failed_logins, user.locked_until) == (0, None)
        assert user.last_login_at == NOW + timedelta(seconds=61 + 121 + 241)


def test_lockout_durations_double_up_to_the_ceiling(app, monkeypatch):
    assert [lockout_seconds(n) for n in range(4, 13)] == [
        0, 60, 120, 240, 480, 960, 1920, 3600, 3600
    ]
    assert lockout_seconds(10_000) == 3600
    monkeypatch.setitem(app.config, "LOGIN_LOCKOUT_THRESHOLD", 3)
    monkeypatch.setitem(app.config, "LOGIN_LOCKOUT_SECONDS", 30)
    monkeypatch.setitem(app.config, "LOGIN_LOCKOUT_MAX_SECONDS", 100)
    assert [lockout_seconds(n) for n in range(2, 7)] == [0, 30, 60, 100, 100]


def test_locked_wrong_and_unknown_read_the_same(client, make):
    locked = make.user(Role.ADMIN, locked_until=NOW + timedelta(minutes=5), failed_logins=5)
    other = make.user(Role.ADMIN)
    with time_machine.travel(NOW, tick=False):
        answers = [
            login(client, locked),  # right password, locked account
            fail(client, other),  # wrong password
            client.post("/connexion", data={"email": "nobody@stages.test", "password": PASSWORD}),
        ]
    assert {r.status_code for r in answers} == {200}
    messages = {flashes(r) for r in answers}
    assert len(messages) == 1 and FAILED in messages.pop()
    for response in answers:
        assert "bloqué jusqu" not in response.get_data(as_text=True)


def test_every_first_step_verifies_one_hash(client, make, monkeypatch):
    """Unknown, locked and wrong all cost one argon2 verification: timing reveals nothing."""
    calls = []
    real = services.check_password
    monkeypatch.setattr(services, "check_password", lambda u, p: calls.append(u) or real(u, p))
    locked = make.user(Role.ADMIN, locked_until=NOW + timedelta(minutes=5))
    with time_machine.travel(NOW, tick=False):
        login(client, locked)
        client.post("/connexion", data={"email": "nobody@stages.test", "password": PASSWORD})
        fail(client, make.user(Role.ADMIN))
    assert len(calls) == 3


# --- Rate limit shared through Redis -----------------------------------------------------------

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url():
    """The Redis URL, or a skip that says why."""
    redis = pytest.importorskip("redis", reason="the `redis` package is not installed")
    parts = urlsplit(REDIS_URL)
    try:
        socket.create_connection((parts.hostname, parts.port or 6379), timeout=0.5).close()
        redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping()
    except (OSError, redis.RedisError):
        pytest.skip(f"no Redis answers at {parts.hostname}:{parts.port or 6379}")
    return REDIS_URL


def test_login_rate_limit_is_shared_across_workers_through_redis(app, redis_url):
    """Two apps stand for two workers: the second, with its own fresh connection, sees the
    attempts counted by the first, and refuses the next one."""
    import redis

    from stages import create_app

    prefix = f"stages-test-{uuid.uuid4().hex}"
    keep = ("SQLALCHEMY_DATABASE_URI", "SERVER_NAME", "BASE_URL", "SECRET_KEY", "TESTING")
    settings = {
        **{key: app.config[key] for key in keep},
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_KEY_PREFIX": prefix,
        "LOGIN_RATE_LIMIT": "3 per minute",
    }
    attempt = {"email": "nobody@stages.test", "password": "not the password!"}
    # Flask-Limiter keeps its state on the one shared ``limiter`` object: put it back afterwards.
    saved = dict(vars(limiter))
    workers = []
    try:
        workers.append(create_app(settings))
        first = workers[-1].test_client()
        assert [first.post("/connexion", data=attempt).status_code for _ in range(3)] == [200] * 3
        # A new app builds a new storage client: nothing is carried over in this process' memory.
        workers.append(create_app(settings))
        second = workers[-1].test_client()
        refused = second.post("/connexion", data=attempt)
        assert refused.status_code == 429
        assert "Trop de tentatives" in refused.get_data(as_text=True)
        assert second.get("/connexion").status_code == 200  # only the POST is limited
        store = redis.Redis.from_url(redis_url)
        keys = store.keys(f"*{prefix}*")
        assert keys
        store.delete(*keys)
    finally:
        vars(limiter).clear()
        vars(limiter).update(saved)
        for worker in workers:
            with worker.app_context():
                db.engine.dispose()


# --- TOTP second factor ------------------------------------------------------------------------


def code_at(moment: datetime, secret: str = SECRET) -> str:
    return totp.current_code(secret, moment)


def totp_user(make, role=Role.ORGANIZER, **kw):
    organizations = [make.organization()] if role in (Role.ORGANIZER, Role.FACILITATOR) else (
        [make.authority()] if role == Role.LIAISON else []
    )
    return make.user(
        role, organizations, totp_secret=SECRET, totp_confirmed_at=NOW - timedelta(days=1), **kw
    )


def test_enrol_then_confirm_with_a_code(client, make):
    user = make.user(Role.ORGANIZER, [make.organization()])
    with time_machine.travel(NOW, tick=False):
        login(client, user)
        page = client.get("/mon-compte")
        assert "Activer la double authentification" in page.get_data(as_text=True)
        setup = client.get("/mon-compte/double-authentification")
        body = setup.get_data(as_text=True)
        secret = fresh(user).totp_secret
        assert secret and fresh(user).totp_confirmed_at is None
        assert '<svg' in body and 'class="qr-code"' in body  # drawn here, no external service
        assert " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)) in body
        # Reloading keeps the secret the phone may already hold.
        client.get("/mon-compte/double-authentification")
        assert fresh(user).totp_secret == secret

        wrong = client.post("/mon-compte/double-authentification", data={"code": "000000"})
        assert "Code incorrect" in html.unescape(wrong.get_data(as_text=True))
        assert fresh(user).totp_confirmed_at is None

        response = client.post(
            "/mon-compte/double-authentification", data={"code": code_at(NOW, secret)}
        )
        assert response.status_code == 302 and response.headers["Location"] == "/mon-compte"
        assert fresh(user).totp_confirmed_at == NOW
        assert client.get("/").status_code == 200  # this browser stays logged in
        assert len(audit_actions("auth.2fa_enabled")) == 1


def test_provisioning_uri_names_the_issuer_and_account(app, make):
    user = make.user(Role.ADMIN, totp_secret=SECRET)
    uri = totp.provisioning_uri(user)
    assert uri.startswith("otpauth://totp/Stages:") and f"secret={SECRET}" in uri


def test_login_asks_for_the_code_before_logging_in(client, make):
    user = totp_user(make)
    with time_machine.travel(NOW, tick=False):
        first = login(client, user)
        assert first.status_code == 302 and first.headers["Location"] == "/connexion/code"
        assert client.get("/").status_code == 302  # not logged in before the code
        assert fresh(user).last_login_at is None
        assert client.get("/connexion/code").status_code == 200

        wrong = client.post("/connexion/code", data={"code": "123456"})
        assert wrong.status_code == 200
        assert "Code incorrect" in html.unescape(wrong.get_data(as_text=True))
        assert fresh(user).failed_logins == 1
        assert client.get("/").status_code == 302

        right = client.post("/connexion/code", data={"code": code_at(NOW)})
        assert right.status_code == 302 and right.headers["Location"] == "/"
        assert client.get("/").status_code == 200
        user = fresh(user)
        assert (user.failed_logins, user.last_login_at) == (0, NOW)
        assert len(audit_actions("auth.login")) == 1


def test_codes_of_the_neighbouring_steps_are_accepted_not_older_ones(app, make):
    user = totp_user(make)
    assert totp.verify_login_code(user, code_at(NOW - timedelta(seconds=30)), at=NOW)
    assert totp.verify_login_code(user, code_at(NOW + timedelta(seconds=30)), at=NOW)
    assert not totp.verify_login_code(user, code_at(NOW - timedelta(seconds=60)), at=NOW)
    assert not totp.verify_login_code(user, "12345", at=NOW)
    assert not totp.verify_login_code(user, "abcdef", at=NOW)
    spaced = code_at(NOW)[:3] + " " + code_at(NOW)[3:]
    assert totp.verify_login_code(user, spaced, at=NOW)


def test_a_code_cannot_be_used_twice(app, make):
    laptop, thief = _clients(app, 2)
    user = totp_user(make)
    with time_machine.travel(NOW, tick=False) as clock:
        login(laptop, user)
        assert laptop.post("/connexion/code", data={"code": code_at(NOW)}).status_code == 302
        # Another browser replays the code, in the same 30 seconds: refused.
        login(thief, user)
        replay = thief.post("/connexion/code", data={"code": code_at(NOW)})
        assert replay.status_code == 200 and thief.get("/").status_code == 302
        # The next code works.
        clock.shift(30)
        next_code = code_at(NOW + timedelta(seconds=30))
        assert thief.post("/connexion/code", data={"code": next_code}).status_code == 302


def test_the_code_step_expires(client, make):
    user = totp_user(make)
    with time_machine.travel(NOW, tick=False) as clock:
        login(client, user)
        clock.shift(5 * 60 + 1)
        response = client.post("/connexion/code", data={"code": code_at(NOW)})
        assert response.status_code == 302 and response.headers["Location"] == "/connexion"
        assert client.get("/").status_code == 302


def test_wrong_codes_count_towards_the_lockout(client, make):
    user = totp_user(make)
    with time_machine.travel(NOW, tick=False):
        login(client, user)
        for _ in range(4):
            assert client.post("/connexion/code", data={"code": "000000"}).status_code == 200
        locked = client.post("/connexion/code", data={"code": "000000"})
        assert locked.headers["Location"] == "/connexion"
        assert fresh(user).locked_until == NOW + timedelta(seconds=60)
        # Start again: locked, so the right password and the right code both fail.
        assert FAILED in flashes(login(client, user))
        assert client.get("/connexion/code").status_code == 302


def test_disable_with_a_current_code(client, make):
    user = totp_user(make)
    with time_machine.travel(NOW, tick=False) as clock:
        login(client, user)
        client.post("/connexion/code", data={"code": code_at(NOW)})
        # The code that just logged in cannot switch 2FA off.
        client.post("/mon-compte/double-authentification/desactiver", data={"code": code_at(NOW)})
        assert totp.is_enabled(fresh(user))
        clock.shift(30)
        later = NOW + timedelta(seconds=30)
        response = client.post(
            "/mon-compte/double-authentification/desactiver", data={"code": code_at(later)}
        )
        assert response.headers["Location"] == "/mon-compte"
        user = fresh(user)
        assert (user.totp_secret, user.totp_confirmed_at) == (None, None)
        assert len(audit_actions("auth.2fa_disabled")) == 1


# --- 2FA required for admins and liaisons ------------------------------------------------------


@pytest.fixture
def require_2fa(app, monkeypatch):
    monkeypatch.setitem(app.config, "REQUIRE_2FA", True)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.LIAISON])
def test_required_2fa_sends_admins_and_liaisons_to_enrolment(client, make, require_2fa, role):
    scope = [make.authority()] if role == Role.LIAISON else []
    user = make.user(role, scope)
    with time_machine.travel(NOW, tick=False):
        response = login(client, user)
        assert response.headers["Location"] == "/mon-compte/double-authentification"
        for url in ("/", "/mon-compte", "/admin/comptes", "/nulle-part"):
            blocked = client.get(url)
            assert blocked.status_code == 302, url
            assert blocked.headers["Location"] == "/mon-compte/double-authentification"
        page = client.get("/mon-compte/double-authentification").get_data(as_text=True)
        assert "obligatoire pour votre rôle" in html.unescape(page)
        secret = fresh(user).totp_secret
        client.post("/mon-compte/double-authentification", data={"code": code_at(NOW, secret)})
        assert client.get("/", follow_redirects=True).status_code == 200  # liaisons: the dashboard


def test_required_2fa_leaves_organizers_alone(client, make, require_2fa):
    user = make.user(Role.ORGANIZER, [make.organization()])
    response = login(client, user)
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_required_2fa_can_log_out_and_cannot_be_disabled(client, make, require_2fa):
    user = totp_user(make, Role.ADMIN)
    with time_machine.travel(NOW, tick=False) as clock:
        login(client, user)
        client.post("/connexion/code", data={"code": code_at(NOW)})
        assert client.get("/").status_code == 200
        clock.shift(30)
        later = NOW + timedelta(seconds=30)
        client.post(
            "/mon-compte/double-authentification/desactiver", data={"code": code_at(later)}
        )
        assert totp.is_enabled(fresh(user))
    client.post("/deconnexion")
    assert client.get("/").status_code == 302


# --- Sessions: idle timeout, log out everywhere -------------------------------------------------


def test_idle_sessions_expire(client, make):
    user = make.user(Role.ORGANIZER, [make.organization()])
    with time_machine.travel(NOW, tick=False) as clock:
        login(client, user)
        clock.shift(29 * 60)
        assert client.get("/").status_code == 200  # each request restarts the clock
        clock.shift(29 * 60)
        assert client.get("/mon-compte").status_code == 200
        clock.shift(30 * 60 + 1)
        expired = client.get("/mon-compte?onglet=x")
        assert expired.status_code == 302
        assert expired.headers["Location"] == "/connexion?next=/mon-compte"  # no query string
        page = client.get(expired.headers["Location"])
        assert "Votre session a expiré après une période d'inactivité." in flashes(page)
        assert client.get("/").status_code == 302


def test_a_new_login_is_not_taken_for_an_idle_one(client, make):
    user = make.user(Role.ORGANIZER, [make.organization()])
    with time_machine.travel(NOW, tick=False) as clock:
        login(client, user)
        client.post("/deconnexion")
        clock.shift(3600)
        login(client, user)
        assert client.get("/").status_code == 200


def _clients(app, count):
    app.test_client_class = IsolatedClient
    return [app.test_client() for _ in range(count)]


def test_log_out_everywhere_ends_every_session(app, make):
    laptop, phone = _clients(app, 2)
    user = make.user(Role.ORGANIZER, [make.organization()])
    login(laptop, user)
    phone.post(
        "/connexion", data={"email": user.email, "password": PASSWORD, "remember": "y"}
    )
    # The browser closed: only the remember-me cookie is left, and it still logs in.
    assert phone.get_cookie("remember_token", domain="stages.test") is not None
    phone.delete_cookie("session", domain="stages.test")
    assert phone.get_cookie("session", domain="stages.test") is None
    assert phone.get("/").status_code == 200

    response = laptop.post("/mon-compte/deconnexion-partout")
    assert response.headers["Location"] == "/connexion"
    assert laptop.get("/").status_code == 302
    phone.delete_cookie("session", domain="stages.test")
    assert phone.get("/").status_code == 302  # the remember-me cookie is void too
    assert len(audit_actions("auth.logout_everywhere")) == 1
    assert login(phone, user).status_code == 302  # a fresh login works


def test_log_out_everywhere_is_post_only(client, make):
    login(client, make.user(Role.ORGANIZER, [make.organization()]))
    assert client.get("/mon-compte/deconnexion-partout").status_code == 405


# --- Password policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "motdepasse123",
        "azertyuiop12",
        "Jean Dupont2024",
        "jeandupont2024",
        "Dupont Jean 2024",
        "jean-dupont-2024",
        "123456789012",
        "aaaaaaaaaaaaaaaa",
    ],
)
def test_common_or_personal_passwords_are_refused(password):
    inputs = services.password_inputs("Jean Dupont", "jean.dupont@stages.test")
    with pytest.raises(DomainError) as error:
        validate_password(password, inputs)
    assert "trop courant ou trop facile à deviner" in error.value.message


def test_short_passwords_are_refused():
    with pytest.raises(DomainError, match="au moins 12 caractères"):
        validate_password("Xq7#pL2!", [])


@pytest.mark.parametrize(
    "password",
    ["girafe lunaire sous la pluie tiède", "Tr3s-b1zarre-Kangourou", "jp6s-x2kq-9mfd-wr4c"],
)
def test_strong_passwords_are_accepted(password):
    validate_password(password, services.password_inputs("Jean Dupont", "jean.dupont@stages.test"))


def test_temporary_passwords_pass_the_policy():
    for _ in range(20):
        validate_password(services.generate_temporary_password(), [])


def test_password_change_applies_the_policy(client, make):
    user = make.user(Role.ORGANIZER, [make.organization()], full_name="Jean Dupont")
    login(client, user)
    for weak in ("motdepasse123", "Jean Dupont2024"):
        response = client.post(
            "/mon-compte",
            data={"current_password": PASSWORD, "new_password": weak, "confirm_password": weak},
        )
        assert response.status_code == 200
        assert "trop courant ou trop facile à deviner" in response.get_data(as_text=True)
    strong = "girafe lunaire sous la pluie tiède"
    response = client.post(
        "/mon-compte",
        data={"current_password": PASSWORD, "new_password": strong, "confirm_password": strong},
    )
    assert response.status_code == 302
    assert services.check_password(fresh(user), strong)
    assert len(audit_actions("auth.password_changed")) == 1
