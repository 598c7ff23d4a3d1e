"""Sending convocations and cancellations, and recording what was sent on the enrollment.

Services flush; the caller commits — after each email, since a sent email cannot be rolled back.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from stages.auth.models import User
from stages.enrollment.convocation.emails import cancellation_email, convocation_email
from stages.enrollment.convocation.letter import convocation_pdf
from stages.enrollment.convocation.wording import _check_identity
from stages.enrollment.models import (
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    LegalMeasure,
    Participant,
)
from stages.enrollment.services import change_enrollment_status
from stages.errors import DomainError
from stages.extensions import db
from stages.mail import MailError, send_email
from stages.scheduling.models import CourseSession, SessionStatus
from stages.timeutil import now_utc, today_local

# Enrollments that may be summoned; SUMMONED again means a re-send.
SUMMONABLE_STATUSES = (EnrollmentStatus.ENROLLED, EnrollmentStatus.CONFIRMED, EnrollmentStatus.SUMMONED)
# Enrollments whose calendar invitation must be withdrawn when the session is cancelled.
CANCELLABLE_STATUSES = (
    EnrollmentStatus.ENROLLED, EnrollmentStatus.SUMMONED, EnrollmentStatus.CONFIRMED,
    EnrollmentStatus.ABSENT_EXCUSED,
)
# People still expected at the session: the ones whose letters are printed.
EXPECTED_STATUSES = (EnrollmentStatus.ENROLLED, EnrollmentStatus.SUMMONED, EnrollmentStatus.CONFIRMED)


# ---------------------------------------------------------------------------------------------
# Services


def _check_summonable(enrollment: Enrollment) -> None:
    _check_identity(enrollment.measure.participant)
    if enrollment.status not in SUMMONABLE_STATUSES:
        raise DomainError(
            f"Une inscription « {enrollment.status.label.lower()} » ne reçoit pas de convocation."
        )
    _check_session(enrollment.session)


def _check_session(session: CourseSession) -> None:
    # A draft may still move or vanish, and a past session needs no summons.
    if session.status != SessionStatus.SCHEDULED:
        raise DomainError("Seul un stage programmé peut faire l'objet de convocations.")
    if session.ends_at is None or session.ends_at <= now_utc():
        raise DomainError("Ce stage est terminé : il n'y a plus lieu de convoquer.")


def _mark_summoned(enrollment: Enrollment, *, by: User | None, first: str, again: str) -> None:
    note = again if enrollment.status == EnrollmentStatus.SUMMONED else first
    enrollment.convocation_sent_at = now_utc()
    # SUMMONED → SUMMONED is an allowed transition: a re-send keeps the status, logs the event.
    change_enrollment_status(enrollment, EnrollmentStatus.SUMMONED, by=by, note=note)


def send_convocation(enrollment: Enrollment, *, by: User | None) -> None:
    """Email the convocation, then mark the enrollment « convoqué·e » (MailError: nothing marked)."""
    _check_summonable(enrollment)
    participant = enrollment.measure.participant
    if not participant.email:
        raise DomainError(
            "Cette personne n'a pas d'adresse électronique : imprimez la convocation (PDF), "
            "envoyez-la par courrier puis indiquez « convoqué·e par courrier »."
        )
    session = enrollment.session
    issued_on = today_local(session.venue.timezone)
    message = convocation_email(enrollment, convocation_pdf(enrollment, issued_on=issued_on))
    send_email(message)  # a MailError propagates before anything is recorded
    _mark_summoned(
        enrollment, by=by,
        first="Convocation envoyée par courriel", again="Convocation renvoyée par courriel",
    )


def mark_summoned_by_post(enrollment: Enrollment, *, by: User | None) -> None:
    """Record that the printed convocation was posted (for people without an email address)."""
    _check_summonable(enrollment)
    _mark_summoned(
        enrollment, by=by,
        first="Convocation envoyée par courrier", again="Convocation renvoyée par courrier",
    )


@dataclass
class ConvocationSummary:
    """What « send all » did: sent, left to print (no address), failed (still to send)."""

    sent: list[Enrollment] = field(default_factory=list)
    without_email: list[Enrollment] = field(default_factory=list)
    failed: list[Enrollment] = field(default_factory=list)

    def message(self) -> str:
        """« 9 convocations envoyées, 2 personnes sans adresse électronique (…), 0 échec »."""
        sent, missing, failed = len(self.sent), len(self.without_email), len(self.failed)
        # French puts 0 and 1 in the singular.
        parts = [
            f"{sent} convocation envoyée" if sent <= 1 else f"{sent} convocations envoyées",
            (f"{missing} personne" if missing <= 1 else f"{missing} personnes")
            + " sans adresse électronique (convocation à imprimer)",
            f"{failed} échec" if failed <= 1 else f"{failed} échecs",
        ]
        return ", ".join(parts) + "."


def due_convocations(session: CourseSession) -> list[Enrollment]:
    """Seated people not summoned yet (« inscrit·e »), by name."""
    return _enrollments(session, (EnrollmentStatus.ENROLLED,))


def expected_enrollments(session: CourseSession) -> list[Enrollment]:
    """People still expected at the session (enrolled, summoned, confirmed), by name."""
    return _enrollments(session, EXPECTED_STATUSES)


def _enrollments(session: CourseSession, statuses) -> list[Enrollment]:
    return list(
        db.session.scalars(
            sa.select(Enrollment)
            .join(Enrollment.measure)
            .join(LegalMeasure.participant)
            .where(Enrollment.session_id == session.id, Enrollment.status.in_(statuses))
            .options(
                selectinload(Enrollment.measure).selectinload(LegalMeasure.participant),
                selectinload(Enrollment.measure).selectinload(LegalMeasure.authority),
                selectinload(Enrollment.measure).selectinload(LegalMeasure.handling_organization),
            )
            .order_by(Participant.search_key, Enrollment.id)
        )
    )


def send_session_convocations(
    session: CourseSession,
    *,
    by: User | None,
    after_send: Callable[[Enrollment], None] | None = None,
) -> ConvocationSummary:
    """Email every due convocation of ``session``; one failure does not stop the others.

    ``after_send(enrollment)`` runs after each accepted email: the view commits there, so the
    database holds every email really sent even if a later one crashes the request.
    """
    _check_session(session)
    summary = ConvocationSummary()
    for enrollment in due_convocations(session):
        if not enrollment.measure.participant.email:
            summary.without_email.append(enrollment)
            continue
        try:
            send_convocation(enrollment, by=by)
        except (MailError, DomainError):
            summary.failed.append(enrollment)
            continue
        summary.sent.append(enrollment)
        if after_send is not None:
            after_send(enrollment)
    return summary


def send_cancellation(enrollment: Enrollment, *, by: User | None = None) -> bool:
    """Withdraw an emailed convocation (METHOD:CANCEL); False when there is nothing to withdraw.

    Call it once the change that ends the convocation (withdrawal, report to another session,
    cancelled session) is committed. Raises ``MailError`` when the server refuses; the caller
    warns the user and goes on, the change itself stands.
    """
    participant = enrollment.measure.participant
    if (
        enrollment.convocation_sent_at is None
        or not participant.email
        or participant.anonymized_at is not None
    ):
        return False
    send_email(cancellation_email(enrollment))
    db.session.add(
        EnrollmentEvent(
            enrollment=enrollment,
            user_id=by.id if by else None,
            from_status=enrollment.status.value,
            to_status=enrollment.status.value,
            note="Annulation de la convocation envoyée par courriel",
        )
    )
    db.session.flush()
    return True


@dataclass
class CancellationSummary:
    """How many cancellations went out, and how many the mail server refused."""

    sent: int = 0
    failed: int = 0


def send_cancellations_for_session(
    session: CourseSession, *, by: User | None = None
) -> CancellationSummary:
    """Withdraw the convocations of everyone still expected at a session (it was cancelled)."""
    summary = CancellationSummary()
    for enrollment in _enrollments(session, CANCELLABLE_STATUSES):
        try:
            if send_cancellation(enrollment, by=by):
                summary.sent += 1
        except MailError:
            summary.failed += 1
    return summary
