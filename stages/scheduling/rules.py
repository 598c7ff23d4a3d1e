"""Who may see, edit and run which courses: registered with the permission helper; and how the
audit journal names them."""
from __future__ import annotations

import sqlalchemy as sa

from stages.auth.audit import describes
from stages.auth.models import Role, User, user_organizations
from stages.auth.permissions import Permission, object_rule, scope
from stages.extensions import db
from stages.scheduling.models import (
    Course,
    CoursePart,
    Venue,
    course_facilitators,
    course_organizations,
)
from stages.scheduling.programme import rules as _programme_rules  # noqa: F401  (registers its rules)
from stages.scheduling.services.validation import CourseData
from stages.timeutil import fr_date, fr_time

FACILITATOR_PERMISSIONS = (Permission.SESSION_VIEW, Permission.SESSION_RUN)


@object_rule(Course)
def course_rule(user: User, permission: Permission, course: Course) -> bool:
    """Organizers act on the courses one of their associations co-organizes; facilitators see
    and run the courses they facilitate."""
    if user.role == Role.ORGANIZER:
        return any(org.id in user.organization_ids for org in course.organizations)
    if user.role == Role.FACILITATOR:
        return permission in FACILITATOR_PERMISSIONS and any(
            f.id == user.id for f in course.facilitators
        )
    return False


@scope(Course)
def visible_courses(user: User) -> sa.Select:
    """A SELECT of the courses ``user`` may see."""
    query = sa.select(Course)
    if user.role == Role.ADMIN:
        return query
    if user.role == Role.ORGANIZER:
        return query.where(
            Course.id.in_(
                sa.select(course_organizations.c.session_id).where(
                    course_organizations.c.organization_id.in_(user.organization_ids)
                )
            )
        )
    if user.role == Role.FACILITATOR:
        return query.where(
            Course.id.in_(
                sa.select(course_facilitators.c.session_id).where(
                    course_facilitators.c.user_id == user.id
                )
            )
        )
    return query.where(sa.false())


@scope("facilitator_filter")
def facilitators_to_filter_on(user: User) -> sa.Select:
    """The staff a user may pick in the calendar's facilitator filter: a facilitator's
    co-facilitators, an organizer's colleagues (every facilitator of France would cost more than
    the calendar itself), and for admins everyone who facilitates."""
    if user.role == Role.FACILITATOR:
        courses = visible_courses(user).with_only_columns(Course.id)
        who = User.id.in_(
            sa.select(course_facilitators.c.user_id).where(
                course_facilitators.c.session_id.in_(courses)
            )
        )
    elif user.role == Role.ORGANIZER:
        who = sa.and_(
            User.role.in_((Role.FACILITATOR, Role.ORGANIZER)),
            User.id.in_(
                sa.select(user_organizations.c.user_id).where(
                    user_organizations.c.organization_id.in_(user.organization_ids)
                )
            ),
        )
    else:
        # Organizers sometimes facilitate too: list everyone who ever did.
        who = sa.or_(
            User.role == Role.FACILITATOR,
            User.id.in_(sa.select(course_facilitators.c.user_id)),
        )
    return sa.select(User.id, User.full_name).where(User.active, who).order_by(User.full_name)


@object_rule(Venue)
def venue_rule(user: User, permission: Permission, venue: Venue) -> bool:
    """Any organizer may schedule a course in any venue; its details are edited by the
    association that manages it (a shared venue, with none: by admins only)."""
    if user.role != Role.ORGANIZER:
        return False
    if permission == Permission.SCHEDULE:
        return True
    return permission == Permission.VENUE_EDIT and venue.owner is not None and venue.owner.id in user.organization_ids


@object_rule(CourseData)
def new_course_rule(user: User, permission: Permission, data: CourseData) -> bool:
    """An organizer schedules courses that one of their associations co-organizes."""
    return (
        user.role == Role.ORGANIZER
        and permission == Permission.SCHEDULE
        and any(org.id in user.organization_ids for org in data.organizations)
    )


# How the audit journal names courses, half-days and venues.


@describes("Course")
def _describe_courses(ids: list[int]) -> dict[int, str]:
    rows = db.session.execute(sa.select(Course.id, Course.starts_at).where(Course.id.in_(ids)))
    return {i: f"Stage du {fr_date(start, 'medium')}" if start else f"Stage n° {i} (sans date)" for i, start in rows}


@describes("CoursePart")
def _describe_parts(ids: list[int]) -> dict[int, str]:
    rows = db.session.execute(sa.select(CoursePart.id, CoursePart.starts_at).where(CoursePart.id.in_(ids)))
    return {i: f"Demi-journée du {fr_date(start, 'medium')} à {fr_time(start)}" for i, start in rows}


@describes("Venue")
def _describe_venues(ids: list[int]) -> dict[int, str]:
    rows = db.session.execute(sa.select(Venue.id, Venue.name).where(Venue.id.in_(ids)))
    return {i: f"Lieu « {name} »" for i, name in rows}
