"""The one permission helper: every view asks it, and it checks role **and** scope.

Scope rules (DOMAIN.md, "Who uses the software"):
- admin: everything;
- organizer: sessions co-organized by one of their associations, measures their association
  handles, and the people enrolled in their sessions;
- facilitator: the sessions they run and the people enrolled in them (names only, no legal data);
- liaison: read-only, the measures referred by their authorities and those people.
"""
from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from flask import abort
from flask_login import current_user

from stages.auth.models import Role, User
from stages.enrollment.models import Enrollment, LegalMeasure, Participant
from stages.extensions import db
from stages.scheduling.models import CourseSession, session_facilitators, session_organizations


class Permission(StrEnum):
    ADMIN = "admin"  # accounts, organizations, retention
    SCHEDULE = "schedule"  # create sessions, venues, series
    SESSION_VIEW = "session.view"
    SESSION_EDIT = "session.edit"
    SESSION_RUN = "session.run"  # roster, attendance
    MEASURE_VIEW = "measure.view"
    MEASURE_EDIT = "measure.edit"
    PARTICIPANT_VIEW = "participant.view"
    PARTICIPANT_LEGAL_VIEW = "participant.legal_view"  # measures, case references
    PARTICIPANT_EDIT = "participant.edit"


ORGANIZER_GLOBAL = {Permission.SCHEDULE, Permission.MEASURE_EDIT, Permission.PARTICIPANT_EDIT}


def can(user, permission: Permission, obj=None) -> bool:
    """Whether ``user`` may do ``permission`` on ``obj`` (or in general when ``obj`` is None)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.active:
        return False
    if user.role == Role.ADMIN:
        return True
    checker = _CHECKERS.get(user.role)
    return bool(checker and checker(user, permission, obj))


def authorize(permission: Permission, obj=None) -> None:
    """Abort with 403 unless the current user may do ``permission`` on ``obj``."""
    if not can(current_user, permission, obj):
        abort(403)


def _organizer(user: User, permission: Permission, obj) -> bool:
    if permission == Permission.ADMIN:
        return False
    if obj is None:
        return True
    if isinstance(obj, CourseSession):
        return _session_in_orgs(obj, user.organization_ids)
    if isinstance(obj, LegalMeasure):
        return _measure_for_organizer(user, obj)
    if isinstance(obj, Participant):
        return _exists(visible_measures(user).where(LegalMeasure.participant_id == obj.id))
    return False


def _facilitator(user: User, permission: Permission, obj) -> bool:
    if permission in (Permission.SESSION_VIEW, Permission.SESSION_RUN):
        return obj is None or (
            isinstance(obj, CourseSession) and any(f.id == user.id for f in obj.facilitators)
        )
    if permission == Permission.PARTICIPANT_VIEW:
        if obj is None:
            return True
        return isinstance(obj, Participant) and _exists(
            sa.select(Enrollment.id)
            .join(LegalMeasure, LegalMeasure.id == Enrollment.measure_id)
            .join(session_facilitators, session_facilitators.c.session_id == Enrollment.session_id)
            .where(LegalMeasure.participant_id == obj.id, session_facilitators.c.user_id == user.id)
        )
    return False


def _liaison(user: User, permission: Permission, obj) -> bool:
    if permission not in (
        Permission.MEASURE_VIEW,
        Permission.PARTICIPANT_VIEW,
        Permission.PARTICIPANT_LEGAL_VIEW,
    ):
        return False
    if obj is None:
        return True
    if isinstance(obj, LegalMeasure):
        return obj.authority_id in user.organization_ids
    if isinstance(obj, Participant):
        return _exists(visible_measures(user).where(LegalMeasure.participant_id == obj.id))
    return False


_CHECKERS = {Role.ORGANIZER: _organizer, Role.FACILITATOR: _facilitator, Role.LIAISON: _liaison}


def _exists(select) -> bool:
    return db.session.scalar(sa.select(select.exists())) is True


def _session_in_orgs(session: CourseSession, org_ids: set[int]) -> bool:
    return any(org.id in org_ids for org in session.organizations)


def _measure_for_organizer(user: User, measure: LegalMeasure) -> bool:
    if measure.handling_organization_id in user.organization_ids:
        return True
    return _exists(
        sa.select(Enrollment.id)
        .join(session_organizations, session_organizations.c.session_id == Enrollment.session_id)
        .where(
            Enrollment.measure_id == measure.id,
            session_organizations.c.organization_id.in_(user.organization_ids),
        )
    )


def visible_sessions(user: User) -> sa.Select:
    """A SELECT of the sessions ``user`` may see, to filter and paginate lists in SQL."""
    query = sa.select(CourseSession)
    if user.role == Role.ADMIN:
        return query
    if user.role == Role.ORGANIZER:
        return query.where(
            CourseSession.id.in_(
                sa.select(session_organizations.c.session_id).where(
                    session_organizations.c.organization_id.in_(user.organization_ids)
                )
            )
        )
    if user.role == Role.FACILITATOR:
        return query.where(
            CourseSession.id.in_(
                sa.select(session_facilitators.c.session_id).where(
                    session_facilitators.c.user_id == user.id
                )
            )
        )
    return query.where(sa.false())


def visible_measures(user: User) -> sa.Select:
    """A SELECT of the legal measures ``user`` may see (facilitators see none: no legal data)."""
    query = sa.select(LegalMeasure)
    if user.role == Role.ADMIN:
        return query
    org_ids = user.organization_ids
    if user.role == Role.LIAISON:
        return query.where(LegalMeasure.authority_id.in_(org_ids))
    if user.role == Role.ORGANIZER:
        in_their_sessions = sa.select(Enrollment.measure_id).join(
            session_organizations, session_organizations.c.session_id == Enrollment.session_id
        ).where(session_organizations.c.organization_id.in_(org_ids))
        return query.where(
            sa.or_(
                LegalMeasure.handling_organization_id.in_(org_ids),
                LegalMeasure.id.in_(in_their_sessions),
            )
        )
    return query.where(sa.false())


def get_authorized(model, object_id: int, permission: Permission):
    """Load ``model`` #``object_id`` if the current user may do ``permission`` on it.

    Someone else's object and a missing one both give 403 to non-admins, so ids cannot be
    probed for existence.
    """
    obj = db.session.get(model, object_id)
    if obj is None:
        abort(404 if can(current_user, Permission.ADMIN) else 403)
    authorize(permission, obj)
    return obj
