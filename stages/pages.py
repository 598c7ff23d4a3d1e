"""Lists are paginated the same way everywhere: ``?page=N``, ``ITEMS_PER_PAGE`` rows a page."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, request

from stages.extensions import db

# A page number past this is no page anyone reads: it would only make the OFFSET overflow.
MAX_PAGE = 100_000


def paginate(query: sa.Select, per_page: int | None = None):
    """One page of ``query`` by the request's ``page`` argument (page 1 when malformed)."""
    page = request.args.get("page", 1, type=int)
    return db.paginate(
        query,
        page=page if 1 <= page <= MAX_PAGE else 1,
        per_page=per_page or current_app.config["ITEMS_PER_PAGE"],
        error_out=False,
    )
