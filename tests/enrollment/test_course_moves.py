"""What the people summoned see when their course moves, or when they move between courses.

A course moved (another date, or only 30 minutes later) keeps the UIDs of the invitations already
in participants' calendars: after the organizer confirms, on a page listing who will be told, each
person summoned by email gets a short email saying what changed with a METHOD:REQUEST invitation,
same UIDs, higher SEQUENCE. A person moved S → T → S gets a cancellation then a new invitation whose
SEQUENCE is above the cancellation's. Every .ics is read by two independent parsers.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages.auth.models import AuditEntry, Role
from stages.enrollment import convocation
from stages.enrollment.models import Enrollment, EnrollmentStatus
from stages.extensions import db
from stages.mail import MailError, outbox, send_email
from stages.scheduling.models import Course
from tests.calendar_feeds.parsers import read_both, uid_sequences
from tests.helpers import course_edit_form, flashes, login

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
DAY = date(2026, 3, 12)  # a Thursday
LATER = date(2026, 4, 1)  # a Wednesday: « mercredi 1er avril 2026 »
SUBJECT_FORBIDDEN = ("DURAND", "MARTIN", "Jean", "PQ-")


@pytest.fixture(autouse=True)
def _frozen_and_empty_outbox():
    with time_machine.travel(NOW, tick=False):
        outbox().clear()
        yield
        outbox().clear()


def _person(make, course, org, surname, email=None, status=EnrollmentStatus.ENROLLED):
    person = make.participant(surname=surname, first_names="Jean", email=email)
    measure = make.measure(person, handling=org, case_reference=f"PQ-{surname}-2026",
                           decision_date=date(2026, 1, 10), deadline=date(2026, 7, 10))
    return make.enrollment(measure, course, status=status)


@pytest.fixture
def case(make):
    """A two-half-day course: two people summoned by email, one by post, one not summoned yet."""
    org = make.organization(name="APCARS", email="stages@apcars.test")
    venue = make.venue(name="MJD du 17e")
    course = make.course(venue, [org], day=DAY)
    make.course(make.venue(), day=date(2026, 5, 7))  # later rows: the course's ids are not the highest
    organizer = make.user(Role.ORGANIZER, [org], full_name="Odile Orga")
    durand = _person(make, course, org, "DURAND", "jean.durand@example.org")
    martin = _person(make, course, org, "MARTIN", "jean.martin@example.org")
    blanc = _person(make, course, org, "BLANC")  # no email address: told by post
    neuf = _person(make, course, org, "NEUF", "neuf@example.org")  # enrolled, not summoned yet
    for enrollment in (durand, martin):
        convocation.send_convocation(enrollment, by=organizer)
    convocation.mark_summoned_by_post(blanc, by=organizer)
    first = {message["To"]: message for message in outbox()}
    outbox().clear()
    db.session.commit()
    return {"org": org, "venue": venue, "course": course, "organizer": organizer,
            "durand": durand, "martin": martin, "blanc": blanc, "neuf": neuf, "first": first}


def _ics(message) -> bytes:
    part = next(p for p in message.iter_attachments() if p.get_filename() == "invitation.ics")
    return part.get_payload(decode=True)


def _move(client, course, day, times=(("09:30", "12:30"), ("13:30", "16:30")), confirm=True):
    parts = [(day, start, end) for start, end in times]
    return client.post(f"/stages/{course.id}/modifier",
                       data=course_edit_form(course, parts, confirm=confirm))


def _by_recipient() -> dict:
    return {message["To"]: message for message in outbox()}


# ---------------------------------------------------------------------------------------------
# The confirmation page, then the emails


def test_the_confirmation_lists_who_will_be_told_and_nothing_is_sent_before(client, case):
    course = case["course"]
    login(client, case["organizer"])

    response = _move(client, course, LATER, confirm=False)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Confirmez les modifications" in html
    told = html[html.index("Personnes prévenues"):]
    assert "DURAND Jean" in told and "MARTIN Jean" in told
    assert "BLANC Jean" in told and "par courrier" in told  # no email: the organizer posts it
    assert "NEUF" not in told  # not summoned yet: their convocation will carry the new dates
    assert outbox() == []
    assert db.session.get(Course, course.id).starts_at.date() == DAY  # nothing saved either
    # Reading names is audited, like the course page.
    assert db.session.scalars(sa.select(AuditEntry.action)).all().count(
        "session.participants_viewed") == 1


def test_a_change_that_moves_nothing_tells_nobody(client, case):
    course = case["course"]
    login(client, case["organizer"])
    data = course_edit_form(course, [(DAY, "09:30", "12:30"), (DAY, "13:30", "16:30")],
                            capacity="11")
    html = client.post(f"/stages/{course.id}/modifier", data=data).get_data(as_text=True)
    assert "Confirmez les modifications" in html and "Personnes prévenues" not in html
    data["confirm"] = "1"
    assert client.post(f"/stages/{course.id}/modifier", data=data).status_code == 302
    assert outbox() == []


def test_after_confirmation_each_person_summoned_gets_the_update(client, case):
    course, first = case["course"], case["first"]
    login(client, case["organizer"])

    response = _move(client, course, LATER)

    assert response.status_code == 302
    sent = _by_recipient()
    assert set(sent) == {"jean.durand@example.org", "jean.martin@example.org"}
    for address, message in sent.items():
        subject = message["Subject"]
        assert subject == "Modification de votre stage de sensibilisation — mercredi 1er avril 2026"
        assert not any(word in subject for word in SUBJECT_FORBIDDEN)
        body = message.get_body(("plain",)).get_content()
        assert body.startswith("Bonjour Jean ")
        assert "Avant : jeudi 12 mars 2026, de 9\u00a0h\u00a030 à 12\u00a0h\u00a030 et de 13\u00a0h\u00a030 à 16\u00a0h\u00a030" in body
        assert "Désormais : mercredi 1er avril 2026, de 9\u00a0h\u00a030 à 12\u00a0h\u00a030 et de 13\u00a0h\u00a030 à 16\u00a0h\u00a030" in body
        attachment = next(p for p in message.iter_attachments() if p.get_filename() == "invitation.ics")
        assert attachment.get_param("method") == "REQUEST"
        before, after = read_both(_ics(first[address]), _ics(message))
        assert after["method"] == "REQUEST"
        assert set(uid_sequences(after)) == set(uid_sequences(before))
        assert len(uid_sequences(after)) == 2
        for uid, sequence in uid_sequences(after).items():
            assert sequence > uid_sequences(before)[uid]
        assert {e["status"] for e in after["events"]} == {"CONFIRMED"}
        assert [e["start"] for e in after["events"]] == ["2026-04-01T07:30:00.000Z",
                                                          "2026-04-01T11:30:00.000Z"]
    assert "2 personnes prévenues par courriel" in " ".join(flashes(client))
    durand = db.session.get(Enrollment, case["durand"].id)
    assert durand.events[-1].note == "Modification du stage envoyée par courriel"
    # Then only 30 minutes later: the same UIDs again, a SEQUENCE higher still.
    outbox().clear()
    _move(client, db.session.get(Course, course.id), LATER, (("10:00", "13:00"), ("14:00", "17:00")))
    shifted = _by_recipient()
    assert set(shifted) == set(sent)
    for address, message in shifted.items():
        before, after = read_both(_ics(sent[address]), _ics(message))
        assert set(uid_sequences(after)) == set(uid_sequences(before))
        assert all(after_seq > uid_sequences(before)[uid]
                   for uid, after_seq in uid_sequences(after).items())
        assert "Avant : mercredi 1er avril 2026, de 9\u00a0h\u00a030" in message.get_body(("plain",)).get_content()


def test_a_failed_update_is_reported_in_french_and_can_be_sent_again(client, case, monkeypatch):
    course = case["course"]

    def refuse_durand(message):
        if message["To"] == "jean.durand@example.org":
            raise MailError()
        send_email(message)

    monkeypatch.setattr(convocation.sending, "send_email", refuse_durand)
    login(client, case["organizer"])
    _move(client, course, LATER)

    assert list(_by_recipient()) == ["jean.martin@example.org"]
    messages = flashes(client)
    assert any("1 personne prévenue par courriel" in m and "1 personne n'a pas pu être prévenue" in m
               and "Envoyer les modifications" in m for m in messages)
    assert not any("DURAND" in m for m in messages)  # names stay on the page
    page = client.get(f"/stages/{course.id}").get_data(as_text=True)
    durand_row = page[page.index("DURAND Jean"):page.index("</tr>", page.index("DURAND Jean"))]
    martin_row = page[page.index("MARTIN Jean"):page.index("</tr>", page.index("MARTIN Jean"))]
    assert "Modification à envoyer" in durand_row and "Modification à envoyer" not in martin_row
    assert "Envoyer les modifications (1)" in page

    monkeypatch.setattr(convocation.sending, "send_email", send_email)
    outbox().clear()
    response = client.post(f"/stages/{course.id}/modifications")
    assert response.status_code == 302
    assert list(_by_recipient()) == ["jean.durand@example.org"]
    assert "1 personne prévenue par courriel" in " ".join(flashes(client))
    before, after = read_both(_ics(case["first"]["jean.durand@example.org"]),
                              _ics(_by_recipient()["jean.durand@example.org"]))
    assert set(uid_sequences(after)) == set(uid_sequences(before))
    assert "Modification à envoyer" not in client.get(f"/stages/{course.id}").get_data(as_text=True)
    # Nothing left to send: a second click sends nothing.
    outbox().clear()
    client.post(f"/stages/{course.id}/modifications")
    assert outbox() == []


def test_each_update_is_committed_as_it_goes(client, case, monkeypatch):
    """A crash after the first email must not lose the record that it was sent."""
    def crash_on_second(message):
        if outbox():
            raise RuntimeError("le processus s'arrête")
        send_email(message)

    monkeypatch.setattr(convocation.sending, "send_email", crash_on_second)
    login(client, case["organizer"])
    with pytest.raises(RuntimeError):
        _move(client, case["course"], LATER)
    db.session.rollback()
    db.session.expire_all()
    assert to_local_day(db.session.get(Course, case["course"].id).starts_at) == LATER
    assert len(outbox()) == 1
    assert len(convocation.due_invitation_updates(db.session.get(Course, case["course"].id))) == 1


def to_local_day(moment):
    from stages.timeutil import to_local

    return to_local(moment).date()


def test_a_half_day_removed_is_cancelled_in_the_update(client, case):
    course = case["course"]
    removed_uid = f"convocation-{case['durand'].id}-{course.parts[1].id}@stages.test"
    login(client, case["organizer"])
    _move(client, course, LATER, (("09:30", "12:30"),))
    message = _by_recipient()["jean.durand@example.org"]
    before, after = read_both(_ics(case["first"]["jean.durand@example.org"]), _ics(message))
    assert after["method"] == "REQUEST"
    assert set(uid_sequences(after)) == set(uid_sequences(before))
    statuses = {e["uid"]: e["status"] for e in after["events"]}
    assert statuses[removed_uid] == "CANCELLED"
    assert sorted(statuses.values()) == ["CANCELLED", "CONFIRMED"]
    assert all(s > uid_sequences(before)[uid] for uid, s in uid_sequences(after).items())


def test_a_withdrawal_after_a_move_cancels_the_events_the_person_holds(client, case):
    course = case["course"]
    login(client, case["organizer"])
    _move(client, course, LATER)
    update = _by_recipient()["jean.durand@example.org"]
    outbox().clear()
    measure_id = case["durand"].measure_id
    client.post(f"/mesures/{measure_id}/renvoyer", data={"reason": "Mesure classée"})
    [cancel] = outbox()
    first, updated, cancelled = read_both(
        _ics(case["first"]["jean.durand@example.org"]), _ics(update), _ics(cancel)
    )
    assert cancelled["method"] == "CANCEL"
    assert set(uid_sequences(cancelled)) == set(uid_sequences(first)) == set(uid_sequences(updated))
    assert all(s > uid_sequences(updated)[uid] for uid, s in uid_sequences(cancelled).items())


def test_a_reminder_after_a_move_keeps_the_sequence_growing(client, case, app):
    from stages.enrollment.convocation.reminders import send_reminders

    login(client, case["organizer"])
    _move(client, case["course"], date(2026, 3, 13))
    update = _by_recipient()["jean.durand@example.org"]
    outbox().clear()
    with time_machine.travel(datetime(2026, 3, 6, 8, 0, tzinfo=timezone.utc), tick=False):
        send_reminders(datetime(2026, 3, 6, 8, 0, tzinfo=timezone.utc))
    reminder = _by_recipient()["jean.durand@example.org"]
    updated, reminded = read_both(_ics(update), _ics(reminder))
    assert set(uid_sequences(reminded)) == set(uid_sequences(updated))
    assert all(s >= uid_sequences(updated)[uid] for uid, s in uid_sequences(reminded).items())


# ---------------------------------------------------------------------------------------------
# A person moved S → T → S


def test_moving_a_person_back_gets_a_new_invitation_above_the_cancellation(client, make, case):
    course_s, org = case["course"], case["org"]
    course_t = make.course(make.venue(name="Préfecture"), [org], day=date(2026, 3, 19))
    durand = case["durand"]
    first_request = case["first"]["jean.durand@example.org"]
    # The 7-day reminder went out for S.
    durand.reminder_7d_sent_at = NOW
    db.session.commit()
    login(client, case["organizer"])

    # S → T: the S invitation is cancelled.
    client.post(f"/inscriptions/{durand.id}/reporter", data={"course": course_t.id})
    [cancel_s] = outbox()
    on_t = db.session.scalars(sa.select(Enrollment).where(Enrollment.course_id == course_t.id)).one()
    client.post(f"/inscriptions/{on_t.id}/convoquer")
    outbox().clear()

    # T → S: the T invitation is cancelled, the S enrollment row comes back, as new.
    client.post(f"/inscriptions/{on_t.id}/reporter", data={"course": course_s.id})
    back = db.session.get(Enrollment, durand.id)
    assert back.status == EnrollmentStatus.ENROLLED
    assert back.convocation_sent_at is None  # « convocation envoyée » does not carry over
    assert back.reminder_7d_sent_at is None and back.reminder_1d_sent_at is None
    page = client.get(f"/stages/{course_s.id}").get_data(as_text=True)
    row = page[page.index("DURAND Jean"):][:2000]
    assert "à envoyer" in row
    outbox().clear()
    client.post(f"/inscriptions/{durand.id}/convoquer")
    [request_again] = outbox()

    first, cancelled, again = read_both(_ics(first_request), _ics(cancel_s), _ics(request_again))
    assert (first["method"], cancelled["method"], again["method"]) == ("REQUEST", "CANCEL", "REQUEST")
    assert set(uid_sequences(first)) == set(uid_sequences(cancelled)) == set(uid_sequences(again))
    for uid in uid_sequences(first):
        assert uid_sequences(first)[uid] < uid_sequences(cancelled)[uid] < uid_sequences(again)[uid]


def test_the_course_feed_is_unchanged_by_people_moving(client, make, case):
    course_s, org = case["course"], case["org"]
    course_t = make.course(make.venue(name="Préfecture"), [org], day=date(2026, 3, 19))
    organizer = case["organizer"]
    url = f"/agenda/{organizer.feed_token}/lieu/{case['venue'].id}.ics"
    [before] = read_both(client.get(url).data)
    login(client, organizer)
    durand = case["durand"]
    client.post(f"/inscriptions/{durand.id}/reporter", data={"course": course_t.id})
    on_t = db.session.scalars(sa.select(Enrollment).where(Enrollment.course_id == course_t.id)).one()
    client.post(f"/inscriptions/{on_t.id}/reporter", data={"course": course_s.id})
    [after] = read_both(client.get(url).data)
    assert set(uid_sequences(after)) == set(uid_sequences(before))
    assert all(s >= uid_sequences(before)[uid] for uid, s in uid_sequences(after).items())
