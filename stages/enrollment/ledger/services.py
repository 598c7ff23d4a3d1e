"""Writing to the ledger: charges, payments (with their receipt number), refunds and waivers.

Every entry is written under the measure's row lock, and the measure's ``fee_cents`` (the
amount charged, net of corrections) and ``payment_status`` (derived from the balance) are kept in
step in the same transaction, so the pages and documents that read them stay right. Services
flush; the caller commits.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from stages.auth.audit import audit
from stages.enrollment.ledger.amounts import euros
from stages.enrollment.ledger.models import (
    DocumentCounter,
    DocumentSeries,
    EntryKind,
    LedgerEntry,
    PaymentMethod,
)
from stages.enrollment.models import LegalMeasure, Payer, PaymentStatus
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import MAX_FEE_CENTS
from stages.timeutil import today_local

MAX_REASON = 500
MAX_REFERENCE = 80
MEASURE_WAIVER_REASON = "Dispense notée sur la mesure"


@dataclass(frozen=True)
class Totals:
    """A measure's account: what was charged, paid (net of refunds), waived, and still owed."""

    charged: int = 0
    paid: int = 0
    waived: int = 0
    balance: int = 0


def totals_of_entries(entries) -> Totals:
    """``Totals`` of entries already loaded: the same sums as ``totals_columns``."""
    by_kind: dict[EntryKind, int] = defaultdict(int)
    for entry in entries:
        by_kind[entry.kind] += entry.amount_cents
    return Totals(
        by_kind[EntryKind.CHARGE],
        -(by_kind[EntryKind.PAYMENT] + by_kind[EntryKind.REFUND]),
        -by_kind[EntryKind.WAIVER],
        sum(by_kind.values()),
    )


def totals_columns():
    """The SUMs that make ``Totals``, for a query grouped by measure (``totals_of_entries``
    makes the same from loaded entries)."""
    def total(*kinds):
        return sa.func.coalesce(sa.func.sum(sa.case(
            (LedgerEntry.kind.in_(kinds), LedgerEntry.amount_cents), else_=0)), 0)

    return (
        total(EntryKind.CHARGE),
        -total(EntryKind.PAYMENT, EntryKind.REFUND),
        -total(EntryKind.WAIVER),
        sa.func.coalesce(sa.func.sum(LedgerEntry.amount_cents), 0),
    )


def totals_of(measure_ids) -> dict[int, Totals]:
    """Each measure's ``Totals`` (one query, whatever their number); none for a measure
    without entries."""
    ids = list(measure_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(LedgerEntry.measure_id, *totals_columns())
        .where(LedgerEntry.measure_id.in_(ids)).group_by(LedgerEntry.measure_id)
    )
    return {row[0]: Totals(*(int(v) for v in row[1:])) for row in rows}


def totals(measure: LegalMeasure) -> Totals:
    return totals_of([measure.id]).get(measure.id, Totals())


def amount_due(measure: LegalMeasure) -> int:
    """What the person still owes, from the ledger (the measure's amount for one without an
    association, hence without an account); read only when something may be owed."""
    if measure.fee_cents <= 0 or measure.payment_status != PaymentStatus.DUE:
        return 0
    if measure.handling_organization_id is None:
        return measure.fee_cents
    return max(totals(measure).balance, 0)


def next_number(organization_id: int, series: DocumentSeries, year: int) -> int:
    """The next number of ``series`` for the association and year, taken in the caller's
    transaction: the counter's row stays locked until it commits (concurrent documents wait and
    get the following numbers), and a rollback gives the number back."""
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(DocumentCounter.__table__)
    db.session.execute(
        insert.values(organization_id=organization_id, series=series.value, year=year, last_number=0)
        .on_conflict_do_nothing()
    )
    table = DocumentCounter.__table__
    return db.session.execute(
        sa.update(table)
        .where(table.c.organization_id == organization_id, table.c.series == series.value, table.c.year == year)
        .values(last_number=table.c.last_number + 1)
        .returning(table.c.last_number)
    ).scalar_one()


def _lock(measure: LegalMeasure) -> Totals:
    """Take the measure's row lock (entries of one measure are written one at a time); its
    totals as they stand."""
    db.session.execute(sa.select(LegalMeasure.id).where(LegalMeasure.id == measure.id).with_for_update())
    return totals(measure)


def _account_of(measure: LegalMeasure) -> int:
    if measure.handling_organization_id is None:
        raise DomainError("Aucune association n'est chargée de cette mesure : indiquez-la sur la "
                          "mesure avant d'enregistrer un paiement.")
    return measure.handling_organization_id


def _post(measure: LegalMeasure, kind: EntryKind, amount_cents: int, *, on: date, by=None, **values) -> LedgerEntry:
    entry = LedgerEntry(
        measure_id=measure.id, organization_id=_account_of(measure), kind=kind,
        amount_cents=amount_cents, entry_date=on, created_by_id=getattr(by, "id", None), **values,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def _settle(measure: LegalMeasure, keep_status: bool = False) -> Totals:
    """Bring the measure's ``fee_cents`` and ``payment_status`` in step with its entries."""
    now = totals(measure)
    measure.fee_cents = now.charged
    if now.balance > 0:
        measure.payment_status = PaymentStatus.DUE
    elif now.paid > 0:
        measure.payment_status = PaymentStatus.PAID
    elif now.waived > 0:
        measure.payment_status = PaymentStatus.WAIVED
    elif not keep_status and now.charged > 0:
        measure.payment_status = PaymentStatus.DUE
    db.session.flush()
    return now


def _clean_text(value: str | None, limit: int) -> str | None:
    value = (value or "").strip()
    if len(value) > limit:
        raise DomainError(f"Ce texte dépasse {limit} caractères.")
    return value or None


def _check_day(on: date) -> None:
    if on > today_local():
        raise DomainError("La date ne peut pas être dans le futur.")
    if on.year < 2000:
        raise DomainError("La date n'est pas plausible.")


def record_payment(measure: LegalMeasure, amount_cents: int, method: PaymentMethod, on: date,
                   reference: str | None = None, *, by=None) -> LedgerEntry:
    """Record a payment and number its receipt (« 2026-0001 », per association and year)."""
    _check_day(on)
    before = _lock(measure)
    if amount_cents <= 0:
        raise DomainError("Le montant doit être supérieur à zéro.")
    if amount_cents > before.balance:
        raise DomainError(f"Le paiement ({euros(amount_cents)}) dépasse le reste dû "
                          f"({euros(max(before.balance, 0))}).")
    organization_id = _account_of(measure)
    entry = _post(
        measure, EntryKind.PAYMENT, -amount_cents, on=on, by=by, method=method,
        reference=_clean_text(reference, MAX_REFERENCE), receipt_year=on.year,
        receipt_number=next_number(organization_id, DocumentSeries.RECEIPT, on.year),
    )
    _settle(measure)
    audit("ledger.payment_recorded", entry, participant_id=measure.participant_id,
          details=f"reçu {entry.receipt_label}, {euros(amount_cents)}, {method.label.lower()}")
    return entry


def record_refund(measure: LegalMeasure, amount_cents: int, method: PaymentMethod, on: date,
                  reason: str, reference: str | None = None, *, by=None) -> LedgerEntry:
    """Record money given back to the person (at most what they paid)."""
    _check_day(on)
    before = _lock(measure)
    reason = _clean_text(reason, MAX_REASON)
    if reason is None:
        raise DomainError("Indiquez le motif du remboursement.")
    if amount_cents <= 0 or amount_cents > before.paid:
        raise DomainError(f"Le remboursement ne peut dépasser ce qui a été payé ({euros(before.paid)}).")
    entry = _post(measure, EntryKind.REFUND, amount_cents, on=on, by=by, method=method,
                  reason=reason, reference=_clean_text(reference, MAX_REFERENCE))
    _settle(measure)
    audit("ledger.refund_recorded", entry, participant_id=measure.participant_id,
          details=f"{euros(amount_cents)}, {method.label.lower()}")
    return entry


def record_waiver(measure: LegalMeasure, reason: str, amount_cents: int | None = None, *,
                  on: date | None = None, by=None) -> LedgerEntry:
    """Excuse the person from all (``amount_cents`` None) or part of what they owe; the reason
    is required (the database refuses a waiver without one too) and the waiver audited."""
    reason = _clean_text(reason, MAX_REASON)
    if reason is None:
        raise DomainError("Indiquez le motif de la dispense.")
    before = _lock(measure)
    amount_cents = before.balance if amount_cents is None else amount_cents
    if before.balance <= 0:
        raise DomainError("Rien n'est dû : il n'y a rien à dispenser.")
    if not 0 < amount_cents <= before.balance:
        raise DomainError(f"La dispense ne peut dépasser le reste dû ({euros(before.balance)}).")
    entry = _post(measure, EntryKind.WAIVER, -amount_cents, on=on or today_local(), by=by, reason=reason)
    _settle(measure)
    audit("ledger.waiver_recorded", entry, participant_id=measure.participant_id,
          details=f"dispense de {euros(amount_cents)}")
    return entry


def set_amount_owed(measure: LegalMeasure, fee_cents: int, *, by=None, on: date | None = None) -> LedgerEntry | None:
    """Charge the measure so that what it owes in all is ``fee_cents`` (a correcting charge for
    the difference); at most 450 €, the maximum fine of the 3rd class."""
    if not 0 <= fee_cents <= MAX_FEE_CENTS:
        raise DomainError("Le montant du stage doit être compris entre 0 et 450 € (amende de 3e classe).")
    before = _lock(measure)
    if fee_cents == before.charged:
        return None
    entry = _post(measure, EntryKind.CHARGE, fee_cents - before.charged, on=on or today_local(), by=by)
    _settle(measure, keep_status=True)
    return entry


def open_accounts(measures, *, by=None) -> None:
    """The first entries of new measures (no entry yet), written in one statement for all of
    them (a referral list of thousands): the amount as a charge; « Payé » as a payment carried
    over without a receipt, « Dispensé » (status or payer) as a waiver. The measures' amount and
    status already say the same: nothing else to bring in step."""
    today, rows = today_local(), []
    for measure in measures:
        if measure.handling_organization_id is None or measure.fee_cents <= 0:
            continue
        common = dict(measure_id=measure.id, organization_id=measure.handling_organization_id,
                      entry_date=today, created_by_id=getattr(by, "id", None), method=None,
                      reason=None, carried_over=False)
        rows.append({**common, "kind": EntryKind.CHARGE, "amount_cents": measure.fee_cents})
        if measure.payment_status == PaymentStatus.PAID:
            rows.append({**common, "kind": EntryKind.PAYMENT, "amount_cents": -measure.fee_cents,
                         "carried_over": True, "reason": "Noté « Payé » sur la mesure, sans reçu"})
        elif measure.payment_status == PaymentStatus.WAIVED or measure.payer == Payer.WAIVED:
            rows.append({**common, "kind": EntryKind.WAIVER, "amount_cents": -measure.fee_cents,
                         "reason": MEASURE_WAIVER_REASON})
            measure.payment_status = PaymentStatus.WAIVED
    if rows:
        db.session.execute(sa.insert(LedgerEntry), rows)


def open_accounts_in_bulk(*, by=None) -> int:
    """``open_accounts`` for every measure that has an association, a fee and no entry yet, in
    three INSERT … SELECT (the benchmark's generated data: hundreds of thousands of measures),
    each entry dated the day its measure was recorded. Returns how many entries were written."""
    day = (sa.func.date(LegalMeasure.created_at) if db.session.get_bind().dialect.name == "sqlite"
           else sa.cast(LegalMeasure.created_at, sa.Date))
    no_entry = ~sa.exists().where(LedgerEntry.measure_id == LegalMeasure.id)
    table = LedgerEntry.__table__
    count = sa.select(sa.func.count()).select_from(table)
    before = db.session.scalar(count)
    columns = ["measure_id", "organization_id", "kind", "amount_cents", "entry_date", "reason",
               "carried_over", "created_at", "created_by_id"]
    now, author = sa.func.now(), sa.literal(getattr(by, "id", None), sa.Integer)
    kinds = (
        (EntryKind.CHARGE, LegalMeasure.fee_cents, None, False, sa.true()),
        (EntryKind.PAYMENT, -LegalMeasure.fee_cents, "Noté « Payé » sur la mesure, sans reçu", True,
         LegalMeasure.payment_status == PaymentStatus.PAID),
        (EntryKind.WAIVER, -LegalMeasure.fee_cents, MEASURE_WAIVER_REASON, False,
         sa.and_(LegalMeasure.payment_status != PaymentStatus.PAID,
                 sa.or_(LegalMeasure.payment_status == PaymentStatus.WAIVED, LegalMeasure.payer == Payer.WAIVED))),
    )
    ids = sa.select(LegalMeasure.id).where(
        LegalMeasure.handling_organization_id.is_not(None), LegalMeasure.fee_cents > 0, no_entry
    ).scalar_subquery()
    for kind, amount, reason, carried, condition in kinds:
        select = sa.select(
            LegalMeasure.id, LegalMeasure.handling_organization_id, sa.literal(kind.value), amount, day,
            sa.literal(reason, sa.String), sa.literal(carried, sa.Boolean), now, author,
        ).where(LegalMeasure.id.in_(ids), condition)
        db.session.execute(table.insert().from_select(columns, select))
        if kind == EntryKind.CHARGE:  # the charges are entries now: select the same measures
            ids = sa.select(LedgerEntry.measure_id).where(
                LedgerEntry.kind == EntryKind.CHARGE, LedgerEntry.measure_id.not_in(
                    sa.select(LedgerEntry.measure_id).where(LedgerEntry.kind != EntryKind.CHARGE))
            ).scalar_subquery()
    return db.session.scalar(count) - before


def sync_with_measure(measure: LegalMeasure, previous_status: PaymentStatus | None = None, *, by=None) -> None:
    """After the measure's form, an import or the demo data: its amount becomes a charge, and a
    status chosen there (``previous_status`` is the one it had: only a change counts) becomes
    an entry: « Payé » a payment carried over without a receipt (receipts are for payments
    recorded with their method), « Dispensé » a waiver of what is left. A measure without an
    association has no account: nothing is written."""
    if measure.handling_organization_id is None:
        return
    wanted = measure.payment_status
    set_amount_owed(measure, measure.fee_cents, by=by)
    now = totals(measure)
    changed = wanted != previous_status
    if now.balance > 0 and changed and wanted == PaymentStatus.PAID:
        _post(measure, EntryKind.PAYMENT, -now.balance, on=today_local(), by=by, carried_over=True,
              reason="Noté « Payé » sur la mesure, sans reçu")
    elif now.balance > 0 and ((changed and wanted == PaymentStatus.WAIVED) or measure.payer == Payer.WAIVED):
        _post(measure, EntryKind.WAIVER, -now.balance, on=today_local(), by=by, reason=MEASURE_WAIVER_REASON)
    _settle(measure, keep_status=True)
