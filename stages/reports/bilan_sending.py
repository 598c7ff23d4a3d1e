"""« Transmettre » a bilan: one email per course and authority, with the bilan in the authority's
format(s), through ``stages.reports.transmissions``. The measures become « bilan transmis » only
once the mail server accepted it; a refusal leaves the bilan « à transmettre ».

One email per authority even when its people are of several frames: the bilan is one document
per course and authority; when all its people are of one frame, that frame's mailbox is used if
the authority set one, else its general mailbox.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import selectinload

from stages.auth.models import Organization, OrganizationKind, User
from stages.enrollment.models import AuthorityReporting, Enrollment, LegalMeasure
from stages.errors import DomainError
from stages.extensions import db
from stages.reports.bilans import (
    BILAN_HEADER,
    OUTCOME_STATUSES,
    bilan_csv_row,
    bilan_rows,
    bilan_signatory,
    bilan_summary,
    mark_bilan_sent,
    require_closed,
)
from stages.reports.models import Bilan, ReportTransmission, TransmissionKind
from stages.reports.pdf import bilan_pdf
from stages.reports.transmissions import (
    ReportDocument,
    ReportFile,
    document_key,
    register_document,
    request_transmission,
)
from stages.scheduling.models import Course, CourseStatus
from stages.spreadsheets import csv_bytes
from stages.timeutil import fr_date, now_utc
from stages.wording import ngettext


def bilan_refs(course: Course) -> dict:
    return {"course": course.id}


def bilan_title(course: Course) -> str:
    """« Bilan du stage du 11 mars 2027 » (no personal data: it is the email's subject)."""
    return f"Bilan du stage du {fr_date(course.starts_at, zone=course.venue.timezone)}"


def _has_outcomes(course: Course, authority_id: int) -> bool:
    return db.session.scalar(sa.select(
        sa.select(Enrollment.id).join(LegalMeasure, LegalMeasure.id == Enrollment.measure_id)
        .where(Enrollment.course_id == course.id, Enrollment.status.in_(OUTCOME_STATUSES),
               LegalMeasure.authority_id == authority_id).exists()
    )) is True


def transmit_bilan(course: Course, authority: Organization, *, by: User, number: int | None) -> ReportTransmission:
    """Queue the course's bilan for ``authority`` (the caller commits, then delivers)."""
    require_closed(course)
    if not _has_outcomes(course, authority.id):
        raise DomainError("Aucune personne de cette autorité n'a participé à ce stage.")
    senders = [o for o in course.organizations if o.kind == OrganizationKind.ASSOCIATION]
    sender = next((o for o in senders if o.id in by.organization_ids), senders[0] if senders else None)
    return request_transmission(authority, TransmissionKind.BILAN, bilan_refs(course), by=by,
                                sender=sender, number=number)


def build_bilan(transmission: ReportTransmission, formats: tuple[str, ...]) -> ReportDocument | None:
    """The bilan as it stands now, in ``formats``; None when the course or its people are gone."""
    course = db.session.get(Course, transmission.refs.get("course"))
    if course is None or course.status != CourseStatus.CLOSED:
        return None
    authority = transmission.authority
    rows = bilan_rows(course, authority.id)
    if not rows:
        return None
    signatory = bilan_signatory(course, authority.id, transmission.requested_by)
    files = []
    stem = f"bilan-stage-{course.id}-autorite-{authority.id}"
    if "pdf" in formats:
        content = bilan_pdf(course, authority, rows, bilan_summary(rows), now_utc(), signatory)
        files.append(ReportFile(f"{stem}.pdf", content, "application/pdf"))
    if "csv" in formats:
        content = csv_bytes(BILAN_HEADER, (bilan_csv_row(row, signatory) for row in rows))
        files.append(ReportFile(f"{stem}.csv", content, "text/csv"))
    frames = {row.frame for row in rows}
    return ReportDocument(
        title=bilan_title(course), files=files, frame=frames.pop() if len(frames) == 1 else None,
        lines=["", ngettext("Il porte sur %(num)d personne orientée par votre juridiction.",
                            "Il porte sur %(num)d personnes orientées par votre juridiction.", len(rows))],
    )


def _link_bilan(transmission: ReportTransmission) -> None:
    """The bilan row points to its latest transmission (created if needed, never failing on
    two requests at once)."""
    course_id = transmission.refs["course"]
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(Bilan).values(course_id=course_id, authority_id=transmission.authority_id,
                                     created_at=now_utc(), transmission_id=transmission.id)
    db.session.execute(statement.on_conflict_do_update(
        index_elements=["session_id", "authority_id"], set_={"transmission_id": statement.excluded.transmission_id},
    ))


def bilan_transmitted(transmission: ReportTransmission) -> None:
    """The mail server took the bilan: the measures it reports on become « bilan transmis »."""
    course = db.session.get(Course, transmission.refs["course"])
    if course is None:
        return
    by = transmission.requested_by
    try:
        with db.session.begin_nested():
            mark_bilan_sent(course, transmission.authority_id, by=by)
    except DomainError:
        return
    db.session.execute(sa.update(Bilan).where(
        Bilan.course_id == course.id, Bilan.authority_id == transmission.authority_id,
    ).values(transmission_id=transmission.id))


register_document(TransmissionKind.BILAN, build=build_bilan, on_sent=bilan_transmitted, on_requested=_link_bilan)


def course_transmissions(course: Course) -> dict[int, list[ReportTransmission]]:
    """The bilan transmissions of ``course`` per authority, the latest first (two queries)."""
    rows = db.session.scalars(
        sa.select(ReportTransmission)
        .options(selectinload(ReportTransmission.files))
        .where(ReportTransmission.kind == TransmissionKind.BILAN,
               ReportTransmission.document_key == document_key(bilan_refs(course)))
        .order_by(ReportTransmission.number.desc())
    )
    by_authority: dict[int, list[ReportTransmission]] = {}
    for row in rows:
        by_authority.setdefault(row.authority_id, []).append(row)
    return by_authority


def report_addresses(authority_ids: list[int]) -> dict[int, str]:
    """The general reporting mailbox of each authority that set one (one query)."""
    if not authority_ids:
        return {}
    return dict(db.session.execute(
        sa.select(AuthorityReporting.organization_id, AuthorityReporting.report_email).where(
            AuthorityReporting.organization_id.in_(authority_ids), AuthorityReporting.report_email.is_not(None))
    ).all())
