"""What the home page shows each role: its to-do list, each item a count and a link.

Every count is the number of lines behind its link: the measures' counts are the liaison
dashboard's own buckets (``reports.dashboard.bucket_counts``), the courses' counts the work lists
of ``scheduling.worklists`` that the course list filters on. The page costs the same number of
statements whatever the number of courses or people.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from stages.attendance.services import can_record
from stages.auth.models import Role, User
from stages.auth.permissions import Permission, can, visible
from stages.enrollment.confirmation.replies import ReplyTasks, replies_to_handle
from stages.extensions import db
from stages.jobs.models import JobRun
from stages.reports.dashboard import Bucket, DashboardFilters, bucket_counts
from stages.reports.models import ReportTransmission
from stages.reports.transmissions import OVERDUE, overdue_transmissions
from stages.scheduling.models import Course, CoursePart, CourseStatus, course_facilitators
from stages.scheduling.worklists import list_counts
from stages.timeutil import local_to_utc, now_utc, to_local, today_local

# How many courses the home page lists before pointing to the full list.
SHOWN_COURSES = 8
MEASURE_BUCKETS = (Bucket.TO_SUMMON, Bucket.DEADLINE_PASSED, Bucket.DEADLINE_SOON)
# The items that are late when their count is not zero (shown as warnings).
URGENT = {"a-cloturer", "bilans-a-envoyer", Bucket.DEADLINE_PASSED.value, "taches-en-echec", OVERDUE}


@dataclass(frozen=True)
class TodoItem:
    """One line of a to-do list: « 3 · À clôturer », linking to those 3."""

    key: str
    label: str
    count: int
    endpoint: str
    args: dict = field(default_factory=dict)

    @property
    def urgent(self) -> bool:
        return self.count > 0 and self.key in URGENT


@dataclass(frozen=True)
class CourseLine:
    """A course on the home page, with the half-day whose attendance can be taken now."""

    course: Course
    attendance_part: CoursePart | None
    can_run: bool


def home_page(user: User, *, import_under_way: bool = False) -> dict:
    """The home page's context for ``user`` (a liaison's home is their dashboard);
    ``import_under_way``: this login session left an import at its preview."""
    now = now_utc()
    context: dict = {"todo": [], "admin_todo": [], "mine": [], "upcoming": [], "replies": ReplyTasks(0, [])}
    if user.role == Role.ADMIN:
        context["admin_todo"] = admin_todo(now)
    if user.role == Role.ORGANIZER:
        context["todo"] = measure_todo(user) + course_todo(user, now) + transmission_todo(user, now)
        if import_under_way:
            context["todo"].append(TodoItem("import", "Import à terminer", 1, "enrollment.import_columns"))
        # What people answered on their confirmation page, until an organizer handles it.
        context["replies"] = replies_to_handle(user)
    context["mine"] = my_courses(user, now)
    context["show_mine"] = user.role == Role.FACILITATOR or bool(context["mine"])
    if user.role in (Role.ADMIN, Role.ORGANIZER):
        context["upcoming"] = upcoming_courses(user, now)
    context["can_schedule"] = can(user, Permission.SCHEDULE)
    return context


def measure_todo(user: User) -> list[TodoItem]:
    """The people to summon and the deadlines, as the dashboard counts them (one query)."""
    counts = bucket_counts(user, DashboardFilters(), today_local())
    return [
        TodoItem(bucket.value, bucket.label, counts[bucket], "reports.dashboard", {"statut": bucket.value})
        for bucket in MEASURE_BUCKETS
    ]


def course_todo(user: User, now: datetime) -> list[TodoItem]:
    """Every work list of courses with its count (one query)."""
    return [
        TodoItem(item.slug, item.label, count, "scheduling.calendar_list", {"etat": item.slug})
        for item, count in list_counts(user, now)
    ]


def transmission_todo(user: User, now: datetime) -> list[TodoItem]:
    """The association's transmissions not acknowledged within their authority's delay (two
    queries: the authorities' delays, the count)."""
    query = overdue_transmissions(visible(ReportTransmission, user), now)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    return [TodoItem(OVERDUE, "Transmissions sans accusé de réception", count or 0,
                     "reports.transmissions", {"etat": OVERDUE})]


def admin_todo(now: datetime) -> list[TodoItem]:
    """Jobs whose latest run failed, accounts locked after failed logins (one query)."""
    latest = sa.select(sa.func.max(JobRun.id)).group_by(JobRun.job).scalar_subquery()
    failed_jobs = (
        sa.select(sa.func.count()).where(JobRun.id.in_(latest), JobRun.outcome == "failure").scalar_subquery()
    )
    locked = sa.select(sa.func.count()).where(User.locked_until > now).scalar_subquery()
    jobs, accounts = db.session.execute(sa.select(failed_jobs, locked)).one()
    return [
        TodoItem("taches-en-echec", "Tâches en échec", jobs, "jobs.runs"),
        TodoItem("comptes-bloques", "Comptes bloqués", accounts, "auth.users", {"etat": "bloques"}),
    ]


def my_courses(user: User, now: datetime) -> list[CourseLine]:
    """The courses ``user`` facilitates from today on (one that ended this morning included),
    soonest first, with the half-day of today whose attendance they can take."""
    start_of_today = local_to_utc(today_local(), time(0))
    query = (
        visible(Course, user)
        .where(
            Course.id.in_(sa.select(course_facilitators.c.session_id).where(course_facilitators.c.user_id == user.id)),
            Course.status.in_((CourseStatus.SCHEDULED, CourseStatus.HELD)),
            Course.ends_at >= start_of_today,
        )
        .order_by(Course.starts_at, Course.id)
        .limit(SHOWN_COURSES)
    )
    return [_line(course, user, now) for course in db.session.scalars(_with_details(query))]


def upcoming_courses(user: User, now: datetime) -> list[CourseLine]:
    """The next courses ``user`` may see, not over nor cancelled, soonest first."""
    query = (
        visible(Course, user)
        .where(Course.ends_at >= now, Course.status != CourseStatus.CANCELLED)
        .order_by(Course.starts_at, Course.id)
        .limit(SHOWN_COURSES)
    )
    return [_line(course, user, now) for course in db.session.scalars(_with_details(query))]


def _with_details(query: sa.Select) -> sa.Select:
    return query.options(
        selectinload(Course.venue),
        selectinload(Course.parts),
        selectinload(Course.organizations),
        selectinload(Course.facilitators),
    )


def _line(course: Course, user: User, now: datetime) -> CourseLine:
    """The course with today's half-day (local to its venue) when attendance can be taken."""
    can_run = can(user, Permission.SESSION_RUN, course)
    today = to_local(now, course.venue.timezone).date()
    part = next((p for p in course.parts if to_local(p.starts_at, course.venue.timezone).date() == today), None)
    if part is not None and not (can_run and can_record(part, user)):
        part = None
    return CourseLine(course, part, can_run)
