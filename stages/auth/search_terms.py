"""Search terms stay out of URLs and out of cookies.

A name typed in a search box is personal data: in a query string it would land in the web
server's and the proxy's access logs, the browser's history and bookmarks; in the session cookie
it would be readable by anyone holding it (signed, not encrypted). So search forms are POSTed
(with their CSRF token); ``remember_search`` keeps the term on the server, with the user's login
(``LoginSession.searches``), under the list's own key, and redirects to the same list with only
the non-personal filters in the URL, plus ``recherche=1``. The GETs that carry ``recherche=1``
(that redirect, the pagination and export links) read the term back with ``search_term``; a GET
without it (the menu, « Réinitialiser ») is a fresh list. The terms go with the login session:
emptied at logout, deleted with the session.
"""
from __future__ import annotations

from urllib.parse import urlencode

from flask import redirect, request, url_for
from flask_login import current_user

from stages.extensions import db

FIELD = "q"
MARKER = "recherche"
MAX_LENGTH = 100
# Form fields that never go to the URL of the redirect.
_NOT_IN_URL = {FIELD, MARKER, "csrf_token", "page"}


def search_submitted() -> bool:
    """Whether this request is a search form's POST (its hidden ``recherche`` field)."""
    return request.method == "POST" and request.form.get(MARKER) == "1"


def remember_search(scope: str):
    """Keep the searched term for ``scope`` and redirect to the list, the term out of the URL."""
    term = (request.form.get(FIELD) or "").strip()[:MAX_LENGTH]
    searches = _searches()
    if term:
        searches[scope] = term
    else:
        searches.pop(scope, None)
    _keep(searches)
    args = [
        (key, value)
        for key, value in request.form.items(multi=True)
        if key not in _NOT_IN_URL and value
    ]
    args += list(search_args(term).items())
    target = url_for(request.endpoint, **(request.view_args or {}))
    return redirect(f"{target}?{urlencode(args)}" if args else target)


def search_term(scope: str) -> str:
    """The term this browser searched in ``scope``, if the URL says the search is on."""
    if request.args.get(MARKER) != "1":
        return ""
    term = _searches().get(scope, "")
    return term if isinstance(term, str) else ""


def search_args(term: str) -> dict:
    """What links that keep the search add to their query string (never the term itself)."""
    return {MARKER: "1"} if term else {}


def _searches() -> dict:
    login = getattr(current_user, "login_session", None)
    return dict(login.searches or {}) if login is not None else {}


def _keep(searches: dict) -> None:
    """Store the terms on the login session (the search form's POST only redirects: it commits)."""
    login = getattr(current_user, "login_session", None)
    if login is not None:
        login.searches = searches
        db.session.commit()
