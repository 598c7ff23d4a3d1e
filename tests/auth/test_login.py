"""Login, logout, CSRF, session revocation and the navigation each role sees."""
import statistics
import time

import pytest
import sqlalchemy as sa

from stages.auth.models import AuditEntry, Role, User
from stages.demo import DEMO_ACCOUNTS, load_demo
from stages.extensions import db
from tests.factories import PASSWORD
from tests.helpers import login

# One message for every failure, the lockout included (see stages/auth/views.py, LOGIN_FAILED).
FAILED = (
    "Adresse électronique ou mot de passe incorrect, ou compte temporairement bloqué après "
    "plusieurs échecs."
)


def test_login_and_logout(client, make):
    user = make.user(Role.ORGANIZER, [make.organization()])
    response = login(client, user)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert db.session.get(User, user.id).last_login_at is not None
    assert client.get("/deconnexion").status_code == 405  # logout is POST only
    client.post("/deconnexion")
    assert client.get("/").status_code == 302


def test_email_is_case_insensitive(client, make):
    user = make.user(Role.ADMIN)
    response = client.post("/connexion", data={"email": user.email.upper(), "password": PASSWORD})
    assert response.status_code == 302


@pytest.mark.parametrize("case", ["wrong password", "unknown email", "inactive account"])
def test_failed_logins_read_the_same(client, make, case):
    user = make.user(Role.ADMIN, active=case != "inactive account")
    email = "nobody@stages.test" if case == "unknown email" else user.email
    password = "not the password" if case == "wrong password" else PASSWORD
    response = client.post("/connexion", data={"email": email, "password": password})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert FAILED in html
    assert "inconnu" not in html and "désactivé" not in html
    assert client.get("/").status_code == 302
    assert db.session.scalar(sa.select(AuditEntry.action)) == "auth.login_failed"


def test_unknown_email_and_wrong_password_take_the_same_time(client, make):
    """Both paths verify an argon2 hash, so timing does not reveal which emails exist."""
    user = make.user(Role.ADMIN)

    def timed(email):
        start = time.perf_counter()
        client.post("/connexion", data={"email": email, "password": "wrong password!"})
        return time.perf_counter() - start

    # Interleaved, so that a busy machine slows both series alike.
    samples = [(timed(user.email), timed("nobody@stages.test")) for _ in range(7)]
    known = statistics.median(k for k, _ in samples)
    unknown = statistics.median(u for _, u in samples)
    assert 0.6 < known / unknown < 1.6, (known, unknown)


def test_missing_or_wrong_csrf_token_gets_400(client, make, csrf_enabled):
    user = make.user(Role.ADMIN)
    response = client.post("/connexion", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "jeton de sécurité" in response.get_data(as_text=True)
    response = client.post(
        "/connexion", data={"email": user.email, "password": PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 400


def test_login_with_a_real_csrf_token_works(client, make, csrf_enabled):
    import re

    user = make.user(Role.ADMIN)
    page = client.get("/connexion").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/connexion", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302


def test_next_parameter_cannot_redirect_off_site(client, make):
    user = make.user(Role.ADMIN)
    for target in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
        response = client.post(
            "/connexion", data={"email": user.email, "password": PASSWORD, "next": target}
        )
        assert response.headers["Location"] == "/"
        client.post("/deconnexion")
    response = client.post(
        "/connexion", data={"email": user.email, "password": PASSWORD, "next": "/mon-compte"}
    )
    assert response.headers["Location"] == "/mon-compte"


def test_password_change_ends_other_sessions(app, make):
    user = make.user(Role.ORGANIZER, [make.organization()])
    from tests.conftest import IsolatedClient

    app.test_client_class = IsolatedClient
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, user)
    login(phone, user)
    response = laptop.post(
        "/mon-compte",
        data={
            "current_password": PASSWORD,
            "new_password": "a brand new passphrase",
            "confirm_password": "a brand new passphrase",
        },
    )
    assert response.status_code == 302
    assert laptop.get("/").status_code == 200
    assert phone.get("/").status_code == 302  # the old session no longer works


def test_password_change_refuses_a_short_password(client, make):
    user = make.user(Role.ORGANIZER, [make.organization()])
    login(client, user)
    response = client.post(
        "/mon-compte",
        data={"current_password": PASSWORD, "new_password": "short", "confirm_password": "short"},
    )
    assert "au moins 12 caractères" in response.get_data(as_text=True)


EXPECTED_NAV = {
    Role.ADMIN: {
        "Tableau de bord", "Calendrier", "Personnes", "Programmer une série", "Lieux",
        "Registre des frais", "Non-exécution", "Statistiques", "Organisations", "Comptes",
        "Tâches", "Journal", "Mon compte",
    },
    Role.ORGANIZER: {
        "Tableau de bord", "Calendrier", "Personnes", "Programmer une série", "Lieux",
        "Registre des frais", "Non-exécution", "Statistiques", "Mon compte",
    },
    Role.FACILITATOR: {"Tableau de bord", "Calendrier", "Mon compte"},
    Role.LIAISON: {"Suivi des mesures", "Non-exécution", "Statistiques", "Mon compte"},
}


def test_each_demo_account_logs_in_and_sees_its_navigation(app, client):
    import re

    load_demo()
    db.session.commit()
    for email, _name, role, password, _scope in DEMO_ACCOUNTS:
        response = client.post("/connexion", data={"email": email, "password": password})
        assert response.status_code == 302, email
        html = client.get("/", follow_redirects=True).get_data(as_text=True)
        nav = html.split("<nav", 1)[1].split("</nav>", 1)[0]
        labels = set(re.findall(r"<a [^>]*>\s*([^<]+?)\s*</a>", nav))
        assert labels == EXPECTED_NAV[role], (email, labels)
        assert role.label in html
        client.post("/deconnexion")


# What the browser asks for on its own, without a login: a service worker checking its script
# (Chromium's headers), a script's fetch, an image. Each gets a bare 401 and no cookie.
BACKGROUND_REQUESTS = [
    ("/stages/9/presence/sw.js",
     {"Service-Worker": "script", "Sec-Fetch-Mode": "same-origin", "Sec-Fetch-Dest": "serviceworker"}),
    ("/stages/9/presence/sw.js", {"Service-Worker": "script"}),  # a browser without Fetch Metadata
    ("/stages/9/presence/hors-ligne.json", {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}),
    ("/stages/9", {"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}),
]


@pytest.mark.parametrize("path, headers", BACKGROUND_REQUESTS)
def test_a_background_request_without_login_gets_401_and_no_cookie(app, path, headers):
    response = app.test_client().get(path, headers=headers)
    assert response.status_code == 401
    assert response.headers.getlist("Set-Cookie") == []


def test_a_script_reading_json_without_login_gets_a_json_401_and_no_cookie(app):
    """Any view behind ``login_required``, asked for by a script that reads JSON (the tablet's
    sync and its token): a 401 it can act on, saying where to log in."""
    for response in (
        app.test_client().post("/stages/9/presence/synchro", json={"items": []},
                               headers={"Sec-Fetch-Mode": "cors", "Accept": "application/json"}),
        app.test_client().get("/stages/9/presence/jeton", headers={"Accept": "application/json"}),
    ):
        assert response.status_code == 401
        assert response.get_json() == {"error": "login", "message": "Connexion expirée : reconnectez-vous.",
                                       "login_url": "/connexion"}
        assert response.headers.getlist("Set-Cookie") == []


@pytest.mark.parametrize("headers", [{}, {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}])
def test_a_page_opened_without_login_still_goes_to_the_login_page(client, headers):
    response = client.get("/stages/9?etat=a-cloturer", headers=headers)
    assert response.status_code == 302
    assert response.headers["Location"] == "/connexion?next=%2Fstages%2F9%3Fetat%3Da-cloturer"
    assert "Connectez-vous pour accéder à cette page." in client.get("/connexion").get_data(as_text=True)


def test_a_service_worker_check_crossing_the_login_page_does_not_break_the_login(app, make, csrf_enabled):
    """The CI failure of 5 December: a tablet's service worker, registered by an earlier login,
    checks its script while the login page loads. Its request leaves without a cookie and its
    answer arrives after the login page's: the browser keeps the cookie of the last answer."""
    import re

    user = make.user(Role.ADMIN)
    browser = app.test_client()
    page = browser.get("/connexion")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    worker_check = app.test_client().get("/stages/9/presence/sw.js", headers=BACKGROUND_REQUESTS[0][1])
    for cookie in worker_check.headers.getlist("Set-Cookie"):  # what the browser would store
        name, value = cookie.split(";", 1)[0].split("=", 1)
        browser.set_cookie(name, value, domain=app.config["SERVER_NAME"])
    response = browser.post("/connexion", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/"
