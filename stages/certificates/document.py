"""The attestation as a document: the French texts printed on it, its PDF and its SHA-256.

What was certified is kept as it was issued (``keep_as_issued``): the PDF's bytes, their SHA-256,
and the facts the public verification page shows (initials, year of birth, course days). A later
rectification — a name, a renamed association, another BASE_URL, another font — never changes
an issued attestation: the change goes through revocation and an attestation rectificative.
Attestations issued before the bytes were kept are redrawn from the database, and their bytes
kept at the first download that still matches their SHA-256.
"""
from __future__ import annotations

import hashlib
import logging

from stages.auth.models import User
from stages.certificates.codes import _base_url, format_code, verification_url
from stages.certificates.models import Certificate
from stages.certificates.pdf import WORDING, CertificateDocument, render_certificate
from stages.enrollment.frames import frame_title
from stages.enrollment.models import LegalFrame, LegalMeasure
from stages.enrollment.settings import letterhead
from stages.extensions import db
from stages.scheduling.models import Course
from stages.auth.models import Organization, OrganizationKind
from stages.scheduling.programme.queries import printed_programme
from stages.timeutil import fr_date, fr_half_day, fr_time

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# The PDF


def keep_as_issued(certificate: Certificate, pdf: bytes) -> None:
    """Keep what is certified: the PDF, its SHA-256 and the facts the public page shows."""
    enrollment = certificate.enrollment
    person, course = enrollment.measure.participant, enrollment.course
    certificate.pdf = pdf
    certificate.sha256 = hashlib.sha256(pdf).hexdigest()
    certificate.holder_initials = initials(person)
    certificate.holder_birth_year = person.birth_date.year if person.birth_date else None
    certificate.course_days = [day.isoformat() for day, _parts in course.days]


def initials(person) -> str | None:
    """« J. D. »: first name then surname initial; nothing once the person is anonymized."""
    if person.anonymized_at is not None:
        return None
    letters = [name.strip()[:1].upper() for name in (person.first_names, person.surname)]
    return " ".join(f"{letter}." for letter in letters if letter) or None


def certificate_pdf(certificate: Certificate) -> bytes | None:
    """The attestation's PDF as it was issued: the same bytes at every download, whatever was
    edited since. None once the person's data was erased (retention)."""
    if certificate.enrollment.measure.participant.anonymized_at is not None:
        return None
    if certificate.pdf is not None:
        return certificate.pdf
    # Issued before the bytes were kept: redrawn, as dates and times are written now and as they
    # were before « 1er » (« 1 mars ») and before « 9 h 30 » (« 09 h 30 »), and kept from the
    # first redrawing that matches its SHA-256.
    # Every attestation whose bytes were not kept predates wording 2: its own wording first.
    drawn = []
    for wording in dict.fromkeys((1, 2, WORDING)):
        for first_as_ordinal, legacy_times in ((True, False), (True, True), (False, True), (False, False)):
            drawn.append(_render(certificate, first_as_ordinal=first_as_ordinal,
                                 legacy_times=legacy_times, wording=wording))
            if hashlib.sha256(drawn[-1]).hexdigest() == certificate.sha256:
                certificate.pdf = drawn[-1]  # kept from now on, so later edits cannot change it
                return drawn[-1]
    # Ids only: the log must not carry who the attestation is about.
    logger.warning(
        "certificate %s: redrawn PDF differs from its stored SHA-256 (data changed since issue, "
        "before the bytes were kept)", certificate.id,
    )
    return drawn[0]


def pdf_matches(certificate: Certificate, pdf: bytes) -> bool:
    """Whether ``pdf`` is byte for byte the document that was issued."""
    return certificate.sha256 == hashlib.sha256(pdf).hexdigest()


def _render(
    certificate: Certificate, issuer: User | None = None, *, first_as_ordinal: bool = True,
    legacy_times: bool = False, wording: int = WORDING,
) -> bytes:
    return render_certificate(
        certificate_document(
            certificate, issuer=issuer, first_as_ordinal=first_as_ordinal, legacy_times=legacy_times,
            wording=wording,
        )
    )


# The frame as attestations of wording 1 named it (before migration 0020 renamed the frame).
_WORDING_1_FRAMES = {LegalFrame.STAGE_CONTRAVENTION: "Ordonnance pénale (art. 131-16 9° bis CP)"}


def certificate_document(
    certificate: Certificate, issuer: User | None = None, *, first_as_ordinal: bool = True,
    legacy_times: bool = False, wording: int = WORDING,
) -> CertificateDocument:
    """The French texts printed on the attestation, read from the database (``first_as_ordinal``:
    see ``fr_date``; ``legacy_times``: « 09 h 30 », see ``fr_time``; ``wording``: the texts of
    that version, see ``stages.certificates.pdf.WORDING``)."""
    ordinal = {"first_as_ordinal": first_as_ordinal}
    enrollment = certificate.enrollment
    course, measure = enrollment.course, enrollment.measure
    person = measure.participant
    zone = course.venue.timezone
    if issuer is None and certificate.issued_by_id is not None:
        issuer = db.session.get(User, certificate.issued_by_id)
    organizations = tuple(org.name for org in course.organizations)
    signing_org = _signatory_organization(issuer, course, measure)
    signatory_org = signing_org.name if signing_org is not None else "—"
    # The association's designated signatory (its « Paramètres »), on attestations of the current
    # wording; else whoever issues it.
    head = letterhead(signing_org, with_logo=False) if wording >= 2 else None
    signatory = (
        ", ".join(x for x in (head.signatory_name, head.signatory_title) if x) if head and head.signatory_name
        else issuer.full_name if issuer is not None else "—"
    )
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
        legal_frame=(
            _WORDING_1_FRAMES.get(measure.frame, measure.frame.label) if wording == 1
            else frame_title(measure)
        ),
        authority=measure.authority.name,
        case_reference=measure.case_reference,
        course_title=course.title,
        half_days=tuple(
            f"{fr_date(part.starts_at, zone=zone, **ordinal)}, de "
            f"{fr_time(part.starts_at, zone, legacy=legacy_times)} "
            f"à {fr_time(part.ends_at, zone, legacy=legacy_times)}"
            for part in course.parts
        ),
        hours_attended=format_minutes(certificate.hours_attended_minutes),
        venue=f"{venue.name}, {venue.full_address}",
        signatory=signatory,
        signatory_organization=signatory_org,
        recipient=measure.certificate_recipient
        or (f"La personne concernée ; copie à l'autorité prescriptrice ({measure.authority.name})"
            if wording == 1 else f"La personne concernée ; copie au mandant ({measure.authority.name})"),
        issued_place=venue.city,
        issued_on=fr_date(certificate.issued_at, "medium", zone, **ordinal),
        issued_at=certificate.issued_at,
        replaces=certificate.replaces.number if certificate.replaces is not None else None,
        wording=wording,
        programme=_programme_lines(course) if wording >= 3 else (),
    )


def _programme_lines(course: Course) -> tuple[str, ...]:
    """The modules of each half-day, one line per half-day (issue 19)."""
    zone = course.venue.timezone
    return tuple(
        f"{fr_half_day(part.starts_at, zone).capitalize()} du {fr_date(part.starts_at, 'medium', zone)} : "
        + " ; ".join(rows)
        for part, rows in printed_programme(course) if rows
    )


def _signatory_organization(
    issuer: User | None, course: Course, measure: LegalMeasure
) -> Organization | None:
    """The association the signatory signs for: theirs among the co-organizers, if any."""
    course_orgs = list(course.organizations)
    if issuer is not None:
        for org in course_orgs:
            if org.id in issuer.organization_ids and org.kind == OrganizationKind.ASSOCIATION:
                return org
    handling: Organization | None = measure.handling_organization
    if handling is not None:
        return handling
    return course_orgs[0] if course_orgs else None


def format_minutes(minutes: int) -> str:
    """« 6 h 00 »: hours and minutes the French way."""
    return f"{minutes // 60} h {minutes % 60:02d}"
