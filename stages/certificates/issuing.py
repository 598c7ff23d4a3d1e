"""Attestations de stage: issuing, numbering, replacing a revoked attestation, revocation.

Rules (DOMAIN.md): an attestation is issued only for an enrollment that is ATTENDED in a CLOSED
course, once; a revoked attestation may be replaced by an *attestation rectificative* (a new
number and code, naming the one it replaces), so that an enrollment has at most one valid
attestation at a time. It states the hours actually attended (from the attendance marks); it
carries a number ``YYYY-NNNNN`` (year of issue in the application's zone, Europe/Paris) and a
random verification code printed under a QR code that leads to the public verification page.

Numbering under concurrency. The next number is ``max(sequence) + 1`` for the year, read inside
the issuing transaction *after* taking a per-year lock, so two organizers issuing at once queue up
instead of drawing the same number:

- PostgreSQL: ``pg_advisory_xact_lock(namespace, year)``. A ``SELECT … FOR UPDATE`` cannot do it:
  there is no row to lock for the first attestation of a year, and ``FOR UPDATE`` refuses
  aggregates. The advisory lock needs no schema change and is released by COMMIT or ROLLBACK; under
  READ COMMITTED the ``max()`` that follows sees what the previous holder committed.
- SQLite: one writer at a time for the whole database. A no-op UPDATE takes the write lock before
  ``max()`` is read, so no other transaction can commit a number in between. The lock lasts until
  the caller commits, PDFs included (~10–20 ms each): a fraction of a second for a course of
  5 to 15 people, well under the 10 s busy timeout other writers wait.

The unique (year, sequence) constraint stays the last guard: if anything slipped through (another
isolation level, a manual insert), the flush fails with IntegrityError, the caller rolls the
whole action back and may retry it — no savepoint, which SQLite handles poorly.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from stages.attendance.models import AttendanceMark
from stages.attendance.services import attended_minutes, marks_by_key
from stages.auth.audit import audit, audit_many
from stages.auth.models import User
from stages.certificates.codes import new_verification_code
from stages.certificates.document import _render, keep_as_issued
from stages.certificates.models import Certificate
from stages.enrollment.models import (
    Enrollment,
    EnrollmentStatus,
    LegalMeasure,
    MeasureStatus,
    Participant,
)
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import Course, CourseStatus
from stages.timeutil import now_utc, to_local

logger = logging.getLogger(__name__)

# First key of the PostgreSQL advisory lock that serializes numbering (the second is the year).
_NUMBERING_LOCK = 0x53544147  # "STAG"


# ---------------------------------------------------------------------------------------------
# Issuing


def issue_certificate(enrollment: Enrollment, *, by: User) -> Certificate:
    """Issue the attestation of one ATTENDED enrollment of a CLOSED course; flushes."""
    course = enrollment.course
    _check_course(course)
    # Lock first: the "no attestation yet" check then sees what a concurrent issuer committed.
    numbering = _Numbering.locked()
    _check_enrollment(enrollment)
    minutes = _minutes_by_enrollment(course, [enrollment])[enrollment.id]
    certificate = _issue(enrollment, minutes, by, numbering)
    db.session.flush()
    audit("certificate.issued", certificate, participant_id=enrollment.measure.participant_id, user=by)
    return certificate


def replace_certificate(revoked: Certificate, *, by: User) -> Certificate:
    """Issue the attestation that replaces ``revoked`` (the enrollment's latest); flushes.

    The hours are computed again from the marks; the new attestation has its own number and
    code, and says which one it replaces. The bulk issue of a course never does this: a
    revocation is undone only by someone who decides to, for that person.
    """
    if revoked.revoked_at is None:
        raise DomainError(
            f"L'attestation n° {revoked.number} est valide : révoquez-la d'abord, avec le motif, "
            "pour délivrer une attestation rectificative."
        )
    enrollment = revoked.enrollment
    course = enrollment.course
    _check_course(course)
    numbering = _Numbering.locked()
    _check_attended(enrollment)
    newer = db.session.scalar(
        sa.select(Certificate.number)
        .where(Certificate.enrollment_id == enrollment.id, Certificate.id > revoked.id)
        .order_by(Certificate.id.desc())
        .limit(1)
    )
    if newer is not None:
        raise DomainError(
            f"L'attestation n° {revoked.number} a déjà été remplacée (attestation n° {newer})."
        )
    minutes = _minutes_by_enrollment(course, [enrollment])[enrollment.id]
    certificate = _issue(enrollment, minutes, by, numbering, replaces=revoked)
    db.session.flush()
    audit("certificate.issued", certificate, participant_id=enrollment.measure.participant_id,
          details=f"remplace l'attestation n° {revoked.number}", user=by)
    return certificate


def issue_for_course(course: Course, *, by: User) -> list[Certificate]:
    """Issue every attestation still due in ``course``: all or nothing (the caller commits).

    Everything is checked before the first row is written; a refusal raises DomainError and the
    caller's rollback leaves no attestation behind.
    """
    _check_course(course)
    # Lock first: two organizers clicking at once must not both find the same people due.
    numbering = _Numbering.locked()
    due = due_enrollments(course)
    if not due:
        return []
    minutes = _minutes_by_enrollment(course, due)
    issued = [_issue(enrollment, minutes[enrollment.id], by, numbering) for enrollment in due]
    db.session.flush()
    audit_many("certificate.issued", [(c, c.enrollment.measure.participant_id) for c in issued], user=by)
    return issued


def due_enrollments(course: Course) -> list[Enrollment]:
    """The course's ATTENDED enrollments that never had an attestation, by name.

    A revoked attestation keeps its enrollment out: replacing it is a decision per person.
    """
    return list(
        db.session.scalars(
            sa.select(Enrollment)
            .join(Enrollment.measure)
            .join(LegalMeasure.participant)
            .outerjoin(Certificate, Certificate.enrollment_id == Enrollment.id)
            .where(
                Enrollment.course_id == course.id,
                Enrollment.status == EnrollmentStatus.ATTENDED,
                Certificate.id.is_(None),
            )
            .options(
                selectinload(Enrollment.measure).selectinload(LegalMeasure.participant),
                selectinload(Enrollment.measure).selectinload(LegalMeasure.authority),
            )
            .order_by(Participant.surname, Participant.first_names, Enrollment.id)
        )
    )


def _check_course(course: Course) -> None:
    if course.status != CourseStatus.CLOSED:
        raise DomainError(
            "Les attestations ne peuvent être délivrées qu'une fois le stage clôturé "
            f"(ce stage est « {course.status.label.lower()} »)."
        )


def _check_attended(enrollment: Enrollment) -> None:
    if enrollment.status != EnrollmentStatus.ATTENDED:
        raise DomainError(
            "Une attestation n'est délivrée qu'aux personnes présentes à tout le stage "
            f"(inscription « {enrollment.status.label.lower()} »)."
        )


def _check_enrollment(enrollment: Enrollment) -> None:
    _check_attended(enrollment)
    existing = db.session.scalar(
        sa.select(Certificate)
        .where(Certificate.enrollment_id == enrollment.id)
        .order_by(Certificate.id.desc())
        .limit(1)
    )
    if existing is not None:
        if existing.revoked_at is not None:
            raise DomainError(
                f"L'attestation n° {existing.number} de cette inscription a été révoquée : "
                "délivrez une attestation rectificative, qui la remplace."
            )
        raise DomainError(f"Une attestation a déjà été délivrée (n° {existing.number}).")


def _minutes_by_enrollment(course: Course, enrollments: list[Enrollment]) -> dict[int, int]:
    """Minutes attended per enrollment, from the course's marks (one query for all)."""
    parts = list(course.parts)
    all_marks = marks_by_key(course)
    minutes = {}
    for enrollment in enrollments:
        marks: dict[int, AttendanceMark] = {
            part.id: all_marks[(enrollment.id, part.id)]
            for part in parts
            if (enrollment.id, part.id) in all_marks
        }
        minutes[enrollment.id] = attended_minutes(parts, marks)
        # An organizer may retain ATTENDED over the marks; an attestation of « 0 h 00 » would
        # still certify nothing, so the marks must show presence.
        if minutes[enrollment.id] <= 0:
            raise DomainError(
                f"{enrollment.measure.participant.display_name} : aucune présence n'est "
                "enregistrée sur la feuille de présence, l'attestation ne peut pas indiquer "
                "d'heures suivies."
            )
    return minutes


class _Numbering:
    """Hands out sequence numbers per year within one transaction, after locking the year."""

    def __init__(self):
        self._locked: set[int] = set()
        self._next: dict[int, int] = {}

    @classmethod
    def locked(cls) -> _Numbering:
        """A numbering that already holds the lock of the current year."""
        numbering = cls()
        numbering._lock(to_local(now_utc()).year)
        return numbering

    def _lock(self, year: int) -> None:
        if year not in self._locked:
            _lock_year(year)
            self._locked.add(year)

    def take(self, year: int) -> int:
        if year not in self._next:
            self._lock(year)  # a batch running across midnight on 31 December
            last = db.session.scalar(
                sa.select(sa.func.max(Certificate.sequence)).where(Certificate.year == year)
            )
            self._next[year] = (last or 0) + 1
        sequence = self._next[year]
        self._next[year] += 1
        return sequence


def _lock_year(year: int) -> None:
    """Serialize numbering for ``year`` until the end of the transaction (see module docstring)."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        db.session.execute(
            sa.text("SELECT pg_advisory_xact_lock(CAST(:ns AS integer), CAST(:year AS integer))"),
            {"ns": _NUMBERING_LOCK, "year": year},
        )
    elif dialect == "sqlite":
        # Any UPDATE takes SQLite's write lock, even one that matches no row.
        db.session.execute(sa.text("UPDATE certificates SET sequence = sequence WHERE 0"))


def _issue(
    enrollment: Enrollment,
    minutes: int,
    by: User,
    numbering: _Numbering,
    replaces: Certificate | None = None,
) -> Certificate:
    # Whole seconds: the PDF's dates have no fractions, and the stored value must redraw it.
    issued_at = now_utc().replace(microsecond=0)
    year = to_local(issued_at).year
    sequence = numbering.take(year)
    certificate = Certificate(
        enrollment=enrollment,
        year=year,
        sequence=sequence,
        number=f"{year}-{sequence:05d}",
        verification_code=new_verification_code(),
        hours_attended_minutes=minutes,
        issued_at=issued_at,
        issued_by_id=by.id,
        replaces=replaces,
    )
    db.session.add(certificate)
    keep_as_issued(certificate, _render(certificate, issuer=by))
    measure = enrollment.measure
    # The measure mirrors its live enrollment; a measure already further on (reported) stays.
    if measure.status == MeasureStatus.ATTENDED:
        _set_measure_status(measure, MeasureStatus.CERTIFICATE_ISSUED)
    return certificate


def _set_measure_status(measure: LegalMeasure, status: MeasureStatus) -> None:
    measure.status = status
    measure.status_changed_at = now_utc()


# ---------------------------------------------------------------------------------------------
# Revocation


def revoke_certificate(certificate: Certificate, reason: str, *, by: User) -> None:
    """Revoke an attestation with a reason; its measure goes back to ATTENDED. Flushes."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Indiquez le motif de la révocation.")
    if certificate.revoked_at is not None:
        raise DomainError(f"L'attestation n° {certificate.number} est déjà révoquée.")
    certificate.revoked_at = now_utc()
    certificate.revocation_reason = reason[:500]
    measure = certificate.enrollment.measure
    if measure.status == MeasureStatus.CERTIFICATE_ISSUED:
        _set_measure_status(measure, MeasureStatus.ATTENDED)
    logger.info("certificate %s revoked by user %s", certificate.id, by.id)
    db.session.flush()
    # The reason stays on the certificate row: it may name people, the audit's details may not.
    audit("certificate.revoked", certificate, participant_id=measure.participant_id, user=by)
