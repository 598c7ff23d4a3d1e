"""Retention: erase the identity of people whose every measure closed long ago.

Criminal-offence data must not be kept longer than needed (GDPR art. 10). What makes the
statistics — legal frame, authority, dates of decision and course, outcomes — stays.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from stages.attendance.models import AttendanceMark, AttendanceRevision
from stages.auth.models import AuditEntry
from stages.certificates.models import Certificate
from stages.enrollment.models import Enrollment, EnrollmentEvent, LegalMeasure, Participant
from stages.extensions import db

CHUNK = 500


def participants_past_retention(cutoff: datetime) -> list[int]:
    """People not yet anonymized whose measures are all closed before ``cutoff``."""
    still_needed = sa.select(LegalMeasure.participant_id).where(
        sa.or_(LegalMeasure.closed_at.is_(None), LegalMeasure.closed_at >= cutoff)
    )
    expired = sa.select(LegalMeasure.participant_id).where(LegalMeasure.closed_at < cutoff)
    return list(
        db.session.scalars(
            sa.select(Participant.id).where(
                Participant.anonymized_at.is_(None),
                Participant.id.in_(expired),
                Participant.id.not_in(still_needed),
            )
        )
    )


def anonymize(participant_ids: list[int], now: datetime) -> None:
    """Erase identity, references and free-text notes of these people, in bulk."""
    for start in range(0, len(participant_ids), CHUNK):
        ids = participant_ids[start:start + CHUNK]
        measures = sa.select(LegalMeasure.id).where(LegalMeasure.participant_id.in_(ids))
        enrollments = sa.select(Enrollment.id).where(Enrollment.measure_id.in_(measures))
        marks = sa.select(AttendanceMark.id).where(AttendanceMark.enrollment_id.in_(enrollments))
        db.session.execute(
            sa.update(Participant).where(Participant.id.in_(ids)).values(
                surname="", first_names="", birth_date=None, birth_place=None, address=None,
                postal_code=None, city=None, phone=None, email=None, search_key="",
                anonymized_at=now,
            ).execution_options(synchronize_session=False)
        )
        db.session.execute(
            sa.update(LegalMeasure).where(LegalMeasure.participant_id.in_(ids)).values(
                case_reference="", certificate_recipient=None, withdrawal_reason=None,
                import_key=None,
            ).execution_options(synchronize_session=False)
        )
        db.session.execute(
            sa.update(Enrollment).where(Enrollment.id.in_(enrollments))
            .values(outcome_override_reason=None).execution_options(synchronize_session=False)
        )
        db.session.execute(
            sa.update(EnrollmentEvent).where(EnrollmentEvent.enrollment_id.in_(enrollments))
            .values(note=None).execution_options(synchronize_session=False)
        )
        db.session.execute(
            sa.update(AttendanceRevision).where(AttendanceRevision.mark_id.in_(marks))
            .values(note=None, reason=None).execution_options(synchronize_session=False)
        )
        db.session.execute(
            sa.update(AttendanceMark).where(AttendanceMark.id.in_(marks))
            .values(note=None).execution_options(synchronize_session=False)
        )
        # The issued attestations carry the name: their kept bytes and facts go too.
        db.session.execute(
            sa.update(Certificate).where(Certificate.enrollment_id.in_(enrollments))
            .values(pdf=None, holder_initials=None, holder_birth_year=None)
            .execution_options(synchronize_session=False)
        )


def purge(now: datetime, measure_days: int, audit_days: int) -> dict[str, int]:
    """Anonymize what passed its retention and delete old audit entries; returns the counts."""
    ids = participants_past_retention(now - timedelta(days=measure_days))
    anonymize(ids, now)
    deleted = db.session.execute(
        sa.delete(AuditEntry).where(AuditEntry.at < now - timedelta(days=audit_days))
    ).rowcount
    db.session.flush()
    return {"personnes anonymisées": len(ids), "entrées du journal supprimées": deleted}
