"""Cursor pagination of the API's lists: ``limit`` read strictly, an opaque cursor signed with
the app's secret (a changed one is refused, never trusted), bound to its list."""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.exceptions import BadRequest

DEFAULT_LIMIT, MAX_LIMIT = 50, 200
MAX_CURSOR_LENGTH = 200
_DIGITS = re.compile(r"[0-9]{1,4}")


@dataclass(frozen=True)
class PageRequest:
    """Which page of which list: rows after id ``after``, at most ``limit`` of them."""

    kind: str
    after: int
    limit: int


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="api-cursor")


def page_request(kind: str) -> PageRequest:
    """The page the query string asks for (400 in French when ``limit`` or ``cursor`` is bad)."""
    raw_limit = request.args.get("limit", str(DEFAULT_LIMIT))
    if not _DIGITS.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise BadRequest(f"« limit » doit être un nombre entier de 1 à {MAX_LIMIT}.")
    cursor = request.args.get("cursor")
    after = 0
    if cursor is not None:
        try:
            if len(cursor) > MAX_CURSOR_LENGTH:
                raise BadSignature("too long")
            data = _serializer().loads(cursor)
            if not (isinstance(data, list) and len(data) == 2 and data[0] == kind
                    and type(data[1]) is int and 0 < data[1] < 2**31):
                raise BadSignature("not this list's")
        except BadSignature:
            raise BadRequest("Le curseur « cursor » n'est pas valide : reprenez le lien « next » d'une page.") from None
        after = data[1]
    return PageRequest(kind, after, int(raw_limit))


def next_url(page: PageRequest, rows: list, endpoint: str) -> str | None:
    """The URL of the page after ``rows`` (fetched with one row more than the limit), or None."""
    if len(rows) <= page.limit:
        return None
    cursor = _serializer().dumps([page.kind, rows[page.limit - 1].id])
    return url_for(endpoint, limit=page.limit, cursor=cursor, _external=True)
