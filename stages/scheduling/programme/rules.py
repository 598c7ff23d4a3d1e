"""Who may change an association's catalogue and its speakers' directory: its organizers (and
admins); how the audit journal names modules and speakers (no contact data)."""
from __future__ import annotations

import sqlalchemy as sa

from stages.auth.audit import describes
from stages.auth.models import Role, User
from stages.auth.permissions import Permission, object_rule
from stages.extensions import db
from stages.scheduling.programme.models import ProgrammeModule, Speaker


def _member(user: User, permission: Permission, obj) -> bool:
    return user.role == Role.ORGANIZER and permission == Permission.SCHEDULE and obj.organization_id in user.organization_ids


object_rule(ProgrammeModule)(_member)
object_rule(Speaker)(_member)


@describes("ProgrammeModule")
def _describe_modules(ids: list[int]) -> dict[int, str]:
    rows = db.session.execute(sa.select(ProgrammeModule.id, ProgrammeModule.title).where(ProgrammeModule.id.in_(ids)))
    return {i: f"Module « {title} »" for i, title in rows}


@describes("Speaker")
def _describe_speakers(ids: list[int]) -> dict[int, str]:
    return {i: f"Intervenant extérieur n° {i}" for i in ids}
