"""Read models of the ledger: a measure's entries and totals, the accounting list and its
export, the people who still owe before their course. Each in a fixed number of statements,
whatever the number of people or entries."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from datetime import date, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from stages.auth.models import Organization, OrganizationKind, Role, User
from stages.auth.permissions import visible
from stages.enrollment.ledger.models import EntryKind, FeeInvoice, FeeInvoiceLine, LedgerEntry, document_number
from stages.enrollment.ledger.services import Totals, totals_of_entries
from stages.enrollment.models import Enrollment, LegalMeasure, Payer
from stages.enrollment.statuses import TO_ATTEND_STATUSES
from stages.extensions import db
from stages.scheduling.models import Course, CourseStatus
from stages.timeutil import local_to_utc, today_local

# The home page counts the people who still owe their fee when their course starts within
# this many days.
FEES_DUE_WITHIN_DAYS = 14
EXPORT_HEADER = (
    "Date", "Association", "N° de reçu ou de facture", "Nature", "Moyen de paiement",
    "Montant (€)", "Mesure", "N° de parquet", "Référence", "Reprise",
)


@dataclass(frozen=True)
class Account:
    """A measure's account as its page shows it."""

    totals: Totals
    entries: list[LedgerEntry]


def accounts_of(measure_ids) -> dict[int, Account]:
    """Each measure's entries and totals (one query whatever their number)."""
    ids = list(measure_ids)
    if not ids:
        return {}
    entries: dict[int, list[LedgerEntry]] = defaultdict(list)
    for entry in db.session.scalars(_ENTRIES_OF, {"ids": ids}):
        entries[entry.measure_id].append(entry)
    return {i: Account(totals_of_entries(entries.get(i, [])), entries.get(i, [])) for i in ids}


# Built once, with bind parameters (bench/README.md, « Statements built once »).
_ENTRIES_OF = (
    sa.select(LedgerEntry).where(LedgerEntry.measure_id.in_(sa.bindparam("ids", expanding=True)))
    .options(selectinload(LedgerEntry.created_by))
    .order_by(LedgerEntry.entry_date, LedgerEntry.id)
)


def associations_of(user: User) -> list[Organization]:
    """The associations whose accounts ``user`` keeps (every one for an admin)."""
    query = sa.select(Organization).where(Organization.kind == OrganizationKind.ASSOCIATION)
    if user.role != Role.ADMIN:
        query = query.where(Organization.id.in_(user.organization_ids or [-1]))
    return list(db.session.scalars(query.order_by(Organization.name)))


def accounting_entries(user: User, organization_id: int | None, start: date | None, end: date | None) -> sa.Select:
    """The entries ``user`` may see, filtered, in the order of the books."""
    query = visible(LedgerEntry, user)
    if organization_id is not None:
        query = query.where(LedgerEntry.organization_id == organization_id)
    if start is not None:
        query = query.where(LedgerEntry.entry_date >= start)
    if end is not None:
        query = query.where(LedgerEntry.entry_date <= end)
    return query.order_by(LedgerEntry.entry_date, LedgerEntry.id)


def with_details(query: sa.Select) -> sa.Select:
    """The entries with their association and measure's case reference loaded (in bulk)."""
    return query.options(selectinload(LedgerEntry.organization))


def case_references(entries) -> dict[int, str]:
    """The case reference of each entry's measure (one query)."""
    ids = {entry.measure_id for entry in entries}
    if not ids:
        return {}
    return dict(db.session.execute(
        sa.select(LegalMeasure.id, LegalMeasure.case_reference).where(LegalMeasure.id.in_(ids))
    ).all())


def invoice_numbers(entries) -> dict[int, str]:
    """For charges of measures invoiced to their authority, the invoice's number (one query)."""
    ids = {entry.measure_id for entry in entries if entry.kind == EntryKind.CHARGE}
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(FeeInvoiceLine.measure_id, FeeInvoice.year, FeeInvoice.number)
        .join(FeeInvoice, FeeInvoice.id == FeeInvoiceLine.invoice_id)
        .where(FeeInvoiceLine.measure_id.in_(ids))
    )
    return {measure_id: document_number(year, number) for measure_id, year, number in rows}


def period_sum(query: sa.Select) -> int:
    """The signed sum of the entries of ``query``: what is still owed on them."""
    inner = query.order_by(None).subquery()
    return int(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(inner.c.amount_cents), 0))))


class CsvAmount(Decimal):
    """An amount as French spreadsheets read it (« -12,50 »): a number, never a formula."""

    def __str__(self) -> str:
        return f"{self:.2f}".replace(".", ",")


def export_rows(query: sa.Select, chunk: int = 500):
    """The CSV's rows, one per entry, read in chunks (a fixed number of queries per chunk)."""
    last = None
    while True:
        page = query
        if last is not None:
            page = page.where(sa.tuple_(LedgerEntry.entry_date, LedgerEntry.id) > sa.tuple_(*last))
        entries = list(db.session.scalars(with_details(page).limit(chunk)))
        if not entries:
            return
        references, invoices = case_references(entries), invoice_numbers(entries)
        for e in entries:
            number = e.receipt_label or (invoices.get(e.measure_id) if e.kind == EntryKind.CHARGE else None)
            yield (
                e.entry_date, e.organization.name, number or "", e.kind.label,
                e.method.label if e.method else "", CsvAmount(Decimal(e.amount_cents) / 100),
                f"Mesure n° {e.measure_id}", references.get(e.measure_id, ""), e.reference or "",
                "oui" if e.carried_over else "",
            )
        last = (entries[-1].entry_date, entries[-1].id)


def _owing_soon(user: User, days: int) -> sa.Select:
    """The seats, in courses starting within ``days`` days, of measures ``user`` keeps the
    account of, paid by the person and with a balance due."""
    today = today_local()
    owing = (
        sa.select(LedgerEntry.measure_id).group_by(LedgerEntry.measure_id)
        .having(sa.func.sum(LedgerEntry.amount_cents) > 0)
    )
    query = (
        sa.select(Enrollment)
        .join(LegalMeasure, LegalMeasure.id == Enrollment.measure_id)
        .join(Course, Course.id == Enrollment.course_id)
        .where(
            LegalMeasure.id.in_(owing),
            LegalMeasure.payer == Payer.PARTICIPANT,
            Enrollment.status.in_(TO_ATTEND_STATUSES),
            Course.status == CourseStatus.SCHEDULED,
            Course.starts_at >= local_to_utc(today, time(0)),
            Course.starts_at < local_to_utc(today + timedelta(days=days + 1), time(0)),
        )
    )
    if user.role != Role.ADMIN:
        query = query.where(LegalMeasure.handling_organization_id.in_(
            user.organization_ids if user.role == Role.ORGANIZER else []))
    return query


def fees_due_count(user: User, days: int = FEES_DUE_WITHIN_DAYS) -> int:
    """How many people still owe their fee before their course (one query)."""
    inner = _owing_soon(user, days).subquery()
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(inner)))


def fees_due(user: User, days: int = FEES_DUE_WITHIN_DAYS) -> sa.Select:
    """The same people as ``fees_due_count``, soonest course first (to paginate)."""
    return _owing_soon(user, days).options(
        selectinload(Enrollment.course).selectinload(Course.venue),
        selectinload(Enrollment.measure).selectinload(LegalMeasure.participant),
    ).order_by(Course.starts_at, Enrollment.id)
