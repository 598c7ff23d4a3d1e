"""Public verification: what the page behind the QR code says about a typed or scanned code.

Valid, revoked (and by which attestation it was replaced) or unknown; a third party learns only
the number, the course days, the initials and the year of birth, never a name or case data.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from stages.certificates.codes import format_code, normalize_code
from stages.certificates.document import initials
from stages.certificates.models import Certificate
from stages.enrollment.models import Enrollment, LegalMeasure, Participant
from stages.extensions import db
from stages.scheduling.models import Course
from stages.timeutil import to_local


# ---------------------------------------------------------------------------------------------
# Public verification


class VerificationStatus(StrEnum):
    """What the public page says; the value is also the audit entry's ``details``."""

    VALID = "valide"
    REVOKED = "révoquée"
    UNKNOWN = "inconnue"


@dataclass(frozen=True)
class VerificationResult:
    """Only what a third party may learn: no name, no case data."""

    status: VerificationStatus
    certificate_id: int | None = None
    code: str | None = None  # normalized and grouped, when the input could be a code
    number: str | None = None
    course_days: tuple[date, ...] = field(default_factory=tuple)
    initials: str | None = None
    birth_year: int | None = None
    revoked_on: date | None = None
    replaced_by: str | None = None  # the number of the attestation that replaces a revoked one

    @property
    def well_formed(self) -> bool:
        return self.code is not None


def verify(raw_code: str | None) -> VerificationResult:
    """Check a typed or scanned code: valid, revoked or unknown (a malformed code is unknown)."""
    code = normalize_code(raw_code)
    if code is None:
        return VerificationResult(VerificationStatus.UNKNOWN)
    certificate = db.session.scalar(
        sa.select(Certificate)
        .where(Certificate.verification_code == code)
        .options(
            joinedload(Certificate.enrollment)
            .joinedload(Enrollment.measure)
            .joinedload(LegalMeasure.participant),
            joinedload(Certificate.enrollment)
            .joinedload(Enrollment.course)
            .joinedload(Course.venue),
        )
    )
    if certificate is None:
        return VerificationResult(VerificationStatus.UNKNOWN, code=format_code(code))
    course = certificate.enrollment.course
    person = certificate.enrollment.measure.participant
    zone = course.venue.timezone
    revoked = certificate.revoked_at is not None
    replaced_by = None
    if revoked:
        replaced_by = db.session.scalar(
            sa.select(Certificate.number).where(Certificate.replaces_id == certificate.id)
        )
    return VerificationResult(
        status=VerificationStatus.REVOKED if revoked else VerificationStatus.VALID,
        certificate_id=certificate.id,
        code=format_code(code),
        number=certificate.number,
        **_certified_facts(certificate, course, person),
        revoked_on=to_local(certificate.revoked_at, zone).date() if revoked else None,
        replaced_by=replaced_by,
    )


def _certified_facts(certificate: Certificate, course: Course, person: Participant) -> dict:
    """The course days, initials and year of birth as issued (older attestations: as on file);
    nothing about the person once they are anonymized."""
    if person.anonymized_at is not None:
        return {"course_days": tuple(day for day, _parts in course.days)}
    if certificate.course_days is not None:
        return {
            "course_days": tuple(date.fromisoformat(day) for day in certificate.course_days),
            "initials": certificate.holder_initials,
            "birth_year": certificate.holder_birth_year,
        }
    return {
        "course_days": tuple(day for day, _parts in course.days),
        "initials": initials(person),
        "birth_year": person.birth_date.year if person.birth_date else None,
    }
