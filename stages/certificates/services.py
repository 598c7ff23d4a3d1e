"""Attestations de stage: issuing, numbering, the PDF and its fingerprint, revocation, checks.

Rules (DOMAIN.md): an attestation is issued only for an enrollment that is ATTENDED in a CLOSED
session, once; a revoked attestation may be replaced by an *attestation rectificative* (a new
number and code, naming the one it replaces), so that an enrollment has at most one valid
attestation at a time. It states the hours actually attended (from the attendance marks); it
carries a number ``YYYY-NNNNN`` (year of issue in the application's zone, Europe/Paris) and a
random verification code printed under a QR code that leads to the public verification page.

Numbering under concurrency. The next number is ``max(sequence) + 1`` for the year, read inside
the issuing transaction *after* taking a per-year lock, so two organizers issuing at once queue up
instead of drawing the same number:

- PostgreSQL: ``pg_advisory_xact_lock(namespace, year)``. A ``SELECT … FOR UPDATE`` cannot do it:
  there is no row to lock for the first attestation of a year, and ``FOR UPDATE`` refuses
  aggregates. The advisory lock needs no schema change and is released by COMMIT or ROLLBACK; under
  READ COMMITTED the ``max()`` that follows sees what the previous holder committed.
- SQLite: one writer at a time for the whole database. A no-op UPDATE takes the write lock before
  ``max()`` is read, so no other transaction can commit a number in between. The lock lasts until
  the caller commits, PDFs included (~10–20 ms each): a fraction of a second for a session of
  5 to 15 people, well under the 10 s busy timeout other writers wait.

The unique (year, sequence) constraint stays the last guard: if anything slipped through (another
isolation level, a manual insert), the flush fails with IntegrityError, the caller rolls the
whole action back and may retry it — no savepoint, which SQLite handles poorly.

The PDF is not stored: ``certificate_pdf`` regenerates it from the database, byte for byte, and
its SHA-256 is kept in ``Certificate.sha256`` to prove it. Regeneration reads the participant's
identity, the measure, the session and the signatory as they are *now*: a later rectification
(name, organization renamed, BASE_URL changed) changes the bytes, which ``pdf_matches`` reveals.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from stages.attendance.models import AttendanceMark
from stages.attendance.services import attended_minutes, marks_by_key
from stages.auth.models import User
from stages.certificates.models import Certificate
from stages.certificates.pdf import CertificateDocument, render_certificate
from stages.enrollment.models import (
    Enrollment,
    EnrollmentStatus,
    LegalMeasure,
    MeasureStatus,
    Participant,
)
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import CourseSession, Organization, OrganizationKind, SessionStatus
from stages.timeutil import fr_date, fr_time, now_utc, to_local

logger = logging.getLogger(__name__)

# Crockford's base32: digits and capitals without I, L, O, U, so a code read aloud or retyped
# from paper is unambiguous; on input O is read as 0 and I or L as 1.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
CODE_BITS = 80  # 16 symbols × 5 bits, all from secrets.token_bytes
_CODE_INPUT_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CODE_SEPARATORS = str.maketrans("", "", " -_.\u00a0\u202f\t")
# Longest text accepted as a code before even trying to read it.
MAX_CODE_INPUT = 64
# First key of the PostgreSQL advisory lock that serializes numbering (the second is the year).
_NUMBERING_LOCK = 0x53544147  # "STAG"


# ---------------------------------------------------------------------------------------------
# Verification codes


def new_verification_code() -> str:
    """16 symbols of Crockford base32 drawn from 80 random bits (``secrets``)."""
    value = int.from_bytes(secrets.token_bytes(CODE_BITS // 8), "big")
    return "".join(
        CODE_ALPHABET[(value >> (5 * index)) & 31] for index in reversed(range(CODE_LENGTH))
    )


def format_code(code: str) -> str:
    """The stored code grouped by four for reading: ``ABCD-EFGH-JKMN-PQRS``."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalize_code(raw: str | None) -> str | None:
    """The stored form of a typed or scanned code, or None when it cannot be one.

    Case, spaces and dashes do not matter; O, I and L are read as 0, 1 and 1.
    """
    if not raw or len(raw) > MAX_CODE_INPUT:
        return None
    code = raw.translate(_CODE_SEPARATORS).upper().translate(_CODE_INPUT_ALIASES)
    if len(code) != CODE_LENGTH or any(char not in CODE_ALPHABET for char in code):
        return None
    return code


def verification_url(code: str) -> str:
    """The public URL behind the QR code."""
    return f"{_base_url()}/verification/{format_code(code)}"


def _base_url() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


# ---------------------------------------------------------------------------------------------
# Issuing


def issue_certificate(enrollment: Enrollment, *, by: User) -> Certificate:
    """Issue the attestation of one ATTENDED enrollment of a CLOSED session; flushes."""
    session = enrollment.session
    _check_session(session)
    # Lock first: the "no attestation yet" check then sees what a concurrent issuer committed.
    numbering = _Numbering.locked()
    _check_enrollment(enrollment)
    minutes = _minutes_by_enrollment(session, [enrollment])[enrollment.id]
    certificate = _issue(enrollment, minutes, by, numbering)
    db.session.flush()
    return certificate


def replace_certificate(revoked: Certificate, *, by: User) -> Certificate:
    """Issue the attestation that replaces ``revoked`` (the enrollment's latest); flushes.

    The hours are computed again from the marks; the new attestation has its own number and
    code, and says which one it replaces. The bulk issue of a session never does this: a
    revocation is undone only by someone who decides to, for that person.
    """
    if revoked.revoked_at is None:
        raise DomainError(
            f"L'attestation n° {revoked.number} est valide : révoquez-la d'abord, avec le motif, "
            "pour délivrer une attestation rectificative."
        )
    enrollment = revoked.enrollment
    session = enrollment.session
    _check_session(session)
    numbering = _Numbering.locked()
    _check_attended(enrollment)
    newer = db.session.scalar(
        sa.select(Certificate.number)
        .where(Certificate.enrollment_id == enrollment.id, Certificate.id > revoked.id)
        .order_by(Certificate.id.desc())
        .limit(1)
    )
    if newer is not None:
        raise DomainError(
            f"L'attestation n° {revoked.number} a déjà été remplacée (attestation n° {newer})."
        )
    minutes = _minutes_by_enrollment(session, [enrollment])[enrollment.id]
    certificate = _issue(enrollment, minutes, by, numbering, replaces=revoked)
    db.session.flush()
    return certificate


def issue_for_session(session: CourseSession, *, by: User) -> list[Certificate]:
    """Issue every attestation still due in ``session``: all or nothing (the caller commits).

    Everything is checked before the first row is written; a refusal raises DomainError and the
    caller's rollback leaves no attestation behind.
    """
    _check_session(session)
    # Lock first: two organizers clicking at once must not both find the same people due.
    numbering = _Numbering.locked()
    due = due_enrollments(session)
    if not due:
        return []
    minutes = _minutes_by_enrollment(session, due)
    issued = [_issue(enrollment, minutes[enrollment.id], by, numbering) for enrollment in due]
    db.session.flush()
    return issued


def due_enrollments(session: CourseSession) -> list[Enrollment]:
    """The session's ATTENDED enrollments that never had an attestation, by name.

    A revoked attestation keeps its enrollment out: replacing it is a decision per person.
    """
    return list(
        db.session.scalars(
            sa.select(Enrollment)
            .join(Enrollment.measure)
            .join(LegalMeasure.participant)
            .outerjoin(Certificate, Certificate.enrollment_id == Enrollment.id)
            .where(
                Enrollment.session_id == session.id,
                Enrollment.status == EnrollmentStatus.ATTENDED,
                Certificate.id.is_(None),
            )
            .options(
                selectinload(Enrollment.measure).selectinload(LegalMeasure.participant),
                selectinload(Enrollment.measure).selectinload(LegalMeasure.authority),
            )
            .order_by(Participant.surname, Participant.first_names, Enrollment.id)
        )
    )


def _check_session(session: CourseSession) -> None:
    if session.status != SessionStatus.CLOSED:
        raise DomainError(
            "Les attestations ne peuvent être délivrées qu'une fois le stage clôturé "
            f"(ce stage est « {session.status.label.lower()} »)."
        )


def _check_attended(enrollment: Enrollment) -> None:
    if enrollment.status != EnrollmentStatus.ATTENDED:
        raise DomainError(
            "Une attestation n'est délivrée qu'aux personnes présentes à tout le stage "
            f"(inscription « {enrollment.status.label.lower()} »)."
        )


def _check_enrollment(enrollment: Enrollment) -> None:
    _check_attended(enrollment)
    existing = db.session.scalar(
        sa.select(Certificate)
        .where(Certificate.enrollment_id == enrollment.id)
        .order_by(Certificate.id.desc())
        .limit(1)
    )
    if existing is not None:
        if existing.revoked_at is not None:
            raise DomainError(
                f"L'attestation n° {existing.number} de cette inscription a été révoquée : "
                "délivrez une attestation rectificative, qui la remplace."
            )
        raise DomainError(f"Une attestation a déjà été délivrée (n° {existing.number}).")


def _minutes_by_enrollment(session: CourseSession, enrollments: list[Enrollment]) -> dict[int, int]:
    """Minutes attended per enrollment, from the session's marks (one query for all)."""
    parts = list(session.parts)
    all_marks = marks_by_key(session)
    minutes = {}
    for enrollment in enrollments:
        marks: dict[int, AttendanceMark] = {
            part.id: all_marks[(enrollment.id, part.id)]
            for part in parts
            if (enrollment.id, part.id) in all_marks
        }
        minutes[enrollment.id] = attended_minutes(parts, marks)
        # An organizer may retain ATTENDED over the marks; an attestation of « 0 h 00 » would
        # still certify nothing, so the marks must show presence.
        if minutes[enrollment.id] <= 0:
            raise DomainError(
                f"{enrollment.measure.participant.display_name} : aucune présence n'est "
                "enregistrée sur la feuille de présence, l'attestation ne peut pas indiquer "
                "d'heures suivies."
            )
    return minutes


class _Numbering:
    """Hands out sequence numbers per year within one transaction, after locking the year."""

    def __init__(self):
        self._locked: set[int] = set()
        self._next: dict[int, int] = {}

    @classmethod
    def locked(cls) -> _Numbering:
        """A numbering that already holds the lock of the current year."""
        numbering = cls()
        numbering._lock(to_local(now_utc()).year)
        return numbering

    def _lock(self, year: int) -> None:
        if year not in self._locked:
            _lock_year(year)
            self._locked.add(year)

    def take(self, year: int) -> int:
        if year not in self._next:
            self._lock(year)  # a batch running across midnight on 31 December
            last = db.session.scalar(
                sa.select(sa.func.max(Certificate.sequence)).where(Certificate.year == year)
            )
            self._next[year] = (last or 0) + 1
        sequence = self._next[year]
        self._next[year] += 1
        return sequence


def _lock_year(year: int) -> None:
    """Serialize numbering for ``year`` until the end of the transaction (see module docstring)."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        db.session.execute(
            sa.text("SELECT pg_advisory_xact_lock(CAST(:ns AS integer), CAST(:year AS integer))"),
            {"ns": _NUMBERING_LOCK, "year": year},
        )
    elif dialect == "sqlite":
        # Any UPDATE takes SQLite's write lock, even one that matches no row.
        db.session.execute(sa.text("UPDATE certificates SET sequence = sequence WHERE 0"))


def _issue(
    enrollment: Enrollment,
    minutes: int,
    by: User,
    numbering: _Numbering,
    replaces: Certificate | None = None,
) -> Certificate:
    # Whole seconds: the PDF's dates have no fractions, and the stored value must redraw it.
    issued_at = now_utc().replace(microsecond=0)
    year = to_local(issued_at).year
    sequence = numbering.take(year)
    certificate = Certificate(
        enrollment=enrollment,
        year=year,
        sequence=sequence,
        number=f"{year}-{sequence:05d}",
        verification_code=new_verification_code(),
        hours_attended_minutes=minutes,
        issued_at=issued_at,
        issued_by_id=by.id,
        replaces=replaces,
    )
    db.session.add(certificate)
    certificate.sha256 = hashlib.sha256(_render(certificate, issuer=by)).hexdigest()
    measure = enrollment.measure
    # The measure mirrors its live enrollment; a measure already further on (reported) stays.
    if measure.status == MeasureStatus.ATTENDED:
        _set_measure_status(measure, MeasureStatus.CERTIFICATE_ISSUED)
    return certificate


def _set_measure_status(measure: LegalMeasure, status: MeasureStatus) -> None:
    measure.status = status
    measure.status_changed_at = now_utc()


# ---------------------------------------------------------------------------------------------
# Revocation


def revoke_certificate(certificate: Certificate, reason: str, *, by: User) -> None:
    """Revoke an attestation with a reason; its measure goes back to ATTENDED. Flushes."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Indiquez le motif de la révocation.")
    if certificate.revoked_at is not None:
        raise DomainError(f"L'attestation n° {certificate.number} est déjà révoquée.")
    certificate.revoked_at = now_utc()
    certificate.revocation_reason = reason[:500]
    measure = certificate.enrollment.measure
    if measure.status == MeasureStatus.CERTIFICATE_ISSUED:
        _set_measure_status(measure, MeasureStatus.ATTENDED)
    logger.info("certificate %s revoked by user %s", certificate.id, by.id)
    db.session.flush()


# ---------------------------------------------------------------------------------------------
# The PDF


def certificate_pdf(certificate: Certificate) -> bytes:
    """The attestation's PDF, regenerated from stored data: the same bytes at every download."""
    pdf = _render(certificate)
    if certificate.sha256 and hashlib.sha256(pdf).hexdigest() != certificate.sha256:
        # Ids only: the log must not carry who the attestation is about.
        logger.warning(
            "certificate %s: regenerated PDF differs from its stored SHA-256 "
            "(data changed since issue)", certificate.id,
        )
    return pdf


def pdf_matches(certificate: Certificate, pdf: bytes) -> bool:
    """Whether ``pdf`` is byte for byte the document that was issued."""
    return certificate.sha256 == hashlib.sha256(pdf).hexdigest()


def _render(certificate: Certificate, issuer: User | None = None) -> bytes:
    return render_certificate(certificate_document(certificate, issuer=issuer))


def certificate_document(certificate: Certificate, issuer: User | None = None) -> CertificateDocument:
    """The French texts printed on the attestation, read from the database."""
    enrollment = certificate.enrollment
    session, measure = enrollment.session, enrollment.measure
    person = measure.participant
    zone = session.venue.timezone
    if issuer is None and certificate.issued_by_id is not None:
        issuer = db.session.get(User, certificate.issued_by_id)
    organizations = tuple(org.name for org in session.organizations)
    signatory_org = _signatory_organization(issuer, session, measure)
    birth = fr_date(person.birth_date, "medium") if person.birth_date else "—"
    if person.birth_date and person.birth_place:
        birth += f" à {person.birth_place}"
    venue = session.venue
    return CertificateDocument(
        number=certificate.number,
        verification_code=format_code(certificate.verification_code),
        verification_url=verification_url(certificate.verification_code),
        verification_page=f"{_base_url()}/verification",
        organizations=organizations,
        surname=person.surname,
        first_names=person.first_names,
        birth=birth,
        legal_frame=measure.frame.label,
        authority=measure.authority.name,
        case_reference=measure.case_reference,
        course_title=session.title,
        half_days=tuple(
            f"{fr_date(part.starts_at, zone=zone)}, de {fr_time(part.starts_at, zone)} "
            f"à {fr_time(part.ends_at, zone)}"
            for part in session.parts
        ),
        hours_attended=format_minutes(certificate.hours_attended_minutes),
        venue=f"{venue.name}, {venue.full_address}",
        signatory=issuer.full_name if issuer is not None else "—",
        signatory_organization=signatory_org,
        recipient=measure.certificate_recipient
        or f"La personne concernée ; copie à l'autorité prescriptrice ({measure.authority.name})",
        issued_place=venue.city,
        issued_on=fr_date(certificate.issued_at, "medium", zone),
        issued_at=certificate.issued_at,
        replaces=certificate.replaces.number if certificate.replaces is not None else None,
    )


def _signatory_organization(
    issuer: User | None, session: CourseSession, measure: LegalMeasure
) -> str:
    """The association the signatory signs for: theirs among the co-organizers, if any."""
    session_orgs = list(session.organizations)
    if issuer is not None:
        for org in session_orgs:
            if org.id in issuer.organization_ids and org.kind == OrganizationKind.ASSOCIATION:
                return org.name
    handling: Organization | None = measure.handling_organization
    if handling is not None:
        return handling.name
    return session_orgs[0].name if session_orgs else "—"


def format_minutes(minutes: int) -> str:
    """« 6 h 00 »: hours and minutes the French way."""
    return f"{minutes // 60} h {minutes % 60:02d}"


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
            .joinedload(Enrollment.session)
            .joinedload(CourseSession.venue),
        )
    )
    if certificate is None:
        return VerificationResult(VerificationStatus.UNKNOWN, code=format_code(code))
    session = certificate.enrollment.session
    person = certificate.enrollment.measure.participant
    zone = session.venue.timezone
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
        course_days=tuple(day for day, _parts in session.days),
        initials=initials(person),
        birth_year=person.birth_date.year if person.birth_date and not person.anonymized_at else None,
        revoked_on=to_local(certificate.revoked_at, zone).date() if revoked else None,
        replaced_by=replaced_by,
    )


def initials(person: Participant) -> str | None:
    """« J. D. »: first name then surname initial; nothing once the person is anonymized."""
    if person.anonymized_at is not None:
        return None
    letters = [name.strip()[:1].upper() for name in (person.first_names, person.surname)]
    return " ".join(f"{letter}." for letter in letters if letter) or None


# ---------------------------------------------------------------------------------------------
# Loaders for the session and participant pages (one query each)


def certificates_for_session(session_id: int) -> dict[int, Certificate]:
    """Each enrollment's latest attestation (valid, or revoked and not replaced), in one query."""
    rows = db.session.scalars(
        sa.select(Certificate)
        .join(Certificate.enrollment)
        .where(Enrollment.session_id == session_id)
        .options(contains_eager(Certificate.enrollment))
        .order_by(Certificate.id)
    )
    return {certificate.enrollment_id: certificate for certificate in rows}


def certificates_for_enrollments(enrollment_ids) -> list[Certificate]:
    """Every attestation of these enrollments, replaced ones included, in issue order (one query)."""
    ids = list(enrollment_ids)
    if not ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Certificate)
            .where(Certificate.enrollment_id.in_(ids))
            .options(
                joinedload(Certificate.enrollment)
                .joinedload(Enrollment.session)
                .joinedload(CourseSession.venue)
            )
            .order_by(Certificate.id)
        )
    )


def replaceable(certificates: list[Certificate]) -> set[int]:
    """Ids of the revoked attestations that are their enrollment's latest (no query)."""
    latest: dict[int, Certificate] = {}
    for certificate in certificates:
        current = latest.get(certificate.enrollment_id)
        if current is None or certificate.id > current.id:
            latest[certificate.enrollment_id] = certificate
    return {c.id for c in latest.values() if c.revoked_at is not None}


def count_due(enrollments, certificates: dict[int, Certificate]) -> int:
    """How many of ``enrollments`` are ATTENDED without an attestation (no query)."""
    return sum(
        1 for e in enrollments if e.status == EnrollmentStatus.ATTENDED and e.id not in certificates
    )
