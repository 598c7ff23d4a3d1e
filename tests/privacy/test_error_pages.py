"""Error pages never echo what the request carried: no query string, no form data.

A search for a person's name, or a form holding their identity, can end on any error page; the
page (and the log line of a 500) must not repeat it.
"""
from __future__ import annotations

import logging

from stages.auth.models import Role
from tests.helpers import login

SURNAME = "Zébulon-Particulier"
BIRTH = "1979-02-31"
QUERY = f"q={SURNAME}&naissance={BIRTH}&nom={SURNAME}"
FORM = {"surname": SURNAME, "birth_date": BIRTH, "address": "7 impasse Secrète"}


def assert_clean(response, code: int) -> str:
    assert response.status_code == code
    html = response.get_data(as_text=True)
    for value in (SURNAME, "Z&#233;bulon", "Zébulon", BIRTH, "impasse Secrète", "naissance="):
        assert value not in html, (code, value)
    assert '<html lang="fr">' in html
    return html


def test_404_and_405(client):
    assert_clean(client.get(f"/nulle-part?{QUERY}"), 404)
    assert_clean(client.get(f"/{SURNAME}?{QUERY}"), 404)
    assert_clean(client.post(f"/connexion/inexistante?{QUERY}", data=FORM), 404)
    assert_clean(client.post(f"/?{QUERY}", data=FORM), 405)


def test_403_for_a_logged_in_user(client, make):
    login(client, make.user(Role.FACILITATOR, [make.organization()]))
    assert_clean(client.get(f"/admin/journal?{QUERY}"), 403)
    assert_clean(client.post(f"/personnes/nouvelle?{QUERY}", data=FORM), 403)


def test_400_for_a_form_without_its_security_token(client, make, csrf_enabled):
    html = assert_clean(client.post(f"/connexion?{QUERY}", data={"email": SURNAME, "password": SURNAME}), 400)
    assert "jeton de sécurité" in html


def test_500_shows_nothing_and_logs_the_path_only(app, client, make, monkeypatch, caplog):
    organizer = make.user(Role.ORGANIZER, [make.organization()])

    def broken_view(*args, **kwargs):
        raise RuntimeError("panne simulée")

    # As in production: the exception is handled by the 500 page instead of reaching the test.
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setitem(app.view_functions, "enrollment.measures", broken_view)
    monkeypatch.setitem(app.view_functions, "enrollment.referral_create", broken_view)
    login(client, organizer)
    with caplog.at_level(logging.ERROR):
        html = assert_clean(client.get(f"/personnes?{QUERY}"), 500)
        assert_clean(client.post(f"/personnes/nouvelle?{QUERY}", data=FORM), 500)
    assert "Erreur interne" in html and "panne simulée" not in html and "Traceback" not in html
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Exception on /personnes [GET]" in logged
    assert SURNAME not in logged and BIRTH not in logged


def test_503_shows_nothing():
    from tests.operations.test_unavailable import CLOSED_PORT_URL, disposed, other_app

    with disposed(other_app(CLOSED_PORT_URL)) as app:
        client = app.test_client()
        html = assert_clean(client.get(f"/verification/CODE-{SURNAME}?{QUERY}"), 503)
        assert "Service momentanément indisponible" in html
        assert_clean(client.post(f"/verification?{QUERY}", data={"code": SURNAME, **FORM}), 503)
