"""Search terms stay out of URLs.

A name typed in a search box is personal data: in a query string it would land in the web
server's and the proxy's access logs, the browser's history and bookmarks. So search forms are
POSTed (with their CSRF token); ``remember_search`` keeps the term in this browser's login
course, under the list's own key, and redirects to the same list with only the non-personal
filters in the URL, plus ``recherche=1``. The GETs that carry ``recherche=1`` (that redirect, the
pagination and export links) read the term back with ``search_term``; a GET without it (the
menu, « Réinitialiser ») is a fresh list and forgets the term.
"""
from __future__ import annotations

from urllib.parse import urlencode

from flask import redirect, request, session, url_for

SESSION_KEY = "searches"
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
    searches = dict(session.get(SESSION_KEY) or {})
    if term:
        searches[scope] = term
    else:
        searches.pop(scope, None)
    session[SESSION_KEY] = searches
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
    searches = session.get(SESSION_KEY) or {}
    if request.args.get(MARKER) == "1":
        term = searches.get(scope, "")
        return term if isinstance(term, str) else ""
    if scope in searches:
        session[SESSION_KEY] = {key: value for key, value in searches.items() if key != scope}
    return ""


def search_args(term: str) -> dict:
    """What links that keep the search add to their query string (never the term itself)."""
    return {MARKER: "1"} if term else {}
