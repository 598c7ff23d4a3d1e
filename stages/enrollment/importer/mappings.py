"""Referral import: the column choices remembered per referring authority.

Each parquet exports its list in its own layout. When a header is not recognized, the organizer
says which field the column feeds (or that it is not imported); the choice is kept for that
authority, by the header's ``header_key``, and applied to its next lists without asking again.
"""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from stages.auth.audit import audit
from stages.auth.models import Organization
from stages.enrollment.importer.columns import Assignment, assign_columns, header_key, recognize
from stages.enrollment.models import ImportColumnMapping
from stages.extensions import db

_KEY_LENGTH = ImportColumnMapping.__table__.c.header_key.type.length


def remembered_columns(authority: Organization | None) -> dict[str, str]:
    """``header_key`` → field (or ``IGNORED``) chosen in earlier imports of ``authority``'s lists."""
    if authority is None:
        return {}
    return dict(db.session.execute(
        sa.select(ImportColumnMapping.header_key, ImportColumnMapping.field)
        .where(ImportColumnMapping.authority_id == authority.id)
    ).all())


def column_assignments(
    headers: list[str], authority: Organization | None, chosen: Mapping[int, str] | None = None
) -> list[Assignment]:
    """Which field each column feeds: ``chosen`` (by position), else what was remembered for
    ``authority``, else what the header says."""
    return assign_columns(headers, remembered_columns(authority), chosen)


def remember_columns(
    authority: Organization, headers: list[str], chosen: Mapping[int, str], *, by=None
) -> int:
    """Keep, for ``authority``, the field chosen for each column whose header does not say it by
    itself; forget a remembered choice that the header now says alone. Flushes; returns the
    number of choices added, changed or forgotten."""
    existing = {
        mapping.header_key: mapping
        for mapping in db.session.scalars(
            sa.select(ImportColumnMapping).where(ImportColumnMapping.authority_id == authority.id)
        )
    }
    changed = 0
    for position, field in sorted(chosen.items()):
        key = header_key(headers[position])
        if not key or len(key) > _KEY_LENGTH:
            continue
        mapping = existing.get(key)
        recognized = recognize(headers[position])
        if recognized is not None and recognized.field == field:
            if mapping is not None:
                db.session.delete(mapping)
                del existing[key]
                changed += 1
        elif mapping is None:
            existing[key] = ImportColumnMapping(
                authority_id=authority.id, header_key=key, field=field,
                updated_by_id=getattr(by, "id", None),
            )
            db.session.add(existing[key])
            changed += 1
        elif mapping.field != field:
            mapping.field, mapping.updated_by_id = field, getattr(by, "id", None)
            changed += 1
    db.session.flush()
    if changed:
        audit("referrals.columns_remembered", authority, user=by,
              details=f"{changed} choix de colonne")
    return changed
