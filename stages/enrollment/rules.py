"""Who may see and change which legal measures and people: registered with the permission helper.

Organizers: the measures their association handles, and those enrolled in their courses.
Liaisons: the measures their authorities referred. Facilitators: no legal data, only the names
of the people enrolled in the courses they run.
"""
from __future__ import annotations

import sqlalchemy as sa

from stages.auth.audit import describes
from stages.auth.models import Role, User
from stages.auth.permissions import Permission, built_per_user, exists, object_rule, scope
from stages.enrollment.confirmation.models import SummonsReply
from stages.enrollment.ledger import rules as _ledger_rules  # noqa: F401 (registers its rules)
from stages.enrollment.models import Enrollment, LegalMeasure, Participant
from stages.extensions import db
from stages.scheduling.models import Course, course_facilitators, course_organizations
from stages.scheduling.rules import course_rule
from stages.timeutil import fr_date


@object_rule(LegalMeasure)
def measure_rule(user: User, permission: Permission, measure: LegalMeasure) -> bool:
    if user.role == Role.LIAISON:
        return measure.authority_id in user.organization_ids
    if user.role != Role.ORGANIZER:
        return False
    if measure.handling_organization_id in user.organization_ids:
        return True
    if permission == Permission.FEES_RECORD:  # the account is the handling association's
        return False
    return exists(
        sa.select(Enrollment.id)
        .join(course_organizations, course_organizations.c.session_id == Enrollment.course_id)
        .where(
            Enrollment.measure_id == measure.id,
            course_organizations.c.organization_id.in_(user.organization_ids),
        )
    )


@object_rule(Participant, same_for_every_permission=True)
def participant_rule(user: User, permission: Permission, participant: Participant) -> bool:
    return db.session.scalar(_participant_in_scope(user), {"participant_id": participant.id}) is True


@built_per_user
def _participant_in_scope(user: User) -> sa.Select:
    """Whether a person is in ``user``'s scope (one statement, built once per user: every
    person's page asks it)."""
    if user.role == Role.FACILITATOR:
        # Facilitators see the people enrolled in the courses they run (names only).
        found = (
            sa.select(Enrollment.id)
            .join(LegalMeasure, LegalMeasure.id == Enrollment.measure_id)
            .join(course_facilitators, course_facilitators.c.session_id == Enrollment.course_id)
            .where(
                LegalMeasure.participant_id == sa.bindparam("participant_id"),
                course_facilitators.c.user_id == user.id,
            )
        )
    else:
        found = visible_measures(user).where(LegalMeasure.participant_id == sa.bindparam("participant_id"))
    return sa.select(found.exists())


@scope(LegalMeasure)
def visible_measures(user: User) -> sa.Select:
    """A SELECT of the legal measures ``user`` may see (facilitators see none: no legal data)."""
    query = sa.select(LegalMeasure)
    if user.role == Role.ADMIN:
        return query
    org_ids = user.organization_ids
    if user.role == Role.LIAISON:
        return query.where(LegalMeasure.authority_id.in_(org_ids))
    if user.role == Role.ORGANIZER:
        in_their_courses = sa.select(Enrollment.measure_id).join(
            course_organizations, course_organizations.c.session_id == Enrollment.course_id
        ).where(course_organizations.c.organization_id.in_(org_ids))
        return query.where(
            sa.or_(
                LegalMeasure.handling_organization_id.in_(org_ids),
                LegalMeasure.id.in_(in_their_courses),
            )
        )
    return query.where(sa.false())


@object_rule(Enrollment)
def enrollment_rule(user: User, permission: Permission, enrollment: Enrollment) -> bool:
    """An enrollment is its measure's: whoever may do ``permission`` on the measure."""
    return measure_rule(user, permission, enrollment.measure)


# How the audit journal names measures and enrollments: numbers and dates, never a name (a
# person is « Personne n° 12 »).


@describes("LegalMeasure")
def _describe_measures(ids: list[int]) -> dict[int, str]:
    rows = db.session.execute(sa.select(LegalMeasure.id, LegalMeasure.frame).where(LegalMeasure.id.in_(ids)))
    return {i: f"Mesure n° {i} ({frame.label.lower()})" for i, frame in rows}


@describes("Enrollment")
def _describe_enrollments(ids: list[int]) -> dict[int, str]:
    rows = db.session.execute(
        sa.select(Enrollment.id, Course.starts_at).join(Course, Course.id == Enrollment.course_id)
        .where(Enrollment.id.in_(ids))
    )
    return {i: f"Inscription n° {i} au stage du {fr_date(start, 'medium')}" for i, start in rows}


@object_rule(SummonsReply)
def summons_reply_rule(user: User, permission: Permission, reply: SummonsReply) -> bool:
    """A person's reply to their summons is their course's: its organizers handle it."""
    return course_rule(user, permission, reply.enrollment.course)


@describes("SummonsReply")
def _describe_replies(ids: list[int]) -> dict[int, str]:
    """« Réponse n° 4 (demande d'une autre date) »: the kind, never the reason."""
    rows = db.session.execute(sa.select(SummonsReply.id, SummonsReply.kind).where(SummonsReply.id.in_(ids)))
    return {i: f"Réponse n° {i} ({kind.label.lower()})" for i, kind in rows}
