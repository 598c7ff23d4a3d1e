"""What each API endpoint reads, always through the permission helper's ``visible`` (the scope
the pages use), with a fixed number of statements whatever the page's size."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from stages.api.pagination import PageRequest
from stages.attendance.models import AttendanceMark
from stages.auth.models import Organization, User
from stages.auth.permissions import visible
from stages.certificates.models import Certificate
from stages.enrollment.models import Enrollment, LegalMeasure, Participant
from stages.extensions import db
from stages.reports.models import Bilan, NonExecutionReport, ReportTransmission
from stages.scheduling.models import Course

# How each kind of row is read: the model, and what its schema needs loaded with it.
LOADERS = {
    "measures": (LegalMeasure, (
        # Only what the schema reads of the person and of the enrollments (the outcome).
        joinedload(LegalMeasure.participant).load_only(
            Participant.surname, Participant.first_names, Participant.anonymized_at),
        joinedload(LegalMeasure.authority).load_only(Organization.name),
        joinedload(LegalMeasure.handling_organization).load_only(Organization.name),
        selectinload(LegalMeasure.enrollments).load_only(Enrollment.status),
    )),
    "sessions": (Course, (
        joinedload(Course.venue), selectinload(Course.parts), selectinload(Course.organizations),
    )),
    "certificates": (Certificate, (joinedload(Certificate.enrollment),)),
    "bilans": (Bilan, (joinedload(Bilan.course), joinedload(Bilan.authority),
                       joinedload(Bilan.transmission).selectinload(ReportTransmission.files))),
    "non-execution-reports": (NonExecutionReport, (joinedload(NonExecutionReport.authority),)),
}


def _scoped(kind: str, user: User) -> sa.Select:
    model, options = LOADERS[kind]
    return visible(model, user).options(*options)


def page_rows(user: User, page: PageRequest) -> list:
    """The rows of ``page`` that ``user`` may see, by id, one more than the limit (to know
    whether a next page exists)."""
    model, _ = LOADERS[page.kind]
    query = _scoped(page.kind, user).where(model.id > page.after).order_by(model.id).limit(page.limit + 1)
    return list(db.session.scalars(query).unique())


def one_row(user: User, kind: str, object_id: int):
    """The ``kind`` row #``object_id`` if ``user`` may see it, else None (as if it did not
    exist)."""
    model, _ = LOADERS[kind]
    return db.session.scalars(_scoped(kind, user).where(model.id == object_id)).unique().one_or_none()


def measure_attendance(measure: LegalMeasure) -> dict:
    """The enrollments of ``measure``, oldest first, each with its course and its half-days'
    attendance: three statements, whatever the number of enrollments."""
    enrollments = list(db.session.scalars(
        sa.select(Enrollment).options(joinedload(Enrollment.course))
        .where(Enrollment.measure_id == measure.id).order_by(Enrollment.id)
    ))
    marks = db.session.scalars(
        sa.select(AttendanceMark).options(joinedload(AttendanceMark.part))
        .where(AttendanceMark.enrollment_id.in_([e.id for e in enrollments]))
    ).all() if enrollments else []
    by_enrollment: dict[int, list] = {}
    for mark in sorted(marks, key=lambda m: m.part.starts_at):
        by_enrollment.setdefault(mark.enrollment_id, []).append(mark)
    return {
        "measure_id": measure.id,
        "enrollments": [
            {"id": e.id, "course_id": e.course_id, "course": e.course, "status": e.status,
             "half_days": by_enrollment.get(e.id, [])}
            for e in enrollments
        ],
    }
