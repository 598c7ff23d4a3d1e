"""Retention: erase the identity of people whose every measure closed long ago.

Criminal-offence data must not be kept longer than needed (GDPR art. 10). What makes the
statistics — legal frame, authority, dates of decision and course, outcomes — stays.

When a measure closes, the moment its retention period starts counting, is decided here and
nowhere else (``closed_before``; the README's « Retention » table says the same):

- returned to the referring authority: at the withdrawal (``closed_at``);
- reported: when the bilan on its outcome (attended, attestation, unexcused absence) is marked
  sent (``closed_at``);
- every other end state — never enrolled, excused or partly attended and never rescheduled, an
  attestation or an absence never reported, a course held but never closed, a deadline passed —
  ``grace_days`` after the later of its deadline and the end of the course of its live
  enrollment: by then nothing more can happen to it, and it must not be kept for ever.

The rule is evaluated at each purge, so a deadline pushed back, or a new enrollment, moves the
clock with it. Copies kept outside the database (the backups the app layer writes) register
with ``copies_expired`` and are pruned by the same purge.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from stages.attendance.models import AttendanceMark, AttendanceRevision, AttendanceSyncReceipt, HalfDayIncident
from stages.attendance.signatures import erase_images
from stages.auth.models import AuditEntry
from stages.certificates.models import Certificate
from stages.enrollment.confirmation.models import SummonsReply
from stages.enrollment.ledger.models import FeeInvoiceLine, LedgerEntry
from stages.enrollment.models import Enrollment, EnrollmentEvent, LegalMeasure, Participant
from stages.enrollment.statuses import LIVE_STATUSES
from stages.extensions import db
from stages.page_sections import Hook
from stages.scheduling.models import Course
from stages.timeutil import to_local

CHUNK = 500
# What replaces a free text that must stay non-empty.
ANONYMIZED = "(anonymisé)"
RECEIPT_DAYS = timedelta(days=90)

# Run by ``purge`` with ``before=`` (the oldest moment a copy may date from); each handler deletes
# its expired copies and returns its counts.
copies_expired = Hook()


def closed_before(cutoff: datetime, grace_days: int) -> sa.ColumnElement[bool]:
    """Whether a measure closed before ``cutoff``: THE retention rule (see the module's doc)."""
    lapsed = cutoff - timedelta(days=grace_days)
    # The deadline is a day in Paris: it has passed once that day is over.
    deadline_passed = LegalMeasure.deadline < to_local(lapsed).date()
    course_ends_later = (
        sa.select(Enrollment.id)
        .join(Course, Course.id == Enrollment.course_id)
        .where(
            Enrollment.measure_id == LegalMeasure.id,
            Enrollment.status.in_(LIVE_STATUSES),
            Course.ends_at >= lapsed,
        )
        .exists()
    )
    return sa.or_(
        sa.and_(LegalMeasure.closed_at.is_not(None), LegalMeasure.closed_at < cutoff),
        sa.and_(LegalMeasure.closed_at.is_(None), deadline_passed, ~course_ends_later),
    )


def expired_participants(cutoff: datetime, grace_days: int) -> sa.Select:
    """The ids of people not yet anonymized whose measures all closed before ``cutoff``."""
    still_needed = sa.select(LegalMeasure.participant_id).where(~closed_before(cutoff, grace_days))
    return sa.select(Participant.id).where(
        Participant.anonymized_at.is_(None),
        Participant.id.in_(sa.select(LegalMeasure.participant_id)),
        Participant.id.not_in(still_needed),
    )


def participants_past_retention(cutoff: datetime, grace_days: int) -> list[int]:
    """People not yet anonymized whose measures all closed before ``cutoff``."""
    return list(db.session.scalars(expired_participants(cutoff, grace_days)))


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
                # Needs are health data: erased with the identity (the language is kept, for
                # the statistics, as French is: it names no one).
                interpreter_needed=False, needs_reduced_mobility=False, needs_hearing=False,
                needs_sight=False, needs_other=None,
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
        # What the person wrote when asking for another date, and their browser's fingerprint.
        db.session.execute(
            sa.update(SummonsReply).where(SummonsReply.enrollment_id.in_(enrollments))
            .values(reason_text=None, user_agent_hash=None).execution_options(synchronize_session=False)
        )
        # The fee ledger keeps its amounts, dates and receipts' numbers (the accounts must still
        # add up); a cheque's number, a reason typed by an organizer and the case reference
        # copied on an invoice's line go (a waiver's or refund's reason is required: replaced).
        db.session.execute(
            sa.update(LedgerEntry).where(LedgerEntry.measure_id.in_(measures))
            .values(reference=None, reason=sa.case((LedgerEntry.reason.is_(None), None), else_=ANONYMIZED))
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            sa.update(FeeInvoiceLine).where(FeeInvoiceLine.measure_id.in_(measures))
            .values(case_reference="").execution_options(synchronize_session=False)
        )
        # An incident noted about the person: its kind and time stay, its text goes.
        db.session.execute(
            sa.update(HalfDayIncident).where(HalfDayIncident.enrollment_id.in_(enrollments))
            .values(text=ANONYMIZED).execution_options(synchronize_session=False)
        )
        # The drawn signatures go; the chain keeps what proves the half-day without them.
        erase_images(enrollments, now)
        # The issued attestations carry the name: their kept bytes and facts go too.
        db.session.execute(
            sa.update(Certificate).where(Certificate.enrollment_id.in_(enrollments))
            .values(pdf=None, holder_initials=None, holder_birth_year=None)
            .execution_options(synchronize_session=False)
        )


def purge(
    now: datetime, *, measure_days: int, grace_days: int, audit_days: int, backup_days: int
) -> dict[str, int]:
    """Anonymize what passed its retention, delete old audit entries and expired copies
    (backups); returns the counts."""
    ids = participants_past_retention(now - timedelta(days=measure_days), grace_days)
    anonymize(ids, now)
    deleted = db.session.execute(
        sa.delete(AuditEntry).where(AuditEntry.at < now - timedelta(days=audit_days))
    ).rowcount
    # A tablet's receipts only guard against a replay of its queue: kept as long as a queue may
    # wait (its offline copy expires the day after the course), and then some.
    receipts = db.session.execute(
        sa.delete(AttendanceSyncReceipt).where(AttendanceSyncReceipt.received_at < now - RECEIPT_DAYS)
    ).rowcount
    db.session.flush()
    counts = {"personnes anonymisées": len(ids), "entrées du journal supprimées": deleted,
              "accusés de synchronisation supprimés": receipts}
    for pruned in copies_expired.run(before=now - timedelta(days=backup_days)):
        counts.update(pruned)
    return counts
