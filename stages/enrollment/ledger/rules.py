"""Who may see which ledger entries and invoices: the organizers of the association whose
account it is, and admins. A liaison reads a measure's entries on the person's page only."""
from __future__ import annotations

import sqlalchemy as sa

from stages.auth.audit import describes
from stages.auth.models import Role, User
from stages.auth.permissions import Permission, object_rule, scope
from stages.enrollment.ledger.models import FeeInvoice, LedgerEntry, document_number
from stages.extensions import db


def _in_account(user: User, organization_id: int) -> bool:
    return user.role == Role.ORGANIZER and organization_id in user.organization_ids


@object_rule(LedgerEntry)
def entry_rule(user: User, permission: Permission, entry: LedgerEntry) -> bool:
    return _in_account(user, entry.organization_id)


@object_rule(FeeInvoice)
def invoice_rule(user: User, permission: Permission, invoice: FeeInvoice) -> bool:
    return _in_account(user, invoice.organization_id)


@scope(LedgerEntry)
def visible_entries(user: User) -> sa.Select:
    """The entries of the associations ``user`` keeps the accounts of."""
    query = sa.select(LedgerEntry)
    if user.role == Role.ADMIN:
        return query
    if user.role == Role.ORGANIZER:
        return query.where(LedgerEntry.organization_id.in_(user.organization_ids))
    return query.where(sa.false())


@describes("LedgerEntry")
def _describe_entries(ids: list[int]) -> dict[int, str]:
    """« Écriture n° 4 (paiement, reçu 2026-0001) »: never a name."""
    rows = db.session.execute(
        sa.select(LedgerEntry.id, LedgerEntry.kind, LedgerEntry.receipt_year, LedgerEntry.receipt_number)
        .where(LedgerEntry.id.in_(ids))
    )
    return {
        i: f"Écriture n° {i} ({kind.label.lower()}" + (f", reçu {document_number(y, n)})" if n else ")")
        for i, kind, y, n in rows
    }


@describes("FeeInvoice")
def _describe_invoices(ids: list[int]) -> dict[int, str]:
    rows = db.session.execute(
        sa.select(FeeInvoice.id, FeeInvoice.year, FeeInvoice.number).where(FeeInvoice.id.in_(ids))
    )
    return {i: f"Facture {document_number(y, n)}" for i, y, n in rows}
