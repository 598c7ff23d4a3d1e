"""The ledger's tables: entries (append-only), the numbering counters of receipts and invoices,
the invoices sent to referring authorities, and an association's billing mentions."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stages.auth.models import Organization, User
from stages.enums import LabelledEnum, enum_column_type
from stages.extensions import db
from stages.scheduling.models import MAX_FEE_CENTS
from stages.timeutil import now_utc


class EntryKind(LabelledEnum):
    """What an entry does to the balance (what the person still owes)."""

    CHARGE = "charge", "Montant dû"
    PAYMENT = "payment", "Paiement"
    REFUND = "refund", "Remboursement"
    WAIVER = "waiver", "Dispense"


class PaymentMethod(LabelledEnum):
    CARD = "card", "Carte bancaire"
    CHEQUE = "cheque", "Chèque"
    TRANSFER = "transfer", "Virement"
    CASH = "cash", "Espèces"


class DocumentSeries(LabelledEnum):
    RECEIPT = "receipt", "Reçu"
    INVOICE = "invoice", "Facture"


class LedgerEntry(db.Model):
    """One line of a measure's account, never changed once written: a mistake is corrected by
    another entry. ``amount_cents`` is signed as it moves the balance: a charge or a refund adds
    to what is owed, a payment or a waiver takes from it (a charge may be negative: a correction
    of the amount owed)."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(sa.ForeignKey("legal_measures.id"))
    # The association whose account it is (the measure's handling association when written).
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    kind: Mapped[EntryKind] = mapped_column(enum_column_type(EntryKind, "ledger_entry_kind"))
    amount_cents: Mapped[int]
    # The day it happened (a cheque received, a transfer credited), Europe/Paris.
    entry_date: Mapped[date]
    method: Mapped[PaymentMethod | None] = mapped_column(enum_column_type(PaymentMethod, "payment_method"))
    # A cheque's number, a transfer's label: what finds the money in the bank statement.
    reference: Mapped[str | None] = mapped_column(sa.String(80))
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    # A payment's receipt: « 2026-0001 », numbered without gaps per association and year.
    receipt_year: Mapped[int | None]
    receipt_number: Mapped[int | None]
    # Carried over from the measure's former « Payé » status (migration 0032) or noted « Payé »
    # on the measure's form: a payment without a method nor a receipt.
    carried_over: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    organization: Mapped[Organization] = relationship()
    created_by: Mapped[User | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint(
            "(kind = 'charge' AND amount_cents <> 0 "
            f"AND amount_cents BETWEEN -{MAX_FEE_CENTS} AND {MAX_FEE_CENTS})"
            " OR (kind IN ('payment', 'waiver') AND amount_cents < 0)"
            " OR (kind = 'refund' AND amount_cents > 0)",
            name="amount_sign",
        ),
        sa.CheckConstraint(
            "kind <> 'waiver' OR length(trim(coalesce(reason, ''))) > 0", name="waiver_reason"
        ),
        sa.CheckConstraint(
            "(kind = 'payment' AND carried_over AND receipt_number IS NULL)"
            " OR (kind = 'payment' AND NOT carried_over AND method IS NOT NULL AND receipt_number IS NOT NULL)"
            " OR (kind = 'refund' AND NOT carried_over AND method IS NOT NULL AND receipt_number IS NULL)"
            " OR (kind IN ('charge', 'waiver') AND NOT carried_over AND method IS NULL"
            " AND receipt_number IS NULL)",
            name="method_and_receipt",
        ),
        sa.CheckConstraint(
            "(receipt_number IS NULL) = (receipt_year IS NULL)", name="receipt_year_number"
        ),
        sa.CheckConstraint("receipt_number IS NULL OR receipt_number >= 1", name="receipt_positive"),
        sa.UniqueConstraint("organization_id", "receipt_year", "receipt_number"),
        sa.Index("ix_ledger_entries_measure_id", "measure_id"),
        sa.Index("ix_ledger_entries_organization_date", "organization_id", "entry_date"),
        sa.Index("ix_ledger_entries_entry_date", "entry_date"),
    )

    @property
    def receipt_label(self) -> str | None:
        return document_number(self.receipt_year, self.receipt_number)


class DocumentCounter(db.Model):
    """The last number given in a series (receipts, invoices) of an association for a year:
    incremented with UPDATE … RETURNING in the transaction that writes the document, so the
    row stays locked until it commits, and a rolled-back document gives its number back."""

    __tablename__ = "document_counters"

    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    series: Mapped[DocumentSeries] = mapped_column(
        enum_column_type(DocumentSeries, "document_series"), primary_key=True
    )
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(default=0)

    __table_args__ = (sa.CheckConstraint("last_number >= 0", name="last_number_positive"),)


class FeeInvoice(db.Model):
    """The invoice of a course's fees to one referring authority (people whose payer is the
    authority), numbered in its own series per association and year."""

    __tablename__ = "fee_invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    authority_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    course_id: Mapped[int] = mapped_column("session_id", sa.ForeignKey("course_sessions.id"))
    year: Mapped[int]
    number: Mapped[int]
    issued_on: Mapped[date]
    total_cents: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    organization: Mapped[Organization] = relationship(foreign_keys=[organization_id])
    authority: Mapped[Organization] = relationship(foreign_keys=[authority_id])
    lines: Mapped[list["FeeInvoiceLine"]] = relationship(
        back_populates="invoice", order_by="FeeInvoiceLine.id"
    )

    __table_args__ = (
        sa.UniqueConstraint("organization_id", "year", "number"),
        sa.UniqueConstraint("session_id", "authority_id", "organization_id"),
        sa.CheckConstraint("number >= 1", name="number_positive"),
        sa.CheckConstraint("total_cents >= 0", name="total_positive"),
        sa.Index("ix_fee_invoices_authority_id", "authority_id"),
    )

    @property
    def number_label(self) -> str:
        return document_number(self.year, self.number)


class FeeInvoiceLine(db.Model):
    """One person's fee on an invoice: the case reference and the amount, nothing more."""

    __tablename__ = "fee_invoice_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("fee_invoices.id", ondelete="CASCADE"))
    measure_id: Mapped[int] = mapped_column(sa.ForeignKey("legal_measures.id"))
    case_reference: Mapped[str] = mapped_column(sa.String(80))
    amount_cents: Mapped[int]

    invoice: Mapped[FeeInvoice] = relationship(back_populates="lines")

    __table_args__ = (
        sa.UniqueConstraint("invoice_id", "measure_id"),
        sa.CheckConstraint(f"amount_cents BETWEEN 0 AND {MAX_FEE_CENTS}", name="amount_range"),
        sa.Index("ix_fee_invoice_lines_measure_id", "measure_id"),
    )


class BillingSettings(db.Model):
    """What an association's receipts and invoices must carry besides its letterhead: its SIRET
    and whether it is exempt of VAT (« TVA non applicable, art. 293 B du CGI »)."""

    __tablename__ = "billing_settings"

    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    siret: Mapped[str | None] = mapped_column(sa.String(14))
    vat_exempt: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    updated_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        sa.CheckConstraint("siret IS NULL OR length(siret) = 14", name="siret_length"),
    )


def document_number(year: int | None, number: int | None) -> str | None:
    """« 2026-0001 »."""
    if year is None or number is None:
        return None
    return f"{year}-{number:04d}"
