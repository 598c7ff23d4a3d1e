"""Who may see which organizations: registered with the permission helper."""
from __future__ import annotations

import sqlalchemy as sa

from stages.auth.models import Organization, Role, User
from stages.auth.permissions import scope


@scope(Organization)
def member_organizations(user: User) -> sa.Select:
    """Admins: every organization; everyone else: the ones they belong to (their associations,
    or a liaison's authorities)."""
    query = sa.select(Organization)
    if user.role == Role.ADMIN:
        return query
    return query.where(Organization.id.in_(user.organization_ids))
