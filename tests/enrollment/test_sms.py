"""SMS to people summoned: consent, the convocation and reminders through the outbox (once,
never in quiet hours), the Brevo backend against a local fake, signed receipts and « STOP »."""
from __future__ import annotations

import logging
import threading
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages import mail, sms
from stages.auth.models import AuditEntry, Role
from stages.enrollment import convocation
from stages.enrollment.models import EnrollmentStatus, Participant
from stages.enrollment.sms import services
from stages.enrollment.sms.models import ConsentWithdrawal, SmsMessage, SmsStatus
from stages.extensions import db
from stages.jobs import runner
from stages.outbox import OutboxMessage, deliver
from stages.enrollment.convocation.delivery import DeliveryChannel, SummonsDelivery
from tests.conftest import requires_postgres
from tests.fake_brevo import API_KEY, FakeBrevo
from tests.helpers import login, override_config

COURSE_DAY = date(2026, 3, 12)  # a Thursday
NOW = datetime(2026, 3, 5, 7, 0, tzinfo=timezone.utc)  # Thursday 08:00 in Paris, 7 days before
PHONE = "+33612345678"


@pytest.fixture(autouse=True)
def _memory_boxes(app):
    with override_config(app, MAIL_BACKEND="memory", SMS_BACKEND="memory"):
        mail.outbox().clear()
        sms.outbox().clear()
        yield
        mail.outbox().clear()
        sms.outbox().clear()


def _case(make, *, people=1, consent=True, phone=PHONE):
    """A course on 12 March; people enrolled with an email and a phone, who consent."""
    org = make.organization(name="APCARS", phone="01 23 45 67 89")
    organizer = make.user(Role.ORGANIZER, [org])
    with time_machine.travel(NOW - timedelta(days=30), tick=False):
        course = make.course(organizations=[org], day=COURSE_DAY)
    enrollments = []
    for i in range(people):
        person = make.participant(surname=f"SMS{i}", email=f"p{i}@example.org", phone=phone)
        enrollment = make.enrollment(make.measure(participant=person, handling=org), course,
                                     status=EnrollmentStatus.ENROLLED)
        if consent:
            services.give_consent(person, by=organizer)
        enrollments.append(enrollment)
    db.session.commit()
    return organizer, course, enrollments


def _summon(enrollment, organizer):
    convocation.send_convocation(enrollment, by=organizer)
    db.session.commit()
    return deliver()


def test_the_convocation_goes_by_sms_beside_the_email_once(make):
    organizer, course, [enrollment] = _case(make)
    with time_machine.travel(NOW, tick=False):
        _summon(enrollment, organizer)
        assert len(mail.outbox()) == 1
        [message] = sms.outbox()
        assert message.to == PHONE and message.tag == "sms_convocation"
        assert "Convocation au stage de sensibilisation" in message.body
        assert "jeudi 12 mars 2026" in message.body and "STOP" in message.body
        assert "SMS0" not in message.body  # no name on a lock screen
        # Sent again by email: no second SMS
        convocation.send_convocation(enrollment, by=organizer)
        db.session.commit()
        deliver()
    assert len(sms.outbox()) == 1 and len(mail.outbox()) == 2
    [record] = db.session.scalars(sa.select(SmsMessage)).all()
    assert record.enrollment_id == enrollment.id and record.status == SmsStatus.SENT
    assert record.provider == "memory" and record.segments >= 1


def test_no_consent_no_sms(make):
    organizer, course, [enrollment] = _case(make, consent=False)
    with time_machine.travel(NOW, tick=False):
        _summon(enrollment, organizer)
    assert len(mail.outbox()) == 1 and sms.outbox() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_a_landline_or_a_number_to_check_gets_no_sms(make):
    organizer, course, [enrollment] = _case(make, consent=False, phone="+33142345678")
    with pytest.raises(Exception, match="numéro de portable"):
        services.give_consent(enrollment.measure.participant, by=organizer)
    db.session.rollback()


def test_an_sms_queued_in_quiet_hours_waits_until_8(make):
    organizer, course, [enrollment] = _case(make)
    evening = datetime(2026, 3, 4, 20, 30, tzinfo=timezone.utc)  # 21:30 in Paris
    with time_machine.travel(evening, tick=False):
        _summon(enrollment, organizer)
    assert len(mail.outbox()) == 1 and sms.outbox() == []  # the email leaves, the SMS waits
    with time_machine.travel(datetime(2026, 3, 5, 6, 59, tzinfo=timezone.utc), tick=False):  # 07:59
        deliver()
        runner.run_job("deliver_outbox", manual=True)
    assert sms.outbox() == []
    with time_machine.travel(datetime(2026, 3, 5, 7, 0, tzinfo=timezone.utc), tick=False):  # 08:00
        deliver()
    assert len(sms.outbox()) == 1


def test_reminders_by_sms_seven_days_and_one_day_before_once_each(make):
    organizer, course, enrollments = _case(make, people=2)
    for enrollment in enrollments:
        enrollment.status = EnrollmentStatus.SUMMONED
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        run = runner.run_job("send_convocation_reminders", manual=True)
        runner.run_job("send_convocation_reminders", manual=True)
    assert "rappels SMS envoyés : 2" in run.counts_text
    assert [m.tag for m in sms.outbox()] == ["sms_reminder", "sms_reminder"]
    assert all("dans 7 jours" in m.body for m in sms.outbox())
    with time_machine.travel(datetime(2026, 3, 11, 7, 0, tzinfo=timezone.utc), tick=False):
        runner.run_job("send_convocation_reminders", manual=True)
        runner.run_job("send_convocation_reminders", manual=True)
    assert len(sms.outbox()) == 4 and all("demain" in m.body for m in sms.outbox()[2:])
    assert len(mail.outbox()) == 4  # the emails too, each once


def test_the_outbox_and_the_logs_hold_no_personal_data(make, caplog):
    organizer, course, [enrollment] = _case(make)
    caplog.set_level(logging.DEBUG)
    with time_machine.travel(NOW, tick=False):
        _summon(enrollment, organizer)
    rows = db.session.execute(sa.text("SELECT * FROM outbox")).all()
    stored = " ".join(str(v) for row in rows for v in row)
    stored += " ".join(str(v) for row in db.session.execute(sa.text("SELECT * FROM sms_messages")) for v in row)
    assert "612345678" not in stored and "SMS0" not in stored and "@" not in stored
    assert "612345678" not in caplog.text and "SMS0" not in caplog.text


def test_a_withdrawn_consent_stops_sms_already_queued(make):
    organizer, course, [enrollment] = _case(make)
    evening = datetime(2026, 3, 4, 20, 30, tzinfo=timezone.utc)
    with time_machine.travel(evening, tick=False):
        _summon(enrollment, organizer)
        services.withdraw_consent(enrollment.measure.participant, by=organizer)
        db.session.commit()
    with time_machine.travel(NOW, tick=False):
        delivery = deliver()
    assert sms.outbox() == [] and delivery.dropped == 1


# ---------------------------------------------------------------------------------------------
# Brevo, against its local fake


def test_brevo_receives_the_documented_request(app, make):
    organizer, course, [enrollment] = _case(make)
    with FakeBrevo() as brevo, override_config(app, **brevo.config(), SMS_SENDER="APCARS"):
        with time_machine.travel(NOW, tick=False):
            _summon(enrollment, organizer)
    [request] = brevo.requests
    body = request["json"]
    assert request["headers"]["api-key"] == API_KEY
    assert body["recipient"] == "33612345678" and body["sender"] == "APCARS"
    assert body["type"] == "transactional" and body["tag"] == "sms_convocation"
    assert body["webUrl"] == f"http://stages.test/sms/{_token(app)}/statut"
    assert body["unicodeEnabled"] == (sms.count_segments(body["content"]).encoding == sms.UCS2)
    record = db.session.scalar(sa.select(SmsMessage))
    assert record.provider == "brevo" and record.provider_id == str(request["messageId"])


def _token(app):
    with app.app_context():
        return sms.callback_token()


def test_a_refusal_by_brevo_keeps_the_sms_due_without_the_number(app, make):
    organizer, course, [enrollment] = _case(make)
    with FakeBrevo() as brevo, override_config(app, **brevo.config()):
        brevo.fail_with = 500
        with time_machine.travel(NOW, tick=False):
            _summon(enrollment, organizer)
        row = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "sms_convocation"))
        assert row.sent_at is None and "HTTP 500" in row.last_error and "+33" not in row.last_error
        brevo.fail_with = None
        with time_machine.travel(NOW + timedelta(minutes=11), tick=False):
            deliver()
        assert len(brevo.requests) == 1


def test_a_signed_receipt_updates_the_status_a_bad_signature_gets_403(app, client, make, caplog):
    organizer, course, [enrollment] = _case(make)
    with FakeBrevo() as brevo, override_config(app, **brevo.config()):
        with time_machine.travel(NOW, tick=False):
            _summon(enrollment, organizer)
        message_id = brevo.requests[0]["messageId"]
        receipt = {"id": 26570, "to": "33612345678", "sms_count": 1, "messageId": message_id,
                   "msg_status": "delivered", "type": "transactional"}
        caplog.set_level(logging.WARNING)
        bad = client.post("/sms/" + "0" * 64 + "/statut", json=receipt)
        assert bad.status_code == 403 and "bad signature" in caplog.text
        assert db.session.scalar(sa.select(SmsMessage.status)) == SmsStatus.SENT
        good = client.post(f"/sms/{sms.callback_token()}/statut", json=receipt)
        assert good.status_code == 200
        db.session.expire_all()
        assert db.session.scalar(sa.select(SmsMessage.status)) == SmsStatus.DELIVERED
        late = client.post(f"/sms/{sms.callback_token()}/statut", json={**receipt, "msg_status": "sent"})
        assert late.status_code == 200  # out of order: « delivered » stays
        again = client.post(f"/sms/{sms.callback_token()}/statut", json=receipt)
        assert again.status_code == 200  # the gateway calling twice changes nothing
        db.session.expire_all()
        assert db.session.scalar(sa.select(SmsMessage.status)) == SmsStatus.DELIVERED
        # The convocation SMS is one of the summons' delivery proofs: accepted, then delivered once.
        proofs = db.session.execute(
            sa.select(SummonsDelivery.channel, SummonsDelivery.status, SummonsDelivery.message_id)
            .where(SummonsDelivery.channel == DeliveryChannel.SMS).order_by(SummonsDelivery.id)
        ).all()
        assert [(c.value, s.value) for c, s, _id in proofs] == [("sms", "accepted"), ("sms", "delivered")]
        assert {m for _c, _s, m in proofs} == {f"brevo:{message_id}"}
    assert client.post(f"/sms/{sms.callback_token()}/statut", data="pas du json").status_code == 400


def test_stop_withdraws_consent_and_no_sms_follows(app, client, make):
    organizer, course, enrollments = _case(make, people=2)
    other = make.participant(surname="AUTRE", phone="+33699999999")
    services.give_consent(other, by=organizer)
    db.session.commit()
    assert client.post("/sms/" + "f" * 64 + "/reponses", json={"from": "33612345678", "text": "STOP"}).status_code == 403
    answer = client.post(f"/sms/{sms.callback_token()}/reponses", json={"from": "33612345678", "text": "Stop SMS"})
    assert answer.status_code == 200 and answer.json["withdrawn"] == 2  # both people share the number
    db.session.expire_all()
    for enrollment in enrollments:
        person = db.session.get(Participant, enrollment.measure.participant_id)
        assert services.live_consent(person) is None
        [past] = services.consent_history(person)
        assert past.withdrawn_how == ConsentWithdrawal.STOP
    assert services.live_consent(db.session.get(Participant, other.id)) is not None
    with time_machine.travel(NOW, tick=False):
        _summon(enrollments[0], organizer)
        runner.run_job("send_convocation_reminders", manual=True)
    assert sms.outbox() == []
    # Any other reply changes nothing
    assert client.post(f"/sms/{sms.callback_token()}/reponses",
                       json={"from": "33699999999", "text": "Je serai là"}).json["withdrawn"] == 0


def test_stop_words():
    assert services.is_stop("STOP") and services.is_stop(" stop ") and services.is_stop("Arrêt")
    assert not services.is_stop("stopper le stage ?") and not services.is_stop("") and not services.is_stop(None)


# ---------------------------------------------------------------------------------------------
# Pages


def test_the_persons_page_shows_consent_and_the_sms_preview(app, client, make):
    organizer, course, [enrollment] = _case(make, consent=False)
    person_id = enrollment.measure.participant_id
    login(client, organizer)
    page = client.get(f"/personnes/{person_id}").get_data(as_text=True)
    assert "Pas de consentement" in page and "06 12 34 56 78" in page
    assert "SMS (Unicode)" in page or "SMS (GSM-7)" in page
    client.post(f"/personnes/{person_id}/sms/consentement", data={"action": "give"})
    page = client.get(f"/personnes/{person_id}").get_data(as_text=True)
    assert "Accepte les SMS" in page and organizer.full_name in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "sms.consent_given", AuditEntry.participant_id == person_id)) == 1
    client.post(f"/personnes/{person_id}/sms/consentement", data={"action": "withdraw"})
    page = client.get(f"/personnes/{person_id}").get_data(as_text=True)
    assert "Retrait noté par l&#39;association" in page
    assert client.post(f"/personnes/{person_id}/sms/consentement", data={"action": "x"}).status_code == 400


def test_a_bad_number_is_a_french_form_error_and_a_good_one_is_stored_in_e164(app, client, make):
    organizer, course, [enrollment] = _case(make, consent=False)
    person = enrollment.measure.participant
    login(client, organizer)
    form = {"surname": person.surname, "first_names": "Jean", "birth_date": "1980-05-17"}
    page = client.post(f"/personnes/{person.id}/modifier", data={**form, "phone": "06 12 34"})
    assert page.status_code == 200 and "Numéro de téléphone invalide" in page.get_data(as_text=True)
    client.post(f"/personnes/{person.id}/modifier", data={**form, "phone": "0692 12 34 56"})
    db.session.expire_all()
    assert db.session.get(Participant, person.id).phone == "+262692123456"


def test_a_number_to_check_is_shown_and_may_be_left_as_it_is(app, client, make):
    organizer, course, [enrollment] = _case(make, consent=False, phone=None)
    person = enrollment.measure.participant
    db.session.execute(sa.update(Participant).where(Participant.id == person.id)
                       .values(phone="06 12 34 5", phone_to_check=True))
    db.session.commit()
    login(client, organizer)
    assert "numéro à vérifier" in client.get(f"/personnes/{person.id}").get_data(as_text=True)
    form = {"surname": person.surname, "first_names": "Jean", "birth_date": "1980-05-17",
            "phone": "06 12 34 5", "city": "Lyon"}
    assert client.post(f"/personnes/{person.id}/modifier", data=form).status_code == 302
    db.session.expire_all()
    kept = db.session.get(Participant, person.id)
    assert (kept.phone, kept.phone_to_check, kept.city) == ("06 12 34 5", True, "Lyon")


def test_the_migration_normalizes_what_it_reads_and_flags_the_rest(make):
    from importlib import import_module

    migration = import_module("migrations.versions.0024_sms")
    people = [make.participant(phone=None) for _ in range(4)]
    typed = ["06.12.34.56.78", "+33 (0)6 98 76 54 32", "appeler le soir", "0692 12 34 56"]
    for person, phone in zip(people, typed, strict=True):
        # Free text, as before migration 0024 (the CHECK lets it in flagged only).
        db.session.execute(sa.update(Participant).where(Participant.id == person.id)
                           .values(phone=phone, phone_to_check=True))
    rewritten, flagged = migration.normalize_phones(db.session.connection())
    db.session.expire_all()
    stored = [(db.session.get(Participant, p.id).phone, db.session.get(Participant, p.id).phone_to_check) for p in people]
    assert stored == [("+33612345678", False), ("+33698765432", False), ("appeler le soir", True),
                      ("+262692123456", False)]
    assert (rewritten, flagged) == (3, 1)
    db.session.rollback()


def test_the_referral_import_stores_numbers_in_e164():
    from stages.enrollment.importer.cells import CellError, _phone

    assert _phone("06 12 34 56 78", None, None) == "+33612345678"
    assert _phone(612345678, None, None) == "+33612345678"  # Excel dropped the 0
    assert _phone("+262 692 12 34 56", None, None) == "+262692123456"
    with pytest.raises(CellError, match="Numéro de téléphone invalide"):
        _phone("06 12", None, None)


# ---------------------------------------------------------------------------------------------
# Two schedulers


@requires_postgres
def test_two_schedulers_send_each_sms_once(app, make):
    organizer, course, enrollments = _case(make, people=6)
    for enrollment in enrollments:
        enrollment.status = EnrollmentStatus.SUMMONED
    db.session.commit()
    barrier = threading.Barrier(2, timeout=20)
    errors = []
    with FakeBrevo(delay=0.03) as brevo, override_config(app, **brevo.config()):
        def scheduler():
            with app.app_context():
                try:
                    barrier.wait()
                    runner.run_job("send_convocation_reminders", manual=True)
                    runner.run_job("deliver_outbox", manual=True)
                except Exception as error:  # noqa: BLE001
                    errors.append(error)

        with time_machine.travel(NOW, tick=True):
            threads = [threading.Thread(target=scheduler) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
    assert errors == []
    recipients = [r["json"]["recipient"] for r in brevo.requests]
    assert len(recipients) == 6
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SmsMessage)) == 6


def test_the_callbacks_are_rate_limited_and_need_no_csrf_token(app):
    """An app built like production (CSRF and rate limits on): the gateway posts JSON without a
    form token, and past the limit gets 429."""
    from stages import create_app
    from stages.extensions import limiter

    keep = ("SQLALCHEMY_DATABASE_URI", "SERVER_NAME", "BASE_URL", "SECRET_KEY", "TESTING")
    limited = create_app({**{key: app.config[key] for key in keep}, "RATELIMIT_ENABLED": True,
                          "SMS_CALLBACK_RATE_LIMIT": "5 per minute"})
    limiter.reset()
    try:
        client = limited.test_client()
        with limited.app_context():
            url = f"/sms/{sms.callback_token()}/statut"
        receipt = {"messageId": 1, "msg_status": "delivered"}
        assert [client.post(url, json=receipt).status_code for _ in range(5)] == [200] * 5
        assert client.post(url, json=receipt).status_code == 429
    finally:
        limiter.reset()
        limiter.enabled = False
        with limited.app_context():
            db.engine.dispose()


def test_a_new_number_ends_the_consent_given_for_the_old_one(app, client, make):
    organizer, course, [enrollment] = _case(make)
    person = enrollment.measure.participant
    login(client, organizer)
    form = {"surname": person.surname, "first_names": "Jean", "birth_date": "1980-05-17"}
    client.post(f"/personnes/{person.id}/modifier", data={**form, "phone": "06 12 34 56 78", "city": "Lyon"})
    db.session.expire_all()
    assert services.live_consent(db.session.get(Participant, person.id)) is not None  # same number
    client.post(f"/personnes/{person.id}/modifier", data={**form, "phone": "06 98 76 54 32"})
    db.session.expire_all()
    person = db.session.get(Participant, person.id)
    assert services.live_consent(person) is None
    assert services.consent_history(person)[0].withdrawn_how == ConsentWithdrawal.NUMBER_CHANGED


@pytest.mark.parametrize("language, words", [
    ("ro", ["Citație la cursul de sensibilizare", "Aduceți un act de identitate."]),
    ("ar", ["استدعاء إلى دورة التوعية", "أحضر وثيقة هوية."]),
])
def test_the_sms_follows_the_french_with_the_persons_language(make, language, words):
    """The French text first (it alone counts), then the translation, « STOP » last; a language
    without a catalog gets the French only."""
    from stages.enrollment.sms.texts import CONVOCATION, REMINDER, sms_text

    _organizer, _course, [enrollment] = _case(make)
    person = enrollment.measure.participant
    person.language = language
    db.session.commit()
    text = sms_text(CONVOCATION, enrollment)
    french, translation = text.split("\n\n", 1)
    assert french.startswith("Convocation au stage de sensibilisation, présence obligatoire :")
    assert all(word in translation for word in words)
    assert text.endswith("STOP au numéro d'envoi : plus de SMS.")
    assert text.index("présence obligatoire") < text.index(words[0])
    # « ț » and Arabic letters are outside GSM-7: the preview counts Unicode segments.
    assert sms.count_segments(text).encoding == "UCS-2"
    reminder = sms_text(REMINDER, enrollment, days_left=7)
    assert "dans 7 jours" in reminder and "12" in reminder.split("\n\n", 1)[1]
    person.language = "ta"  # spoken, but no catalog: French only
    assert "\n\n" not in sms_text(CONVOCATION, enrollment)
