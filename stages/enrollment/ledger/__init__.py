"""The fee ledger (issue 19): what each person owes, pays, is refunded or excused, as entries
that are never rewritten; numbered receipts and the invoices of court-paid courses; the
accounting export."""
