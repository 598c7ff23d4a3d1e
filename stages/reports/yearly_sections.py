"""The yearly activity report's sections read from other areas (``yearly.report_section``):
« Participations financières » (the fee ledger) and « Évaluation anonyme » (the questionnaires,
small counts suppressed as on the results pages).

Both are reproducible like the rest of the report: ledger entries are never edited, and only
those dated in the year *and* recorded before the report's settling date count (a cheque noted
in March for December changes nothing once the year is settled). An authority's report shows
what it was invoiced for the courses it paid; it has no evaluation section: questionnaires
belong to the associations that run the courses."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from stages.auth.models import Organization, OrganizationKind
from stages.enrollment.ledger.amounts import euros
from stages.enrollment.ledger.models import EntryKind, FeeInvoice, LedgerEntry
from stages.evaluation.models import ItemKind
from stages.evaluation.results import MIN_ANSWERS, evaluation_results
from stages.extensions import db
from stages.reports.yearly import ReportSection, report_section

SUPPRESSED = f"moins de {MIN_ANSWERS} réponses : non publié"


@report_section
def fees_section(organization: Organization, year: int, known_at: datetime) -> ReportSection | None:
    """An association: what was charged, collected, refunded and waived in the year, receipts
    and invoices issued (three queries). An authority: the invoices it received (one). None
    when the ledger holds nothing of the year."""
    in_year = sa.and_(LedgerEntry.entry_date.between(date(year, 1, 1), date(year, 12, 31)),
                      LedgerEntry.created_at < known_at)
    invoices = sa.select(sa.func.count(FeeInvoice.id), sa.func.coalesce(sa.func.sum(FeeInvoice.total_cents), 0)).where(
        FeeInvoice.year == year, FeeInvoice.created_at < known_at)
    if organization.kind != OrganizationKind.ASSOCIATION:
        count, total = db.session.execute(invoices.where(FeeInvoice.authority_id == organization.id)).one()
        if not count:
            return None
        return ReportSection("Participations financières", [
            ("Factures reçues des associations (stages pris en charge)", str(count)),
            ("Montant facturé", euros(int(total)))])
    sums = dict(db.session.execute(
        sa.select(LedgerEntry.kind, sa.func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.organization_id == organization.id, in_year).group_by(LedgerEntry.kind)
    ).all())
    receipts = db.session.scalar(sa.select(sa.func.count(LedgerEntry.id)).where(
        LedgerEntry.organization_id == organization.id, in_year, LedgerEntry.receipt_number.is_not(None)))
    count, total = db.session.execute(invoices.where(FeeInvoice.organization_id == organization.id)).one()
    if not sums and not count:
        return None  # no fee in the ledger that year: nothing to say
    charged, paid = int(sums.get(EntryKind.CHARGE, 0)), -int(sums.get(EntryKind.PAYMENT, 0))
    refunded, waived = int(sums.get(EntryKind.REFUND, 0)), -int(sums.get(EntryKind.WAIVER, 0))
    return ReportSection("Participations financières", [
        ("Montants dus (frais de stage inscrits dans l'année)", euros(charged)),
        ("Encaissé", euros(paid)),
        ("Remboursé", euros(refunded)),
        ("Dispenses accordées", euros(waived)),
        ("Encaissé, remboursements déduits", euros(paid - refunded)),
        ("Reçus délivrés", str(receipts)),
        ("Factures aux juridictions", f"{count} ({euros(int(total))})"),
    ])


@report_section
def evaluation_section(organization: Organization, year: int, known_at: datetime) -> ReportSection | None:
    """Per moment, the number of answers; per scale question, its mean out of 5. Free texts are
    never in the report (they may name someone); under MIN_ANSWERS answers, no figure at all."""
    if organization.kind != OrganizationKind.ASSOCIATION:
        return None
    results = evaluation_results(organization.id, year)
    lines: list[tuple[str, str]] = []
    for moment in results.moments:
        if moment.suppressed:
            lines.append((moment.moment.label, SUPPRESSED))
            continue
        lines.append((moment.moment.label, f"{moment.responses} réponses"))
        for item in moment.items:
            if item.kind != ItemKind.LIKERT:
                continue
            value = SUPPRESSED if item.suppressed else (
                f"{item.mean:.1f} / 5 ({item.answers} réponses)".replace(".", ",", 1))
            lines.append((f"{moment.moment.label} — {item.text}", value))
    return ReportSection("Évaluation anonyme", lines)
