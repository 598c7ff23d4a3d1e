"""Per-association and per-authority settings: what letters and attestations carry (letterhead,
logo, signatory, payment instructions), the fee per legal frame of an association, and the
usual deadline per frame of an authority, and how an authority receives its reports (mailbox,
per frame if it wishes, format, days before an unacknowledged transmission is flagged). Set by an admin on « Paramètres » of an organization,
each change audited; the next document produced uses them (an issued attestation keeps its bytes).
"""
from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from stages.auth.audit import audit
from stages.auth.models import Organization, User
from stages.enrollment.models import (
    DEFAULT_ACKNOWLEDGMENT_DAYS,
    AssociationSettings,
    AuthorityReporting,
    FrameDefault,
    LegalFrame,
    ReportFormat,
)
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import MAX_FEE_CENTS
from stages.scheduling.services.series import next_working_day
from stages.timeutil import now_utc

MAX_LOGO_BYTES = 300 * 1024
MAX_LOGO_SIZE = 2000
TEXT_FIELDS = {
    "letterhead": ("Mentions de l'en-tête", 300),
    "signatory_name": ("Nom de la personne signataire", 120),
    "signatory_title": ("Qualité de la personne signataire", 120),
    "payment_instructions": ("Modalités de paiement", 1000),
}


@dataclass(frozen=True)
class Letterhead:
    """What a document prints for an association (empty strings when nothing is set)."""

    letterhead: str = ""
    signatory_name: str = ""
    signatory_title: str = ""
    payment_instructions: str = ""
    logo: bytes | None = None


def settings_of(organization: Organization) -> AssociationSettings | None:
    return db.session.get(AssociationSettings, organization.id)


def letterhead(organization: Organization | None, *, with_logo: bool = True) -> Letterhead:
    row = settings_of(organization) if organization is not None else None
    if row is None:
        return Letterhead()
    return Letterhead(
        row.letterhead or "", row.signatory_name or "", row.signatory_title or "",
        row.payment_instructions or "", row.logo if with_logo else None,
    )


def read_logo(data: bytes) -> bytes:
    """A PNG or JPEG of reasonable size, checked before it is kept; else a French reason."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_LOGO_BYTES:
        raise DomainError("Le logo dépasse 300 Ko.")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("PNG", "JPEG"):
                raise DomainError("Le logo doit être une image PNG ou JPEG.")
            if max(image.size) > MAX_LOGO_SIZE:
                raise DomainError("Le logo dépasse 2000 pixels de côté.")
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise DomainError("Le logo est illisible : envoyez une image PNG ou JPEG.") from None
    return data


def save_settings(
    organization: Organization,
    texts: dict[str, str],
    frames: dict[LegalFrame, tuple[int | None, int | None]],
    *,
    logo: bytes | None = None,
    remove_logo: bool = False,
    reporting: dict[str, str] | None = None,
    frame_emails: dict[LegalFrame, str] | None = None,
    by: User,
) -> list[str]:
    """Save an organization's settings; returns what changed (French), which is audited.

    For an authority, ``reporting`` holds the typed ``report_email``, ``report_format`` and
    ``acknowledgment_days``, and ``frame_emails`` a mailbox per frame (blank: the general one)."""
    changed: list[str] = []
    if not organization.is_authority:
        row = settings_of(organization) or AssociationSettings(organization_id=organization.id)
        for key, (label, length) in TEXT_FIELDS.items():
            value = (texts.get(key) or "").strip() or None
            if value and len(value) > length:
                raise DomainError(f"{label} : {length} caractères au plus.")
            if getattr(row, key) != value:
                setattr(row, key, value)
                changed.append(label)
        if logo is not None:
            row.logo, row.logo_sha256 = read_logo(logo), hashlib.sha256(logo).hexdigest()
            changed.append("Logo")
        elif remove_logo and row.logo_sha256:
            row.logo, row.logo_sha256 = None, None
            changed.append("Logo retiré")
        if changed:
            row.updated_at, row.updated_by_id = now_utc(), by.id
            db.session.add(row)
    changed += _save_frames(organization, frames, frame_emails or {})
    if organization.is_authority and reporting is not None:
        changed += _save_reporting(organization, reporting, by)
    db.session.flush()
    if changed:
        audit("organization.settings_changed", organization, details=", ".join(changed), user=by)
    return changed


def report_address(value: str | None, label: str) -> str | None:
    """A mailbox as typed (« greffe.tj-paris@justice.fr »), checked; None when blank."""
    from email_validator import EmailNotValidError, validate_email

    value = (value or "").strip()
    if not value:
        return None
    if len(value) > 254:
        raise DomainError(f"{label} : 254 caractères au plus.")
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise DomainError(f"{label} : adresse électronique invalide (une seule adresse, par exemple "
                          "greffe.tj-ville@justice.fr).") from None


def reporting_of(organization: Organization) -> AuthorityReporting | None:
    return db.session.get(AuthorityReporting, organization.id)


def _save_reporting(organization: Organization, typed: dict[str, str], by: User) -> list[str]:
    email = report_address(typed.get("report_email"), "Adresse de transmission des bilans")
    try:
        report_format = ReportFormat((typed.get("report_format") or "pdf").strip())
    except ValueError:
        raise DomainError("Format des bilans : choisissez PDF, CSV ou les deux.") from None
    days_text = (typed.get("acknowledgment_days") or "").strip()
    if days_text and not DAYS_TEXT.fullmatch(days_text):
        raise DomainError("Délai d'accusé de réception : indiquez un nombre de jours.")
    days = int(days_text) if days_text else DEFAULT_ACKNOWLEDGMENT_DAYS
    if not 1 <= days <= 90:
        raise DomainError("Délai d'accusé de réception : entre 1 et 90 jours.")
    row = reporting_of(organization)
    if row is None:
        if email is None and report_format == ReportFormat.PDF and days == DEFAULT_ACKNOWLEDGMENT_DAYS:
            return []
        row = AuthorityReporting(organization_id=organization.id, report_format=ReportFormat.PDF,
                                 acknowledgment_days=DEFAULT_ACKNOWLEDGMENT_DAYS)
        db.session.add(row)
    changed = []
    for attribute, value, label in (
        ("report_email", email, "Adresse de transmission"),
        ("report_format", report_format, "Format des bilans"),
        ("acknowledgment_days", days, "Délai d'accusé de réception"),
    ):
        if getattr(row, attribute) != value:
            setattr(row, attribute, value)
            changed.append(label)
    if changed:
        row.updated_at, row.updated_by_id = now_utc(), by.id
    return changed


DAYS_TEXT = re.compile(r"\d{1,3}")


def _save_frames(organization, frames, frame_emails) -> list[str]:
    current = {row.frame: row for row in frame_defaults(organization)}
    changed = []
    for frame, (fee_cents, deadline_days) in frames.items():
        email = None
        if organization.is_authority:
            fee_cents = None
            email = report_address(frame_emails.get(frame), f"{frame.label}, adresse de transmission")
        else:
            deadline_days = None
        if fee_cents is not None and not 0 <= fee_cents <= MAX_FEE_CENTS:
            raise DomainError(f"{frame.label} : le montant est compris entre 0 et {MAX_FEE_CENTS // 100} €.")
        if deadline_days is not None and not 1 <= deadline_days <= 730:
            raise DomainError(f"{frame.label} : le délai est compris entre 1 et 730 jours.")
        row = current.get(frame)
        if row is None and fee_cents is None and deadline_days is None and email is None:
            continue
        if row is None:
            row = FrameDefault(organization_id=organization.id, frame=frame)
            db.session.add(row)
        if (row.fee_cents, row.deadline_days, row.report_email) != (fee_cents, deadline_days, email):
            row.fee_cents, row.deadline_days, row.report_email = fee_cents, deadline_days, email
            changed.append(frame.label)
    return changed


def frame_defaults(organization: Organization) -> list[FrameDefault]:
    return list(db.session.scalars(
        sa.select(FrameDefault).where(FrameDefault.organization_id == organization.id)
    ))


def default_fee(association: Organization | None, frame: LegalFrame) -> int | None:
    """The association's fee for ``frame``, in cents, if it set one."""
    if association is None:
        return None
    return db.session.scalar(sa.select(FrameDefault.fee_cents).where(
        FrameDefault.organization_id == association.id, FrameDefault.frame == frame))


def default_deadline(authority: Organization | None, frame: LegalFrame, decision: date | None) -> date | None:
    """The authority's usual deadline for ``frame``, counted from the decision, if it set one;
    a day that falls on a weekend or a public holiday of the court's place (Alsace-Moselle,
    overseas) moves to the next working day."""
    if authority is None or decision is None:
        return None
    days = db.session.scalar(sa.select(FrameDefault.deadline_days).where(
        FrameDefault.organization_id == authority.id, FrameDefault.frame == frame))
    if not days:
        return None
    postal_code = re.search(r"\b(\d{5})\b", authority.address or "")
    return next_working_day(decision + timedelta(days=days), postal_code.group(1) if postal_code else None)
