"""Delivery proof per summons: the email accepted or refused by the mail server, a letter and a
registered letter with its avis de réception, shown on the person's page and the course page."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from stages.auth.models import AuditEntry, Role
from stages.enrollment import convocation
from stages.enrollment.convocation import delivery, registered_letters
from stages.enrollment.convocation.delivery import DeliveryChannel, DeliveryStatus, SummonsDelivery
from stages.enrollment.models import EnrollmentStatus, MeasureStatus
from stages.errors import DomainError
from stages.extensions import db
from stages.mail import MailError, outbox
from tests.helpers import login, smtp_server

SESSION_DAY = date(2026, 3, 12)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
ADDRESS = "jean.durand@example.org"


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    outbox().clear()
    yield
    outbox().clear()


@pytest.fixture
def case(make):
    org = make.organization(name="APCARS")
    course = make.course(organizations=[org], day=SESSION_DAY)
    organizer = make.user(Role.ORGANIZER, [org])
    person = make.participant(surname="DURAND", email=ADDRESS)
    measure = make.measure(person, handling=org)
    enrollment = make.enrollment(measure, course, status=EnrollmentStatus.ENROLLED)
    db.session.commit()
    return {"org": org, "course": course, "organizer": organizer, "enrollment": enrollment,
            "person": person}


def _deliveries(enrollment) -> list[SummonsDelivery]:
    return list(db.session.scalars(
        sa.select(SummonsDelivery).where(SummonsDelivery.enrollment_id == enrollment.id)
        .order_by(SummonsDelivery.id)
    ))


# ---------------------------------------------------------------------------------------------
# Email


def test_an_accepted_email_is_recorded_with_its_message_id_and_time(case):
    enrollment = case["enrollment"]
    convocation.send_convocation(enrollment, by=case["organizer"])
    [message] = outbox()
    [proof] = _deliveries(enrollment)
    assert (proof.channel, proof.status) == (DeliveryChannel.EMAIL, DeliveryStatus.ACCEPTED)
    assert proof.message_id == message["Message-ID"]
    assert proof.at == NOW
    assert proof.text == "Courriel accepté par le serveur de messagerie"
    assert enrollment.status == EnrollmentStatus.SUMMONED


def test_an_smtp_refusal_leaves_the_summons_due_and_visible(app, client, case):
    """Must show: the aiosmtpd server answers 550; the summons stays « à convoquer », the
    refusal is kept (class and code, never the address) and both pages say why, in French."""
    enrollment, organizer = case["enrollment"], case["organizer"]
    login(client, organizer)
    with smtp_server(app, reply="550 5.1.1 <jean.durand@example.org>: utilisateur inconnu") as server:
        response = client.post(f"/inscriptions/{enrollment.id}/convoquer")
    assert response.status_code == 302
    assert len(server.envelopes) == 1  # tried, and refused
    db.session.expire_all()
    assert enrollment.status == EnrollmentStatus.ENROLLED
    assert enrollment.measure.status != MeasureStatus.SUMMONED  # « à convoquer » on the dashboard
    assert enrollment.convocation_sent_at is None
    [refusal] = _deliveries(enrollment)
    assert (refusal.channel, refusal.status) == (DeliveryChannel.EMAIL, DeliveryStatus.REFUSED)
    assert refusal.detail == "SMTPDataError, code 550, échec définitif"
    assert refusal.message_id
    reason = "Courriel refusé par le serveur de messagerie (SMTPDataError, code 550, échec définitif)"

    page = client.get(f"/personnes/{case['person'].id}").get_data(as_text=True)
    assert "Preuves d'envoi de la convocation" in page
    assert f"Convocation à envoyer de nouveau : {reason}" in page
    assert "Envoyer la convocation" in page
    course_page = client.get(f"/stages/{case['course'].id}").get_data(as_text=True)
    assert "à envoyer" in course_page and reason in course_page
    for html in (page, course_page):
        assert html.count(ADDRESS) <= (1 if html is page else 0)  # the identity card only


def test_a_refused_recipient_is_recorded_with_its_code_without_the_address(case, monkeypatch):
    import smtplib

    def refuse(message):
        error = MailError()
        error.__cause__ = smtplib.SMTPRecipientsRefused({ADDRESS: (550, b"5.1.1 " + ADDRESS.encode())})
        raise error

    monkeypatch.setattr(convocation.sending, "send_email", refuse)
    with pytest.raises(MailError):
        convocation.send_convocation(case["enrollment"], by=case["organizer"])
    [refusal] = _deliveries(case["enrollment"])
    assert refusal.detail == "SMTPRecipientsRefused, code 550, échec définitif"


def test_a_refusal_of_a_resend_keeps_the_earlier_summons(case, monkeypatch):
    enrollment = case["enrollment"]
    convocation.send_convocation(enrollment, by=case["organizer"])

    def refuse(message):
        raise MailError()

    monkeypatch.setattr(convocation.sending, "send_email", refuse)
    with pytest.raises(MailError):
        convocation.send_convocation(enrollment, by=case["organizer"])
    assert [d.status for d in _deliveries(enrollment)] == [DeliveryStatus.ACCEPTED, DeliveryStatus.REFUSED]
    assert enrollment.status == EnrollmentStatus.SUMMONED


def test_a_failed_send_for_the_whole_course_keeps_each_refusal(client, case, make, monkeypatch):
    other = make.enrollment(make.measure(make.participant(surname="MARTIN", email="m@example.org"),
                                         handling=case["org"]), case["course"], status=EnrollmentStatus.ENROLLED)

    def refuse(message):
        raise MailError()

    monkeypatch.setattr(convocation.sending, "send_email", refuse)
    login(client, case["organizer"])
    client.post(f"/stages/{case['course'].id}/convocations")
    for enrollment in (case["enrollment"], other):
        [refusal] = _deliveries(enrollment)
        assert refusal.status == DeliveryStatus.REFUSED and refusal.detail == "envoi refusé"


def test_the_promotion_through_the_outbox_keeps_its_stable_message_id(app, case, make):
    from stages import outbox as outbox_module
    from stages.enrollment.services import PROMOTION_KIND
    from stages.mail import stable_message_id

    enrollment = case["enrollment"]
    key = f"{PROMOTION_KIND}:{enrollment.id}"
    with smtp_server(app, reply="451 4.3.0 essayez plus tard"):
        outbox_module.enqueue(PROMOTION_KIND, [(key, {"enrollment": enrollment.id})])
        db.session.commit()
        outbox_module.deliver(keys=[key])
    [refusal] = _deliveries(enrollment)
    assert refusal.status == DeliveryStatus.REFUSED
    assert refusal.detail == "SMTPDataError, code 451, échec temporaire"
    assert refusal.message_id == stable_message_id(key)

    db.session.execute(sa.update(outbox_module.OutboxMessage).values(due_at=NOW))
    db.session.commit()
    outbox_module.deliver(keys=[key])
    db.session.expire_all()
    accepted = _deliveries(enrollment)[-1]
    assert (accepted.status, accepted.message_id) == (DeliveryStatus.ACCEPTED, stable_message_id(key))
    assert enrollment.status == EnrollmentStatus.SUMMONED


def test_a_posted_letter_is_a_proof(case):
    case["person"].email = None
    convocation.mark_summoned_by_post(case["enrollment"], by=case["organizer"])
    [proof] = _deliveries(case["enrollment"])
    assert (proof.channel, proof.status, proof.text) == (
        DeliveryChannel.LETTER, DeliveryStatus.POSTED, "Courrier simple posté"
    )


# ---------------------------------------------------------------------------------------------
# Registered letters


@pytest.mark.parametrize("typed", [
    "1A 123 456 7890 1", "1A12345678901", "1a12345678901", " 1A-123-456-7890-1 ", "1A\u00a0123\u00a0456\u00a07890\u00a01",
])
def test_la_poste_numbers_are_normalized(typed):
    assert delivery.normalize_letter_number(typed) == "1A12345678901"
    assert delivery.format_letter_number("1A12345678901") == "1A 123 456 7890 1"


@pytest.mark.parametrize("typed", ["", "1A 123", "AA12345678901", "1A123456789012", "11234567890123",
                                   "1A1234567890X", "<script>", "１A12345678901"])
def test_other_numbers_are_refused_in_french(typed):
    with pytest.raises(DomainError, match="Numéro de lettre recommandée invalide"):
        delivery.normalize_letter_number(typed)


def test_an_organizer_records_a_registered_letter_then_its_avis_de_reception(client, case, time_machine):
    enrollment = case["enrollment"]
    login(client, case["organizer"])
    client.post(f"/inscriptions/{enrollment.id}/lettre-recommandee", data={"numero": "1A 123 456 7890 1"})
    db.session.expire_all()
    [letter] = _deliveries(enrollment)
    assert (letter.channel, letter.status, letter.letter_number) == (
        DeliveryChannel.REGISTERED_LETTER, DeliveryStatus.POSTED, "1A12345678901"
    )
    assert enrollment.status == EnrollmentStatus.SUMMONED
    page = client.get(f"/personnes/{case['person'].id}").get_data(as_text=True)
    assert "Lettre recommandée avec AR n° 1A 123 456 7890 1" in page
    assert "Enregistrer l'avis de réception" in page

    time_machine.move_to(NOW + timedelta(days=3), tick=False)
    login(client, case["organizer"])  # the login of three days ago has expired
    client.post(f"/inscriptions/{enrollment.id}/avis-de-reception",
                data={"lettre": str(letter.id), "date_avis": "2026-03-04"})
    db.session.expire_all()
    ack = _deliveries(enrollment)[-1]
    assert (ack.status, ack.acknowledged_on) == (DeliveryStatus.ACKNOWLEDGED, date(2026, 3, 4))
    page = client.get(f"/personnes/{case['person'].id}").get_data(as_text=True)
    assert "Avis de réception signé n° 1A 123 456 7890 1, reçue le mercredi 4 mars 2026" in page
    assert "Enregistrer l'avis de réception" not in page
    actions = set(db.session.scalars(sa.select(AuditEntry.action)))
    assert {"convocation.registered_letter", "convocation.acknowledged"} <= actions


def test_bad_registered_letter_input_is_refused_in_french(client, case):
    enrollment = case["enrollment"]
    login(client, case["organizer"])
    response = client.post(f"/inscriptions/{enrollment.id}/lettre-recommandee", data={"numero": "12345"})
    assert response.status_code == 302
    with client.session_transaction() as state:
        [(_, message)] = state.pop("_flashes")
    assert message.startswith("Numéro de lettre recommandée invalide")
    assert _deliveries(enrollment) == []


def test_the_avis_de_reception_is_neither_before_posting_nor_in_the_future(case):
    enrollment, organizer = case["enrollment"], case["organizer"]
    letter = registered_letters.record_registered_letter(enrollment, "1A12345678901", by=organizer)
    with pytest.raises(DomainError, match="précéder l'envoi"):
        registered_letters.record_acknowledgement(enrollment, letter.id, date(2026, 3, 1), by=organizer)
    with pytest.raises(DomainError, match="dans le futur"):
        registered_letters.record_acknowledgement(enrollment, letter.id, date(2026, 3, 3), by=organizer)
    registered_letters.record_acknowledgement(enrollment, letter.id, date(2026, 3, 2), by=organizer)
    with pytest.raises(DomainError, match="déjà enregistré"):
        registered_letters.record_acknowledgement(enrollment, letter.id, date(2026, 3, 2), by=organizer)
    with pytest.raises(DomainError, match="déjà enregistré"):
        registered_letters.record_registered_letter(enrollment, "1A 123 456 7890 1", by=organizer)
    with pytest.raises(DomainError, match="n'existe pas"):
        registered_letters.record_acknowledgement(enrollment, 2**40, date(2026, 3, 2), by=organizer)


def test_the_database_refuses_inconsistent_rows(case):
    enrollment = case["enrollment"]
    for values in (
        {"channel": "registered_letter", "status": "posted"},  # no number
        {"channel": "email", "status": "accepted", "letter_number": "1A12345678901"},
        {"channel": "letter", "status": "posted", "message_id": "<x@y>"},
        {"channel": "email", "status": "posted"},
        {"channel": "registered_letter", "status": "posted", "letter_number": "1A1"},
    ):
        with pytest.raises(sa.exc.IntegrityError):
            with db.session.begin_nested():
                db.session.execute(sa.insert(SummonsDelivery).values(enrollment_id=enrollment.id, at=NOW, **values))
    with pytest.raises(sa.exc.IntegrityError):  # not a channel: the CHECK of the enum
        with db.session.begin_nested():
            db.session.execute(sa.text(
                "INSERT INTO summons_deliveries (enrollment_id, channel, status, at) "
                "VALUES (:id, 'pigeon', 'accepted', :at)"
            ), {"id": enrollment.id, "at": NOW})


def test_a_liaison_reads_the_proofs_but_records_nothing(client, case, make):
    enrollment = case["enrollment"]
    convocation.send_convocation(enrollment, by=case["organizer"])
    liaison = make.user(Role.LIAISON, [enrollment.measure.authority])
    db.session.commit()
    login(client, liaison)
    page = client.get(f"/personnes/{case['person'].id}").get_data(as_text=True)
    assert "Courriel accepté par le serveur de messagerie" in page
    assert "Noter la convocation envoyée en recommandé" not in page
    response = client.post(f"/inscriptions/{enrollment.id}/lettre-recommandee", data={"numero": "1A12345678901"})
    assert response.status_code == 403


def test_the_other_channels_record_through_the_same_service(case):
    """What the SMS gateway's receipts and the confirmation page will record: an SMS accepted
    then bounced makes the summons due again, unless something else proves it."""
    enrollment = case["enrollment"]
    enrollment.status = EnrollmentStatus.SUMMONED
    db.session.flush()
    delivery.record_delivery(enrollment, DeliveryChannel.SMS, DeliveryStatus.ACCEPTED, message_id="gw-123")
    failure = delivery.record_delivery(
        enrollment, DeliveryChannel.SMS, DeliveryStatus.BOUNCED, message_id="gw-123",
        detail="numéro +33612345678 injoignable",
    )
    assert failure.detail == "numéro [numéro] injoignable"
    assert failure.text == "SMS : rejeté (bounce) (numéro [numéro] injoignable)"
    assert enrollment.status == EnrollmentStatus.ENROLLED
    confirmed = delivery.record_delivery(enrollment, DeliveryChannel.CONFIRMATION, DeliveryStatus.ACKNOWLEDGED)
    assert confirmed.text == "Convocation reçue : la personne a répondu par son lien"
    assert delivery.last_failure(_deliveries(enrollment)) is None
