"""Migration 0032 (the fee ledger) on a database in use: each fee on file becomes a charge, a « Payé » status a
payment carried over (no receipt), a « Dispensé » a waiver with its reason; measures without an
association or without a fee get no entry; the balances then say what the statuses said. The
benchmark's generator opens the same accounts in bulk (``open_accounts_in_bulk``)."""
from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from stages import create_app
from stages.enrollment.ledger.models import LedgerEntry
from stages.enrollment.ledger.services import open_accounts_in_bulk, totals_of
from stages.enrollment.models import Payer, PaymentStatus
from stages.extensions import db
from tests import factories as make

CASES = (  # fee, payer, status, handled → (charged, paid, waived, balance)
    (18000, Payer.PARTICIPANT, PaymentStatus.DUE, True, (18000, 0, 0, 18000)),
    (9000, Payer.PARTICIPANT, PaymentStatus.PAID, True, (9000, 9000, 0, 0)),
    (6500, Payer.PARTICIPANT, PaymentStatus.WAIVED, True, (6500, 0, 6500, 0)),
    (12000, Payer.WAIVED, PaymentStatus.DUE, True, (12000, 0, 12000, 0)),
    (15000, Payer.AUTHORITY, PaymentStatus.DUE, True, (15000, 0, 0, 15000)),
    (0, Payer.PARTICIPANT, PaymentStatus.WAIVED, True, None),
    (18000, Payer.PARTICIPANT, PaymentStatus.DUE, False, None),
)


def _measures():
    apcars = make.organization(name="APCARS")
    return [
        make.measure(handling=apcars if handled else None, fee_cents=fee, payer=payer, payment_status=status).id
        for fee, payer, status, handled, _ in CASES
    ]


def _check(ids):
    totals = totals_of(ids)
    for measure_id, case in zip(ids, CASES):
        expected = case[-1]
        got = totals.get(measure_id)
        assert (tuple(vars(got).values()) if got else None) == expected, case
    receipts = db.session.scalar(sa.select(sa.func.count()).where(LedgerEntry.receipt_number.is_not(None)))
    assert receipts == 0  # carried-over payments have no receipt


def test_migration_0032_turns_the_fees_on_file_into_entries(tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fees.sqlite3'}"})
    with app.app_context():
        upgrade()
        ids = _measures()
        db.session.commit()
        downgrade(revision="0031_programme")  # the fees as they were before the ledger
        upgrade()
        db.session.expire_all()
        _check(ids)
        dates = set(db.session.scalars(sa.select(LedgerEntry.entry_date)))
        assert len(dates) == 1  # the day the measures were recorded
        db.session.remove()
        db.engine.dispose()


def test_generated_measures_get_the_same_accounts_in_bulk(app):
    ids = _measures()
    db.session.execute(sa.delete(LedgerEntry))  # as the generator writes measures: no entry yet
    assert open_accounts_in_bulk() == 8  # 5 charges, 1 payment, 2 waivers
    _check(ids)
    assert open_accounts_in_bulk() == 0  # once only
