"""Who may see which organizations: registered with the permission helper."""
from __future__ import annotations

import sqlalchemy as sa

from stages.auth.models import Organization, OrganizationKind, Role, User
from stages.auth.permissions import Permission, object_rule, scope


@scope(Organization)
def member_organizations(user: User) -> sa.Select:
    """Admins: every organization; everyone else: the ones they belong to (their associations,
    or a liaison's authorities)."""
    query = sa.select(Organization)
    if user.role == Role.ADMIN:
        return query
    return query.where(Organization.id.in_(user.organization_ids))


@object_rule(Organization)
def organization_rule(user: User, permission: Permission, organization: Organization) -> bool:
    """An organizer writes the letters of the associations they work for (« Courriers »);
    everything else about an organization is for admins."""
    return (
        permission == Permission.SCHEDULE
        and organization.kind == OrganizationKind.ASSOCIATION
        and organization.id in user.organization_ids
    )
