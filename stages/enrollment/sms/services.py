"""SMS to people summoned: consent, the convocation and J-7/J-1 reminders through the outbox,
the gateway's receipts and « STOP ».

Each SMS is a message of the outbox (``stages.outbox``, channel ``sms``): queued with a key that
names it (« sms_convocation:1234 », « sms_reminder:7:1234 ») in the transaction that summons the
person or runs the reminders job, so it exists once; claimed, built from today's data and sent
once, even by two schedulers at once; never within the quiet hours. A message whose person no
longer consents, has no usable mobile number, was withdrawn or anonymized, or whose course is
cancelled or past, is dropped when its turn comes. Sent, it becomes an ``SmsMessage`` (no number,
no text) that the gateway's receipts update.

Services flush; the caller commits.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime

import sqlalchemy as sa

from stages import outbox
from stages.auth.audit import audit
from stages.auth.models import User
from stages.enrollment.convocation.delivery import DeliveryChannel, DeliveryStatus, record_delivery
from stages.enrollment.convocation.reminders import REMINDERS, _midnight
from stages.enrollment.models import Enrollment, LegalMeasure, Participant
from stages.enrollment.sms.models import (
    FINAL_STATUSES,
    ConsentWithdrawal,
    SmsConsent,
    SmsMessage,
    SmsStatus,
)
from stages.enrollment.sms.texts import CONVOCATION, REMINDER, sms_text
from stages.enrollment.statuses import SUMMONED_STATUSES
from stages.errors import DomainError
from stages.extensions import db
from stages.phones import PhoneError, is_mobile, parse_phone
from stages.scheduling.models import Course, CourseStatus
from stages.sms import OutgoingSms, SentSms, count_segments, Segments
from stages.timeutil import now_utc, to_local, today_local

log = logging.getLogger(__name__)

CONVOCATION_KIND = "sms_convocation"
REMINDER_KIND = "sms_reminder"

# ---------------------------------------------------------------------------------------------
# Consent


def live_consent(participant: Participant) -> SmsConsent | None:
    """The person's consent in force, if any."""
    return db.session.scalar(
        sa.select(SmsConsent).where(
            SmsConsent.participant_id == participant.id, SmsConsent.withdrawn_at.is_(None)
        )
    )


def can_receive_sms(participant: Participant) -> bool:
    """A mobile number read in E.164, and nothing that forbids writing to it (consent is
    checked apart: ``live_consent``)."""
    return (
        participant.anonymized_at is None
        and not participant.phone_to_check
        and is_mobile(participant.phone)
    )


def give_consent(participant: Participant, *, by: User) -> SmsConsent:
    """Record that the person agrees to SMS (they told ``by``); audited."""
    if participant.anonymized_at is not None:
        raise DomainError("Les données de cette personne ont été anonymisées.")
    if not can_receive_sms(participant):
        raise DomainError(
            "Il faut d'abord un numéro de portable valide (« Rectifier l'identité ») pour "
            "noter le consentement aux SMS."
        )
    if live_consent(participant) is not None:
        raise DomainError("Le consentement aux SMS est déjà noté.")
    consent = SmsConsent(participant_id=participant.id, given_by_id=by.id, given_at=now_utc())
    db.session.add(consent)
    db.session.flush()
    audit("sms.consent_given", consent, participant_id=participant.id, user=by)
    return consent


def withdraw_consent(participant: Participant, *, by: User | None,
                     how: ConsentWithdrawal = ConsentWithdrawal.ORGANIZER) -> bool:
    """End the person's consent (no SMS leaves afterwards); False when there was none."""
    consent = live_consent(participant)
    if consent is None:
        return False
    by_id = by.id if by else None  # read first: loading it must not flush a half-set row
    consent.withdrawn_at, consent.withdrawn_by_id, consent.withdrawn_how = now_utc(), by_id, how
    db.session.flush()
    audit("sms.consent_withdrawn", consent, participant_id=participant.id, user=by,
          details=how.label)
    return True


def consent_history(participant: Participant) -> list[SmsConsent]:
    """Every consent of the person, latest first."""
    return list(db.session.scalars(_CONSENTS_OF, {"participant_id": participant.id}))


# Built once, with bind parameters, as the SMS sent below (bench/README.md, « Statements built once »).
_CONSENTS_OF = (
    sa.select(SmsConsent).where(SmsConsent.participant_id == sa.bindparam("participant_id"))
    .order_by(SmsConsent.given_at.desc(), SmsConsent.id.desc())
)


# ---------------------------------------------------------------------------------------------
# Queueing


def _consenting() -> sa.ColumnElement[bool]:
    """Participants with a live consent (a condition on ``Participant``)."""
    return sa.exists().where(
        SmsConsent.participant_id == Participant.id, SmsConsent.withdrawn_at.is_(None)
    )


def queue_convocation_sms(enrollment: Enrollment) -> bool:
    """Queue the convocation's SMS beside the email or the letter (once per enrollment: a
    re-sent letter sends no second SMS); False when the person has no consent or number."""
    participant = enrollment.measure.participant
    if not can_receive_sms(participant) or live_consent(participant) is None:
        return False
    outbox.enqueue(CONVOCATION_KIND, [(f"{CONVOCATION_KIND}:{enrollment.id}", {"enrollment": enrollment.id})])
    return True


def due_sms_reminders(now: datetime, days: int) -> list[int]:
    """The enrollments owed the ``days``-day SMS reminder: summoned people of scheduled courses
    in the reminder's window (as the email's: ``reminders.due_reminders``) who consent and have
    a number, not reminded by SMS yet."""
    window_start = _midnight(now, 2) if days > 1 else now
    reminded = sa.select(SmsMessage.enrollment_id).where(
        SmsMessage.kind == REMINDER_KIND,
        SmsMessage.outbox_key.like(f"{REMINDER_KIND}:{days}:%"),
    )
    return list(db.session.scalars(
        sa.select(Enrollment.id)
        .join(Enrollment.course)
        .join(Enrollment.measure)
        .join(LegalMeasure.participant)
        .where(
            Enrollment.status.in_(SUMMONED_STATUSES),
            Course.status == CourseStatus.SCHEDULED,
            Course.starts_at > window_start,
            Course.starts_at < _midnight(now, days + 1),
            Participant.phone.is_not(None),
            Participant.phone_to_check.is_(False),
            Participant.anonymized_at.is_(None),
            _consenting(),
            Enrollment.id.not_in(reminded),
        )
    ))


def queue_sms_reminders(now: datetime) -> int:
    """Queue every SMS reminder due at ``now`` (flushes); how many are due."""
    due = 0
    for days, _column in REMINDERS:
        ids = due_sms_reminders(now, days)
        outbox.enqueue(REMINDER_KIND, (
            (f"{REMINDER_KIND}:{days}:{i}", {"enrollment": i, "days": days}) for i in ids
        ))
        due += len(ids)
    return due


def send_sms_reminders(now: datetime) -> dict[str, int]:
    """Queue the SMS reminders due at ``now`` and send every SMS reminder due (unless within
    the quiet hours: they leave when these end)."""
    due = queue_sms_reminders(now)
    db.session.commit()
    delivery = outbox.deliver(kinds=[REMINDER_KIND])
    return {
        "rappels SMS dus": due,
        "rappels SMS envoyés": delivery.sms_sent,
        "rappels SMS non envoyés": delivery.failed,
    }


# ---------------------------------------------------------------------------------------------
# Building, at send time, and recording


def _addressee(refs: dict) -> tuple[Enrollment, Participant] | None:
    """The enrollment an SMS is for, if it still calls for one: summoned to a scheduled course
    still to come, a consenting person with a mobile number."""
    enrollment = db.session.get(Enrollment, refs["enrollment"])
    if enrollment is None or enrollment.status not in SUMMONED_STATUSES:
        return None
    course, participant = enrollment.course, enrollment.measure.participant
    if course.status != CourseStatus.SCHEDULED or course.starts_at <= now_utc():
        return None
    if not can_receive_sms(participant) or live_consent(participant) is None:
        return None
    return enrollment, participant


def build_convocation_sms(refs: dict) -> OutgoingSms | None:
    """The convocation SMS, from today's data."""
    found = _addressee(refs)
    if found is None:
        return None
    enrollment, participant = found
    return OutgoingSms(participant.phone, sms_text(CONVOCATION, enrollment), CONVOCATION_KIND)


def build_reminder_sms(refs: dict) -> OutgoingSms | None:
    """The reminder SMS, « dans 7 jours » or « demain » as it is when sent."""
    found = _addressee(refs)
    if found is None:
        return None
    enrollment, participant = found
    zone = enrollment.course.venue.timezone
    days_left = (to_local(enrollment.course.starts_at, zone).date() - today_local(zone)).days
    if refs["days"] > 1 and days_left <= 1:
        return None  # sent late: the 1-day reminder covers it
    return OutgoingSms(participant.phone, sms_text(REMINDER, enrollment, days_left=days_left),
                       REMINDER_KIND)


def _recorder(kind: str):
    def record_sent(refs: dict, sent: SentSms) -> None:
        """Keep what the gateway answered (in the transaction recording the message as sent)."""
        key = f"{kind}:{refs['days']}:{refs['enrollment']}" if "days" in refs else f"{kind}:{refs['enrollment']}"
        db.session.add(SmsMessage(
            outbox_key=key, kind=kind, enrollment_id=refs["enrollment"],
            provider=sent.provider, provider_id=sent.provider_id[:80],
            encoding=sent.segments.encoding, segments=max(sent.segments.count, 1),
            sent_at=now_utc(), status=SmsStatus.SENT, status_at=now_utc(),
        ))
        db.session.flush()
        if kind == CONVOCATION_KIND:  # the summons' delivery proof (a reminder is not a summons)
            enrollment = db.session.get(Enrollment, refs["enrollment"])
            record_delivery(enrollment, DeliveryChannel.SMS, DeliveryStatus.ACCEPTED,
                            message_id=_proof_id(sent.provider, sent.provider_id))

    return record_sent


def _proof_id(provider: str, provider_id: str) -> str:
    """How a convocation SMS is named among the summons' delivery proofs: the gateway and its id."""
    return f"{provider}:{provider_id[:80]}"


# A receipt's final status, as the summons' delivery proof records it.
_PROOF_STATUSES = {
    SmsStatus.DELIVERED: DeliveryStatus.DELIVERED,
    SmsStatus.HARD_BOUNCE: DeliveryStatus.BOUNCED,
    SmsStatus.REJECTED: DeliveryStatus.REFUSED,
}


outbox.register_kind(CONVOCATION_KIND, "Convocations par SMS", build_convocation_sms,
                     _recorder(CONVOCATION_KIND), channel="sms")
outbox.register_kind(REMINDER_KIND, "Rappels de convocation par SMS", build_reminder_sms,
                     _recorder(REMINDER_KIND), channel="sms")


def convocation_preview(enrollment: Enrollment) -> tuple[str, Segments]:
    """The convocation SMS as it would leave now, and what it costs (« 2 SMS (Unicode) »)."""
    text = sms_text(CONVOCATION, enrollment)
    return text, count_segments(text)


def sms_sent_to(participant: Participant) -> list[SmsMessage]:
    """The SMS sent for the person's enrollments, latest first."""
    return list(db.session.scalars(_SENT_TO, {"participant_id": participant.id}))


_SENT_TO = (
    sa.select(SmsMessage)
    .join(Enrollment, Enrollment.id == SmsMessage.enrollment_id)
    .join(LegalMeasure, LegalMeasure.id == Enrollment.measure_id)
    .where(LegalMeasure.participant_id == sa.bindparam("participant_id"))
    .order_by(SmsMessage.sent_at.desc(), SmsMessage.id.desc())
)


# ---------------------------------------------------------------------------------------------
# The gateway's calls: receipts and replies

# Brevo's words (``msg_status`` or ``event``) → our statuses; others (« replied »…) change none.
GATEWAY_STATUSES = {
    "sent": SmsStatus.SENT,
    "accepted": SmsStatus.ACCEPTED,
    "delivered": SmsStatus.DELIVERED,
    "soft_bounce": SmsStatus.SOFT_BOUNCE, "softbounce": SmsStatus.SOFT_BOUNCE,
    "hard_bounce": SmsStatus.HARD_BOUNCE, "hardbounce": SmsStatus.HARD_BOUNCE,
    "rejected": SmsStatus.REJECTED, "blocked": SmsStatus.REJECTED,
}
# « STOP », « Stop SMS », « arrêt »: the French operators' opt-out words.
_STOP = re.compile(r"\s*(stop|arr[eê]t|arreter|arrêter|desabonner|désabonner)\b.*", re.I | re.S)


def record_receipt(provider: str, provider_id: str, status_word: str) -> bool:
    """Update an SMS's status from a receipt; False when no SMS or status matches (ignored)."""
    status = GATEWAY_STATUSES.get(status_word.strip().lower().replace("-", "_"))
    if status is None:
        return False
    message = db.session.scalar(
        sa.select(SmsMessage).where(SmsMessage.provider == provider, SmsMessage.provider_id == provider_id)
    )
    if message is None:
        return False
    if message.status in FINAL_STATUSES:
        return True  # receipts arrive out of order, or twice: the first final status stays
    message.status, message.status_at = status, now_utc()
    db.session.flush()
    if message.kind == CONVOCATION_KIND and status in _PROOF_STATUSES:
        record_delivery(db.session.get(Enrollment, message.enrollment_id), DeliveryChannel.SMS,
                        _PROOF_STATUSES[status], message_id=_proof_id(provider, provider_id),
                        detail=None if status == SmsStatus.DELIVERED else status.label)
    return True


def is_stop(text: str | None) -> bool:
    """Whether a reply asks for no more SMS."""
    return bool(text) and _STOP.fullmatch(text) is not None


def honour_stop(number: str) -> int:
    """Withdraw the consent of everyone with this number (a « STOP » reply); how many."""
    try:
        e164 = parse_phone(number if number.startswith(("+", "0")) else f"+{number}")
    except PhoneError:
        return 0
    people = list(db.session.scalars(
        sa.select(Participant).where(Participant.phone == e164, _consenting())
    ))
    for person in people:
        withdraw_consent(person, by=None, how=ConsentWithdrawal.STOP)
    return len(people)
