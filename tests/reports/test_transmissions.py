"""Bilans really transmitted (issue 18): by email to the authority's mailbox through the outbox,
the SHA-256 of the file as the mail server received it, the measures « bilan transmis » only once
it was accepted, an SMTP refusal shown in French, the acknowledgment by the liaison or by a signed
link (POST only), the transmissions not acknowledged in time on the organizer's home."""
from __future__ import annotations

import email
import html
import email.policy
import hashlib
import re
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages.auth.models import AuditEntry, Role
from stages.enrollment.models import AuthorityReporting, FrameDefault, LegalFrame, MeasureStatus, ReportFormat
from stages.extensions import db
from stages.mail_reports import DeliveryReport
from stages.reports import bilan_sending
from stages.reports.models import Bilan, ReportTransmission, TransmissionStatus, TransmittedFile
from stages.reports.transmissions import acknowledgment_token
from tests.conftest import IsolatedClient, requires_postgres
from tests.factories import PASSWORD
from tests.helpers import count_queries, flashes, login, smtp_server

GREFFE = "greffe.penal@tj-paris.example"


@pytest.fixture
def case(make):
    org, authority = make.organization(name="APCARS"), make.authority(name="Parquet de Paris")
    course, enrollments = make.closed_course_with(people=2, organizations=[org], authority=authority, handling=org)
    organizer = make.user(Role.ORGANIZER, [org])
    liaison = make.user(Role.LIAISON, [authority])
    db.session.add(AuthorityReporting(organization_id=authority.id, report_email=GREFFE,
                                      report_format=ReportFormat.BOTH, acknowledgment_days=10))
    db.session.commit()
    return {"course": course, "enrollments": enrollments, "authority": authority, "organizer": organizer,
            "org": org, "liaison": liaison}


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _transmit(client, case, number: int = 1):
    url = f"/stages/{case['course'].id}/bilans/{case['authority'].id}/transmettre"
    return client.post(url, data={"numero": str(number)})


def _measures(case) -> set[MeasureStatus]:
    db.session.expire_all()
    return {e.measure.status for e in case["enrollments"]}


def _attachments(envelope) -> dict[str, bytes]:
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    return {part.get_filename(): part.get_content() if isinstance(part.get_content(), bytes)
            else part.get_payload(decode=True) for part in message.iter_attachments()}, message


def test_a_transmission_goes_to_the_authority_with_its_files_and_their_hashes(app, client, case):
    login(client, case["organizer"])
    with smtp_server(app) as server:
        response = _transmit(client, case)
    assert response.status_code == 302
    assert any("Bilan transmis à Parquet de Paris" in m for m in flashes(client))
    (envelope,) = server.envelopes
    assert envelope.rcpt_tos == [GREFFE]
    files, message = _attachments(envelope)
    assert sorted(files) == [f"bilan-stage-{case['course'].id}-autorite-{case['authority'].id}.{ext}"
                             for ext in ("csv", "pdf")]
    transmission = db.session.scalar(sa.select(ReportTransmission))
    assert transmission.status == TransmissionStatus.SENT and transmission.recipients == GREFFE
    assert transmission.message_id == message["Message-ID"]
    recorded = {f.filename: (f.sha256, f.size) for f in transmission.files}
    # The hash recorded is the one of the bytes the mail server received.
    assert recorded == {name: (hashlib.sha256(content).hexdigest(), len(content)) for name, content in files.items()}
    # No personal data in the subject; the body says the file holds some, and gives the link.
    names = [e.measure.participant.surname for e in case["enrollments"]]
    assert not any(name.lower() in message["Subject"].lower() for name in names)
    assert message["Subject"].startswith("Bilan du stage du ")
    body = message.get_body(("plain",)).get_content()
    assert "données personnelles" in body and "/transmissions/accuse-reception/" in body
    assert all(sha in body for sha, _ in recorded.values())
    # Only now are the measures reported.
    assert _measures(case) == {MeasureStatus.REPORTED}
    bilan = db.session.scalar(sa.select(Bilan))
    assert bilan.sent_at is not None and bilan.transmission_id == transmission.id
    page = _text(client.get(f"/stages/{case['course'].id}/bilans"))
    assert "Transmis" in page and "En attente de l'accusé de réception" in page
    assert recorded[f"bilan-stage-{case['course'].id}-autorite-{case['authority'].id}.pdf"][0] in page


def test_a_frame_s_own_mailbox_is_used_when_every_person_is_of_that_frame(app, client, case):
    db.session.add(FrameDefault(organization_id=case["authority"].id, frame=LegalFrame.COMPOSITION_PENALE,
                                report_email="cp@tj-paris.example"))
    db.session.commit()
    login(client, case["organizer"])
    with smtp_server(app) as server:
        _transmit(client, case)
    assert [e.rcpt_tos for e in server.envelopes] == [["cp@tj-paris.example"]]


@pytest.mark.parametrize("reply, code", [("550 5.1.1 <greffe.penal@tj-paris.example>: inconnu", 550),
                                         ("451 4.3.0 essayez plus tard", 451)])
def test_an_smtp_refusal_leaves_the_bilan_to_transmit(app, client, case, reply, code):
    login(client, case["organizer"])
    with smtp_server(app, reply=reply) as server:
        _transmit(client, case)
        assert len(server.envelopes) == 1
    (message,) = flashes(client)
    assert message.startswith("La transmission a échoué") and f"code {code}" in message
    assert "reste à transmettre" in message and "@" not in message
    transmission = db.session.scalar(sa.select(ReportTransmission))
    assert transmission.status == TransmissionStatus.FAILED and transmission.refusal_code == code
    assert transmission.sent_at is None and len(transmission.files) == 2
    assert MeasureStatus.REPORTED not in _measures(case)
    assert db.session.scalar(sa.select(Bilan.sent_at)) is None
    page = _text(client.get(f"/stages/{case['course'].id}/bilans"))
    assert "Échec de l'envoi" in page and 'name="numero" value="2"' in page
    # The outbox never retries a refused transmission behind the user's back…
    from stages import outbox

    with smtp_server(app) as server:
        with time_machine.travel(datetime.now(timezone.utc) + timedelta(hours=8)):
            outbox.deliver()
        assert server.envelopes == []
        # … a new « Transmettre » is a new transmission, the history keeps both.
        _transmit(client, case, number=2)
        assert len(server.envelopes) == 1
    rows = db.session.scalars(sa.select(ReportTransmission).order_by(ReportTransmission.number)).all()
    assert [(r.number, r.status) for r in rows] == [(1, TransmissionStatus.FAILED), (2, TransmissionStatus.SENT)]
    assert _measures(case) == {MeasureStatus.REPORTED}


def test_the_same_click_twice_sends_once_and_a_correction_is_a_new_transmission(app, client, case):
    login(client, case["organizer"])
    with smtp_server(app) as server:
        _transmit(client, case, number=1)
        _transmit(client, case, number=1)  # the same page posted again
        assert len(server.envelopes) == 1
        _transmit(client, case, number=2)  # « Transmettre à nouveau » after a correction
        assert len(server.envelopes) == 2
    hashes = db.session.scalars(sa.select(ReportTransmission.number)).all()
    assert sorted(hashes) == [1, 2]


def test_without_a_mailbox_transmit_is_refused_in_french(app, client, case):
    db.session.execute(sa.delete(AuthorityReporting))
    db.session.commit()
    login(client, case["organizer"])
    page = _text(client.get(f"/stages/{case['course'].id}/bilans"))
    assert "Aucune adresse de transmission" in page and "/transmettre" not in page
    with smtp_server(app) as server:
        _transmit(client, case)
        assert server.envelopes == []
    assert any("Aucune adresse de transmission n'est renseignée" in m for m in flashes(client))
    assert db.session.scalar(sa.select(sa.func.count(ReportTransmission.id))) == 0


def test_a_bad_number_is_a_french_400(client, case):
    login(client, case["organizer"])
    response = _transmit(client, case, number=0)
    assert response.status_code == 400 and "Numéro de transmission invalide" in _text(response)


def _sent(app, client, case) -> ReportTransmission:
    login(client, case["organizer"])
    with smtp_server(app):
        _transmit(client, case)
    client.post("/deconnexion")
    return db.session.scalar(sa.select(ReportTransmission))


def test_the_signed_link_acknowledges_once_by_post_only(app, client, case):
    transmission = _sent(app, client, case)
    url = f"/transmissions/accuse-reception/{acknowledgment_token(transmission)}"
    page = client.get(url)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = _text(page)
    assert transmission.reference in text and "Parquet de Paris" in text and "J'accuse réception" in text
    # Nothing personal on the public page.
    assert not any(e.measure.participant.surname in text for e in case["enrollments"])
    assert not any(e.measure.case_reference in text for e in case["enrollments"])
    db.session.expire_all()
    assert transmission.acknowledged_at is None  # a GET (a mail scanner) never acknowledges
    done = _text(client.post(url))
    assert "Merci : la réception est enregistrée" in done
    again = _text(client.post(url))
    assert "déjà été confirmée" in again
    db.session.expire_all()
    assert transmission.acknowledged_via.value == "link" and transmission.acknowledged_by_id is None
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(
        AuditEntry.action == "transmission.acknowledged")) == 1


@pytest.mark.parametrize("tamper", ["signature", "id", "garbage"])
def test_a_bad_or_tampered_signature_is_refused_and_audited(app, client, case, tamper):
    transmission = _sent(app, client, case)
    token = acknowledgment_token(transmission)
    payload, _, signature = token.rpartition(".")
    bad = {
        "signature": f"{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}",
        "id": acknowledgment_token(transmission).replace(payload, "WzIsMV0"),  # [2,1] with the old signature
        "garbage": "n-importe-quoi",
    }[tamper]
    for method in ("get", "post"):
        response = getattr(client, method)(f"/transmissions/accuse-reception/{bad}")
        assert response.status_code == 400
        assert "Ce lien d'accusé de réception n'est pas valide." in _text(response)
    db.session.expire_all()
    assert transmission.acknowledged_at is None
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(
        AuditEntry.action == "transmission.link_refused")) == 2


def test_the_liaison_acknowledges_in_the_application(app, client, case, make):
    transmission = _sent(app, client, case)
    login(client, case["liaison"])
    listing = _text(client.get("/transmissions"))
    assert transmission.reference in listing and "J'accuse réception" in listing
    client.post(f"/transmissions/{transmission.id}/accuse-reception")
    assert flashes(client) == ["Réception confirmée."]
    client.post(f"/transmissions/{transmission.id}/accuse-reception")
    assert flashes(client) == ["La réception était déjà confirmée."]
    db.session.expire_all()
    assert transmission.acknowledged_by_id == case["liaison"].id and transmission.acknowledged_via.value == "app"
    # Another authority's liaison neither sees it nor acknowledges it.
    client.post("/deconnexion")
    login(client, make.user(Role.LIAISON, [make.authority()]))
    assert transmission.reference not in _text(client.get("/transmissions"))
    assert client.post(f"/transmissions/{transmission.id}/accuse-reception").status_code == 403


def test_a_bounce_marks_the_transmission(app, client, case):
    from stages.enrollment.convocation.bounces import record_report

    transmission = _sent(app, client, case)
    report = DeliveryReport(message_id=transmission.message_id, action="failed", status="5.1.1", diagnostic=None)
    assert record_report(report) == "bounced"
    db.session.commit()
    assert record_report(report) == "already"
    db.session.expire_all()
    assert transmission.status == TransmissionStatus.BOUNCED and "5.1.1" in transmission.refusal


def _home_count(app, user) -> int:
    """The organizer's count, in a new login session (time moved past the idle timeout)."""
    client = IsolatedClient(app, app.response_class, use_cookies=True)
    login(client, user)
    page = _text(client.get("/"))
    match = re.search(r'bucket-count">(\d+)</span>\s*<span class="bucket-label">Transmissions sans accusé de réception', page)
    assert match, "the home page has no « Transmissions sans accusé de réception » item"
    return int(match.group(1))


def test_unacknowledged_transmissions_appear_on_the_organizer_s_home_after_n_days(app, client, case, make):
    sent_at = datetime.now(timezone.utc).replace(microsecond=0)
    with time_machine.travel(sent_at, tick=False):
        transmission = _sent(app, client, case)
    with time_machine.travel(sent_at + timedelta(days=9, hours=23), tick=False):
        assert _home_count(app, case["organizer"]) == 0
    with time_machine.travel(sent_at + timedelta(days=10, hours=1), tick=False):
        assert _home_count(app, case["organizer"]) == 1
        login(client, case["organizer"])
        listing = _text(client.get("/transmissions?etat=sans-accuse"))
        assert transmission.reference in listing
    # The authority's own delay counts.
    db.session.get(AuthorityReporting, case["authority"].id).acknowledgment_days = 3
    db.session.commit()
    with time_machine.travel(sent_at + timedelta(days=3, hours=1), tick=False):
        assert _home_count(app, case["organizer"]) == 1
    # An acknowledged one is no longer flagged.
    transmission.acknowledged_at, transmission.acknowledged_via = sent_at + timedelta(days=4), "link"
    db.session.commit()
    with time_machine.travel(sent_at + timedelta(days=20), tick=False):
        assert _home_count(app, case["organizer"]) == 0


def test_the_home_count_costs_the_same_whatever_the_number_of_transmissions(app, make, case):
    from stages.home.queries import transmission_todo

    now = datetime.now(timezone.utc)

    def add(count):
        for _ in range(count):
            authority = make.authority()
            db.session.add(AuthorityReporting(organization_id=authority.id, report_email=GREFFE,
                                              acknowledgment_days=2 + len(db.session.new) % 5))
            db.session.add(ReportTransmission(
                authority=authority, sender_id=case["org"].id, kind="bilan", refs={"course": 1},
                document_key='{"course":1}', number=1, status=TransmissionStatus.SENT,
                sent_at=now - timedelta(days=30)))
        db.session.commit()

    add(1)
    with count_queries() as small:
        first = transmission_todo(case["organizer"], now)
    add(6)
    with count_queries() as large:
        second = transmission_todo(case["organizer"], now)
    assert (first[0].count, second[0].count) == (1, 7)
    assert large.count == small.count


@requires_postgres
def test_two_identical_transmit_posts_at_once_send_one_email(app, case, make, monkeypatch):
    from flask.testing import FlaskClient

    # Two organizers of the association, on the same page, click at the same moment.
    second = make.user(Role.ORGANIZER, [case["org"]])
    db.session.commit()
    emails = [case["organizer"].email, second.email]
    barrier = threading.Barrier(2, timeout=20)
    original = bilan_sending.request_transmission

    def together(*args, **kwargs):
        barrier.wait()  # both requests insert the transmission at the same moment
        return original(*args, **kwargs)

    monkeypatch.setattr(bilan_sending, "request_transmission", together)
    responses, errors = [], []

    url = f"/stages/{case['course'].id}/bilans/{case['authority'].id}/transmettre"

    def post(email):
        # Logged in here: the threads run outside this test's app context.
        one = FlaskClient(app, app.response_class, use_cookies=True)
        one.post("/connexion", data={"email": email, "password": PASSWORD})
        try:
            response = one.post(url, data={"numero": "1"})
            responses.append(response.status_code)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(repr(error))

    with smtp_server(app) as server:
        threads = [threading.Thread(target=post, args=(e,)) for e in emails]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        time.sleep(0.2)
        assert errors == [] and responses == [302, 302]
        assert len(server.envelopes) == 1
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(ReportTransmission.id))) == 1
    assert _measures(case) == {MeasureStatus.REPORTED}


def test_the_settings_page_keeps_the_reporting_mailboxes_and_refuses_bad_ones(client, case, make):
    admin = make.user(Role.ADMIN)
    db.session.commit()
    login(client, admin)
    url = f"/organisations/{case['authority'].id}/parametres"
    page = _text(client.get(url))
    assert "Transmission des bilans et rapports" in page and GREFFE in page
    bad = client.post(url, data={"report_email": "greffe@", "report_format": "pdf", "acknowledgment_days": "10"})
    assert "Adresse de transmission des bilans : adresse électronique invalide" in _text(bad)
    bad = client.post(url, data={"report_email": GREFFE, "report_format": "pdf", "acknowledgment_days": "200"})
    assert "entre 1 et 90 jours" in _text(bad)
    bad = client.post(url, data={"report_email": GREFFE, "report_format": "docx", "acknowledgment_days": "10"})
    assert "choisissez PDF, CSV ou les deux" in _text(bad)
    response = client.post(url, data={
        "report_email": " Bureau.Penal@TJ-Lyon.example ", "report_format": "csv", "acknowledgment_days": "15",
        "email-peine_stage": "jap@tj-lyon.example",
    })
    assert response.status_code == 302
    db.session.expire_all()
    row = db.session.get(AuthorityReporting, case["authority"].id)
    assert (row.report_email, row.report_format, row.acknowledgment_days) == (
        "Bureau.Penal@tj-lyon.example", ReportFormat.CSV, 15)
    assert db.session.scalar(sa.select(FrameDefault.report_email).where(
        FrameDefault.frame == LegalFrame.PEINE_STAGE)) == "jap@tj-lyon.example"
    assert db.session.scalar(sa.select(AuditEntry.details).where(
        AuditEntry.action == "organization.settings_changed").order_by(AuditEntry.id.desc()).limit(1))


@pytest.mark.parametrize("role", ["organizer", "liaison"])
def test_the_list_costs_the_same_at_two_sizes(client, make, case, role):
    """The transmissions list reads a page in a fixed number of statements (authority, files)."""
    now = datetime.now(timezone.utc)
    numbers = iter(range(1, 100))

    def add(count):
        for _ in range(count):
            row = ReportTransmission(
                authority_id=case["authority"].id, sender_id=case["org"].id, kind="bilan",
                refs={"course": case["course"].id}, document_key=f'{{"course":{case["course"].id}}}',
                number=next(numbers), status=TransmissionStatus.SENT, sent_at=now)
            row.files.append(TransmittedFile(filename="bilan.pdf", mimetype="application/pdf", size=1, sha256="b" * 64))
            db.session.add(row)
        db.session.commit()

    login(client, case[role])
    add(1)
    with count_queries() as small:
        assert client.get("/transmissions").status_code == 200
    add(8)
    with count_queries() as large:
        page = _text(client.get("/transmissions"))
    assert page.count("bilan.pdf") == 9
    assert large.count == small.count
