"""Login sessions end on the server: a cookie replayed after « Se déconnecter » is worth nothing,
a login has an absolute end however active, and names searched never ride in the cookie."""
import base64
import json
import zlib
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
import time_machine

from stages.auth.models import LoginSession, Role
from stages.extensions import db
from tests.conftest import IsolatedClient
from tests.factories import PASSWORD
from tests.helpers import login

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
DOMAIN = "stages.test"


def _browser(app) -> IsolatedClient:
    return IsolatedClient(app, app.response_class, use_cookies=True)


def _cookie(client, name: str) -> str | None:
    cookie = client.get_cookie(name, domain=DOMAIN)
    return cookie.value if cookie else None


def _replay(app, **cookies) -> IsolatedClient:
    """Another browser holding copies of these cookies (what an attacker who stole them has)."""
    thief = _browser(app)
    for name, value in cookies.items():
        thief.set_cookie(name, value, domain=DOMAIN)
    return thief


def _organizer(make):
    return make.user(Role.ORGANIZER, [make.organization()])


def test_a_session_cookie_replayed_after_logout_is_refused(app, make):
    user = _organizer(make)
    browser = _browser(app)
    login(browser, user)
    stolen = _cookie(browser, "session")
    assert _replay(app, session=stolen).get("/mon-compte").status_code == 200  # before logout
    browser.post("/deconnexion")
    replayed = _replay(app, session=stolen).get("/mon-compte")
    assert replayed.status_code == 302 and replayed.headers["Location"].startswith("/connexion")
    assert db.session.scalar(sa.select(LoginSession.revoked_at)) is not None


def test_a_remember_me_cookie_replayed_after_logout_is_refused(app, make):
    user = _organizer(make)
    browser = _browser(app)
    browser.post("/connexion", data={"email": user.email, "password": PASSWORD, "remember": "y"})
    remembered = _cookie(browser, "remember_token")
    assert remembered
    assert _replay(app, remember_token=remembered).get("/").status_code == 200
    browser.post("/deconnexion")
    assert _replay(app, remember_token=remembered).get("/").status_code == 302


def test_logging_out_ends_this_session_only(app, make):
    user = _organizer(make)
    laptop, phone = _browser(app), _browser(app)
    login(laptop, user)
    login(phone, user)
    laptop.post("/deconnexion")
    assert laptop.get("/").status_code == 302
    assert phone.get("/").status_code == 200


def test_an_active_session_ends_at_its_absolute_lifetime(app, make):
    user = _organizer(make)
    browser = _browser(app)
    lifetime = app.config["SESSION_LIFETIME"]
    with time_machine.travel(NOW, tick=False) as clock:
        login(browser, user)
        # A request every 20 minutes: never idle, yet the login ends after SESSION_LIFETIME.
        elapsed = 0
        while elapsed + 1200 < lifetime:
            clock.shift(1200)
            elapsed += 1200
            assert browser.get("/").status_code == 200, elapsed
        clock.shift(lifetime - elapsed + 1)
        response = browser.get("/mon-compte")
        assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")


def test_a_remembered_login_ends_at_the_remember_duration(app, make):
    user = _organizer(make)
    browser = _browser(app)
    with time_machine.travel(NOW, tick=False) as clock:
        browser.post("/connexion", data={"email": user.email, "password": PASSWORD, "remember": "y"})
        remembered = _cookie(browser, "remember_token")
        clock.shift(app.config["REMEMBER_COOKIE_DURATION"] - timedelta(minutes=1))
        assert _replay(app, remember_token=remembered).get("/").status_code == 200
        clock.shift(timedelta(minutes=2))
        assert _replay(app, remember_token=remembered).get("/").status_code == 302


def _cookie_payload(value: str) -> str:
    """What anyone holding the Flask session cookie can read (it is signed, not encrypted)."""
    compressed = value.startswith(".")
    data = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode()


def test_a_searched_name_is_kept_on_the_server_not_in_the_cookie(app, make):
    user = make.user(Role.ADMIN)
    browser = _browser(app)
    login(browser, user)
    response = browser.post("/personnes", data={"q": "ZORGLUBIANSKI", "recherche": "1"})
    assert response.status_code == 302 and "ZORGLUB" not in response.headers["Location"]
    assert "ZORGLUB" not in _cookie_payload(_cookie(browser, "session"))
    searches = db.session.scalar(sa.select(LoginSession.searches))
    assert searches == {"measures": "ZORGLUBIANSKI"}
    assert json.dumps(searches)  # plain JSON on the server


def test_expired_login_sessions_are_forgotten_by_the_purge(app, make, runner):
    user = _organizer(make)
    with time_machine.travel(NOW, tick=False) as clock:
        login(_browser(app), user)
        login(_browser(app), user)
        clock.shift(timedelta(days=3))
        assert runner.invoke(args=["stages", "jobs", "run", "purge_expired_data"]).exit_code == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginSession)) == 0
