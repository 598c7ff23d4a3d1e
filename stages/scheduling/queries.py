"""Read models of the scheduling area: the course page and the choices of the course forms.

The course page shows what higher areas hold about a course (its people, the day's attendance,
attestations, bilans): they register their parts with ``course_sections`` at start-up. So does
the confirmation of a change to a course, with ``course_change_sections`` (who will be told).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from stages.auth.models import Organization, OrganizationKind, Role, User
from stages.auth.permissions import Permission, can
from stages.extensions import db
from stages.forms import select_choices
from stages.page_sections import PageSections
from stages.scheduling.models import Course, CourseChange, CourseStatus, Venue
from stages.scheduling.programme.queries import programme_of
from stages.scheduling.services import CourseData, describe_changes, moves_course, possible_transitions

# Who may be asked to facilitate: courses are co-run, organizers sometimes facilitate too.
FACILITATOR_ROLES = (Role.FACILITATOR, Role.ORGANIZER)
HISTORY_LENGTH = 50

# What the course page reads of the course itself, joined to its row: its venue, co-organizers
# (the permission rule reads them), facilitators and half-days (the programme), a few rows each.
COURSE_PAGE_LOAD = (
    joinedload(Course.venue), joinedload(Course.organizations), joinedload(Course.facilitators),
    joinedload(Course.parts),
)

course_sections = PageSections()
# Loaders take ``course`` and ``moving`` (whether the change moves its half-days or venue); one
# that lists people adds ``people_listed`` (how many), so that the view audits the read.
course_change_sections = PageSections()


def course_page(course: Course, user: User) -> dict:
    """Everything the course page shows to ``user``, the higher areas' sections included."""
    can_edit = can(user, Permission.SESSION_EDIT, course)
    return course_sections.build(
        course=course,
        user=user,
        can_edit=can_edit,
        can_run=can(user, Permission.SESSION_RUN, course),
        history=course_history(course) if can_edit else [],
        transitions=possible_transitions(course),
        programme=programme_of(course),
        CourseStatus=CourseStatus,
    )


def course_change_page(course: Course, data: CourseData) -> dict:
    """What the organizer confirms before a course people are enrolled in changes: the list of
    changes, and what higher areas add (the people summoned who will be told of a move)."""
    return course_change_sections.build(
        course=course, changes=describe_changes(course, data), moving=moves_course(course, data)
    )


def course_history(course: Course) -> list[CourseChange]:
    """The latest changes of a course, newest first, with who made them."""
    return list(db.session.scalars(_HISTORY, {"course_id": course.id}))


# Built once, with bind parameters (bench/README.md, « Statements built once »).
_HISTORY = (
    sa.select(CourseChange)
    .where(CourseChange.course_id == sa.bindparam("course_id"))
    .options(selectinload(CourseChange.user))
    .order_by(CourseChange.at.desc())
    .limit(HISTORY_LENGTH)
)


def fill_course_choices(form, course: Course | None = None) -> None:
    """Venues in service (and the course's own), associations, and the staff who facilitate."""
    venues = db.session.scalars(
        sa.select(Venue)
        .where(sa.or_(Venue.archived_at.is_(None), Venue.id == (course.venue_id if course else 0)))
        .order_by(Venue.name)
    ).all()
    form.venue.choices = select_choices(
        (v.id, f"{v.name} — {v.room or v.city} ({v.capacity} places)") for v in venues
    )
    associations = db.session.scalars(
        sa.select(Organization)
        .where(Organization.kind == OrganizationKind.ASSOCIATION, Organization.archived_at.is_(None))
        .order_by(Organization.name)
    ).all()
    form.organizations.choices = select_choices((o.id, o.name) for o in associations)
    facilitators = db.session.scalars(
        sa.select(User)
        .where(User.active, User.role.in_(FACILITATOR_ROLES))
        .options(selectinload(User.organizations))
        .order_by(User.full_name)
    ).all()
    form.facilitators.choices = select_choices(
        (u.id, f"{u.full_name} ({', '.join(o.short_name for o in u.organizations) or '—'})")
        for u in facilitators
    )
