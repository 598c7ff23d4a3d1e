"""Sending convocations, updates after a course moved, and cancellations, and recording what
was sent on the enrollment.

Services flush; the caller commits — after each email, since a sent email cannot be rolled back.

The convocation of a person promoted from the waitlist goes through the outbox
(``stages.outbox``): queued by ``promote_waitlist``, built here when it is sent, and the person
becomes « convoqué·e » in the transaction that records it as sent.
"""
from __future__ import annotations

import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from stages import outbox
from stages.auth.audit import audit
from stages.auth.models import User
from stages.enrollment.convocation.delivery import DeliveryChannel, DeliveryStatus, record_delivery
from stages.enrollment.convocation.emails import cancellation_email, convocation_email, update_email
from stages.enrollment.convocation.letter import convocation_pdf
from stages.enrollment.convocation.wording import _check_identity, day_lines, venue_line
from stages.enrollment.models import (
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    InvitationUpdate,
    LegalMeasure,
    Participant,
)
from stages.enrollment.queries import course_enrollments
from stages.enrollment.services import PROMOTION_KIND, change_enrollment_status
from stages.enrollment.sms.services import queue_convocation_sms
from stages.enrollment.statuses import TO_ATTEND_STATUSES
from stages.errors import DomainError
from stages.extensions import db
from stages.mail import MailError, send_email
from stages.scheduling.models import Course, CourseStatus
from stages.scheduling.services import CourseMove, course_moving
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
    # A draft may still move or vanish, and a past session needs no summons.
    if course.status != CourseStatus.SCHEDULED:
        raise DomainError("Seul un stage programmé peut faire l'objet de convocations.")
    if course.ends_at is None or course.ends_at <= now_utc():
        raise DomainError("Ce stage est terminé : il n'y a plus lieu de convoquer.")


def _mark_summoned(
    enrollment: Enrollment, *, by: User | None, first: str, again: str, details: str
) -> None:
    """« Convoqué·e », with the event in the enrollment's history and the audit entry."""
    note = again if enrollment.status == EnrollmentStatus.SUMMONED else first
    enrollment.convocation_sent_at = now_utc()
    # SUMMONED → SUMMONED is an allowed transition: a re-send keeps the status, logs the event.
    change_enrollment_status(enrollment, EnrollmentStatus.SUMMONED, by=by, note=note)
    audit("convocation.sent", enrollment, participant_id=enrollment.measure.participant_id,
          details=details, user=by)
    # The SMS too, for a person who consents (once per enrollment, through the outbox).
    queue_convocation_sms(enrollment)


def _check_email(enrollment: Enrollment) -> None:
    if not enrollment.measure.participant.email:
        raise DomainError(
            "Cette personne n'a pas d'adresse électronique : imprimez la convocation (PDF), "
            "envoyez-la par courrier puis indiquez « convoqué·e par courrier »."
        )


def _letter(enrollment: Enrollment) -> bytes:
    return convocation_pdf(enrollment, issued_on=today_local(enrollment.course.venue.timezone))


def _told(enrollment: Enrollment) -> None:
    """The person now holds the course as it is: no update is owed to them any more."""
    update = db.session.get(InvitationUpdate, enrollment.id)
    if update is not None:
        db.session.delete(update)


def refusal_detail(error: MailError) -> str:
    """What the mail server's refusal was, without its reply (which often quotes the address):
    « SMTPDataError, code 550, échec définitif »."""
    cause = error.__cause__
    if cause is None:
        return "envoi refusé"
    code = getattr(cause, "smtp_code", None)
    if code is None and isinstance(cause, smtplib.SMTPRecipientsRefused) and cause.recipients:
        code = next(iter(cause.recipients.values()))[0]
    parts = [type(cause).__name__]
    if isinstance(code, int):
        parts.append(f"code {code}")
        if 400 <= code < 600:
            parts.append("échec définitif" if code >= 500 else "échec temporaire")
    return ", ".join(parts)


def _send_and_record(enrollment: Enrollment, message: EmailMessage, by: User | None) -> None:
    """Hand ``message`` to the mail server and record its answer as the summons's proof: the
    acceptance with the Message-ID, or the refusal (then MailError propagates: the caller
    commits the refusal, nothing else is marked)."""
    try:
        send_email(message)
    except MailError as error:
        record_delivery(enrollment, DeliveryChannel.EMAIL, DeliveryStatus.REFUSED,
                        message_id=message["Message-ID"], detail=refusal_detail(error), by=by)
        raise
    record_delivery(enrollment, DeliveryChannel.EMAIL, DeliveryStatus.ACCEPTED,
                    message_id=message["Message-ID"], by=by)


def send_convocation(enrollment: Enrollment, *, by: User | None, details: str | None = None) -> None:
    """Email the convocation, then mark the enrollment « convoqué·e ».

    A refusal raises MailError with only the refusal recorded (``SummonsDelivery``): the caller
    commits it, and the enrollment stays « à convoquer »."""
    _check_summonable(enrollment)
    _check_email(enrollment)
    details = details or ("courriel, renvoi" if enrollment.convocation_sent_at else "courriel")
    _send_and_record(enrollment, _convocation_message(enrollment), by)
    _told(enrollment)
    _mark_summoned(
        enrollment, by=by,
        first="Convocation envoyée par courriel", again="Convocation renvoyée par courriel",
        details=details,
    )


def mark_summoned_by_post(enrollment: Enrollment, *, by: User | None) -> None:
    """Record that the printed convocation was posted (for people without an email address)."""
    _check_summonable(enrollment)
    _mark_summoned(
        enrollment, by=by,
        first="Convocation envoyée par courrier", again="Convocation renvoyée par courrier",
        details="courrier",
    )
    record_delivery(enrollment, DeliveryChannel.LETTER, DeliveryStatus.POSTED, by=by)


def mark_summoned_by_registered_letter(enrollment: Enrollment, *, by: User | None) -> None:
    """The convocation went by registered letter with AR (its record is the caller's)."""
    _check_summonable(enrollment)
    _mark_summoned(
        enrollment, by=by,
        first="Convocation envoyée par lettre recommandée avec AR",
        again="Convocation renvoyée par lettre recommandée avec AR",
        details="lettre recommandée",
    )


def _convocation_message(enrollment: Enrollment, *, seat_freed: bool = False) -> EmailMessage:
    """The convocation email with the letter dated today (the venue's day) and the invitation."""
    return convocation_email(enrollment, _letter(enrollment), seat_freed=seat_freed)


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
        details="courriel, place libérée",
    )


def record_promotion_accepted(refs: dict, message_id: str) -> None:
    """The mail server took the promotion's convocation: its proof."""
    enrollment = db.session.get(Enrollment, refs["enrollment"])
    if enrollment is not None:
        record_delivery(enrollment, DeliveryChannel.EMAIL, DeliveryStatus.ACCEPTED, message_id=message_id)


def record_promotion_refused(refs: dict, message_id: str, error: MailError) -> None:
    """The mail server refused the promotion's convocation: kept with the SMTP class and code
    (the outbox tries again later; the person stays « inscrit·e » meanwhile)."""
    enrollment = db.session.get(Enrollment, refs["enrollment"])
    if enrollment is not None:
        record_delivery(enrollment, DeliveryChannel.EMAIL, DeliveryStatus.REFUSED,
                        message_id=message_id, detail=refusal_detail(error))


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
            send_convocation(enrollment, by=by, details="courriel, envoi groupé")
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
    _told(enrollment)
    _note_in_history(enrollment, "Annulation de la convocation envoyée par courriel", by)
    return True


@dataclass
class CancellationSummary:
    """How many cancellations went out, and how many the mail server refused."""

    sent: int = 0
    failed: int = 0


def send_cancellations_for_course(
    course: Course, *, by: User | None = None
) -> CancellationSummary:
    """Withdraw the convocations of everyone still expected at a session (it was cancelled)."""
    summary = CancellationSummary()
    for enrollment in course_enrollments(course, CANCELLABLE_STATUSES, with_organizations=True):
        try:
            if send_cancellation(enrollment, by=by):
                summary.sent += 1
        except MailError:
            summary.failed += 1
    return summary


# ---------------------------------------------------------------------------------------------
# After a course moved: the updated invitations owed to the people summoned


def can_be_emailed(enrollment: Enrollment) -> bool:
    """Whether the person has an email address (and was not anonymized)."""
    participant = enrollment.measure.participant
    return bool(participant.email) and participant.anonymized_at is None


def summoned_people(course: Course) -> list[Enrollment]:
    """The people expected at ``course`` who hold its convocation (emailed or posted), by name:
    those a move must be told to."""
    return [e for e in enrollments_to_attend(course) if e.convocation_sent_at is not None]


@course_moving.register
def record_invitation_updates(course: Course, move: CourseMove) -> None:
    """In the move's own transaction: everyone summoned by email is owed an update.

    What they were told is kept from the first of several moves not told yet; the half-days
    that went away add up.
    """
    owed = {
        update.enrollment_id: update
        for update in db.session.scalars(
            sa.select(InvitationUpdate).where(InvitationUpdate.course_id == course.id)
        )
    }
    withdrawn = [
        [part.part_id, part.starts_at.isoformat(), part.ends_at.isoformat()]
        for part in move.withdrawn
    ]
    for enrollment in summoned_people(course):
        if not can_be_emailed(enrollment):
            continue  # the organizer posts them the new letter (the confirmation page said so)
        update = owed.get(enrollment.id)
        if update is None:
            db.session.add(
                InvitationUpdate(
                    enrollment_id=enrollment.id,
                    course_id=course.id,
                    previous_days="\n".join(
                        day_lines(move.previous_spans, move.previous_venue.timezone)
                    ),
                    previous_venue=venue_line(move.previous_venue),
                    withdrawn_parts=withdrawn,
                )
            )
        elif withdrawn:
            update.withdrawn_parts = [*update.withdrawn_parts, *withdrawn]
    db.session.flush()


def due_invitation_updates(course: Course) -> list[InvitationUpdate]:
    """The updates still owed to people expected at ``course``, by name (none once the course
    is over or no longer scheduled: there is nothing left to tell)."""
    if course.status != CourseStatus.SCHEDULED or course.ends_at is None or course.ends_at <= now_utc():
        return []
    measure = selectinload(InvitationUpdate.enrollment).selectinload(Enrollment.measure)
    return list(
        db.session.scalars(
            sa.select(InvitationUpdate)
            .join(InvitationUpdate.enrollment)
            .join(Enrollment.measure)
            .join(LegalMeasure.participant)
            .where(
                InvitationUpdate.course_id == course.id,
                Enrollment.status.in_(TO_ATTEND_STATUSES),
            )
            .options(
                measure.selectinload(LegalMeasure.participant),
                measure.selectinload(LegalMeasure.handling_organization),
            )
            .order_by(Participant.search_key, Enrollment.id)
        )
    )


def send_invitation_update(update: InvitationUpdate, *, by: User | None) -> None:
    """Email one person the update of their moved course: what changed, the updated letter and
    the invitation (same UIDs, higher SEQUENCE). MailError: nothing recorded, still owed."""
    enrollment = update.enrollment
    _check_summonable(enrollment)
    _check_email(enrollment)
    _send_and_record(enrollment, update_email(enrollment, update, _letter(enrollment)), by)
    enrollment.convocation_sent_at = now_utc()  # the letter sent is dated today
    db.session.delete(update)
    _note_in_history(enrollment, "Modification du stage envoyée par courriel", by)
    audit("convocation.sent", enrollment, participant_id=enrollment.measure.participant_id,
          details="courriel, modification du stage", user=by)


@dataclass
class UpdateSummary:
    """What sending the updates of a moved course did: sent, and failed (still owed)."""

    sent: list[Enrollment] = field(default_factory=list)
    failed: list[Enrollment] = field(default_factory=list)

    def message(self) -> tuple[str, str] | None:
        """The French message to show, with its category, or None when nothing was owed."""
        sent, failed = len(self.sent), len(self.failed)
        if not sent and not failed:
            return None
        text = (
            f"{sent} personne prévenue" if sent <= 1 else f"{sent} personnes prévenues"
        ) + " par courriel de la modification."
        if not failed:
            return text, "success"
        text += (
            " 1 personne n'a pas pu être prévenue" if failed == 1
            else f" {failed} personnes n'ont pas pu être prévenues"
        )
        return (
            text + " : la liste des personnes inscrites les signale « modification à envoyer » ; "
            "renvoyez-la avec le bouton « Envoyer les modifications ».",
            "warning",
        )


def send_invitation_updates(
    course: Course,
    *,
    by: User | None,
    after_send: Callable[[Enrollment], None] | None = None,
) -> UpdateSummary:
    """Email every update still owed for ``course``, one at a time; a failure does not stop the
    others. ``after_send(enrollment)`` runs after each accepted email: the caller commits there."""
    summary = UpdateSummary()
    for update in due_invitation_updates(course):
        enrollment = update.enrollment
        try:
            send_invitation_update(update, by=by)
        except (MailError, DomainError):
            summary.failed.append(enrollment)
            continue
        summary.sent.append(enrollment)
        if after_send is not None:
            after_send(enrollment)
    return summary


outbox.register_kind(PROMOTION_KIND, "Convocations après une place libérée",
                     build_promotion_convocation, record_promotion_convocation_sent,
                     on_accepted=record_promotion_accepted, on_refused=record_promotion_refused)


def _note_in_history(enrollment: Enrollment, note: str, by: User | None) -> None:
    """Write in the enrollment's history what was sent to the person (its status unchanged)."""
    db.session.add(
        EnrollmentEvent(
            enrollment=enrollment,
            user_id=by.id if by else None,
            from_status=enrollment.status.value,
            to_status=enrollment.status.value,
            note=note,
        )
    )
    db.session.flush()
