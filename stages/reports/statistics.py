"""The statistics page: courses, people, outcomes and delays for one year, in the user's scope.

Aggregate SQL, scoped by the permission helpers. Everything here must stay fast at national scale
(~200,000 measures): every figure comes from a grouped query, and the few computed in Python are
computed over bounded aggregates (a histogram), never over every row.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time

import sqlalchemy as sa

from stages.auth.models import User
from stages.auth.permissions import Permission, can, visible
from stages.certificates.models import Certificate
from stages.enrollment.models import (
    SEAT_HOLDING_STATUSES,
    Enrollment,
    EnrollmentStatus,
    LegalFrame,
    LegalMeasure,
)
from stages.extensions import db
from stages.reports.bilans import OUTCOME_STATUSES
from stages.scheduling.models import Course, CourseStatus
from stages.timeutil import local_to_utc, local_zone, to_local

# Courses that count in the statistics: planned or held, not drafts nor cancelled ones.
COUNTED_SESSION_STATUSES = (CourseStatus.SCHEDULED, CourseStatus.HELD, CourseStatus.CLOSED)

MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)


# ---------------------------------------------------------------------------------------------
# Statistics


@dataclass
class DelayStats:
    count: int
    median: float | None
    q1: float | None
    q3: float | None
    histogram: list[tuple[str, int]]


@dataclass
class Statistics:
    year: int
    years: list[tuple[int, int]]
    months: list[tuple[str, int]]
    frames: list[tuple[str, int]]
    outcomes: list[tuple[str, int]]
    seats: int
    attended: int
    certificates: int
    delays: DelayStats

    @property
    def attendance_rate(self) -> float | None:
        """Attended the whole course / every final outcome."""
        return self.attended / self.seats if self.seats else None

    @property
    def completion_rate(self) -> float | None:
        """Certificates issued / every final outcome."""
        return self.certificates / self.seats if self.seats else None


def _course_scope(user: User):
    """A condition on Course.id limiting the statistics to what ``user`` may see.

    Staff see their courses (``visible_sessions``); liaisons, who see no courses as such, see
    those where people of their authorities held a seat (``visible_measures``).
    """
    if can(user, Permission.ADMIN):
        return sa.true()
    if can(user, Permission.SESSION_VIEW):
        # correlate(None): the outer query also reads course_sessions, yet this subquery stands alone.
        return Course.id.in_(
            visible(Course, user).with_only_columns(Course.id).correlate(None)
        )
    # EXISTS per course (an index probe on enrollments by course) rather than IN over every
    # measure of the authority: a year holds ~2,000 courses, an authority ~100,000 measures.
    return (
        visible(LegalMeasure, user)
        .join(Enrollment, Enrollment.measure_id == LegalMeasure.id)
        .where(
            Enrollment.course_id == Course.id,
            Enrollment.status.in_(SEAT_HOLDING_STATUSES),
        )
        .exists()
    )


def _measure_ids(user: User) -> sa.Select:
    return visible(LegalMeasure, user).with_only_columns(LegalMeasure.id).correlate(None)


def _enrollment_scope(user: User):
    """A condition on an enrollment joined to its course and measure, for ``user``'s scope."""
    if can(user, Permission.ADMIN):
        return sa.true()
    if can(user, Permission.SESSION_VIEW):
        return _course_scope(user)
    return Enrollment.measure_id.in_(_measure_ids(user))


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    """The local year as UTC instants: an index range on ``starts_at``."""
    return local_to_utc(date(year, 1, 1), time()), local_to_utc(date(year + 1, 1, 1), time())


def _period_index(column, bounds: list[datetime]):
    """A CASE giving the index of the period [bounds[i], bounds[i+1]) holding ``column``.

    Local month and year boundaries are computed in Python (Europe/Paris, DST included) and
    compared as UTC instants: exact on every database, where SQLite has no time zones.
    """
    whens = [(column < bound, index) for index, bound in enumerate(bounds[1:])]
    return sa.case(*whens, else_=None)


def courses_per_year(user: User) -> list[tuple[int, int]]:
    """Counted courses per local year, from the first to the last year with a session."""
    base = sa.select(Course.starts_at).where(
        Course.status.in_(COUNTED_SESSION_STATUSES),
        Course.starts_at.is_not(None),
        _course_scope(user),
    )
    first, last = db.session.execute(
        base.with_only_columns(
            sa.func.min(Course.starts_at), sa.func.max(Course.starts_at),
            maintain_column_froms=True,
        )
    ).one()
    if first is None:
        return []
    years = list(range(to_local(first).year, to_local(last).year + 1))
    bounds = [_year_bounds(y)[0] for y in years] + [_year_bounds(years[-1])[1]]
    index = _period_index(Course.starts_at, bounds)
    counts = dict(
        db.session.execute(
            base.with_only_columns(index, sa.func.count()).where(
                Course.starts_at >= bounds[0]
            ).group_by(index)
        ).all()
    )
    return [(year, counts.get(i, 0)) for i, year in enumerate(years)]


def courses_per_month(user: User, year: int) -> list[tuple[str, int]]:
    """Counted courses per local month of ``year`` (12 rows, zeros included)."""
    bounds = [local_to_utc(date(year, m, 1), time()) for m in range(1, 13)]
    bounds.append(_year_bounds(year)[1])
    index = _period_index(Course.starts_at, bounds)
    counts = dict(
        db.session.execute(
            sa.select(index, sa.func.count())
            .where(
                Course.status.in_(COUNTED_SESSION_STATUSES),
                Course.starts_at >= bounds[0],
                Course.starts_at < bounds[-1],
                _course_scope(user),
            )
            .group_by(index)
        ).all()
    )
    return [(MONTHS[i], counts.get(i, 0)) for i in range(12)]


def _seats_in_year(user: User, year: int, course_statuses) -> sa.Select:
    """Seat-holding enrollments in ``year``'s courses, joined to course and measure."""
    start, end = _year_bounds(year)
    return (
        sa.select()
        .select_from(Enrollment)
        .join(Course, Course.id == Enrollment.course_id)
        .join(LegalMeasure, LegalMeasure.id == Enrollment.measure_id)
        .where(
            Enrollment.status.in_(SEAT_HOLDING_STATUSES),
            Course.status.in_(course_statuses),
            Course.starts_at >= start,
            Course.starts_at < end,
            _enrollment_scope(user),
        )
    )


def participants_per_frame(user: User, year: int) -> list[tuple[str, int]]:
    """People who held a seat in ``year``'s courses, per legal frame (each person once a frame)."""
    counts = dict(
        db.session.execute(
            _seats_in_year(user, year, COUNTED_SESSION_STATUSES)
            .add_columns(LegalMeasure.frame, sa.func.count(sa.distinct(LegalMeasure.participant_id)))
            .group_by(LegalMeasure.frame)
        ).all()
    )
    return [(frame.label, counts.get(frame, 0)) for frame in LegalFrame]


def outcome_counts(user: User, year: int) -> tuple[dict[EnrollmentStatus, int], int]:
    """Final outcomes in ``year``'s closed courses, and the certificates issued for them."""
    rows = db.session.execute(
        _seats_in_year(user, year, (CourseStatus.CLOSED,))
        .outerjoin(
            Certificate,
            sa.and_(Certificate.enrollment_id == Enrollment.id, Certificate.revoked_at.is_(None)),
        )
        .add_columns(Enrollment.status, sa.func.count(Enrollment.id), sa.func.count(Certificate.id))
        .where(Enrollment.status.in_(OUTCOME_STATUSES))
        .group_by(Enrollment.status)
    ).all()
    outcomes = {status: 0 for status in OUTCOME_STATUSES}
    certificates = 0
    for status, seats, issued in rows:
        outcomes[EnrollmentStatus(status)] = seats
        certificates += issued
    return outcomes, certificates


DELAY_BINS = ((0, 30, "0 à 30 jours"), (31, 60, "31 à 60 jours"), (61, 90, "61 à 90 jours"),
              (91, 180, "91 à 180 jours"), (181, 365, "181 à 365 jours"), (366, None, "plus d'un an"))


def _days_between(decision, starts_at):
    """Days from the decision date to the course's local start date, in SQL.

    PostgreSQL converts to Europe/Paris before taking the date; SQLite has no zones and takes the
    UTC date, the same day for every course held in daytime.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        local_day = sa.cast(sa.func.timezone(local_zone().key, starts_at), sa.Date)
        return local_day - decision
    return sa.cast(
        sa.func.julianday(sa.func.date(starts_at)) - sa.func.julianday(decision), sa.Integer
    )


def decision_delays(user: User, year: int) -> DelayStats:
    """Median and quartiles of the days between decision and course, for ``year``'s seats.

    SQL returns a histogram (one row per distinct number of days, a few hundred at most) from
    which the quartiles are read: portable, and bounded whatever the number of people.
    """
    days = _days_between(LegalMeasure.decision_date, Course.starts_at)
    histogram = sorted(
        (int(d), n)
        for d, n in db.session.execute(
            _seats_in_year(user, year, COUNTED_SESSION_STATUSES)
            .add_columns(days.label("days"), sa.func.count())
            .group_by(days)
        ).all()
        if d is not None
    )
    total = sum(n for _, n in histogram)
    bins = []
    for low, high, label in DELAY_BINS:
        bins.append((label, sum(n for d, n in histogram if d >= low and (high is None or d <= high))))
    if any(d < 0 for d, _ in histogram):
        bins.insert(0, ("avant la décision", sum(n for d, n in histogram if d < 0)))
    return DelayStats(
        total,
        _percentile(histogram, total, 0.5),
        _percentile(histogram, total, 0.25),
        _percentile(histogram, total, 0.75),
        bins,
    )


def _percentile(histogram: list[tuple[int, int]], total: int, fraction: float) -> float | None:
    """PostgreSQL's ``percentile_cont`` (linear interpolation) over a histogram of values."""
    if not total:
        return None
    position = fraction * (total - 1)
    lower, upper = math.floor(position), math.ceil(position)

    def value_at(rank: int) -> int:
        seen = 0
        for value, n in histogram:
            seen += n
            if rank < seen:
                return value
        return histogram[-1][0]

    low_value, high_value = value_at(lower), value_at(upper)
    return low_value + (high_value - low_value) * (position - lower)


def compute_statistics(user: User, year: int) -> Statistics:
    """Every figure of the statistics page for ``year``, in ``user``'s scope (6 queries)."""
    outcomes, certificates = outcome_counts(user, year)
    return Statistics(
        year=year,
        years=courses_per_year(user),
        months=courses_per_month(user, year),
        frames=participants_per_frame(user, year),
        outcomes=[(status.label, outcomes[status]) for status in OUTCOME_STATUSES],
        seats=sum(outcomes.values()),
        attended=outcomes[EnrollmentStatus.ATTENDED],
        certificates=certificates,
        delays=decision_delays(user, year),
    )
