"""What the calendar views compute: filters and their choices, the period asked for, the days.

Malformed query parameters never fail a page: each parser adds a French notice to ``notices``
and falls back to a sane default (the current month or week, no filter, page 1).
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import raiseload, selectinload

from stages.auth.models import Role, User
from stages.auth.permissions import visible
from stages.extensions import db
from stages.scheduling.models import (
    Course,
    CoursePart,
    Venue,
    course_facilitators,
    course_organizations,
)
from stages.auth.models import Organization, OrganizationKind
from stages.scheduling.worklists import COURSE_LISTS, CourseList
from stages.timeutil import local_to_utc, today_local

MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_PAGE = 10_000
# Courses last one or two days; looking this far back keeps the overlap query on the
# ``starts_at`` index instead of scanning ten years of history.
MAX_SESSION_SPAN = timedelta(days=31)

_ID = re.compile(r"[0-9]{1,9}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# ---------------------------------------------------------------------------------------------
# Filters


@dataclass(frozen=True)
class FilterOptions:
    """The choices offered in the filter form, as (id, label) pairs."""

    venues: list[tuple[int, str]]
    organizations: list[tuple[int, str]]
    facilitators: list[tuple[int, str]]


@dataclass(frozen=True)
class CalendarFilters:
    """The filters chosen in the form; ``mine`` means the courses the current user facilitates."""

    venue_id: int | None = None
    organization_id: int | None = None
    facilitator_id: int | None = None
    mine: bool = False

    def url_args(self, user: User) -> dict[str, str]:
        """The query parameters that reproduce these filters in a link."""
        args = {}
        if self.venue_id is not None:
            args["lieu"] = str(self.venue_id)
        if self.organization_id is not None:
            args["organisation"] = str(self.organization_id)
        if self.facilitator_id is not None:
            args["intervenant"] = str(self.facilitator_id)
        # Facilitators always see their own courses: no need to carry it in links.
        if self.mine and user.role != Role.FACILITATOR:
            args["mes"] = "1"
        return args


def filter_options(user: User) -> FilterOptions:
    """The venues, associations and facilitators to filter on: one cheap query each."""
    in_service = Venue.archived_at.is_(None)
    if user.role in (Role.ORGANIZER, Role.FACILITATOR):
        # The rooms of the courses they may see, not every room in France.
        in_service = sa.and_(
            in_service,
            Venue.id.in_(visible(Course, user).with_only_columns(Course.venue_id)),
        )
    venues = db.session.execute(
        sa.select(Venue.id, Venue.name).where(in_service).order_by(Venue.name)
    ).all()
    organizations = db.session.execute(
        sa.select(Organization.id, Organization.short_name)
        .where(
            Organization.kind == OrganizationKind.ASSOCIATION, Organization.archived_at.is_(None)
        )
        .order_by(Organization.short_name)
    ).all()
    facilitators = db.session.execute(visible("facilitator_filter", user)).all()
    return FilterOptions(
        [tuple(row) for row in venues],
        [tuple(row) for row in organizations],
        [tuple(row) for row in facilitators],
    )


_FILTER_PARAMS = (
    ("lieu", "venues", "Le lieu demandé n'existe pas ou n'est plus proposé"),
    ("organisation", "organizations", "L'association demandée n'existe pas ou n'est pas proposée"),
    (
        "intervenant",
        "facilitators",
        "L'intervenant·e demandé·e n'existe pas ou n'est pas proposé·e",
    ),
)


def parse_filters(args, user: User, options: FilterOptions, notices: list[str]) -> CalendarFilters:
    """Read ``lieu``, ``organisation``, ``intervenant`` and ``mes``; ignore what is not offered.

    Checking ids against the offered choices also keeps out-of-range integers away from SQL.
    """
    chosen = [
        _parse_choice(args.get(param), getattr(options, attribute), notices, message)
        for param, attribute, message in _FILTER_PARAMS
    ]
    raw_mine = (args.get("mes") or "").strip()
    if raw_mine not in ("", "0", "1"):
        notices.append("La valeur de « Mes stages » n'est pas valide : le filtre est ignoré.")
    mine = raw_mine == "1" or user.role == Role.FACILITATOR
    return CalendarFilters(*chosen, mine=mine)


def _parse_choice(raw, choices, notices: list[str], message: str) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    if _ID.fullmatch(raw) and int(raw) in {choice_id for choice_id, _ in choices}:
        return int(raw)
    notices.append(f"{message} : le filtre est ignoré.")
    return None


def apply_filters(query: sa.Select, filters: CalendarFilters, user: User) -> sa.Select:
    """Narrow a SELECT of courses to the chosen venue, association and facilitators."""
    if filters.venue_id is not None:
        query = query.where(Course.venue_id == filters.venue_id)
    if filters.organization_id is not None:
        query = query.where(
            Course.id.in_(
                sa.select(course_organizations.c.session_id).where(
                    course_organizations.c.organization_id == filters.organization_id
                )
            )
        )
    for facilitator_id in {filters.facilitator_id, user.id if filters.mine else None} - {None}:
        query = query.where(
            Course.id.in_(
                sa.select(course_facilitators.c.session_id).where(
                    course_facilitators.c.user_id == facilitator_id
                )
            )
        )
    return query


def _with_details(query: sa.Select, *, people: bool = True) -> sa.Select:
    """Load what the calendar shows in a fixed number of statements, whatever the row count.

    ``people=False`` leaves out the associations and facilitators, which the month grid does
    not show: on the admin's national month (~150 courses) they were hundreds more ORM objects
    and two statements per request, all garbage once the page is sent. Touching them then
    raises instead of sending a statement per course.
    """
    if not people:
        return query.options(
            selectinload(Course.venue),
            selectinload(Course.parts),
            raiseload(Course.organizations),
            raiseload(Course.facilitators),
        )
    return query.options(
        selectinload(Course.venue),
        selectinload(Course.parts),
        selectinload(Course.organizations),
        selectinload(Course.facilitators),
    )


# ---------------------------------------------------------------------------------------------
# Placing courses on days


@dataclass
class CalendarEntry:
    """One day of a course, as placed on the calendar."""

    course: Course
    day: date
    parts: list[CoursePart]
    day_number: int
    day_count: int

    @property
    def starts_at(self) -> datetime:
        return self.parts[0].starts_at

    @property
    def ends_at(self) -> datetime:
        return self.parts[-1].ends_at


def courses_by_day(
    user: User, filters: CalendarFilters, first_day: date, end_day: date, *, people: bool = True
) -> dict[date, list[CalendarEntry]]:
    """The visible courses' days from ``first_day`` to ``end_day`` (excluded), by local date.

    The SQL range is widened by a day on each side because a venue's local date (overseas
    venues) may differ by one day from the application's zone; the exact cut is made on the
    venue's local date. ``people=False``: without associations and facilitators (the month).
    """
    range_start = local_to_utc(first_day - timedelta(days=1), time.min)
    range_end = local_to_utc(end_day + timedelta(days=1), time.min)
    query = _with_details(
        apply_filters(visible(Course, user), filters, user)
        .where(
            Course.starts_at < range_end,
            Course.starts_at >= range_start - MAX_SESSION_SPAN,
            Course.ends_at > range_start,
        )
        .order_by(Course.starts_at, Course.id),
        people=people,
    )
    by_day: dict[date, list[CalendarEntry]] = defaultdict(list)
    for course in db.session.scalars(query):
        days = course.days
        for number, (day, parts) in enumerate(days, start=1):
            if first_day <= day < end_day:
                by_day[day].append(CalendarEntry(course, day, parts, number, len(days)))
    for entries in by_day.values():
        entries.sort(key=lambda entry: (entry.starts_at, entry.course.id))
    return by_day


# ---------------------------------------------------------------------------------------------
# Parsing the period


def _this_month() -> tuple[int, int]:
    today = today_local()
    return today.year, today.month


def _parse_month(args, notices: list[str]) -> date:
    """The first day of the month asked for by ``annee`` and ``mois``, or of the current one."""
    year, month = _this_month()
    raw_year, raw_month = (args.get("annee") or "").strip(), (args.get("mois") or "").strip()
    if raw_year:
        if re.fullmatch(r"[0-9]{4}", raw_year) and MIN_YEAR <= int(raw_year) <= MAX_YEAR:
            year = int(raw_year)
        else:
            notices.append(
                f"L'année demandée n'est pas valide (attendue entre {MIN_YEAR} et {MAX_YEAR}) : "
                "affichage du mois en cours."
            )
            return date(*_this_month(), 1)
    if raw_month:
        if re.fullmatch(r"[0-9]{1,2}", raw_month) and 1 <= int(raw_month) <= 12:
            month = int(raw_month)
        else:
            notices.append(
                "Le mois demandé n'est pas valide (attendu entre 1 et 12) : "
                "affichage du mois en cours."
            )
            return date(*_this_month(), 1)
    elif raw_year and year != _this_month()[0]:
        month = 1
    return date(year, month, 1)


def _parse_date(raw: str | None, notices: list[str]) -> date:
    """A ``YYYY-MM-DD`` date within the supported years, or today."""
    raw = (raw or "").strip()
    if not raw:
        return today_local()
    if _ISO_DATE.fullmatch(raw):
        try:
            value = date.fromisoformat(raw)
        except ValueError:
            value = None
        if value is not None and MIN_YEAR <= value.year <= MAX_YEAR:
            return value
    notices.append(
        "La date demandée n'est pas valide (format attendu : AAAA-MM-JJ, par exemple "
        f"{today_local().isoformat()}) : affichage de la semaine en cours."
    )
    return today_local()


def _parse_page(raw: str | None, notices: list[str]) -> int:
    raw = (raw or "").strip()
    if not raw:
        return 1
    if _ID.fullmatch(raw) and 1 <= int(raw) <= MAX_PAGE:
        return int(raw)
    notices.append("Le numéro de page n'est pas valide : affichage de la première page.")
    return 1


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def parse_work_list(raw: str | None, notices: list[str]) -> CourseList | None:
    """The work list asked for (``?etat=a-cloturer``), or None; an unknown one is a notice."""
    raw = (raw or "").strip()
    if not raw:
        return None
    if raw in COURSE_LISTS:
        return COURSE_LISTS[raw]
    notices.append("Cette liste de stages n'existe pas : affichage de tous les stages.")
    return None


def list_query(
    user: User, filters: CalendarFilters, *, upcoming: bool, work_list: CourseList | None, now: datetime
) -> sa.Select:
    """The course list's query: a work list (oldest first), else upcoming courses soonest first
    or past ones latest first; always within what ``user`` may see, with the filters."""
    query = apply_filters(visible(Course, user), filters, user)
    if work_list is not None:
        query = query.where(work_list.condition(now)).order_by(Course.starts_at, Course.id)
    elif upcoming:
        query = query.where(Course.ends_at >= now).order_by(Course.starts_at, Course.id)
    else:
        query = query.where(Course.ends_at < now).order_by(Course.starts_at.desc(), Course.id.desc())
    return _with_details(query)
