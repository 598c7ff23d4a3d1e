"""Public verification: what the page behind the QR code says about a typed or scanned code.

Valid, revoked (and by which attestation it was replaced) or unknown; a third party learns only
the number, the course days, the initials and the year of birth, never a name or case data.
Each check is counted (``count_verification``), not logged one by one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from stages.certificates.codes import format_code, normalize_code
from stages.certificates.document import initials
from stages.certificates.models import Certificate, VerificationTally
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


def count_verification(result: VerificationResult, day: date) -> None:
    """Count one public check: its day, its outcome and the attestation it found, if any.

    An UPDATE of the day's counter, or the counter's first INSERT (in a savepoint: a concurrent
    check may insert it first, and this one then counts on it).
    """
    row = sa.and_(
        VerificationTally.day == day,
        VerificationTally.outcome == result.status.value,
        VerificationTally.certificate_id.is_(None) if result.certificate_id is None
        else VerificationTally.certificate_id == result.certificate_id,
    )
    increment = sa.update(VerificationTally).where(row).values(count=VerificationTally.count + 1)
    if db.session.execute(increment).rowcount:
        return
    try:
        with db.session.begin_nested():
            db.session.add(VerificationTally(
                day=day, outcome=result.status.value, certificate_id=result.certificate_id, count=1,
            ))
    except sa.exc.IntegrityError:
        db.session.execute(increment)


def verification_counts(since: date) -> dict[str, int]:
    """The public checks since ``since``, by outcome (for the audit log page)."""
    rows = db.session.execute(
        sa.select(VerificationTally.outcome, sa.func.sum(VerificationTally.count))
        .where(VerificationTally.day >= since)
        .group_by(VerificationTally.outcome)
    )
    counts = dict.fromkeys((status.value for status in VerificationStatus), 0)
    counts.update({outcome: int(total) for outcome, total in rows})
    return counts
