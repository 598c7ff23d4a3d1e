"""Sending convocations and cancellations, and recording what was sent on the enrollment.

Services flush; the caller commits — after each email, since a sent email cannot be rolled back.
The convocation of a person promoted from the waitlist goes through the outbox
(``stages.outbox``): queued by ``promote_waitlist``, built here when it is sent, and the person
becomes « convoqué·e » in the transaction that records it as sent.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

from stages import outbox
from stages.auth.audit import audit
from stages.auth.models import User
from stages.enrollment.convocation.emails import cancellation_email, convocation_email
from stages.enrollment.convocation.letter import convocation_pdf
from stages.enrollment.convocation.wording import _check_identity
from stages.enrollment.models import (
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
)
from stages.enrollment.queries import course_enrollments
from stages.enrollment.services import PROMOTION_KIND, change_enrollment_status
from stages.enrollment.statuses import TO_ATTEND_STATUSES
from stages.errors import DomainError
from stages.extensions import db
from stages.mail import MailError, send_email
from stages.scheduling.models import Course, CourseStatus
from stages.timeutil import now_utc, today_local

# Enrollments whose calendar invitation must be withdrawn when the course is cancelled: those
# to attend (any of them may hold an invitation; SUMMONED again means a re-send), and the excused.
CANCELLABLE_STATUSES = (*TO_ATTEND_STATUSES, EnrollmentStatus.ABSENT_EXCUSED)


# ---------------------------------------------------------------------------------------------
# Services


def _check_summonable(enrollment: Enrollment) -> None:
    _check_identity(enrollment.measure.participant)
    if enrollment.status not in TO_ATTEND_STATUSES:
        raise DomainError(
            f"Une inscription « {enrollment.status.label.lower()} » ne reçoit pas de convocation."
        )
    _check_course(enrollment.course)


def _check_course(course: Course) -> None:
    # A draft may still move or vanish, and a past course needs no summons.
    if course.status != CourseStatus.SCHEDULED:
        raise DomainError("Seul un stage programmé peut faire l'objet de convocations.")
    if course.ends_at is None or course.ends_at <= now_utc():
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
    send_email(_convocation_message(enrollment))  # a MailError propagates before anything is recorded
    _mark_summoned(
        enrollment, by=by,
        first="Convocation envoyée par courriel", again="Convocation renvoyée par courriel",
    )


def _convocation_message(enrollment: Enrollment, *, seat_freed: bool = False) -> EmailMessage:
    """The convocation email with the letter dated today (the venue's day) and the invitation."""
    issued_on = today_local(enrollment.course.venue.timezone)
    pdf = convocation_pdf(enrollment, issued_on=issued_on)
    return convocation_email(enrollment, pdf, seat_freed=seat_freed)


def _promoted(refs: dict) -> Enrollment | None:
    """The enrollment of a queued promotion, if it still awaits its convocation: seated, not
    summoned meanwhile (by hand), with an address, in a scheduled course still to come."""
    enrollment = db.session.get(Enrollment, refs["enrollment"])
    if enrollment is None or enrollment.status != EnrollmentStatus.ENROLLED:
        return None
    if not enrollment.measure.participant.email:
        return None
    try:
        _check_summonable(enrollment)
    except DomainError:
        return None
    return enrollment


def build_promotion_convocation(refs: dict) -> EmailMessage | None:
    """« A seat freed up for you », with the convocation letter and invitation."""
    enrollment = _promoted(refs)
    return _convocation_message(enrollment, seat_freed=True) if enrollment else None


def record_promotion_convocation_sent(refs: dict) -> None:
    """The person is « convoqué·e » now that the email is sent (with its audit entry)."""
    enrollment = _promoted(refs)
    if enrollment is None:
        return
    _mark_summoned(
        enrollment, by=None,
        first="Place libérée : convocation envoyée par courriel",
        again="Place libérée : convocation renvoyée par courriel",
    )
    audit("convocation.sent", enrollment, participant_id=enrollment.measure.participant_id,
          details="courriel, place libérée")


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


def due_convocations(course: Course) -> list[Enrollment]:
    """Seated people not summoned yet (« inscrit·e »), by name."""
    return course_enrollments(course, (EnrollmentStatus.ENROLLED,), with_organizations=True)


def enrollments_to_attend(course: Course) -> list[Enrollment]:
    """People still expected at the course (enrolled, summoned, confirmed), by name."""
    return course_enrollments(course, TO_ATTEND_STATUSES, with_organizations=True)


def letters_to_print(course: Course, *, posted_only: bool = False) -> list[Enrollment]:
    """The letters of the people expected at ``course`` (an anonymized person has none); with
    ``posted_only``, only those of people without an email address: the letters to post."""
    return [
        e for e in enrollments_to_attend(course)
        if e.measure.participant.anonymized_at is None
        and not (posted_only and e.measure.participant.email)
    ]


def send_course_convocations(
    course: Course,
    *,
    by: User | None,
    after_send: Callable[[Enrollment], None] | None = None,
) -> ConvocationSummary:
    """Email every due convocation of ``session``; one failure does not stop the others.

    ``after_send(enrollment)`` runs after each accepted email: the view commits there, so the
    database holds every email really sent even if a later one crashes the request.
    """
    _check_course(course)
    summary = ConvocationSummary()
    for enrollment in due_convocations(course):
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

    Call it once the change that ends the convocation (withdrawal, report to another course,
    cancelled course) is committed. Raises ``MailError`` when the server refuses; the caller
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


def send_cancellations_for_course(
    course: Course, *, by: User | None = None
) -> CancellationSummary:
    """Withdraw the convocations of everyone still expected at a course (it was cancelled)."""
    summary = CancellationSummary()
    for enrollment in course_enrollments(course, CANCELLABLE_STATUSES, with_organizations=True):
        try:
            if send_cancellation(enrollment, by=by):
                summary.sent += 1
        except MailError:
            summary.failed += 1
    return summary


outbox.register_kind(PROMOTION_KIND, "Convocations après une place libérée",
                     build_promotion_convocation, record_promotion_convocation_sent)
