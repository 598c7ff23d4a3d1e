"""Associations and referring authorities: kept after their checks, archived rather than deleted."""
from __future__ import annotations

from stages.archiving import check_name_free, set_archived
from stages.auth.audit import audit
from stages.auth.models import Organization, User
from stages.extensions import db

NAME_TAKEN = "Une organisation porte déjà ce nom."


def save_organization(organization: Organization, *, by: User | None = None) -> None:
    """Keep an organization as the form filled it in, after checking its name is its own.
    Flushes and audits."""
    with db.session.no_autoflush:  # the check reads the database before the new values go in
        check_name_free(Organization, organization.name, organization.id, NAME_TAKEN)
    organization.email = organization.email or None
    db.session.add(organization)
    db.session.flush()
    audit("organization.saved", organization, user=by)


def archive_organization(organization: Organization, archived: bool, *, by: User | None = None) -> None:
    """Archive (no longer offered in new choices) or restore an organization; audited."""
    set_archived(organization, archived)
    audit("organization.archived" if archived else "organization.restored", organization, user=by)
