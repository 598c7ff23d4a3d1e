"""The fee ledger (issue 19): entries, receipts numbered without gaps, the €450 cap, waivers
with a reason, the accounting export against the ledger, amounts read strictly, and pages that
cost the same number of statements whatever the number of entries."""
from __future__ import annotations

import csv
import io
import threading
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
import time_machine
from sqlalchemy.exc import IntegrityError

from stages.auth.models import Role
from stages.enrollment.ledger import services
from stages.enrollment.ledger.amounts import parse_amount
from stages.enrollment.ledger.documents import issue_invoices
from stages.enrollment.ledger.models import DocumentCounter, EntryKind, LedgerEntry, PaymentMethod
from stages.enrollment.models import EnrollmentStatus, LegalMeasure, Payer, PaymentStatus
from stages.errors import DomainError
from stages.extensions import db
from tests.conftest import IsolatedClient, requires_postgres
from tests.helpers import login, queries_for

TODAY = date(2026, 3, 10)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc), tick=False):
        yield


@pytest.fixture
def apcars(make):
    return make.organization(name="APCARS")


def _owing(make, apcars, fee=18000, **kw):
    return make.measure(handling=apcars, fee_cents=fee, **kw)


# --- Amounts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, cents", [
    ("12,50", 1250), ("12.50", 1250), ("1 200,00 €", 120000), ("1\u00a0200,00\u00a0€", 120000),
    ("180", 18000), ("0,5", 50), (" 45 € ", 4500),
])
def test_amounts_people_type_are_read(text, cents):
    assert parse_amount(text) == cents


@pytest.mark.parametrize("text", [
    "12,505", "sNaN", "NaN", "-3", "1e3", "1.200,00", "12,", ",50", "", "   ", "0", "0,00", "12 50",
    "١٢", "9" * 40, "+3", "Infinity",
])
def test_doubtful_amounts_are_refused(text):
    with pytest.raises(DomainError):
        parse_amount(text)


# --- Entries and the measure kept in step ------------------------------------------------------

def test_a_measure_s_fee_is_charged_and_its_status_follows_the_entries(make, apcars):
    measure = _owing(make, apcars)
    entry = services.record_payment(measure, 5000, PaymentMethod.CHEQUE, TODAY, "0012345")
    assert services.totals(measure) == services.Totals(charged=18000, paid=5000, waived=0, balance=13000)
    assert measure.payment_status == PaymentStatus.DUE and entry.receipt_label == "2026-0001"
    services.record_payment(measure, 13000, PaymentMethod.CARD, TODAY)
    assert measure.payment_status == PaymentStatus.PAID and services.totals(measure).balance == 0
    services.record_refund(measure, 3000, PaymentMethod.TRANSFER, TODAY, "Trop-perçu")
    assert measure.payment_status == PaymentStatus.DUE and services.totals(measure).balance == 3000


def test_a_payment_above_what_is_owed_is_refused(make, apcars):
    measure = _owing(make, apcars, fee=9000)
    with pytest.raises(DomainError, match="dépasse le reste dû"):
        services.record_payment(measure, 9001, PaymentMethod.CASH, TODAY)


def test_a_correction_is_a_new_entry_never_an_edit(make, apcars):
    measure = _owing(make, apcars)
    services.set_amount_owed(measure, 12000)
    kinds = db.session.execute(
        sa.select(LedgerEntry.kind, LedgerEntry.amount_cents).where(LedgerEntry.measure_id == measure.id)
        .order_by(LedgerEntry.id)).all()
    assert kinds == [(EntryKind.CHARGE, 18000), (EntryKind.CHARGE, -6000)]
    assert measure.fee_cents == 12000


# --- The €450 cap ------------------------------------------------------------------------------

def test_the_database_refuses_a_charge_above_450_euros(make, apcars):
    measure = _owing(make, apcars, fee=0)
    db.session.add(LedgerEntry(measure_id=measure.id, organization_id=apcars.id, kind=EntryKind.CHARGE,
                               amount_cents=45001, entry_date=TODAY))
    with pytest.raises(IntegrityError):
        db.session.flush()


def test_the_database_refuses_charges_adding_up_above_450_euros(make, apcars):
    measure = _owing(make, apcars, fee=40000)
    db.session.add(LedgerEntry(measure_id=measure.id, organization_id=apcars.id, kind=EntryKind.CHARGE,
                               amount_cents=6000, entry_date=TODAY))
    db.session.flush()
    measure.fee_cents = 46000  # what the ledger now says it charges: the measure's CHECK refuses
    with pytest.raises(IntegrityError):
        db.session.flush()


def test_the_service_refuses_more_than_450_euros_in_french(make, apcars):
    measure = _owing(make, apcars)
    with pytest.raises(DomainError, match="450 €"):
        services.set_amount_owed(measure, 45001)


def test_the_measure_form_says_the_cap_in_french(client, make, apcars):
    measure = _owing(make, apcars)
    login(client, make.user(Role.ORGANIZER, [apcars]))
    data = _measure_form(measure, fee="451,00")
    page = client.post(f"/mesures/{measure.id}/modifier", data=data).get_data(as_text=True)
    assert "entre 0 et 450" in page
    assert services.totals(db.session.get(LegalMeasure, measure.id)).charged == 18000


def _measure_form(measure, **overrides):
    data = {
        "frame": measure.frame.value, "authority": str(measure.authority_id),
        "handling_organization": str(measure.handling_organization_id), "case_reference": measure.case_reference,
        "facts_date": "", "decision_date": measure.decision_date.isoformat(), "final_date": "",
        "deadline": measure.deadline.isoformat(), "deadline_reason": "", "fee": "180", "payer": "participant",
        "payment_status": "due", "certificate_recipient": "", "procedure": "", "penalty_set_in_advance": "",
    }
    data.update(overrides)
    return data


# --- Waivers -----------------------------------------------------------------------------------

def test_the_database_refuses_a_waiver_without_reason(make, apcars):
    measure = _owing(make, apcars)
    for reason in (None, "", "   "):
        db.session.add(LedgerEntry(measure_id=measure.id, organization_id=apcars.id, kind=EntryKind.WAIVER,
                                   amount_cents=-1000, entry_date=TODAY, reason=reason))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_the_waiver_form_needs_a_reason_and_a_waiver_is_audited(client, make, apcars):
    measure = _owing(make, apcars)
    organizer = make.user(Role.ORGANIZER, [apcars])
    login(client, organizer)
    page = client.post(f"/mesures/{measure.id}/frais", data={"action": "waiver", "waiver-reason": " "})
    assert page.status_code == 200 and "Indiquez le motif de la dispense" in page.get_data(as_text=True)
    assert services.totals(measure).waived == 0
    done = client.post(f"/mesures/{measure.id}/frais",
                       data={"action": "waiver", "waiver-reason": "Ressources insuffisantes"})
    assert done.status_code == 302
    measure = db.session.get(LegalMeasure, measure.id)
    assert services.totals(measure).waived == 18000 and measure.payment_status == PaymentStatus.WAIVED
    from stages.auth.models import AuditEntry

    actions = db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.participant_id == measure.participant_id))
    assert "ledger.waiver_recorded" in set(actions)


# --- Receipts: numbered without gaps -----------------------------------------------------------

def test_receipts_are_numbered_per_association_and_year(make, apcars):
    other = make.organization(name="Fondation Scelles")
    a1, a2, b1 = _owing(make, apcars), _owing(make, apcars), _owing(make, other)
    labels = [services.record_payment(m, 1000, PaymentMethod.CASH, TODAY).receipt_label for m in (a1, a2, b1)]
    assert labels == ["2026-0001", "2026-0002", "2026-0001"]
    with time_machine.travel(datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc), tick=False):
        assert services.record_payment(a1, 1000, PaymentMethod.CASH, date(2027, 1, 4)).receipt_label == "2027-0001"


def test_a_rolled_back_payment_burns_no_number(make, apcars):
    measure = _owing(make, apcars)
    services.record_payment(measure, 1000, PaymentMethod.CASH, TODAY)
    db.session.commit()
    services.record_payment(measure, 1000, PaymentMethod.CASH, TODAY)  # number 2, then the action fails
    db.session.rollback()
    measure = db.session.get(LegalMeasure, measure.id)
    assert services.record_payment(measure, 1000, PaymentMethod.CASH, TODAY).receipt_label == "2026-0002"


def test_a_failing_payment_form_burns_no_number(client, make, apcars):
    measure = _owing(make, apcars, fee=1000)
    login(client, make.user(Role.ORGANIZER, [apcars]))
    form = {"action": "payment", "payment-amount": "10", "payment-method": "cash", "payment-paid_on": "2026-03-09"}
    assert client.post(f"/mesures/{measure.id}/frais", data=form).status_code == 302
    refused = client.post(f"/mesures/{measure.id}/frais", data=form)  # nothing is owed any more
    assert "dépasse le reste dû" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(DocumentCounter.last_number)) == 1


def test_two_receipts_never_share_a_number_in_the_database(make, apcars):
    measure = _owing(make, apcars)
    first = services.record_payment(measure, 1000, PaymentMethod.CASH, TODAY)
    db.session.add(LedgerEntry(measure_id=measure.id, organization_id=apcars.id, kind=EntryKind.PAYMENT,
                               amount_cents=-1000, entry_date=TODAY, method=PaymentMethod.CASH,
                               receipt_year=2026, receipt_number=first.receipt_number))
    with pytest.raises(IntegrityError):
        db.session.flush()


@pytest.fixture
def twenty_connections(app):
    """An engine whose pool holds 20 connections at once (the application's holds 15), so that
    the 20 payments below each have their own session and connection at the same moment."""
    db.session.remove()
    engines = db.engines
    default = engines[None]
    wide = sa.create_engine(default.url, pool_size=22, max_overflow=0)
    engines[None] = wide
    try:
        yield
    finally:
        db.session.remove()
        engines[None] = default
        wide.dispose()


@requires_postgres
def test_twenty_concurrent_payments_get_twenty_consecutive_numbers(app, twenty_connections, make, apcars):
    measures = [_owing(make, apcars) for _ in range(20)]
    db.session.commit()
    ids, barrier, errors = [m.id for m in measures], threading.Barrier(20, timeout=30), []

    def pay(measure_id):
        try:
            with app.app_context():
                measure = db.session.get(LegalMeasure, measure_id)
                barrier.wait()  # all 20 sessions hold their measure: now all pay at once
                services.record_payment(measure, 1000, PaymentMethod.CARD, TODAY)
                db.session.commit()
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(repr(error))

    threads = [threading.Thread(target=pay, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    numbers = sorted(db.session.scalars(sa.select(LedgerEntry.receipt_number).where(LedgerEntry.receipt_number.is_not(None))))
    assert numbers == list(range(1, 21))
    assert db.session.scalar(sa.select(DocumentCounter.last_number)) == 20


@requires_postgres
def test_a_payment_rolled_back_while_others_wait_leaves_no_gap(app, make, apcars):
    measures = [_owing(make, apcars) for _ in range(3)]
    db.session.commit()
    ids, holding, release = [m.id for m in measures], threading.Event(), threading.Event()

    def pay_then_fail():
        with app.app_context():
            services.record_payment(db.session.get(LegalMeasure, ids[0]), 1000, PaymentMethod.CARD, TODAY)
            holding.set()
            release.wait(10)
            db.session.rollback()  # the action failed after its number was taken

    def pay(measure_id):
        with app.app_context():
            holding.wait(10)
            services.record_payment(db.session.get(LegalMeasure, measure_id), 1000, PaymentMethod.CARD, TODAY)
            db.session.commit()

    threads = [threading.Thread(target=pay_then_fail)] + [threading.Thread(target=pay, args=(i,)) for i in ids[1:]]
    for thread in threads:
        thread.start()
    holding.wait(10)
    release.set()
    for thread in threads:
        thread.join(30)
    numbers = sorted(db.session.scalars(sa.select(LedgerEntry.receipt_number).where(LedgerEntry.receipt_number.is_not(None))))
    assert numbers == [1, 2]


def test_the_receipt_pdf_carries_the_number_and_the_legal_mentions(client, make, apcars):
    from stages.enrollment.ledger.documents import save_billing

    admin = make.user(Role.ADMIN)
    save_billing(apcars, "12345678900012", True, by=admin)
    measure = _owing(make, apcars)
    entry = services.record_payment(measure, 4500, PaymentMethod.CHEQUE, TODAY, "0012345")
    login(client, make.user(Role.ORGANIZER, [apcars]))
    response = client.get(f"/frais/recus/{entry.id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = _pdf_text(response.data)
    for expected in ("Reçu n° 2026-0001", "SIRET 123 456 789 00012", "TVA non applicable, art. 293 B du CGI",
                     "45,00", "Chèque", "0012345"):
        assert expected in text


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).replace("\u00a0", " ")


# --- Invoices to the court ---------------------------------------------------------------------

def test_court_paid_fees_are_invoiced_once_per_course_and_authority(client, make, apcars):
    parquet, tribunal = make.authority(name="Parquet de Paris"), make.authority(name="Tribunal judiciaire")
    course = make.course(organizations=[apcars], day=TODAY - timedelta(days=1))
    for authority, fee in ((parquet, 18000), (parquet, 9000), (tribunal, 12000)):
        make.enrollment(_owing(make, apcars, fee=fee, authority=authority, payer=Payer.AUTHORITY), course,
                        status=EnrollmentStatus.ATTENDED)
    make.enrollment(_owing(make, apcars, fee=5000, authority=parquet), course, status=EnrollmentStatus.ATTENDED)
    organizer = make.user(Role.ORGANIZER, [apcars])
    invoices = issue_invoices(course, by=organizer)
    assert [(i.authority.name, i.number_label, i.total_cents) for i in invoices] == sorted(
        [("Parquet de Paris", invoices[0].number_label, 27000), ("Tribunal judiciaire", invoices[1].number_label, 12000)],
        key=lambda row: row[1])
    assert {i.number_label for i in invoices} == {"2026-0001", "2026-0002"}
    with pytest.raises(DomainError):
        issue_invoices(course, by=organizer)
    login(client, organizer)
    text = _pdf_text(client.get(f"/frais/factures/{invoices[0].id}.pdf").data)
    assert "Facture n° 2026-0001" in text and "Total" in text
    assert not any(p in text for p in ("DUPONT", "Jean"))  # case references, not names


# --- The accounting export against the ledger --------------------------------------------------

def test_the_accounting_export_balances_to_the_cent_with_the_ledger(client, make, apcars):
    organizer = make.user(Role.ORGANIZER, [apcars])
    measures = [_owing(make, apcars, fee=fee) for fee in (18000, 9050, 6533, 45000, 1)]
    services.record_payment(measures[0], 6001, PaymentMethod.CHEQUE, TODAY, "=HYPERLINK(\"http://x\")")
    services.record_payment(measures[1], 9050, PaymentMethod.CARD, TODAY)
    services.record_refund(measures[1], 17, PaymentMethod.CASH, TODAY, "Erreur de caisse")
    services.record_waiver(measures[2], "Ressources", 333)
    services.set_amount_owed(measures[3], 30099)
    other = _owing(make, make.organization(name="Autre"), fee=7000)  # not this organizer's books
    login(client, organizer)
    response = client.get("/comptabilite/export.csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))
    header, lines = rows[0], rows[1:]
    exported = sum(Decimal(line[header.index("Montant (€)")].replace(",", ".")) for line in lines)
    ledger = sum(services.totals(m).balance for m in measures)
    assert exported * 100 == ledger == 18000 - 6001 + 17 + 6533 - 333 + 30099 + 1
    assert all(line[1] == "APCARS" for line in lines) and other.id not in {
        int(line[6].removeprefix("Mesure n° ")) for line in lines}
    assert any(line[header.index("Référence")].startswith("'=") for line in lines)  # formula-safe
    page = client.get("/comptabilite").get_data(as_text=True)
    assert f"{ledger / 100:.2f}".replace(".", ",") in page.replace("\u202f", "")  # the page's total too


def test_the_accounting_list_filters_by_association_and_period(client, make, apcars):
    measure = _owing(make, apcars)
    services.record_payment(measure, 1000, PaymentMethod.CASH, TODAY - timedelta(days=40))
    services.record_payment(measure, 2000, PaymentMethod.CASH, TODAY)
    login(client, make.user(Role.ADMIN))
    csv_text = client.get(f"/comptabilite/export.csv?organisation={apcars.id}&du=2026-03-01&au=2026-03-31").get_data(as_text=True)
    amounts = [line.split(";")[5] for line in csv_text.splitlines()[1:]]
    assert amounts == ["180,00", "-20,00"]  # the charge and the payment of March, not February's


# --- Pages -------------------------------------------------------------------------------------

def test_the_person_s_page_shows_the_account_forms_only_to_the_association(client, make, apcars):
    authority = make.authority()
    measure = _owing(make, apcars, authority=authority)
    services.record_payment(measure, 5000, PaymentMethod.CHEQUE, TODAY)
    login(client, make.user(Role.ORGANIZER, [apcars]))
    page = client.get(f"/personnes/{measure.participant_id}").get_data(as_text=True)
    assert "Frais de stage" in page and "Reçu n° 2026-0001" in page and f"/mesures/{measure.id}/frais" in page
    liaison = IsolatedClient(client.application, client.application.response_class, use_cookies=True)
    login(liaison, make.user(Role.LIAISON, [authority]))
    page = liaison.get(f"/personnes/{measure.participant_id}").get_data(as_text=True)
    assert "Frais de stage" in page and "130,00" in page.replace("\u202f", "")
    assert f"/mesures/{measure.id}/frais" not in page and "/frais/recus/" not in page


def test_the_convocation_asks_for_what_the_ledger_says_is_left(make, apcars):
    from stages.enrollment.convocation.wording import fee_text

    measure = _owing(make, apcars)
    assert "s'élèvent à 180,00\u00a0€. Ils sont à régler" in fee_text(measure, apcars)
    services.record_payment(measure, 5000, PaymentMethod.CASH, TODAY)
    assert "il reste 130,00\u00a0€ à régler" in fee_text(measure, apcars)
    services.record_payment(measure, 13000, PaymentMethod.CASH, TODAY)
    assert "sont réglés" in fee_text(measure, apcars)


def test_the_home_page_counts_people_owing_before_their_course(client, make, apcars):
    organizer = make.user(Role.ORGANIZER, [apcars])
    soon = make.course(organizations=[apcars], day=TODAY + timedelta(days=5))
    later = make.course(organizations=[apcars], day=TODAY + timedelta(days=40))
    owing, paid, far = _owing(make, apcars), _owing(make, apcars), _owing(make, apcars)
    services.record_payment(paid, 18000, PaymentMethod.CASH, TODAY)
    make.enrollment(owing, soon)
    make.enrollment(paid, soon)
    make.enrollment(far, later)
    make.enrollment(_owing(make, apcars, payer=Payer.AUTHORITY), soon)
    login(client, organizer)
    page = client.get("/").get_data(as_text=True)
    assert "Frais à régler avant le stage" in page
    listing = client.get("/comptabilite/a-regler").get_data(as_text=True)
    assert owing.participant.display_name in listing
    assert paid.participant.display_name not in listing and far.participant.display_name not in listing


def _entries(make, org, n):
    for _ in range(n):
        measure = _owing(make, org, fee=9000)
        services.record_payment(measure, 1000, PaymentMethod.CASH, TODAY)


def test_the_accounting_list_costs_the_same_at_two_sizes(client, make, apcars):
    _entries(make, apcars, 14)  # 28 entries: more than a page already (25), as 80 are
    login(client, make.user(Role.ORGANIZER, [apcars]))
    small = queries_for(client, "/comptabilite")
    _entries(make, apcars, 26)
    db.session.commit()  # the test's own writes are not the page's statements
    assert queries_for(client, "/comptabilite") == small


def test_the_fees_due_list_and_person_s_page_cost_the_same_at_two_sizes(client, make, apcars):
    course = make.course(organizations=[apcars], day=TODAY + timedelta(days=3), capacity=40)
    for _ in range(2):
        make.enrollment(_owing(make, apcars), course)
    login(client, make.user(Role.ORGANIZER, [apcars]))
    small = queries_for(client, "/comptabilite/a-regler")
    for _ in range(20):
        make.enrollment(_owing(make, apcars), course)
    db.session.commit()
    assert queries_for(client, "/comptabilite/a-regler") == small


def test_the_person_s_page_costs_the_same_however_many_entries(client, make, apcars):
    measure = _owing(make, apcars, fee=45000)
    services.record_payment(measure, 100, PaymentMethod.CASH, TODAY)
    login(client, make.user(Role.ORGANIZER, [apcars]))
    client.get(f"/personnes/{measure.participant_id}")  # its audit entry names a user: shown from now on
    small = queries_for(client, f"/personnes/{measure.participant_id}")
    for _ in range(15):
        services.record_payment(measure, 100, PaymentMethod.CASH, TODAY)
    db.session.commit()
    assert queries_for(client, f"/personnes/{measure.participant_id}") == small


def test_billing_settings_are_admins_and_checked(client, make, apcars):
    login(client, make.user(Role.ADMIN))
    bad = client.post(f"/organisations/{apcars.id}/facturation", data={"siret": "1234"})
    assert "14 chiffres" in bad.get_data(as_text=True)
    assert client.post(f"/organisations/{apcars.id}/facturation",
                       data={"siret": "12345678900012", "vat_exempt": "y"}).status_code == 302
