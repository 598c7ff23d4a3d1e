"""Work lists of courses: the sets an organizer acts on (today's courses, those to close…).

Each list is one SQL condition on ``Course``, defined once here: the home page counts it and the
course list (``/calendrier/liste?etat=<slug>``) shows it, so the number on the home page is the
number of lines behind its link. Higher areas add their own lists at import (the reports area:
« bilans à envoyer »), as they add sections to the course page.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import sqlalchemy as sa

from stages.auth.models import User
from stages.auth.permissions import visible
from stages.extensions import db
from stages.scheduling.models import Course, CoursePart, CourseStatus, course_facilitators
from stages.timeutil import local_to_utc, now_utc, today_local

# A course this close with fewer people than its minimum needs an organizer's attention.
UNDER_MINIMUM_WITHIN = timedelta(days=30)

Condition = Callable[[datetime], sa.ColumnElement[bool]]


@dataclass(frozen=True)
class CourseList:
    """One work list: its URL slug, the home page's label, the list page's title."""

    slug: str
    label: str
    title: str
    condition: Condition
    # Oldest first for what is overdue, soonest first for what is coming.
    oldest_first: bool = True
    position: int = 50


COURSE_LISTS: dict[str, CourseList] = {}


def course_list(slug: str, label: str, title: str, *, position: int = 50):
    """Register ``condition(now) -> SQL condition on Course`` as a work list (decorator)."""

    def register(condition: Condition) -> Condition:
        COURSE_LISTS[slug] = CourseList(slug, label, title, condition, position=position)
        return condition

    return register


def ordered_lists() -> list[CourseList]:
    return sorted(COURSE_LISTS.values(), key=lambda item: item.position)


def today_bounds(now: datetime) -> tuple[datetime, datetime]:
    """Local midnight today and tomorrow (Europe/Paris), in UTC."""
    today = today_local()
    return local_to_utc(today, time(0)), local_to_utc(today + timedelta(days=1), time(0))


def _runs(*statuses: CourseStatus) -> sa.ColumnElement[bool]:
    return Course.status.in_(statuses)


@course_list("aujourdhui", "Stages du jour", "Stages du jour", position=10)
def _today(now: datetime) -> sa.ColumnElement[bool]:
    """A half-day today, over or not: a facilitator finds the course that ended this morning."""
    start, end = today_bounds(now)
    return sa.and_(
        _runs(CourseStatus.SCHEDULED, CourseStatus.HELD),
        sa.exists().where(
            CoursePart.course_id == Course.id, CoursePart.starts_at < end, CoursePart.ends_at > start
        ),
    )


@course_list("a-cloturer", "À clôturer", "Stages à clôturer", position=20)
def _to_close(now: datetime) -> sa.ColumnElement[bool]:
    """Over and not closed: held, or still scheduled until the hourly job marks it held."""
    return sa.or_(
        Course.status == CourseStatus.HELD,
        sa.and_(Course.status == CourseStatus.SCHEDULED, Course.ends_at <= now),
    )


@course_list("sans-intervenant", "Sans intervenant·e", "Stages à venir sans intervenant·e", position=40)
def _without_facilitator(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        _runs(CourseStatus.DRAFT, CourseStatus.SCHEDULED),
        Course.ends_at > now,
        ~sa.exists().where(course_facilitators.c.session_id == Course.id),
    )


@course_list(
    "sous-le-minimum", "Sous le minimum d'inscrits", "Stages des 30 prochains jours sous le minimum d'inscrits",
    position=50,
)
def _under_minimum(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        Course.status == CourseStatus.SCHEDULED,
        Course.starts_at > now,
        Course.starts_at <= now + UNDER_MINIMUM_WITHIN,
        Course.seats_taken < Course.min_participants,
    )


@course_list("complets", "Complets", "Stages à venir complets", position=60)
def _full(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        Course.status == CourseStatus.SCHEDULED,
        Course.starts_at > now,
        Course.seats_taken >= Course.capacity,
    )


def list_condition(slug: str, now: datetime | None = None) -> sa.ColumnElement[bool]:
    return COURSE_LISTS[slug].condition(now or now_utc())


def list_counts(user: User, now: datetime | None = None) -> list[tuple[CourseList, int]]:
    """Every work list with how many of ``user``'s visible courses it holds: ONE query."""
    now = now or now_utc()
    lists = ordered_lists()
    sums = [sa.func.coalesce(sa.func.sum(sa.case((item.condition(now), 1), else_=0)), 0) for item in lists]
    row = db.session.execute(visible(Course, user).with_only_columns(*sums)).one()
    return list(zip(lists, row))
