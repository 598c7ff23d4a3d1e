"""The fee ledger's pages in the browser, on the demo data: a person's account with its
entries and forms (and a form sent back with its errors), the accounting list, the fees due,
an association's billing mentions, the person's and the course's pages that show them; each on
a 390×844 phone and a desktop, without sideways scrolling and axe-core clean (the sweep of
test_every_page.py opens them too, among every page)."""
from __future__ import annotations

import pytest

from stages.demo import load_demo
from stages.enrollment.ledger.models import LedgerEntry
from stages.extensions import db
from tests.browser.conftest import MISSING, SKIP_REASON
from tests.browser.test_every_page import SIZES, Demo, _check_page, _log_in

pytestmark = pytest.mark.skipif(MISSING, reason=SKIP_REASON)


def test_fee_pages_on_a_phone_and_a_desktop(journey):
    load_demo()
    db.session.commit()
    demo = Demo()
    receipt_measure = db.session.scalar(
        LedgerEntry.__table__.select().with_only_columns(LedgerEntry.measure_id)
        .where(LedgerEntry.receipt_number.is_not(None)).order_by(LedgerEntry.id).limit(1)
    )
    pages = {
        "organizer": [f"/mesures/{demo.measure}/frais", f"/mesures/{receipt_measure}/frais", "/comptabilite",
                      "/comptabilite/a-regler", f"/personnes/{demo.participant}", f"/stages/{demo.closed}"],
        "liaison": [f"/personnes/{demo.participant}"],
        "admin": [f"/organisations/{demo.organization}/facturation", "/comptabilite?du=2026-01-01&au=2026-12-31"],
    }
    problems = []
    for role, urls in pages.items():
        _log_in(journey, role)
        for size in SIZES:
            journey.set_viewport(*size)
            for url in urls:
                problems += [f"[{role}] {p}" for p in _check_page(journey, role, url, size)]
    # A payment refused by the form: its errors shown, still clean and narrow enough.
    _log_in(journey, "organizer")
    for size in SIZES:
        journey.set_viewport(*size)
        journey.driver.get(journey.base_url + f"/mesures/{demo.measure}/frais")
        journey.css("#payment-amount").send_keys("12,505")
        journey._mark_page()
        journey.button("Enregistrer le paiement et numéroter le reçu").click()
        journey._wait_new_page()
        assert "deux décimales" in journey.driver.page_source
        journey.check_accessibility()
    assert not problems and not journey.violations, problems + [str(v) for v in journey.violations]
