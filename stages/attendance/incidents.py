"""Incidents of a half-day, noted by its facilitator: when, what kind, what, who noted it.

Editable (and removable) until the course is closed; after that they are part of what the
bilan reports. An incident may name the person it concerns: the bilan of that person's
authority shows it, and no other; one about nobody in particular is on every bilan.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from stages.attendance.models import INCIDENT_TEXT_MAX, HalfDayIncident, IncidentKind
from stages.auth.audit import audit
from stages.auth.models import User
from stages.enrollment.models import Enrollment
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import Course, CoursePart, CourseStatus
from stages.timeutil import now_utc


@dataclass(frozen=True)
class IncidentInput:
    occurred_at: datetime
    kind: IncidentKind
    text: str
    enrollment_id: int | None = None


def require_editable(course: Course) -> None:
    if course.status == CourseStatus.CLOSED:
        raise DomainError("Le stage est clôturé : ses incidents ne se modifient plus.")
    if course.status in (CourseStatus.DRAFT, CourseStatus.CANCELLED):
        raise DomainError("Ce stage n'a pas lieu : aucun incident à noter.")


def _check(part: CoursePart, data: IncidentInput, people: list[Enrollment]) -> None:
    if not data.text or len(data.text) > INCIDENT_TEXT_MAX:
        raise DomainError(f"Décrivez l'incident (de 1 à {INCIDENT_TEXT_MAX} caractères).")
    if data.enrollment_id is not None and data.enrollment_id not in {e.id for e in people}:
        raise DomainError("Cette personne n'est pas inscrite à ce stage.")


def record_incident(part: CoursePart, data: IncidentInput, people: list[Enrollment], *, by: User) -> HalfDayIncident:
    """Note an incident of ``part`` (flushes; the caller commits)."""
    require_editable(part.course)
    _check(part, data, people)
    incident = HalfDayIncident(part_id=part.id, occurred_at=data.occurred_at, kind=data.kind, text=data.text,
                               enrollment_id=data.enrollment_id, recorded_by_id=by.id, recorded_at=now_utc())
    db.session.add(incident)
    db.session.flush()
    audit("incident.recorded", incident, user=by)
    return incident


def update_incident(incident: HalfDayIncident, data: IncidentInput, people: list[Enrollment], *, by: User) -> None:
    """Change an incident while its course is open (flushes)."""
    require_editable(incident.part.course)
    _check(incident.part, data, people)
    incident.occurred_at, incident.kind, incident.text = data.occurred_at, data.kind, data.text
    incident.enrollment_id, incident.updated_at = data.enrollment_id, now_utc()
    db.session.flush()
    audit("incident.changed", incident, user=by)


def delete_incident(incident: HalfDayIncident, *, by: User) -> None:
    """Remove an incident noted by mistake, while its course is open (flushes)."""
    require_editable(incident.part.course)
    audit("incident.deleted", incident.part, details=f"incident n° {incident.id}", user=by)
    db.session.delete(incident)
    db.session.flush()


def course_incidents(course_id: int) -> list[HalfDayIncident]:
    """Every incident of a course's half-days, in time order (one query, two for the authors
    and the people concerned)."""
    return list(db.session.scalars(_OF_COURSE, {"course_id": course_id}))


# Built once, with bind parameters (bench/README.md, « Statements built once »).
_OF_COURSE = (
    sa.select(HalfDayIncident)
    .join(CoursePart, CoursePart.id == HalfDayIncident.part_id)
    .where(CoursePart.course_id == sa.bindparam("course_id"))
    .order_by(HalfDayIncident.occurred_at, HalfDayIncident.id)
    .options(selectinload(HalfDayIncident.recorded_by), selectinload(HalfDayIncident.part))
)
