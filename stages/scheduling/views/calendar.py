"""Calendar views of courses: month, week and list, with filters and each person's own courses.

Malformed query parameters never fail a page: each one adds a French notice shown above the
calendar and falls back to a sane default (the current month or week, no filter, page 1).
The filters, the parsing of the period and the placing of courses on days are in
``stages.scheduling.calendar``; this module holds the blueprint and its pages.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app, render_template, request
from flask_login import current_user, login_required

from stages.auth.models import Role, User
from stages.auth.permissions import Permission, authorize
from stages.extensions import db
from stages.scheduling.calendar import (
    MAX_YEAR,
    MIN_YEAR,
    CalendarFilters,
    FilterOptions,
    _add_months,
    _parse_date,
    _parse_month,
    _parse_page,
    _this_month,
    list_query,
    parse_work_list,
    filter_options,
    parse_filters,
    courses_by_day,
)
from stages.scheduling.views.blueprint import bp
from stages.timeutil import now_utc, today_local

UPCOMING, PAST = "a-venir", "passes"


# ---------------------------------------------------------------------------------------------
# Views


@dataclass
class CalendarPage:
    """What every calendar view shares: filters, their options and the notices about bad input."""

    user: User
    options: FilterOptions
    filters: CalendarFilters
    notices: list[str] = field(default_factory=list)

    @property
    def filter_args(self) -> dict[str, str]:
        return self.filters.url_args(self.user)

    def context(self, **extra) -> dict:
        return dict(
            options=self.options,
            filters=self.filters,
            filter_args=self.filter_args,
            notices=self.notices,
            is_facilitator=self.user.role == Role.FACILITATOR,
            today=today_local(),
            **extra,
        )


def _calendar_page() -> CalendarPage:
    authorize(Permission.SESSION_VIEW)
    user = current_user._get_current_object()
    notices: list[str] = []
    options = filter_options(user)
    filters = parse_filters(request.args, user, options, notices)
    return CalendarPage(user, options, filters, notices)


@bp.route("/calendrier")
@login_required
def calendar_month():
    """A month of courses as a Monday-first grid (``?annee=2026&mois=3``)."""
    cal = _calendar_page()
    first = _parse_month(request.args, cal.notices)
    next_first = _add_months(first, 1)
    grid_start = first - timedelta(days=first.weekday())
    grid_end = next_first + timedelta(days=(7 - next_first.weekday()) % 7)
    days = [grid_start + timedelta(days=n) for n in range((grid_end - grid_start).days)]
    prev_first = _add_months(first, -1)
    return render_template(
        "scheduling/calendar_month.html",
        **cal.context(
            first=first,
            weeks=[days[i : i + 7] for i in range(0, len(days), 7)],
            entries=courses_by_day(cal.user, cal.filters, first, next_first, people=False),
            prev_month=prev_first if prev_first.year >= MIN_YEAR else None,
            next_month=next_first if next_first.year <= MAX_YEAR else None,
            ref_date=first if (first.year, first.month) != _this_month() else today_local(),
        ),
    )


@bp.route("/calendrier/semaine")
@login_required
def calendar_week():
    """The seven days (Monday to Sunday) of the week holding ``?date=YYYY-MM-DD``."""
    cal = _calendar_page()
    ref_date = _parse_date(request.args.get("date"), cal.notices)
    monday = ref_date - timedelta(days=ref_date.weekday())
    days = [monday + timedelta(days=n) for n in range(7)]
    prev_monday, next_monday = monday - timedelta(days=7), monday + timedelta(days=7)
    return render_template(
        "scheduling/calendar_week.html",
        **cal.context(
            ref_date=ref_date,
            days=days,
            iso_week=monday.isocalendar().week,
            entries=courses_by_day(cal.user, cal.filters, monday, monday + timedelta(days=7)),
            prev_week=prev_monday if prev_monday.year >= MIN_YEAR else None,
            next_week=next_monday if next_monday.year <= MAX_YEAR else None,
        ),
    )


@bp.route("/calendrier/liste")
@login_required
def calendar_list():
    """Upcoming courses soonest first (``?quand=a-venir``), past ones latest first, or one work
    list of the home page (``?etat=a-cloturer``…) oldest first."""
    cal = _calendar_page()
    when = (request.args.get("quand") or UPCOMING).strip()
    if when not in (UPCOMING, PAST):
        cal.notices.append("La période demandée n'existe pas : affichage des stages à venir.")
        when = UPCOMING
    work_list = parse_work_list(request.args.get("etat"), cal.notices)
    page_number = _parse_page(request.args.get("page"), cal.notices)
    query = list_query(cal.user, cal.filters, upcoming=when == UPCOMING, work_list=work_list, now=now_utc())
    per_page = current_app.config["ITEMS_PER_PAGE"]
    pagination = db.paginate(query, page=page_number, per_page=per_page, error_out=False)
    if pagination.pages and page_number > pagination.pages:
        cal.notices.append(f"La page {page_number} n'existe pas : affichage de la dernière page.")
        pagination = db.paginate(query, page=pagination.pages, per_page=per_page, error_out=False)
    return render_template(
        "scheduling/calendar_list.html",
        **cal.context(pagination=pagination, when=when, upcoming=UPCOMING, past=PAST, work_list=work_list),
    )
