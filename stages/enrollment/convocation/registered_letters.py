"""Registered letters with avis de réception: an organizer records the La Poste number of the
convocation posted, then the date printed on the avis de réception once it comes back."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from stages.auth.audit import audit
from stages.auth.models import User
from stages.enrollment.convocation.delivery import (
    DeliveryChannel,
    DeliveryStatus,
    SummonsDelivery,
    normalize_letter_number,
    record_delivery,
)
from stages.enrollment.convocation.sending import mark_summoned_by_registered_letter
from stages.enrollment.models import Enrollment
from stages.errors import DomainError
from stages.extensions import db
from stages.timeutil import to_local, today_local


def record_registered_letter(enrollment: Enrollment, raw_number: str, *, by: User) -> SummonsDelivery:
    """An organizer posted the convocation by registered letter with AR: its number, checked and
    normalized; the person becomes « convoqué·e » if not yet. Audited."""
    number = normalize_letter_number(raw_number)
    if db.session.scalar(
        sa.select(SummonsDelivery.id).where(
            SummonsDelivery.letter_number == number, SummonsDelivery.status == DeliveryStatus.POSTED
        )
    ) is not None:
        raise DomainError("Ce numéro de lettre recommandée est déjà enregistré.")
    mark_summoned_by_registered_letter(enrollment, by=by)
    delivery = record_delivery(
        enrollment, DeliveryChannel.REGISTERED_LETTER, DeliveryStatus.POSTED,
        letter_number=number, by=by,
    )
    audit("convocation.registered_letter", enrollment, participant_id=enrollment.measure.participant_id,
          user=by)
    return delivery


def record_acknowledgement(
    enrollment: Enrollment, letter_id: int | None, received_on: date, *, by: User
) -> SummonsDelivery:
    """The date on the avis de réception of one of ``enrollment``'s registered letters: not
    before it was posted, not in the future, once per letter. Audited."""
    letter = db.session.get(SummonsDelivery, letter_id) if letter_id and 0 < letter_id < 2**31 else None
    if (
        letter is None or letter.enrollment_id != enrollment.id
        or letter.channel != DeliveryChannel.REGISTERED_LETTER or letter.status != DeliveryStatus.POSTED
    ):
        raise DomainError("Cette lettre recommandée n'existe pas pour cette inscription.")
    zone = enrollment.course.venue.timezone
    if received_on < to_local(letter.at, zone).date():
        raise DomainError("L'avis de réception ne peut pas précéder l'envoi de la lettre.")
    if received_on > today_local(zone):
        raise DomainError("La date de l'avis de réception ne peut pas être dans le futur.")
    if db.session.scalar(
        sa.select(SummonsDelivery.id).where(
            SummonsDelivery.letter_number == letter.letter_number,
            SummonsDelivery.status == DeliveryStatus.ACKNOWLEDGED,
        )
    ) is not None:
        raise DomainError("L'avis de réception de cette lettre est déjà enregistré.")
    delivery = record_delivery(
        enrollment, DeliveryChannel.REGISTERED_LETTER, DeliveryStatus.ACKNOWLEDGED,
        letter_number=letter.letter_number, acknowledged_on=received_on, by=by,
    )
    audit("convocation.acknowledged", enrollment, participant_id=enrollment.measure.participant_id,
          user=by)
    return delivery
