"""Request hooks that protect every page: security headers, idle timeout, a temporary password
to replace, required 2FA; and the answer to a request made without a login (``unauthorized``).

``register_security(app)`` is called once by ``create_app``. The headers come from ONE
``after_request`` hook, so HTML pages, PDFs, calendar feeds, error pages and static files all
carry them; a view never sets them itself.
"""
from __future__ import annotations

import time

from flask import Flask, Response, current_app, flash, g, redirect, request, session, url_for
from flask_login import (
    current_user,
    login_url,
    logout_user,
    user_loaded_from_cookie,
    user_logged_in,
    user_logged_out,
)

from stages.auth.totp import enrolment_required
from stages.errors import json_error, wants_json

# Scripts and styles only from our own files: no inline <script>, no style="" attribute, no
# onclick= handler in any template (images may be data: URIs, e.g. QR codes in a PDF preview).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate CSP 2
    # Our URLs carry ids and feed tokens: never send them to another site.
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
HSTS = "max-age=31536000; includeSubDomains"

# Session key: when the logged-in user last made a request (epoch seconds).
LAST_SEEN = "last_seen"
SESSION_EXPIRED = "Votre session a expiré après une période d'inactivité."

# Files that hold nothing personal, asked for by the browser on its own (the icon): no session
# activity, no personal-data cache policy, reachable whatever the account still has to do.
ASSET_ENDPOINTS = {"static", "favicon"}
# What a user who must replace a temporary password may still reach ("Mon compte" has the form).
PASSWORD_CHANGE_ENDPOINTS = {"auth.profile", "auth.logout", "auth.logout_everywhere"} | ASSET_ENDPOINTS
# What a user who must enrol in 2FA may still reach.
ENROLMENT_ENDPOINTS = {"auth.totp_setup", "auth.logout", "auth.logout_everywhere"} | ASSET_ENDPOINTS


def register_security(app: Flask) -> None:
    """Install the security hooks on ``app``."""
    # A site that announces HSTS is only reached over HTTPS: its cookies must say so too.
    if app.config.get("HSTS"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    app.before_request(end_idle_session)
    app.before_request(require_password_change)
    app.before_request(require_2fa_enrolment)
    app.after_request(set_security_headers)
    # Module-level receivers: blinker keeps them (it holds receivers weakly) and connects each
    # once however many apps are created.
    user_logged_in.connect(_mark_seen)
    user_loaded_from_cookie.connect(_mark_seen)
    user_logged_out.connect(_forget_seen)


def unauthorized():
    """A page asked for without a login: the login page, which says why and comes back after.

    A script that reads JSON (the tablet's sync) gets a 401 in JSON that it acts on. Any other
    request the browser makes on its own (a service worker checking its script, a script's
    fetch, an image) gets a bare 401. Neither writes a cookie: flashing « Connectez-vous » would,
    and if that request left before the login page's answer and came back after it, its cookie
    would replace the login page's, whose form then fails on its security token (5 December, in
    CI: a service worker left by an earlier browser test did that; a tablet keeps the day's
    worker after its login ends).
    """
    if wants_json():
        return json_error(401, "login", "Connexion expirée : reconnectez-vous.",
                          login_url=url_for("auth.login"))
    if not is_page_navigation():
        return Response("Connexion requise.", 401, mimetype="text/plain")
    manager = current_app.login_manager
    flash(manager.login_message, manager.login_message_category)
    return redirect(login_url(manager.login_view, next_url=request.url))


def is_page_navigation() -> bool:
    """Whether the request opens a page in the browser (a link, an address, a form), as opposed
    to a request made by the page or the browser itself. Browsers without the Fetch Metadata
    headers count as navigations, except for a service worker's script."""
    mode = request.headers.get("Sec-Fetch-Mode")
    if mode is not None:
        return mode == "navigate"
    return "Service-Worker" not in request.headers


def set_security_headers(response):
    """Add the security headers to every response (the one hook; see the module docstring)."""
    for name, value in SECURITY_HEADERS.items():
        # A page may be stricter (the public verification page sends no referrer at all).
        response.headers.setdefault(name, value)
    if request.is_secure or current_app.config.get("HSTS"):
        response.headers["Strict-Transport-Security"] = HSTS
    # What a logged-in user is shown may hold personal data: it must not sit in a shared or
    # back-button cache. Not only HTML: a PDF served without a policy (a sign-in sheet) holds
    # names too. Responses that chose their own policy (calendar feeds, exports) keep it, and
    # static files hold nothing personal.
    if (
        "Cache-Control" not in response.headers
        and request.endpoint not in ASSET_ENDPOINTS
        and _served_to_a_user()
    ):
        response.headers["Cache-Control"] = "no-store"
    return response


def _served_to_a_user() -> bool:
    """Whether the response was made for a logged-in user. The request's user, once loaded, is
    asked whether it is anonymous, which reads nothing: its row was committed (expired) by the
    view, and asking whether it is authenticated would read it again, one statement per page.
    A deactivated account counts as a user here: the stricter policy."""
    loaded = g.get("_login_user")
    if loaded is None:
        return current_user.is_authenticated
    return not loaded.is_anonymous


def end_idle_session():
    """Log out a user idle for longer than IDLE_TIMEOUT seconds; otherwise note this request.

    The time lives in the (signed) session cookie, so no database write per request. A
    "remember me" cookie only restores a session whose browser was closed: an idle one is
    logged out, remember cookie included.
    """
    if request.endpoint in ASSET_ENDPOINTS or not current_user.is_authenticated:
        return None
    timeout = current_app.config.get("IDLE_TIMEOUT") or 0
    now = int(time.time())
    last_seen = session.get(LAST_SEEN)
    if timeout and isinstance(last_seen, int) and now - last_seen > timeout:
        logout_user()
        flash(SESSION_EXPIRED, "info")
        # Path only: a query string may hold a search for a person's name.
        target = request.path if request.method == "GET" else None
        return redirect(url_for("auth.login", next=target))
    session[LAST_SEEN] = now
    return None


def require_password_change():
    """A password an admin chose (new account, reset) is replaced first: only "Mon compte" opens."""
    if request.endpoint in PASSWORD_CHANGE_ENDPOINTS or not current_user.is_authenticated:
        return None
    if not current_user.password_change_required:
        return None
    # No flash: "Mon compte" says why, and a flash per redirected request would pile up.
    return redirect(url_for("auth.profile"))


def require_2fa_enrolment():
    """With STAGES_REQUIRE_2FA, admins and liaisons without 2FA can only enrol (or log out)."""
    if request.endpoint in ENROLMENT_ENDPOINTS or not current_user.is_authenticated:
        return None
    if current_user.password_change_required:
        return None  # the password comes first (require_password_change), then the enrolment
    if not enrolment_required(current_user):
        return None
    # No flash: the enrolment page says why, and a flash per redirected request would pile up.
    return redirect(url_for("auth.totp_setup"))


def _mark_seen(sender, user, **extra) -> None:
    session[LAST_SEEN] = int(time.time())


def _forget_seen(sender, user, **extra) -> None:
    session.pop(LAST_SEEN, None)
