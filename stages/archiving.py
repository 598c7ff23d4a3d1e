"""Venues and organizations are archived, never deleted, and told apart by their name."""
from __future__ import annotations

import sqlalchemy as sa

from stages.errors import DomainError
from stages.extensions import db
from stages.timeutil import now_utc


def archivable_query(model, archived: bool) -> sa.Select:
    """The rows of ``model`` in service, or the archived ones."""
    column = model.archived_at
    return sa.select(model).where(column.is_not(None) if archived else column.is_(None))


def set_archived(obj, archived: bool) -> None:
    """Archive (hide from new choices) or restore ``obj``; never delete it (courses and measures
    keep referring to it)."""
    obj.archived_at = now_utc() if archived else None


def check_name_free(model, name: str, exclude_id: int | None, message: str) -> None:
    """Refuse a name another row of ``model`` already has (the database is unique too)."""
    taken = db.session.scalar(
        sa.select(model.id).where(model.name == name, model.id != (exclude_id or 0))
    )
    if taken is not None:
        raise DomainError(message)
