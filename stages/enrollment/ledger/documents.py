"""Receipts and invoices: the invoices of a court-paid course written (numbered in their own
series), and both documents' texts gathered from the database for ``pdf``."""
from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa

from stages.auth.audit import audit
from stages.auth.models import Organization, Role, User
from stages.enrollment.ledger.amounts import euros
from stages.enrollment.ledger.models import (
    BillingSettings,
    DocumentSeries,
    FeeInvoice,
    FeeInvoiceLine,
    LedgerEntry,
)
from stages.enrollment.ledger.pdf import InvoiceDocument, InvoiceLine, Issuer, ReceiptDocument
from stages.enrollment.ledger.services import next_number, totals_of
from stages.enrollment.models import SEAT_HOLDING_STATUSES, Enrollment, LegalMeasure, Payer
from stages.enrollment.settings import letterhead
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import Course
from stages.timeutil import fr_date, now_utc, to_local, today_local
from stages.wording import ngettext


def issuer(organization: Organization) -> Issuer:
    """The association's mentions: letterhead settings (issue 16) and billing settings."""
    head = letterhead(organization, with_logo=False)
    billing = db.session.get(BillingSettings, organization.id)
    signatory = ", ".join(part for part in (head.signatory_name, head.signatory_title) if part)
    return Issuer(
        organization.name, organization.address or "", head.letterhead, (billing.siret or "") if billing else "",
        bool(billing and billing.vat_exempt), signatory,
    )


def receipt_document(entry: LedgerEntry) -> ReceiptDocument:
    measure = db.session.get(LegalMeasure, entry.measure_id)
    balance_after = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_cents), 0))
        .where(LedgerEntry.measure_id == entry.measure_id, LedgerEntry.id <= entry.id)
    )
    return ReceiptDocument(
        number=entry.receipt_label, issuer=issuer(entry.organization),
        payer_name=measure.participant.display_name, amount=euros(-entry.amount_cents),
        method=entry.method.label, paid_on=fr_date(entry.entry_date), reference=entry.reference or "",
        measure_label=f"mesure n° {measure.id}", balance_after=euros(max(int(balance_after), 0)),
        issued_at=entry.created_at,
    )


def invoice_document(invoice: FeeInvoice) -> InvoiceDocument:
    course = db.session.get(Course, invoice.course_id)
    start = to_local(course.starts_at, course.venue.timezone)
    return InvoiceDocument(
        number=invoice.number_label, issuer=issuer(invoice.organization),
        authority_name=invoice.authority.name, authority_address=invoice.authority.address or "",
        course_label=f"stage du {fr_date(start.date())} — {course.venue.name}",
        issued_on=fr_date(invoice.issued_on),
        lines=tuple(InvoiceLine(line.case_reference, euros(line.amount_cents)) for line in invoice.lines),
        total=euros(invoice.total_cents), issued_at=invoice.created_at,
    )


def invoices_of(course: Course) -> list[FeeInvoice]:
    return list(db.session.scalars(_INVOICES_OF, {"course_id": course.id}))


# Built once, with bind parameters (bench/README.md, « Statements built once »).
_INVOICES_OF = (
    sa.select(FeeInvoice).where(FeeInvoice.course_id == sa.bindparam("course_id")).order_by(FeeInvoice.number)
)


def issue_invoices(course: Course, *, by: User) -> list[FeeInvoice]:
    """One invoice per association and referring authority for the people of ``course`` whose
    fee the authority pays and who still owe it; an authority already invoiced for the course
    is not invoiced again. Only the associations ``by`` keeps the accounts of."""
    rows = db.session.execute(
        sa.select(LegalMeasure.id, LegalMeasure.handling_organization_id, LegalMeasure.authority_id,
                  LegalMeasure.case_reference)
        .join(Enrollment, Enrollment.measure_id == LegalMeasure.id)
        .where(Enrollment.course_id == course.id, Enrollment.status.in_(SEAT_HOLDING_STATUSES),
               LegalMeasure.payer == Payer.AUTHORITY, LegalMeasure.handling_organization_id.is_not(None))
        .order_by(LegalMeasure.case_reference, LegalMeasure.id)
    ).all()
    if by.role != Role.ADMIN:
        rows = [row for row in rows if row.handling_organization_id in by.organization_ids]
    done = {(i.organization_id, i.authority_id) for i in invoices_of(course)}
    balances = totals_of(row.id for row in rows)
    groups: dict[tuple[int, int], list] = defaultdict(list)
    for row in rows:
        due = balances[row.id].balance if row.id in balances else 0
        if due > 0 and (row.handling_organization_id, row.authority_id) not in done:
            groups[(row.handling_organization_id, row.authority_id)].append((row, due))
    if not groups:
        raise DomainError("Aucune personne de ce stage n'est à facturer à une autorité prescriptrice "
                          "(frais pris en charge par l'autorité, non encore facturés).")
    today = today_local()
    issued = []
    for (organization_id, authority_id), lines in sorted(groups.items()):
        invoice = FeeInvoice(
            organization_id=organization_id, authority_id=authority_id, course_id=course.id,
            year=today.year, number=next_number(organization_id, DocumentSeries.INVOICE, today.year),
            issued_on=today, total_cents=sum(due for _, due in lines), created_by_id=by.id,
            created_at=now_utc(),
        )
        invoice.lines = [FeeInvoiceLine(measure_id=row.id, case_reference=row.case_reference, amount_cents=due)
                         for row, due in lines]
        db.session.add(invoice)
        db.session.flush()
        audit("invoice.issued", invoice, details=f"facture {invoice.number_label}, "
              + ngettext("%(num)d personne", "%(num)d personnes", len(lines)))
        issued.append(invoice)
    return issued


def save_billing(organization: Organization, siret: str | None, vat_exempt: bool, *, by: User) -> None:
    """An association's SIRET and VAT mention, audited."""
    if organization.kind.value != "association":
        raise DomainError("Seule une association facture ses stages.")
    row = db.session.get(BillingSettings, organization.id)
    if row is None:
        row = BillingSettings(organization_id=organization.id)
        db.session.add(row)
    row.siret, row.vat_exempt = (siret or None), bool(vat_exempt)
    row.updated_at, row.updated_by_id = now_utc(), by.id
    db.session.flush()
    audit("billing.settings_changed", organization)
