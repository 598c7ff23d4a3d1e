"""The attestation as a document: the French texts printed on it, its PDF and its SHA-256.

The PDF is not stored: ``certificate_pdf`` regenerates it from the database, byte for byte, and
its SHA-256 is kept in ``Certificate.sha256`` to prove it. Regeneration reads the participant's
identity, the measure, the session and the signatory as they are *now*: a later rectification
(name, organization renamed, BASE_URL changed) changes the bytes, which ``pdf_matches`` reveals.
"""
from __future__ import annotations

import hashlib
import logging

from stages.auth.models import User
from stages.certificates.codes import _base_url, format_code, verification_url
from stages.certificates.models import Certificate
from stages.certificates.pdf import CertificateDocument, render_certificate
from stages.enrollment.models import LegalMeasure
from stages.extensions import db
from stages.scheduling.models import Course
from stages.auth.models import Organization, OrganizationKind
from stages.timeutil import fr_date, fr_time

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# The PDF


def certificate_pdf(certificate: Certificate) -> bytes:
    """The attestation's PDF, regenerated from stored data: the same bytes at every download."""
    pdf = _render(certificate)
    if certificate.sha256 and hashlib.sha256(pdf).hexdigest() != certificate.sha256:
        # Attestations issued before dates said « 1er » (« 1 mars ») keep their own bytes.
        earlier = _render(certificate, first_as_ordinal=False)
        if hashlib.sha256(earlier).hexdigest() == certificate.sha256:
            return earlier
        # Ids only: the log must not carry who the attestation is about.
        logger.warning(
            "certificate %s: regenerated PDF differs from its stored SHA-256 "
            "(data changed since issue)", certificate.id,
        )
    return pdf


def pdf_matches(certificate: Certificate, pdf: bytes) -> bool:
    """Whether ``pdf`` is byte for byte the document that was issued."""
    return certificate.sha256 == hashlib.sha256(pdf).hexdigest()


def _render(
    certificate: Certificate, issuer: User | None = None, *, first_as_ordinal: bool = True
) -> bytes:
    return render_certificate(
        certificate_document(certificate, issuer=issuer, first_as_ordinal=first_as_ordinal)
    )


def certificate_document(
    certificate: Certificate, issuer: User | None = None, *, first_as_ordinal: bool = True
) -> CertificateDocument:
    """The French texts printed on the attestation, read from the database (``first_as_ordinal``:
    see ``fr_date``)."""
    ordinal = {"first_as_ordinal": first_as_ordinal}
    enrollment = certificate.enrollment
    course, measure = enrollment.course, enrollment.measure
    person = measure.participant
    zone = course.venue.timezone
    if issuer is None and certificate.issued_by_id is not None:
        issuer = db.session.get(User, certificate.issued_by_id)
    organizations = tuple(org.name for org in course.organizations)
    signatory_org = _signatory_organization(issuer, course, measure)
    birth = fr_date(person.birth_date, "medium", **ordinal) if person.birth_date else "—"
    if person.birth_date and person.birth_place:
        birth += f" à {person.birth_place}"
    venue = course.venue
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
        course_title=course.title,
        half_days=tuple(
            f"{fr_date(part.starts_at, zone=zone, **ordinal)}, de {fr_time(part.starts_at, zone)} "
            f"à {fr_time(part.ends_at, zone)}"
            for part in course.parts
        ),
        hours_attended=format_minutes(certificate.hours_attended_minutes),
        venue=f"{venue.name}, {venue.full_address}",
        signatory=issuer.full_name if issuer is not None else "—",
        signatory_organization=signatory_org,
        recipient=measure.certificate_recipient
        or f"La personne concernée ; copie à l'autorité prescriptrice ({measure.authority.name})",
        issued_place=venue.city,
        issued_on=fr_date(certificate.issued_at, "medium", zone, **ordinal),
        issued_at=certificate.issued_at,
        replaces=certificate.replaces.number if certificate.replaces is not None else None,
    )


def _signatory_organization(
    issuer: User | None, course: Course, measure: LegalMeasure
) -> str:
    """The association the signatory signs for: theirs among the co-organizers, if any."""
    course_orgs = list(course.organizations)
    if issuer is not None:
        for org in course_orgs:
            if org.id in issuer.organization_ids and org.kind == OrganizationKind.ASSOCIATION:
                return org.name
    handling: Organization | None = measure.handling_organization
    if handling is not None:
        return handling.name
    return course_orgs[0].name if course_orgs else "—"


def format_minutes(minutes: int) -> str:
    """« 6 h 00 »: hours and minutes the French way."""
    return f"{minutes // 60} h {minutes % 60:02d}"
