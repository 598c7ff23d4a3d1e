"""The one security-headers hook (stages/security.py): on every kind of response."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from stages.auth.models import Role
from stages.auth.security import CONTENT_SECURITY_POLICY
from tests.helpers import login

PROJECT = Path(__file__).resolve().parent.parent
HSTS = "max-age=31536000; includeSubDomains"


def assert_security_headers(response, *, https=False):
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert csp == CONTENT_SECURITY_POLICY
    directives = dict(
        (part.split(" ", 1) + [""])[:2] for part in (d.strip() for d in csp.split(";"))
    )
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert "unsafe" not in csp
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] in ("same-origin", "no-referrer")
    assert "camera=()" in headers["Permissions-Policy"]
    if https:
        assert headers["Strict-Transport-Security"] == HSTS
    else:
        assert "Strict-Transport-Security" not in headers


@pytest.fixture
def organizer(make):
    association = make.organization()
    user = make.user(Role.ORGANIZER, [association])
    user.test_association = association
    return user


def test_authenticated_html_page(client, organizer):
    login(client, organizer)
    response = client.get("/")
    assert response.status_code == 200
    assert_security_headers(response)
    assert response.headers["Cache-Control"] == "no-store"
    # The rendered page has no inline script either.
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.get_data(as_text=True))


def test_login_page(client):
    response = client.get("/connexion")
    assert response.status_code == 200
    assert_security_headers(response)


def test_error_pages(client, organizer):
    assert_security_headers(client.get("/nulle-part"))  # 404, anonymous
    login(client, organizer)
    not_found = client.get("/nulle-part")
    assert not_found.status_code == 404
    assert_security_headers(not_found)
    assert not_found.headers["Cache-Control"] == "no-store"
    forbidden = client.get("/admin/comptes")
    assert forbidden.status_code == 403
    assert_security_headers(forbidden)
    assert_security_headers(client.get("/deconnexion"))  # 405


def test_static_file(client, organizer):
    login(client, organizer)
    with client.get("/static/css/stages.css") as response:  # closes the file it streams
        assert response.status_code == 200
        assert_security_headers(response)
        assert "no-store" not in response.headers.get("Cache-Control", "")


def test_the_icon_is_served_at_favicon_ico_and_named_by_every_page(client, organizer):
    """Browsers ask for /favicon.ico on their own: the icon, never a 404 in the logs."""
    for logged_in in (False, True):
        if logged_in:
            login(client, organizer)
        with client.get("/favicon.ico") as response:
            assert response.status_code == 200 and response.mimetype == "image/vnd.microsoft.icon"
            assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
            assert_security_headers(response)
            assert "no-store" not in response.headers.get("Cache-Control", "")
    page = client.get("/").get_data(as_text=True)
    assert '<link rel="icon" href="/favicon.ico"' in page
    svg = re.search(r'<link rel="icon" href="([^"]+\.svg)" type="image/svg\+xml">', page).group(1)
    with client.get(svg) as response:
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"


def test_pdf_response(client, make, organizer):
    course = make.course(organizations=[organizer.test_association])
    login(client, organizer)
    response = client.get(f"/stages/{course.id}/emargement.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert_security_headers(response)
    # Names of participants: not to be kept by a shared cache.
    assert response.headers["Cache-Control"] == "no-store"


def test_calendar_feed_keeps_its_own_cache_policy(client, make, organizer):
    from stages.calendar_feeds.views import FEED_CACHE_CONTROL

    make.course(organizations=[organizer.test_association])
    response = client.get(f"/agenda/{organizer.feed_token}/mes-stages.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert_security_headers(response)
    assert response.headers["Cache-Control"] == FEED_CACHE_CONTROL


def test_hsts_only_over_https(client):
    assert_security_headers(client.get("/connexion", base_url="https://stages.test"), https=True)
    assert_security_headers(client.get("/connexion"), https=False)


def test_hsts_setting_sends_it_behind_a_tls_proxy(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "HSTS", True)
    assert_security_headers(client.get("/connexion"), https=True)


def test_hsts_setting_makes_cookies_secure(app):
    from stages import create_app
    from stages.extensions import db, limiter

    saved = dict(vars(limiter))
    try:
        secure = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                "HSTS": True,
                "RATELIMIT_ENABLED": False,
            }
        )
        assert secure.config["SESSION_COOKIE_SECURE"] is True
        assert secure.config["REMEMBER_COOKIE_SECURE"] is True
        assert secure.config["SESSION_COOKIE_HTTPONLY"] is True
        assert secure.config["SESSION_COOKIE_SAMESITE"] == "Lax"
        with secure.app_context():
            db.engine.dispose()
    finally:
        vars(limiter).clear()
        vars(limiter).update(saved)


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style= attribute"),
    (re.compile(r"\son[a-z]+\s*=\s*[\"']", re.I), "inline event handler"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_no_template_needs_unsafe_inline():
    """The CSP forbids inline scripts and styles: no template may rely on them."""
    offenders = []
    for path in sorted((PROJECT / "templates").rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(PROJECT)}:{line}: {what}")
    assert offenders == []


def test_the_verification_page_sends_no_referrer_at_all(client):
    """Its URL may carry a code: the page's own stricter policy is not overwritten."""
    for response in (client.get("/verification"), client.get("/verification/ABCD-EFGH-JKMN-PQRS")):
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers.getlist("Referrer-Policy") == ["no-referrer"]
    assert client.get("/connexion").headers["Referrer-Policy"] == "same-origin"


def test_rate_limits_use_the_configured_redis_and_say_when_they_cannot(monkeypatch, caplog):
    import importlib

    import config
    from stages import create_app

    try:
        monkeypatch.delenv("STAGES_RATELIMIT_STORAGE_URI", raising=False)
        monkeypatch.setenv("STAGES_REDIS_URL", "redis://127.0.0.1:6379/0")
        assert importlib.reload(config).Config.RATELIMIT_STORAGE_URI == "redis://127.0.0.1:6379/0"
        monkeypatch.delenv("STAGES_REDIS_URL")
        assert importlib.reload(config).Config.RATELIMIT_STORAGE_URI == "memory://"
        with caplog.at_level("WARNING"):
            create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": False})
        assert "Limites de débit comptées par processus" in caplog.text
    finally:
        monkeypatch.undo()
        importlib.reload(config)
