"""Participants and their legal measures: identity, duplicates, validation and search.

The validators return French messages, so the pages and the referral import show the same ones;
the services raise ``DomainError`` with them and flush, the caller commits.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from datetime import date

import sqlalchemy as sa

from stages.enrollment.frames import PEINE_STAGE_BASIS, legal_deadline
from stages.enrollment.ledger.services import open_accounts, sync_with_measure
from stages.enrollment.settings import default_deadline, default_fee
from stages.enrollment.sms.models import ConsentWithdrawal, SmsConsent
from stages.enrollment.models import (
    DecisionProcedure,
    LegalFrame,
    LegalMeasure,
    Participant,
    Payer,
    PaymentStatus,
)
from stages.auth.audit import audit
from stages.errors import DomainError
from stages.extensions import db
from stages.phones import PhoneError, parse_phone
from stages.scheduling.models import MAX_FEE_CENTS
from stages.auth.models import AUTHORITY_KINDS, Organization, OrganizationKind
from stages.timeutil import fr_date, now_utc, today_local


# ---------------------------------------------------------------------------------------------
# Participants and measures


def search_key(surname: str, first_names: str) -> str:
    """Lower-case, accent-free « surname first names », the participants' search index."""
    text = unicodedata.normalize("NFKD", f"{surname} {first_names}")
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).lower().split())


@dataclass
class ParticipantData:
    surname: str
    first_names: str
    birth_date: date | None
    birth_place: str | None = None
    address: str | None = None
    postal_code: str | None = None
    city: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass
class MeasureData:
    frame: LegalFrame
    authority: Organization
    case_reference: str
    decision_date: date
    # None: the one the law gives (peine de stage only; see ``settle_deadline``).
    deadline: date | None
    handling_organization: Organization | None = None
    facts_date: date | None = None
    final_date: date | None = None
    # None: the handling association's fee for the frame (its « Paramètres »), else 0.
    fee_cents: int | None = 0
    payer: Payer = Payer.PARTICIPANT
    payment_status: PaymentStatus = PaymentStatus.DUE
    certificate_recipient: str | None = None
    procedure: DecisionProcedure | None = None
    penalty_set_in_advance: bool | None = None
    # Why the deadline is not the legal one (peine de stage).
    deadline_reason: str | None = None


def settle_deadline(data: MeasureData) -> date | None:
    """Fill in the legal deadline when none was typed, and forget a reason that no longer
    explains anything (the deadline is the legal one, or the frame has none); returns the legal
    deadline, None for a frame whose decision sets it."""
    legal = legal_deadline(data.frame, data.decision_date, data.final_date)
    if data.deadline is None:
        data.deadline = legal or default_deadline(data.authority, data.frame, data.decision_date)
    if data.fee_cents is None:
        data.fee_cents = default_fee(data.handling_organization, data.frame) or 0
    if legal is None or data.deadline == legal:
        data.deadline_reason = None
    elif data.deadline_reason is not None:
        data.deadline_reason = data.deadline_reason.strip() or None
    return legal


def validate_participant(data: ParticipantData, today: date | None = None) -> list[str]:
    """French messages for each identity rule broken."""
    today = today or today_local()
    errors = []
    if not data.surname.strip():
        errors.append("Le nom est obligatoire.")
    if not data.first_names.strip():
        errors.append("Le prénom est obligatoire.")
    try:
        parse_phone(data.phone)
    except PhoneError as error:
        errors.append(error.message)
    if data.birth_date is not None:
        age = (today - data.birth_date).days / 365.25
        if age < 13 or age > 110:
            errors.append(
                "La date de naissance n'est pas plausible (la personne aurait "
                f"{int(age)} ans)." if age >= 0 else "La date de naissance est dans le futur."
            )
    return errors


def validate_measure(data: MeasureData) -> list[str]:
    """French messages for each rule of a legal measure broken."""
    errors = []
    if data.authority is None or data.authority.kind not in AUTHORITY_KINDS:
        errors.append("L'autorité prescriptrice doit être un parquet, un tribunal ou un SPIP.")
    if data.handling_organization is not None and (
        data.handling_organization.kind != OrganizationKind.ASSOCIATION
    ):
        errors.append("L'association chargée du stage doit être une association.")
    if not data.case_reference.strip():
        errors.append("Le numéro de parquet (référence de la procédure) est obligatoire.")
    legal = legal_deadline(data.frame, data.decision_date, data.final_date)
    deadline = data.deadline or legal or default_deadline(data.authority, data.frame, data.decision_date)
    if deadline is None:
        errors.append("La date limite est obligatoire : seule celle d'une peine de stage se calcule, "
                      "ou celle d'une autorité qui a réglé son délai habituel pour ce cadre.")
    elif deadline < data.decision_date:
        errors.append("La date limite doit suivre la date de la décision.")
    elif legal is not None and deadline != legal and not (data.deadline_reason or "").strip():
        errors.append(
            f"La date limite diffère du délai légal, {PEINE_STAGE_BASIS}, soit le "
            f"{fr_date(legal)} : indiquez le motif, ou laissez-la vide pour la calculer."
        )
    if data.procedure is not None and data.frame != LegalFrame.STAGE_CONTRAVENTION:
        errors.append("La procédure (ordonnance pénale ou jugement) ne concerne que la peine complémentaire de stage.")
    if data.penalty_set_in_advance is not None and data.frame != LegalFrame.PEINE_STAGE:
        errors.append("La peine fixée par avance ne concerne que la peine de stage.")
    if data.facts_date and data.facts_date > data.decision_date:
        errors.append("La date des faits doit précéder la date de la décision.")
    if data.final_date and data.final_date < data.decision_date:
        errors.append("La date à laquelle la décision est devenue définitive suit la décision.")
    if data.fee_cents is not None and not 0 <= data.fee_cents <= MAX_FEE_CENTS:
        errors.append("Le montant du stage doit être compris entre 0 et 450 €.")
    return errors


def find_duplicates(
    surname: str, first_names: str, birth_date: date | None, within: sa.Select | None = None
) -> list[Participant]:
    """People on file with the same surname, first names and birth date (accent-blind).

    ``within`` (a SELECT of participant ids) limits the search to what the user may see:
    offering someone else's file would reveal that it exists.
    """
    if birth_date is None:
        return []
    query = sa.select(Participant).where(
        Participant.search_key == search_key(surname, first_names),
        Participant.birth_date == birth_date,
        Participant.anonymized_at.is_(None),
    )
    if within is not None:
        query = query.where(Participant.id.in_(within))
    return list(db.session.scalars(query))


def create_participant(data: ParticipantData) -> Participant:
    """Add a person; the caller has offered the duplicates found by ``find_duplicates``."""
    errors = validate_participant(data)
    if errors:
        raise DomainError(" ".join(errors))
    participant = Participant(**_clean(data.__dict__))
    participant.phone = parse_phone(data.phone)
    participant.surname = participant.surname.upper()
    participant.search_key = search_key(participant.surname, participant.first_names)
    db.session.add(participant)
    db.session.flush()
    return participant


def update_participant(participant: Participant, data: ParticipantData) -> None:
    """Rectify a person's identity."""
    if participant.anonymized_at is not None:
        raise DomainError("Les données de cette personne ont été anonymisées.")
    kept = participant.phone_to_check and (data.phone or "").strip() == participant.phone
    if kept:
        data = replace(data, phone=None)  # a number « à vérifier » left as it was stays so
    errors = validate_participant(data)
    if errors:
        raise DomainError(" ".join(errors))
    values = _clean(data.__dict__)
    values["phone"] = participant.phone if kept else parse_phone(data.phone)
    if values["phone"] != participant.phone:
        _end_sms_consent(participant)
    participant.phone_to_check = kept
    for key, value in values.items():
        setattr(participant, key, value)
    participant.surname = participant.surname.upper()
    participant.search_key = search_key(participant.surname, participant.first_names)
    db.session.flush()
    audit("participant.rectified", participant, participant_id=participant.id)


def _end_sms_consent(participant: Participant) -> None:
    """A new number (or none): the consent given for the old one ends; audited."""
    consent = db.session.scalar(sa.select(SmsConsent).where(
        SmsConsent.participant_id == participant.id, SmsConsent.withdrawn_at.is_(None)
    ))
    if consent is None:
        return
    consent.withdrawn_at, consent.withdrawn_how = now_utc(), ConsentWithdrawal.NUMBER_CHANGED
    audit("sms.consent_withdrawn", consent, participant_id=participant.id,
          details=ConsentWithdrawal.NUMBER_CHANGED.label)


def _clean(values: dict) -> dict:
    return {k: (v.strip() or None) if isinstance(v, str) else v for k, v in values.items()}


def add_measure(participant: Participant, data: MeasureData, import_key: str | None = None,
                open_account: bool = True) -> LegalMeasure:
    """Attach a new legal measure to a participant (one person may have several over time).

    Audited, but for a measure imported from a list (``import_key``): the import audits itself,
    once for the list. Its fee opens its account in the ledger, unless ``open_account`` is
    False: the import opens those of the whole list at once (``ledger.services.open_accounts``)."""
    errors = validate_measure(data)
    if errors:
        raise DomainError(" ".join(errors))
    legal = settle_deadline(data)
    values = _clean(data.__dict__)
    values["case_reference"] = data.case_reference.strip()
    measure = LegalMeasure(participant=participant, import_key=import_key, **values)
    db.session.add(measure)
    db.session.flush()
    if open_account:
        open_accounts([measure])  # its amount charged in the ledger, a status chosen as an entry
    if import_key is None:
        audit("measure.created", measure, participant_id=participant.id)
    _audit_deadline(measure, legal, None)
    return measure


def _audit_deadline(measure: LegalMeasure, legal: date | None, previous: tuple | None) -> None:
    """A deadline set against the legal one is audited, with both dates (the reason stays on
    the measure: free text may name people, the log must not)."""
    if measure.deadline_reason is None or previous == (measure.deadline, measure.deadline_reason):
        return
    audit(
        "measure.deadline_set", measure, participant_id=measure.participant_id,
        details=f"date limite du {fr_date(measure.deadline)} au lieu du {fr_date(legal)} (délai légal)",
    )


def update_measure(measure: LegalMeasure, data: MeasureData) -> None:
    """Correct a measure's references, dates or fee."""
    errors = validate_measure(data)
    if errors:
        raise DomainError(" ".join(errors))
    legal = settle_deadline(data)
    previous = (measure.deadline, measure.deadline_reason)
    previous_status = measure.payment_status
    for key, value in _clean(data.__dict__).items():
        setattr(measure, key, value)
    db.session.flush()
    sync_with_measure(measure, previous_status)
    audit("measure.saved", measure, participant_id=measure.participant_id)
    _audit_deadline(measure, legal, previous)


def measure_search_condition(q: str) -> sa.ColumnElement[bool]:
    """An exact case reference when the text holds a digit, else a name prefix.

    Case references always carry digits and names never do, so one indexed condition answers
    each search: an equality on ``case_reference`` or a range on ``participants.search_key``.
    An OR of both would stop PostgreSQL from using either index on a national table.
    """
    if any(character.isdigit() for character in q):
        return LegalMeasure.case_reference == q
    key = search_key(q, "")
    # correlate(None): the page query joins participants, yet this lookup stands alone.
    return LegalMeasure.participant_id.in_(
        sa.select(Participant.id)
        .where(Participant.search_key >= key, Participant.search_key < key + "\uffff")
        .correlate(None)
    )
