"""Series: several courses planned at once by a rule, public holidays and conflicts flagged."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, time, timedelta

import holidays

from stages.auth.models import User
from stages.auth.audit import audit
from stages.errors import DomainError
from stages.scheduling.models import Course, CourseStatus
from stages.scheduling.services.conflicts import Conflict, find_conflicts
from stages.scheduling.services.courses import _spans, create_course
from stages.scheduling.services.validation import CourseData, PartSpec, validate_course_data
from stages.timeutil import fr_date


# ---------------------------------------------------------------------------------------------
# Series


WEEKDAYS_FR = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]


@dataclass
class SeriesRule:
    """When the courses of a series fall: every N weeks, or the n-th weekday of each month."""

    first_day: date
    last_day: date
    weekday: int  # 0 = Monday
    every_weeks: int | None = None  # 1 = every week, 2 = every other week
    nth_of_month: int | None = None  # 1..4, or -1 for the last one


@dataclass
class SeriesCandidate:
    """One proposed date, with why it might be skipped."""

    day: date
    holiday: str | None = None
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def selected_by_default(self) -> bool:
        return self.holiday is None and not self.conflicts


def series_dates(rule: SeriesRule) -> list[date]:
    """The dates a rule gives, first to last (at most 60, a generous year of courses)."""
    if rule.last_day < rule.first_day:
        raise DomainError("La date de fin de la série doit suivre sa date de début.")
    if (rule.last_day - rule.first_day).days > 731:
        raise DomainError("Une série couvre au plus deux ans.")
    days: list[date] = []
    if rule.every_weeks:
        day = rule.first_day + timedelta(days=(rule.weekday - rule.first_day.weekday()) % 7)
        while day <= rule.last_day:
            days.append(day)
            day += timedelta(weeks=rule.every_weeks)
    elif rule.nth_of_month:
        month = date(rule.first_day.year, rule.first_day.month, 1)
        while month <= rule.last_day:
            day = _nth_weekday(month, rule.weekday, rule.nth_of_month)
            if day and rule.first_day <= day <= rule.last_day:
                days.append(day)
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    else:
        raise DomainError("Choisissez une fréquence pour la série.")
    if len(days) > 60:
        raise DomainError("Une série compte au plus 60 stages : réduisez la période.")
    return days


def _nth_weekday(month_start: date, weekday: int, nth: int) -> date | None:
    first = month_start + timedelta(days=(weekday - month_start.weekday()) % 7)
    if nth > 0:
        day = first + timedelta(weeks=nth - 1)
        return day if day.month == month_start.month else None
    last = first
    while (last + timedelta(weeks=1)).month == month_start.month:
        last += timedelta(weeks=1)
    return last


# The `holidays` package's subdivisions of France whose public holidays differ from the
# metropolitan calendar, by the first digits of the postal code: Alsace-Moselle keeps Good Friday
# and 26 December (local law), each overseas department and collectivity its own days (abolition
# of slavery: 27 April in Mayotte, 22 May in Martinique, 27 May in Guadeloupe and Saint-Martin,
# 10 June in Guyane, 20 December in La Réunion…).
_SUBDIVISIONS = {
    "57": "57", "67": "6AE", "68": "6AE",
    "971": "971", "972": "972", "973": "973", "974": "974", "976": "976",
    "975": "PM", "977": "BL", "978": "MF", "986": "WF", "987": "PF", "988": "NC",
}


def holiday_subdivision(postal_code: str | None) -> str | None:
    """The `holidays` subdivision of a French postal code, or None for the metropolitan calendar."""
    code = (postal_code or "").strip()
    return _SUBDIVISIONS.get(code[:3]) or _SUBDIVISIONS.get(code[:2] if not code.startswith("97") else "")


def french_holidays(years: set[int], postal_code: str | None = None) -> dict[date, str]:
    """The public holidays of the place of ``postal_code`` (metropolitan France when None) by
    date, with their French names."""
    return dict(holidays.France(years=sorted(years), subdiv=holiday_subdivision(postal_code), language="fr"))


def next_working_day(day: date, postal_code: str | None = None) -> date:
    """``day``, or the first day after it that is neither a weekend nor a public holiday of the
    place of ``postal_code``."""
    names = french_holidays({day.year, day.year + 1}, postal_code)
    while day.weekday() >= 5 or day in names:
        day += timedelta(days=1)
    return day


def preview_series(
    rule: SeriesRule, template: CourseData, day_offsets_parts: list[tuple[int, time, time]]
) -> list[SeriesCandidate]:
    """Each date of the rule, flagged when it is a public holiday or conflicts with a booking."""
    days = series_dates(rule)
    names = french_holidays({d.year for d in days} | {(d + timedelta(days=1)).year for d in days},
                            template.venue.postal_code)
    candidates = []
    for day in days:
        parts = _parts_for(day, day_offsets_parts)
        holiday = next((names[p.day] for p in parts if p.day in names), None)
        spans = _spans(parts, template.venue.timezone)
        conflicts = find_conflicts(template.venue, template.facilitators, spans)
        candidates.append(SeriesCandidate(day=day, holiday=holiday, conflicts=conflicts))
    return candidates


def check_series_day(
    template: CourseData, day_offsets_parts: list[tuple[int, time, time]], first_day: date, today: date
) -> None:
    """The day's shape follows the course rules (six hours a day, one or two days): checked once,
    on the series' first date, before any date is planned. A series plans ahead: it starts
    today or later (a course already held is entered alone, with its date confirmed)."""
    if first_day < today:
        raise DomainError("Une série commence aujourd'hui ou plus tard : choisissez une première date à venir.")
    errors = validate_course_data(
        dataclasses.replace(template, parts=_parts_for(first_day, day_offsets_parts)),
        is_new=True,
        today=today,
    )
    if errors:
        raise DomainError(" ".join(errors))


def _parts_for(day: date, day_offsets_parts: list[tuple[int, time, time]]) -> list[PartSpec]:
    return [PartSpec(day + timedelta(days=offset), start, end) for offset, start, end in day_offsets_parts]


def create_series(
    days: list[date],
    template: CourseData,
    day_offsets_parts: list[tuple[int, time, time]],
    *,
    by: User,
    status: CourseStatus = CourseStatus.SCHEDULED,
) -> list[Course]:
    """Create one course per chosen date, all or none (the caller commits once)."""
    if not days:
        raise DomainError("Cochez au moins une date.")
    created = []
    for day in sorted(days):
        data = CourseData(
            title=template.title,
            venue=template.venue,
            capacity=template.capacity,
            min_participants=template.min_participants,
            fee_cents=template.fee_cents,
            parts=_parts_for(day, day_offsets_parts),
            organizations=template.organizations,
            facilitators=template.facilitators,
            notes=template.notes,
        )
        try:
            created.append(create_course(data, by=by, status=status))
        except DomainError as error:
            raise DomainError(f"Stage du {fr_date(day)} : {error.message}") from None
    audit("session.series_created", details=f"{len(created)} stages", user=by)
    return created
