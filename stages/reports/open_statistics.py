"""Open statistics: the anonymized national dataset, year × département × legal frame.

What is published, for each year whose figures are settled (after ``outcomes_known_at``):
- the courses held per département (a course is a public event: not suppressed);
- two tables « département × cadre légal », people who took part in a course (present at least
  at part of it; someone present at two courses of a year counts at each) and people who completed it (an attestation valid at the settling date), each
  with its row totals (per département), column totals (per frame) and grand total.

Only courses whose every co-organizing association opted in (``Organization.open_statistics``)
count. The département is read from the venue's postal code (Corsica 2A/2B, overseas 971–976).
Counts of 1 to 4 and enough others to protect them are suppressed (``stages.reports.disclosure``),
each table with its totals; the completions knowing that the people published bound them (a
cell's completions are at most its people). No figure of another year adds up with these. Definitions of
« present » and « completed » are the yearly report's (``stages.reports.yearly``).

The dataset is computed by one grouped query for all years at once (a row per course and frame) and kept in memory for
``CACHE_SECONDS`` (the page is public); an opt-in change clears it.
"""
from __future__ import annotations

import time as clock
from dataclasses import dataclass
from datetime import date, time

import sqlalchemy as sa

from stages.auth.audit import audit
from stages.auth.models import Organization
from stages.enrollment.models import Enrollment, EnrollmentEvent, LegalFrame, LegalMeasure
from stages.extensions import db
from stages.reports.disclosure import ProtectedTable, protect_pair
from stages.reports.statistics import _period_index
from stages.reports.bilans import OUTCOME_STATUSES
from stages.reports.yearly import PRESENT_OUTCOMES, _valid_certificate, outcomes_known_at
from stages.certificates.models import Certificate
from stages.scheduling.models import Course, Venue, course_organizations
from stages.timeutil import local_to_utc, now_utc, today_local

CACHE_SECONDS = 600
FIRST_YEAR = 2016  # the law of 13 April 2016
UNKNOWN = "inconnu"
# A suppressed count in the CSV: « s », the statistical secret's usual mark.
SECRET = "s"
_cache: dict = {}


def departement(postal_code: str | None) -> str:
    """The département of a French postal code: « 75 », « 2A », « 2B », « 971 »…"""
    code = (postal_code or "").strip().replace(" ", "")
    if len(code) != 5 or not code.isdigit():
        return UNKNOWN
    if code.startswith("20"):
        return "2A" if int(code) < 20200 else "2B"
    if code.startswith("97") or code.startswith("98"):
        return code[:3]
    return code[:2]


def _sort_key(code: str):
    if code == UNKNOWN:
        return (2, code)
    return (0, code.replace("2A", "20.1").replace("2B", "20.2").zfill(6))


@dataclass
class YearTables:
    year: int
    departements: list[str]
    courses: dict[str, int]
    people: ProtectedTable
    completed: ProtectedTable

    @property
    def courses_total(self) -> int:
        return sum(self.courses.values())


def _opted_in():
    """The course's every co-organizing association opted in (and it has one)."""
    organizers = sa.select(course_organizations.c.session_id).where(
        course_organizations.c.session_id == Course.id
    )
    refusing = (
        sa.select(course_organizations.c.session_id)
        .join(Organization, Organization.id == course_organizations.c.organization_id)
        .where(course_organizations.c.session_id == Course.id, Organization.open_statistics.is_(False))
    )
    return sa.and_(organizers.exists(), ~refusing.exists())


def _settled_years() -> list[int]:
    """The years whose figures no longer change: their settling date has passed."""
    last = today_local().year - 1
    if now_utc() < outcomes_known_at(last):
        last -= 1
    return list(range(FIRST_YEAR, last + 1))


def compute_open_statistics() -> list[YearTables]:
    """Every settled year's tables, newest first (one query)."""
    years = _settled_years()
    if not years:
        return []
    bounds = [local_to_utc(date(y, 1, 1), time()) for y in years]
    bounds.append(local_to_utc(date(years[-1] + 1, 1, 1), time()))
    year_index = _period_index(Course.starts_at, bounds)
    # Each year has its own settling date: one last-outcome subquery per year would be one
    # query per year; the settling date is compared per row instead (event before 1 February
    # of the year after the course's year).
    known_at = sa.case(
        *[(Course.starts_at < bounds[i + 1], outcomes_known_at(y)) for i, y in enumerate(years)],
        else_=None,
    )
    present = (
        sa.select(
            year_index.label("year_index"), Venue.postal_code, LegalMeasure.frame,
            Course.id.label("course_id"), LegalMeasure.id.label("measure_id"),
            Enrollment.id.label("enrollment_id"), known_at.label("known_at"),
        )
        .select_from(Enrollment)
        .join(Course, Course.id == Enrollment.course_id)
        .join(Venue, Venue.id == Course.venue_id)
        .join(LegalMeasure, LegalMeasure.id == Enrollment.measure_id)
        .where(
            Course.starts_at >= bounds[0], Course.starts_at < bounds[-1], _opted_in(),
            _last_outcome_present(known_at),
        )
        .subquery()
    )
    certified = _valid_certificate(
        Certificate.enrollment_id == present.c.enrollment_id, present.c.known_at
    )
    # One pass: per course and frame (a few rows a course), summed per département below.
    rows = db.session.execute(
        sa.select(
            present.c.year_index, present.c.postal_code, present.c.frame, present.c.course_id,
            sa.func.count(sa.distinct(present.c.measure_id)),
            sa.func.count(sa.distinct(sa.case((certified, present.c.measure_id)))),
        ).group_by(present.c.year_index, present.c.postal_code, present.c.frame, present.c.course_id)
    ).all()
    return _tables(years, rows)


def _last_outcome_present(known_at):
    """The enrollment's last outcome recorded before its year's settling date is a presence."""
    last = (
        sa.select(EnrollmentEvent.to_status)
        .where(
            EnrollmentEvent.enrollment_id == Enrollment.id,
            EnrollmentEvent.to_status.in_([s.value for s in OUTCOME_STATUSES]),
            EnrollmentEvent.at < known_at,
        )
        .order_by(EnrollmentEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return last.in_([s.value for s in PRESENT_OUTCOMES])


def _tables(years, rows) -> list[YearTables]:
    frames = list(LegalFrame)
    people: dict = {}
    completed: dict = {}
    courses: dict = {}
    for index, postal_code, frame, course_id, n_people, n_completed in rows:
        key = (years[index], departement(postal_code), LegalFrame(frame))
        people[key] = people.get(key, 0) + n_people
        completed[key] = completed.get(key, 0) + n_completed
        courses.setdefault(key[:2], set()).add(course_id)
    courses = {key: len(ids) for key, ids in courses.items()}
    result = []
    for year in reversed(years):
        codes = sorted({d for (y, d) in courses if y == year}, key=_sort_key)
        if not codes:
            continue
        grid = [[people.get((year, d, f), 0) for f in frames] for d in codes]
        done = [[completed.get((year, d, f), 0) for f in frames] for d in codes]
        protected_people, protected_done = protect_pair(grid, done)
        result.append(YearTables(
            year, codes, {d: courses[(year, d)] for d in codes}, protected_people, protected_done
        ))
    return result


def open_statistics() -> list[YearTables]:
    """The dataset, from the cache when it is recent."""
    cached = _cache.get("tables")
    if cached is not None and clock.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    tables = compute_open_statistics()
    _cache["tables"] = (clock.monotonic(), tables)
    return tables


def clear_cache() -> None:
    _cache.clear()


def set_open_statistics(organization: Organization, opted_in: bool, *, by=None) -> None:
    """An association's consent to count in the open statistics, audited (the caller commits)."""
    organization.open_statistics = opted_in
    db.session.flush()
    audit("organization.open_statistics_changed", organization, details="oui" if opted_in else "non", user=by)
    clear_cache()


def csv_rows(tables: list[YearTables]) -> list[list]:
    """One line per year, département (or « Ensemble ») and frame (or « Ensemble »); a
    suppressed count is written « s » (secret statistique)."""
    rows = []
    frames = list(LegalFrame)
    for t in tables:
        labels = [*t.departements, "Ensemble"]
        for i, code in enumerate(labels):
            courses = t.courses.get(code, t.courses_total if code == "Ensemble" else 0)
            for j, frame in enumerate([*[f.value for f in frames], "ensemble"]):
                people = t.people.published(i, j)
                done = t.completed.published(i, j)
                rows.append([
                    t.year, code, frame, courses if frame == "ensemble" else "",
                    SECRET if people is None else people, SECRET if done is None else done,
                ])
    return rows


CSV_HEADER = ["annee", "departement", "cadre_legal", "stages", "personnes", "stages_effectues"]
