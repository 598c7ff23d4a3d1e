"""The yearly activity report of an association or of a referring authority.

Reproducible for any past year: every figure is counted from dated facts, never from the
status a row has today (an absent person later moved to another course, a certificate revoked
next spring, a measure closed later do not change a past year's report).

Definitions, for year Y (Europe/Paris) and a scope — an association: the courses it co-organizes
and the measures it handles; an authority: the measures it referred, wherever their course was:

- « Stages tenus »: courses starting in Y where at least one person of the scope was recorded
  present (whole or part of the course) by the outcome date, D = 1 February Y+1;
- « Mesures reçues »: measures received (recorded) in Y;
- « Personnes convoquées »: measures whose person was sent a summons in Y (its history's date);
- outcomes: for each enrollment in Y's courses, its last outcome (present, partly present,
  excused or unexcused absence) recorded before D; later moves to another course do not undo it;
- « Stages effectués »: measures with an enrollment in Y's courses holding, at D, an attestation
  issued before D and not revoked before D;
- « Mesures non exécutées »: measures returned to the authority (withdrawn) in Y;
- « En cours au 31 décembre »: measures received before 1 January Y+1, neither closed (reported or
  withdrawn) nor holding a valid attestation at that instant;
- attendance rate: enrollments present at the whole course / enrollments with an outcome (the
  statistics page's definition, counted from history); completion rate: enrollments holding an
  attestation at D / enrollments with an outcome.

D leaves a month after the year for the last courses to be closed and their attestations
issued; a report asked before D is marked provisional. A person referred twice counts twice (the
figures count measures). Each figure is one grouped query per scope (7 queries in all).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

import sqlalchemy as sa

from stages.auth.models import Organization, OrganizationKind
from stages.certificates.models import Certificate
from stages.enrollment.models import (
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    LegalFrame,
    LegalMeasure,
    MeasureStatus,
)
from stages.extensions import db
from stages.reports.bilans import OUTCOME_STATUSES
from stages.reports.statistics import MONTHS, _period_index, _year_bounds
from stages.scheduling.models import Course, course_organizations
from stages.timeutil import local_to_utc, now_utc

PRESENT_OUTCOMES = (EnrollmentStatus.ATTENDED, EnrollmentStatus.PARTLY_ATTENDED)


def outcomes_known_at(year: int) -> datetime:
    """D: the instant the outcomes and attestations of ``year``'s courses are read at."""
    return local_to_utc(date(year + 1, 2, 1), time())


@dataclass
class FrameFigures:
    """The figures of one legal frame (or of all of them: ``frame`` None)."""

    frame: LegalFrame | None
    referred: int = 0
    summoned: int = 0
    outcomes: dict = field(default_factory=lambda: {status: 0 for status in OUTCOME_STATUSES})
    completed: int = 0
    certified_enrollments: int = 0
    withdrawn: int = 0
    pending: int = 0

    @property
    def label(self) -> str:
        return self.frame.label if self.frame else "Ensemble"

    @property
    def with_outcome(self) -> int:
        return sum(self.outcomes.values())

    @property
    def attendance_rate(self) -> float | None:
        seats = self.with_outcome
        return self.outcomes[EnrollmentStatus.ATTENDED] / seats if seats else None

    @property
    def completion_rate(self) -> float | None:
        seats = self.with_outcome
        return self.certified_enrollments / seats if seats else None

    def add(self, other: FrameFigures) -> None:
        for name in ("referred", "summoned", "completed", "certified_enrollments", "withdrawn", "pending"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for status, count in other.outcomes.items():
            self.outcomes[status] += count


@dataclass
class ReportSection:
    """A section another module adds to the report: a title and (label, value) lines."""

    title: str
    lines: list[tuple[str, str]]


# Sections read from other areas (``yearly_sections``: « Évaluation anonyme », « Participations
# financières »), each a function (organization, year, known_at) -> ReportSection | None,
# registered with ``report_section``. One with nothing to say is not shown: no empty heading on
# the page, the PDF or the CSV.
EXTRA_SECTIONS: list = []


def report_section(func):
    """Register a function adding a section to every yearly report (decorator)."""
    EXTRA_SECTIONS.append(func)
    return func


@dataclass
class YearlyReport:
    organization: Organization
    year: int
    generated_at: datetime
    known_at: datetime
    courses_held: int
    courses_per_month: list[tuple[str, int]]
    frames: list[FrameFigures]
    total: FrameFigures
    sections: list[ReportSection] = field(default_factory=list)

    @property
    def provisional(self) -> bool:
        return self.generated_at < self.known_at

    @property
    def is_authority(self) -> bool:
        return self.organization.kind != OrganizationKind.ASSOCIATION


def _measure_scope(organization: Organization):
    if organization.kind == OrganizationKind.ASSOCIATION:
        return LegalMeasure.handling_organization_id == organization.id
    return LegalMeasure.authority_id == organization.id


def _course_scope(organization: Organization):
    """For an association, its courses; for an authority, any course (its people are chosen
    by ``_measure_scope`` on the enrollment's measure)."""
    if organization.kind == OrganizationKind.ASSOCIATION:
        return Course.id.in_(
            sa.select(course_organizations.c.session_id).where(
                course_organizations.c.organization_id == organization.id
            )
        )
    return LegalMeasure.authority_id == organization.id


def _year_enrollments(organization: Organization, year: int) -> sa.Select:
    """Enrollments in ``year``'s courses, in scope, joined to their course and measure."""
    start, end = _year_bounds(year)
    return (
        sa.select()
        .select_from(Enrollment)
        .join(Course, Course.id == Enrollment.course_id)
        .join(LegalMeasure, LegalMeasure.id == Enrollment.measure_id)
        .where(Course.starts_at >= start, Course.starts_at < end, _course_scope(organization))
    )


def _last_outcomes(known_at: datetime, enrollment_ids: sa.Select):
    """Each enrollment's last outcome event recorded before ``known_at`` (a subquery), for the
    enrollments of ``enrollment_ids`` (the year's: an index range, not the whole history)."""
    return (
        sa.select(
            EnrollmentEvent.enrollment_id.label("enrollment_id"),
            sa.func.max(EnrollmentEvent.id).label("event_id"),
        )
        .where(
            EnrollmentEvent.to_status.in_([s.value for s in OUTCOME_STATUSES]),
            EnrollmentEvent.at < known_at,
            EnrollmentEvent.enrollment_id.in_(enrollment_ids),
        )
        .group_by(EnrollmentEvent.enrollment_id)
        .subquery("last_outcome")
    )


def _valid_certificate(condition, at: datetime):
    """EXISTS an attestation matching ``condition`` issued before ``at`` and not revoked before
    it (a replaced one counts through its replacement)."""
    return (
        sa.select(Certificate.id)
        .where(
            condition,
            Certificate.issued_at < at,
            sa.or_(Certificate.revoked_at.is_(None), Certificate.revoked_at >= at),
        )
        .exists()
    )


def _by_frame(query) -> dict[LegalFrame, int]:
    return {LegalFrame(frame): count for frame, count in db.session.execute(query).all()}


def compute_yearly_report(organization: Organization, year: int) -> YearlyReport:
    """Every figure of ``organization``'s report for ``year`` (see the module's definitions)."""
    start, end = _year_bounds(year)
    known_at = outcomes_known_at(year)
    measures = sa.select().select_from(LegalMeasure).where(_measure_scope(organization))
    referred = _by_frame(
        measures.add_columns(LegalMeasure.frame, sa.func.count())
        .where(LegalMeasure.created_at >= start, LegalMeasure.created_at < end)
        .group_by(LegalMeasure.frame)
    )
    withdrawn = _by_frame(
        measures.add_columns(LegalMeasure.frame, sa.func.count())
        .where(LegalMeasure.status == MeasureStatus.WITHDRAWN,
               LegalMeasure.closed_at >= start, LegalMeasure.closed_at < end)
        .group_by(LegalMeasure.frame)
    )
    pending = _by_frame(
        measures.add_columns(LegalMeasure.frame, sa.func.count())
        .where(
            LegalMeasure.created_at < end,
            sa.or_(LegalMeasure.closed_at.is_(None), LegalMeasure.closed_at >= end),
            ~_valid_certificate(Certificate.enrollment_id.in_(
                sa.select(Enrollment.id).where(Enrollment.measure_id == LegalMeasure.id)
                .correlate(LegalMeasure)
            ), end),
        )
        .group_by(LegalMeasure.frame)
    )
    summoned_scope = (
        sa.select(LegalMeasure.frame, sa.func.count(sa.distinct(LegalMeasure.id)))
        .select_from(EnrollmentEvent)
        .join(Enrollment, Enrollment.id == EnrollmentEvent.enrollment_id)
        .join(Course, Course.id == Enrollment.course_id)
        .join(LegalMeasure, LegalMeasure.id == Enrollment.measure_id)
        .where(
            EnrollmentEvent.to_status == EnrollmentStatus.SUMMONED.value,
            EnrollmentEvent.at >= start, EnrollmentEvent.at < end,
            _course_scope(organization),
        )
        .group_by(LegalMeasure.frame)
    )
    summoned = _by_frame(summoned_scope)
    last = _last_outcomes(known_at, _year_enrollments(organization, year).add_columns(Enrollment.id))
    outcome_rows = db.session.execute(
        _year_enrollments(organization, year)
        .join(last, last.c.enrollment_id == Enrollment.id)
        .join(EnrollmentEvent, EnrollmentEvent.id == last.c.event_id)
        .add_columns(
            LegalMeasure.frame, EnrollmentEvent.to_status, sa.func.count(),
            sa.func.count(sa.distinct(sa.case(
                (_valid_certificate(Certificate.enrollment_id == Enrollment.id, known_at), LegalMeasure.id)))),
            sa.func.sum(sa.case((_valid_certificate(Certificate.enrollment_id == Enrollment.id, known_at), 1), else_=0)),
        )
        .group_by(LegalMeasure.frame, EnrollmentEvent.to_status)
    ).all()
    frames = {frame: FrameFigures(frame) for frame in LegalFrame}
    for frame, figures in frames.items():
        figures.referred = referred.get(frame, 0)
        figures.withdrawn = withdrawn.get(frame, 0)
        figures.pending = pending.get(frame, 0)
        figures.summoned = summoned.get(frame, 0)
    completed_measures: dict[LegalFrame, int] = {}
    for frame, status, count, certified_measures, certified in outcome_rows:
        figures = frames[LegalFrame(frame)]
        figures.outcomes[EnrollmentStatus(status)] += count
        figures.certified_enrollments += int(certified or 0)
        completed_measures[LegalFrame(frame)] = completed_measures.get(LegalFrame(frame), 0) + certified_measures
    # Only a fully present enrollment gets an attestation, so a measure is counted under one
    # outcome: the per-outcome distinct counts add up.
    for frame, count in completed_measures.items():
        frames[frame].completed = count
    total = FrameFigures(None)
    for figures in frames.values():
        total.add(figures)
    held, per_month = _courses_held(organization, year, known_at, last)
    sections = [section for add in EXTRA_SECTIONS if (section := add(organization, year, known_at))]
    return YearlyReport(
        organization=organization, year=year, generated_at=now_utc(), known_at=known_at,
        courses_held=held, courses_per_month=per_month, frames=list(frames.values()), total=total,
        sections=sections,
    )


def _courses_held(organization: Organization, year: int, known_at: datetime, last) -> tuple[int, list]:
    """Courses of ``year`` where someone of the scope was recorded present, per local month."""
    bounds = [local_to_utc(date(year, m, 1), time()) for m in range(1, 13)]
    bounds.append(_year_bounds(year)[1])
    index = _period_index(Course.starts_at, bounds)
    present = (
        _year_enrollments(organization, year)
        .join(last, last.c.enrollment_id == Enrollment.id)
        .join(EnrollmentEvent, EnrollmentEvent.id == last.c.event_id)
        .where(EnrollmentEvent.to_status.in_([s.value for s in PRESENT_OUTCOMES]))
        .add_columns(Course.id.label("course_id"), Course.starts_at.label("starts_at"))
        .distinct()
        .subquery()
    )
    index = _period_index(present.c.starts_at, bounds)
    counts = dict(db.session.execute(
        sa.select(index, sa.func.count()).select_from(present).group_by(index)
    ).all())
    per_month = [(MONTHS[i], counts.get(i, 0)) for i in range(12)]
    return sum(n for _, n in per_month), per_month
