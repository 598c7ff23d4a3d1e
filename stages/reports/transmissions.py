"""Transmissions of reports to a referring authority: what was sent, by email, to whom, with
which exact files, and whether the authority acknowledged it.

Any area sends a document to an authority the same way (bilans here; non-execution reports
and monthly summaries beside them):

1. at import time, ``register_document(kind, build=..., on_sent=...)`` says how to build the
   document's files from a transmission (its ``refs``) in the authority's formats, and what to
   record once the mail server accepted it (« bilan transmis » on the measures);
2. ``request_transmission(authority, kind, refs, by=user)`` adds a ``ReportTransmission`` row
   (« à envoyer ») and queues its email in the outbox, in the caller's transaction;
3. once committed, ``deliver_transmission(transmission)`` sends it at once (a page, so that the
   user sees « transmis » or the French error); otherwise the outbox's job sends it. Exactly once
   across two schedulers or two clicks: the outbox claims it, and a request names which
   transmission of the document it is (``number``), so two identical requests make one row.

The email is built when sent, from the current data: the files are produced then, and the
SHA-256, name and size of each file **as attached** are recorded with the mail server's answer —
accepted (its Message-ID, the time) or refused (the SMTP class and code, never its reply). A
refusal ends that transmission (« échec de l'envoi »): sending again is a new transmission, so
the history keeps every attempt with its hashes. A bounce read later (``flask stages
mail-bounces``) marks it « rejeté ».

Its subject carries no personal data (the kind, the date, the authority); the body says the
file holds personal data, and gives a signed link to acknowledge receipt (``acknowledgment_url``:
a public page showing the document's number, date and authority only; POST acknowledges, GET
never does, since mail scanners follow links). The authority's liaison may acknowledge in the
application too.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from stages import outbox
from stages.auth.audit import audit
from stages.auth.models import Organization, User
from stages.enrollment.convocation.bounces import register_reader
from stages.enrollment.convocation.sending import refusal_detail
from stages.enrollment.models import (
    DEFAULT_ACKNOWLEDGMENT_DAYS,
    AuthorityReporting,
    FrameDefault,
    LegalFrame,
    ReportFormat,
)
from stages.errors import DomainError
from stages.extensions import db
from stages.mail import MailError, build_message
from stages.reports.models import (
    AcknowledgmentChannel,
    ReportTransmission,
    TransmissionKind,
    TransmissionStatus,
    TransmittedFile,
)
from stages.public_url import public_base_url
from stages.timeutil import fr_date, now_utc

OUTBOX_KIND = "report_transmission"
ACKNOWLEDGMENT_SALT = "report-transmission-acknowledgment"
# The list's filter (« ?etat=sans-accuse ») of the transmissions not acknowledged in time.
OVERDUE = "sans-accuse"


# ---------------------------------------------------------------------------------------------
# The documents, registered by the areas that send them


@dataclass(frozen=True)
class ReportFile:
    filename: str
    content: bytes
    mimetype: str


@dataclass(frozen=True)
class ReportDocument:
    """What a document's builder returns. ``title`` goes into the subject: no personal data
    (« Bilan du stage du 12 mars 2027 »). ``frame``: the document is about measures of one legal
    frame only, so that frame's mailbox is used if the authority set one."""

    title: str
    files: list[ReportFile]
    frame: LegalFrame | None = None
    lines: list[str] = field(default_factory=list)  # extra lines of the body, no personal data


@dataclass(frozen=True)
class Document:
    kind: TransmissionKind
    build: Callable[[ReportTransmission, tuple[str, ...]], ReportDocument | None]
    on_sent: Callable[[ReportTransmission], None] | None = None
    on_requested: Callable[[ReportTransmission], None] | None = None


DOCUMENTS: dict[TransmissionKind, Document] = {}


def register_document(
    kind: TransmissionKind | str,
    *,
    build: Callable[[ReportTransmission, tuple[str, ...]], ReportDocument | None],
    on_sent: Callable[[ReportTransmission], None] | None = None,
    on_requested: Callable[[ReportTransmission], None] | None = None,
) -> None:
    """Declare how a kind of document is sent (at import time, from its area).

    ``build(transmission, formats)`` returns the ``ReportDocument`` for ``transmission.refs`` in
    ``formats`` (« pdf », « csv » or both, the authority's choice), or None when it no longer
    applies (the message is then dropped unsent). It is called when the email is sent, maybe
    again on a retry after a crash. ``on_sent(transmission)`` runs in the transaction that
    records the mail server's acceptance; ``on_requested(transmission)`` in the requester's."""
    kind = TransmissionKind(kind)
    DOCUMENTS[kind] = Document(kind, build, on_sent, on_requested)


def document_key(refs: dict) -> str:
    """The canonical text of ``refs``: « {"course": 12} »."""
    return json.dumps(refs, sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------
# The authority's settings


def reporting_settings(authority: Organization) -> AuthorityReporting:
    """The authority's settings, or the defaults (no mailbox, PDF, 10 days)."""
    row = db.session.get(AuthorityReporting, authority.id)
    return row or AuthorityReporting(organization_id=authority.id, report_email=None,
                                     report_format=ReportFormat.PDF,
                                     acknowledgment_days=DEFAULT_ACKNOWLEDGMENT_DAYS)


def report_address(authority: Organization, frame: LegalFrame | None = None) -> str | None:
    """The mailbox for a document of ``frame`` (that frame's, else the general one)."""
    if frame is not None:
        address = db.session.scalar(sa.select(FrameDefault.report_email).where(
            FrameDefault.organization_id == authority.id, FrameDefault.frame == frame))
        if address:
            return address
    return reporting_settings(authority).report_email


def check_can_transmit(authority: Organization) -> None:
    """A French refusal when the authority has no general mailbox set."""
    if not report_address(authority):
        raise DomainError(
            f"Aucune adresse de transmission n'est renseignée pour « {authority.name} » : un "
            "administrateur la saisit dans les paramètres de l'autorité."
        )


# ---------------------------------------------------------------------------------------------
# Requesting and delivering


def next_number(authority_id: int, kind: TransmissionKind | str, refs: dict) -> int:
    """The number the next transmission of this document to this authority will carry."""
    latest = db.session.scalar(sa.select(sa.func.max(ReportTransmission.number)).where(
        ReportTransmission.authority_id == authority_id, ReportTransmission.kind == TransmissionKind(kind),
        ReportTransmission.document_key == document_key(refs)))
    return (latest or 0) + 1


def request_transmission(
    authority: Organization,
    kind: TransmissionKind | str,
    refs: dict,
    *,
    by: User | None,
    sender: Organization | None = None,
    number: int | None = None,
) -> ReportTransmission:
    """Queue the document ``refs`` of ``kind`` for ``authority``; flushes, the caller commits,
    then calls ``deliver_transmission`` (or lets the outbox job send it).

    ``number`` names which transmission of the document this is (1: the first). Two identical
    requests with the same number make one row and one email: a job passes 1 (« once »), a page
    the number it showed (``next_number``). None: the next one, a deliberate re-send. Returns the
    row — the existing one when that number was already requested (compare ``requested_by``).
    Raises DomainError (French) when the authority has no mailbox or the kind is unknown.
    """
    kind = TransmissionKind(kind)
    if kind not in DOCUMENTS:
        raise DomainError("Ce type de document ne peut pas être transmis.")
    check_can_transmit(authority)
    key = document_key(refs)
    number = number if number is not None else next_number(authority.id, kind, refs)
    if number < 1:
        raise DomainError("Numéro de transmission invalide.")
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    new_id = db.session.execute(
        insert(ReportTransmission).values(
            authority_id=authority.id, sender_id=sender.id if sender else None, kind=kind, refs=refs,
            document_key=key, number=number, requested_by_id=by.id if by else None,
            requested_at=now_utc(), status=TransmissionStatus.QUEUED,
        ).on_conflict_do_nothing().returning(ReportTransmission.id)
    ).scalar()
    transmission = db.session.scalar(sa.select(ReportTransmission).where(
        ReportTransmission.authority_id == authority.id, ReportTransmission.kind == kind,
        ReportTransmission.document_key == key, ReportTransmission.number == number))
    if new_id is None:
        return transmission  # requested by someone else meanwhile: one email only
    outbox.enqueue(OUTBOX_KIND, [(outbox_key(transmission), {"transmission": transmission.id})])
    document = DOCUMENTS[kind]
    if document.on_requested is not None:
        document.on_requested(transmission)
    audit("transmission.requested", transmission,
          details=f"{kind.label}, autorité n° {authority.id}, envoi n° {number}", user=by)
    db.session.flush()
    return transmission


def outbox_key(transmission: ReportTransmission) -> str:
    return f"{OUTBOX_KIND}:{transmission.id}"


def deliver_transmission(transmission: ReportTransmission) -> ReportTransmission:
    """Send a committed transmission now (commits); the row as it stands after the attempt:
    « transmis », « échec de l'envoi » with ``refusal``, or still « à envoyer » when another
    process holds it or it could not be built (the outbox job retries then)."""
    transmission_id = transmission.id
    outbox.deliver(keys=[outbox_key(transmission)])
    db.session.expire_all()
    return db.session.get(ReportTransmission, transmission_id)


def transmission_history(authority_id: int, kind: TransmissionKind | str, refs: dict) -> list[ReportTransmission]:
    """Every transmission of a document to an authority, the latest first (one query)."""
    return list(db.session.scalars(
        sa.select(ReportTransmission)
        .where(ReportTransmission.authority_id == authority_id,
               ReportTransmission.kind == TransmissionKind(kind),
               ReportTransmission.document_key == document_key(refs))
        .order_by(ReportTransmission.number.desc())
    ))


# ---------------------------------------------------------------------------------------------
# The outbox's message


# The files built for a transmission, by id, from ``build`` to the record of the server's answer
# (the outbox rolls back in between on a refusal).
_attached: dict[int, tuple[str, list[ReportFile]]] = {}


def _queued(refs: dict) -> ReportTransmission | None:
    transmission = db.session.get(ReportTransmission, refs.get("transmission"))
    if transmission is None or transmission.status != TransmissionStatus.QUEUED:
        return None
    return transmission


def build_transmission_email(refs: dict) -> EmailMessage | None:
    """The email of a queued transmission, its files built now; None when it no longer applies."""
    transmission = _queued(refs)
    if transmission is None:
        return None
    authority = transmission.authority
    formats = reporting_settings(authority).report_format.extensions
    document = DOCUMENTS[transmission.kind].build(transmission, formats)
    if document is None or not document.files:
        return None
    address = report_address(authority, document.frame)
    if address is None:
        return None
    _attached[transmission.id] = (address, list(document.files))
    subject = f"{document.title} — {authority.name}"
    if transmission.number > 1:
        subject += f" (envoi n° {transmission.number})"
    message = build_message(address, subject, _body(transmission, document),
                            [(f.filename, f.content, f.mimetype) for f in document.files])
    return message


def _body(transmission: ReportTransmission, document: ReportDocument) -> str:
    lines = [
        "Bonjour,",
        "",
        f"Veuillez trouver ci-joint : {document.title}, à l'attention de {transmission.authority.name} "
        f"(transmission {transmission.reference}).",
        *document.lines,
        "",
        "Le fichier joint contient des données personnelles relevant d'une procédure pénale : il est "
        "confidentiel et ne doit être communiqué qu'aux personnes habilitées à en connaître.",
        "",
        "Fichiers joints (empreinte SHA-256) :",
        *(f"- {f.filename} ({len(f.content)} octets) : {hashlib.sha256(f.content).hexdigest()}"
          for f in document.files),
        "",
        "Merci d'accuser réception de cette transmission en ouvrant le lien suivant puis en "
        "cliquant sur « J'accuse réception » :",
        acknowledgment_url(transmission),
        "",
        "Vous pouvez aussi en accuser réception dans l'application, rubrique « Transmissions reçues ».",
    ]
    return "\n".join(lines) + "\n"


def _record_files(transmission: ReportTransmission) -> None:
    """The address and the files as built for this attempt (nothing if built by another process
    that crashed: then the record says only that it was sent)."""
    address, files = _attached.pop(transmission.id, (None, []))
    transmission.recipients = address or transmission.recipients
    if transmission.files:
        return
    for item in files:
        transmission.files.append(TransmittedFile(
            filename=item.filename[:200], mimetype=item.mimetype[:100], size=len(item.content),
            sha256=hashlib.sha256(item.content).hexdigest(),
        ))


def record_transmission_accepted(refs: dict, message_id: str) -> None:
    """The mail server took it: « transmis », the Message-ID, the files' hashes, and what the
    document's area records (the measures « bilan transmis »)."""
    transmission = _queued(refs)
    if transmission is None:
        return
    transmission.status = TransmissionStatus.SENT
    transmission.sent_at = now_utc()
    transmission.message_id = message_id
    _record_files(transmission)
    document = DOCUMENTS.get(transmission.kind)
    if document is not None and document.on_sent is not None:
        document.on_sent(transmission)
    audit("transmission.sent", transmission, details=f"{transmission.kind.label}, envoi n° {transmission.number}")
    db.session.flush()


def record_transmission_refused(refs: dict, message_id: str | None, error: MailError) -> None:
    """The mail server refused it: « échec de l'envoi » with the SMTP class and code (a new
    « Transmettre » makes a new transmission; this one is never retried)."""
    transmission = _queued(refs)
    if transmission is None:
        return
    transmission.status = TransmissionStatus.FAILED
    transmission.message_id = message_id
    transmission.refusal = f"{error.message} ({refusal_detail(error)})"[:300]
    code = getattr(error.__cause__, "smtp_code", None)
    transmission.refusal_code = code if isinstance(code, int) else None
    _record_files(transmission)
    db.session.flush()


outbox.register_kind(OUTBOX_KIND, "Transmissions aux autorités", build_transmission_email,
                     on_accepted=record_transmission_accepted, on_refused=record_transmission_refused)


def _record_bounce(report) -> str | None:
    """A DSN about a transmission: « rejeté » once (a delay or a delivery is only counted)."""
    transmission = db.session.scalar(
        sa.select(ReportTransmission).where(ReportTransmission.message_id == report.message_id).limit(1))
    if transmission is None:
        return None
    if report.action != "failed":
        return "delayed" if report.action == "delayed" else "delivered"
    if transmission.status == TransmissionStatus.BOUNCED:
        return "already"
    transmission.status = TransmissionStatus.BOUNCED
    transmission.refusal = (" — ".join(item for item in ("Courriel rejeté (bounce)", report.status) if item))[:300]
    audit("transmission.bounced", transmission, details=f"{transmission.kind.label}, envoi n° {transmission.number}")
    db.session.flush()
    return "bounced"


register_reader(_record_bounce)


# ---------------------------------------------------------------------------------------------
# Acknowledgment


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=ACKNOWLEDGMENT_SALT)


def acknowledgment_token(transmission: ReportTransmission) -> str:
    """The signed token of the email's link (the transmission's id and its document)."""
    return _serializer().dumps([transmission.id, transmission.number])


def acknowledgment_url(transmission: ReportTransmission) -> str:
    return f"{public_base_url()}/transmissions/accuse-reception/{acknowledgment_token(transmission)}"


def transmission_from_token(token: str) -> ReportTransmission:
    """The transmission a link names; DomainError (French) when the signature is bad or names
    no transmission, audited (in the caller's transaction: it commits the refusal too)."""
    transmission = None
    try:
        transmission_id, number = _serializer().loads(token)
        if isinstance(transmission_id, int) and not isinstance(transmission_id, bool) and 0 < transmission_id < 2**31:
            transmission = db.session.get(ReportTransmission, transmission_id)
        if transmission is not None and transmission.number != number:
            transmission = None
    except (BadSignature, ValueError, TypeError, OverflowError):
        transmission = None
    if transmission is None:
        audit("transmission.link_refused", None, details="signature invalide ou transmission inconnue", user=None)
        raise DomainError("Ce lien d'accusé de réception n'est pas valide.")
    return transmission


def acknowledge(transmission: ReportTransmission, *, by: User | None, via: AcknowledgmentChannel) -> bool:
    """Record the authority's acknowledgment once (a conditional UPDATE: two clicks record one);
    False when it was already acknowledged. Flushes, the caller commits."""
    if transmission.status not in (TransmissionStatus.SENT, TransmissionStatus.BOUNCED):
        raise DomainError("Cette transmission n'a pas été envoyée : il n'y a rien à accuser.")
    result = db.session.execute(
        sa.update(ReportTransmission)
        .where(ReportTransmission.id == transmission.id, ReportTransmission.acknowledged_at.is_(None))
        .values(acknowledged_at=now_utc(), acknowledged_by_id=by.id if by else None, acknowledged_via=via)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(transmission)
    if result.rowcount != 1:
        return False
    audit("transmission.acknowledged", transmission, details=f"{transmission.kind.label}, {via.label}", user=by)
    db.session.flush()
    return True


# ---------------------------------------------------------------------------------------------
# Overdue acknowledgments


def _overdue_condition(now: datetime) -> sa.ColumnElement[bool]:
    """Sent, not acknowledged, and older than its authority's delay: one query for the few
    authorities whose delay is not the default, whatever the number of transmissions."""
    by_days: dict[int, list[int]] = {}
    for authority_id, days in db.session.execute(
        sa.select(AuthorityReporting.organization_id, AuthorityReporting.acknowledgment_days)
        .where(AuthorityReporting.acknowledgment_days != DEFAULT_ACKNOWLEDGMENT_DAYS)
    ):
        by_days.setdefault(days, []).append(authority_id)
    special = [authority_id for ids in by_days.values() for authority_id in ids]
    late = [sa.and_(ReportTransmission.authority_id.not_in(special),
                    ReportTransmission.sent_at < now - timedelta(days=DEFAULT_ACKNOWLEDGMENT_DAYS))]
    late += [sa.and_(ReportTransmission.authority_id.in_(ids), ReportTransmission.sent_at < now - timedelta(days=days))
             for days, ids in sorted(by_days.items())]
    return sa.and_(
        ReportTransmission.status == TransmissionStatus.SENT,
        ReportTransmission.acknowledged_at.is_(None),
        sa.or_(*late),
    )


def overdue_transmissions(query: sa.Select, now: datetime | None = None) -> sa.Select:
    """``query`` (of ReportTransmission) narrowed to those sent more than the authority's days
    ago and not acknowledged."""
    return query.where(_overdue_condition(now or now_utc()))


def transmission_date(transmission: ReportTransmission) -> str:
    moment = transmission.sent_at or transmission.requested_at
    return fr_date(moment)
