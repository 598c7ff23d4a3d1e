"""Convocations: the letter's content, the email and its invitation, the mail backends (including a
real SMTP server), the lifecycle they drive, the « send all » action and who may do it."""
from __future__ import annotations

import email
import email.policy
import io
from datetime import date, datetime, timedelta, timezone

import pypdf
import pytest
import sqlalchemy as sa
from icalendar import Calendar

from stages.auth.models import AuditEntry, Role
from stages.enrollment import convocation
from stages.enrollment.models import (
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    LegalFrame,
    MeasureStatus,
    Payer,
)
from stages.errors import DomainError
from stages.extensions import db
from stages.mail import MailError, build_message, outbox, send_email
from stages.scheduling.models import CourseStatus
from stages.auth.models import OrganizationKind
from tests.helpers import free_port, login, override_config, smtp_server

SESSION_DAY = date(2026, 3, 12)  # a Thursday
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _frozen_and_empty_outbox(time_machine):
    """Every test starts ten days before the session with an empty memory outbox."""
    time_machine.move_to(NOW, tick=False)
    outbox().clear()
    yield
    outbox().clear()


@pytest.fixture
def case(make):
    """APCARS runs a one-day session at the MJD; one person is enrolled, with an email address."""
    org = make.organization(
        name="APCARS", address="5 rue Leblanc, 75015 Paris", email="stages@apcars.test",
        phone="01 23 45 67 89",
    )
    venue = make.venue(
        name="MJD du 17e", address="16 rue Jacques Kellner", postal_code="75017", city="Paris",
        room="Salle 2", access_instructions="Métro Guy Môquet (ligne 13).",
    )
    course = make.course(venue, [org], day=SESSION_DAY)
    organizer = make.user(Role.ORGANIZER, [org])
    enrollment = _enrolled(make, course, org, surname="DURAND", email="jean.durand@example.org")
    return {"org": org, "venue": venue, "course": course, "organizer": organizer,
            "enrollment": enrollment}


def _enrolled(make, course, org, surname, email=None, status=EnrollmentStatus.ENROLLED,
              frame=LegalFrame.COMPOSITION_PENALE, **measure_kw):
    person = make.participant(
        surname=surname, first_names="Jean", birth_place="Lyon", address="3 rue des Lilas",
        postal_code="75011", city="Paris", email=email,
    )
    measure = make.measure(
        person, handling=org, frame=frame, case_reference=f"PQ-{surname}-2026",
        decision_date=date(2026, 1, 10), deadline=date(2026, 7, 10), **measure_kw,
    )
    return make.enrollment(measure, course, status=status)


def _pdf_text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    # Lines wrap wherever the layout decides: compare with whitespace collapsed.
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _ics(message, filename="invitation.ics") -> Calendar:
    part = next(p for p in message.iter_attachments() if p.get_filename() == filename)
    calendar = Calendar.from_ical(part.get_payload(decode=True))
    for component in calendar.walk():
        assert component.errors == [], (component.name, component.errors)
    return calendar


def _events(enrollment) -> list[EnrollmentEvent]:
    return db.session.scalars(
        sa.select(EnrollmentEvent)
        .where(EnrollmentEvent.enrollment_id == enrollment.id)
        .order_by(EnrollmentEvent.id)
    ).all()


# ---------------------------------------------------------------------------------------------
# The letter


def test_pdf_holds_identity_french_dates_venue_reference_and_consequence(case):
    text = _pdf_text(convocation.convocation_pdf(case["enrollment"]))
    assert "DURAND Jean" in text
    assert "17 mai 1980 à Lyon" in text
    assert "3 rue des Lilas" in text and "75011 Paris" in text
    assert "jeudi 12 mars 2026, de 9 h 30 à 12 h 30 et de 13 h 30 à 16 h 30" in text
    assert "16 rue Jacques Kellner, 75017 Paris" in text
    assert "Métro Guy Môquet (ligne 13)." in text
    assert "PQ-DURAND-2026" in text
    assert "Composition pénale (art. 41-2 CPP)" in text
    assert "le procureur de la République pourra alors engager des poursuites" in text
    assert "pièce d'identité" in text
    assert "contactez APCARS avant le stage" in text and "justificatif" in text
    assert "Paris, le 2 mars 2026" in text


# A sentence only each frame's letter says (frames.absence_consequence).
CONSEQUENCES = {
    LegalFrame.ALTERNATIVE_POURSUITES: "mettre en œuvre une composition pénale ou engager",
    LegalFrame.COMPOSITION_PENALE: "La composition pénale n'étant pas exécutée",
    LegalFrame.STAGE_CONTRAVENTION: "Ce stage est une peine : ne pas l'accomplir constitue en lui-même un délit",
    LegalFrame.PEINE_STAGE: "Si le tribunal a fixé par avance une peine d'emprisonnement ou d'amende",
    LegalFrame.SURSIS_PROBATOIRE: "Cette révocation n'est pas automatique",
}


@pytest.mark.parametrize("frame", list(LegalFrame))
def test_pdf_states_the_consequence_of_the_persons_own_frame(make, case, frame):
    enrollment = _enrolled(make, case["course"], case["org"], surname="MARTIN", frame=frame)
    text = _pdf_text(convocation.convocation_pdf(enrollment))
    assert CONSEQUENCES[frame] in text
    assert not any(other in text for f, other in CONSEQUENCES.items() if f != frame)
    assert "vous devriez" not in text


def test_pdf_lists_every_day_of_a_two_day_course_and_the_fee(make, case):
    utc = timezone.utc
    spans = [
        (datetime(2026, 3, 12, 8, 30, tzinfo=utc), datetime(2026, 3, 12, 11, 30, tzinfo=utc)),
        (datetime(2026, 3, 13, 13, 0, tzinfo=utc), datetime(2026, 3, 13, 16, 0, tzinfo=utc)),
    ]
    course = make.course_at(spans, venue=make.venue(), organizations=[case["org"]])
    enrollment = _enrolled(make, course, case["org"], surname="PETIT", fee_cents=18000)
    text = _pdf_text(convocation.convocation_pdf(enrollment))
    assert "jeudi 12 mars 2026, de 9 h 30 à 12 h 30" in text
    assert "vendredi 13 mars 2026, de 14 h 00 à 17 h 00" in text
    assert "180,00 €" in text and "à régler à APCARS" in text


def test_fee_paid_by_the_authority_is_not_asked_of_the_person(make, case):
    enrollment = _enrolled(make, case["course"], case["org"], surname="LEROY", fee_cents=9000,
                           payer=Payer.AUTHORITY)
    text = _pdf_text(convocation.convocation_pdf(enrollment))
    assert f"pris en charge par l'autorité judiciaire qui a ordonné le stage ({enrollment.measure.authority.name}) : vous n'avez rien à régler" in text
    assert "à votre charge" not in text


def test_pdf_is_deterministic_and_its_metadata_names_nobody(case):
    first = convocation.convocation_pdf(case["enrollment"])
    assert first == convocation.convocation_pdf(case["enrollment"])
    metadata = pypdf.PdfReader(io.BytesIO(first)).metadata
    assert metadata.title == "Convocation"
    assert not any("DURAND" in str(value) or "PQ-" in str(value) for value in metadata.values())


def test_names_outside_latin_1_print_as_typed(make, case):
    enrollment = _enrolled(make, case["course"], case["org"], surname="ŁUKASZEWSKI")
    assert "ŁUKASZEWSKI Jean" in _pdf_text(convocation.convocation_pdf(enrollment))


def test_no_letter_for_a_waitlisted_person(make, case):
    enrollment = case["enrollment"]
    enrollment.status, enrollment.waitlist_position = EnrollmentStatus.WAITLISTED, 1
    with pytest.raises(DomainError):
        convocation.convocation_pdf(enrollment)


# ---------------------------------------------------------------------------------------------
# The email and its invitation


def test_send_convocation_emails_letter_and_invitation_then_marks_summoned(case):
    enrollment, course = case["enrollment"], case["course"]
    course.ical_sequence = 3
    convocation.send_convocation(enrollment, by=case["organizer"])

    [message] = outbox()
    assert message["To"] == "jean.durand@example.org"
    assert message["Subject"] == "Convocation à un stage de sensibilisation — jeudi 12 mars 2026"
    assert "DURAND" not in message["Subject"] and "PQ-" not in message["Subject"]
    assert message["Reply-To"] == "stages@apcars.test"
    body = message.get_body(("plain",)).get_content()
    assert body.startswith("Bonjour Jean DURAND,")
    assert "jeudi 12 mars 2026, de 9\u00a0h\u00a030 à 12\u00a0h\u00a030 et de 13\u00a0h\u00a030 à 16\u00a0h\u00a030" in body
    attachments = {p.get_filename(): p for p in message.iter_attachments()}
    assert set(attachments) == {"convocation.pdf", "invitation.ics"}
    assert attachments["convocation.pdf"].get_content_type() == "application/pdf"
    assert "PQ-DURAND-2026" in _pdf_text(attachments["convocation.pdf"].get_payload(decode=True))
    assert attachments["invitation.ics"].get_content_type() == "text/calendar"
    assert attachments["invitation.ics"].get_param("method") == "REQUEST"

    calendar = _ics(message)
    assert calendar["METHOD"] == "REQUEST"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    events = calendar.walk("VEVENT")
    assert [str(e["UID"]) for e in events] == [
        f"convocation-{enrollment.id}-{part.id}@stages.test" for part in course.parts
    ]
    for event, part in zip(events, course.parts):
        assert event["DTSTART"].params["TZID"] == "Europe/Paris"
        assert event.decoded("DTSTART") == part.starts_at
        assert event["SEQUENCE"] == 3
        assert str(event["ORGANIZER"]) == "mailto:stages@localhost"
        assert str(event["ATTENDEE"]) == "mailto:jean.durand@example.org"
        assert event["ATTENDEE"].params["RSVP"] == "FALSE"
        assert "16 rue Jacques Kellner, 75017 Paris" in str(event["LOCATION"])
        assert "DURAND" not in str(event["SUMMARY"]) and "DURAND" not in str(event["DESCRIPTION"])

    assert enrollment.status == EnrollmentStatus.SUMMONED
    assert enrollment.measure.status == MeasureStatus.SUMMONED
    assert enrollment.convocation_sent_at == NOW
    [event] = _events(enrollment)
    assert (event.from_status, event.to_status, event.user_id) == (
        "enrolled", "summoned", case["organizer"].id
    )
    assert event.note == "Convocation envoyée par courriel"


def test_resend_keeps_the_status_updates_the_date_and_logs_it(case, time_machine):
    enrollment = case["enrollment"]
    convocation.send_convocation(enrollment, by=case["organizer"])
    time_machine.move_to(NOW + timedelta(days=2), tick=False)
    convocation.send_convocation(enrollment, by=case["organizer"])
    assert len(outbox()) == 2
    assert enrollment.status == EnrollmentStatus.SUMMONED
    assert enrollment.convocation_sent_at == NOW + timedelta(days=2)
    last = _events(enrollment)[-1]
    assert (last.from_status, last.to_status) == ("summoned", "summoned")
    assert last.note.startswith("Convocation renvoyée")


def test_a_confirmed_person_who_is_sent_the_convocation_becomes_summoned(make, case):
    enrollment = _enrolled(make, case["course"], case["org"], surname="ROUX",
                           email="roux@example.org", status=EnrollmentStatus.CONFIRMED)
    convocation.send_convocation(enrollment, by=case["organizer"])
    assert enrollment.status == EnrollmentStatus.SUMMONED


def test_without_email_the_service_points_to_the_post_and_marks_nothing(make, case):
    enrollment = _enrolled(make, case["course"], case["org"], surname="BLANC")
    with pytest.raises(DomainError, match="courrier"):
        convocation.send_convocation(enrollment, by=case["organizer"])
    assert enrollment.status == EnrollmentStatus.ENROLLED and enrollment.convocation_sent_at is None
    assert outbox() == []

    convocation.mark_summoned_by_post(enrollment, by=case["organizer"])
    assert enrollment.status == EnrollmentStatus.SUMMONED
    assert enrollment.convocation_sent_at == NOW
    assert _events(enrollment)[-1].note == "Convocation envoyée par courrier"


@pytest.mark.parametrize("status", [CourseStatus.DRAFT, CourseStatus.CANCELLED])
def test_no_convocation_for_a_course_that_is_not_scheduled(case, status):
    case["course"].status = status
    with pytest.raises(DomainError, match="programmé"):
        convocation.send_convocation(case["enrollment"], by=case["organizer"])
    assert outbox() == []


def test_cancellation_reuses_the_uids_with_a_higher_sequence(case):
    enrollment = case["enrollment"]
    assert convocation.send_cancellation(enrollment) is False  # nothing sent yet, nothing to cancel
    convocation.send_convocation(enrollment, by=case["organizer"])
    request = _ics(outbox()[0])

    assert convocation.send_cancellation(enrollment, by=case["organizer"]) is True
    message = outbox()[1]
    assert "DURAND" not in message["Subject"]
    assert "annulée" in message.get_body(("plain",)).get_content()
    assert message.get_body(("plain",)).get_content().startswith("Bonjour Jean DURAND,")
    assert [p.get_filename() for p in message.iter_attachments()] == ["invitation.ics"]
    cancel = _ics(message)
    assert cancel["METHOD"] == "CANCEL"
    assert [str(e["UID"]) for e in cancel.walk("VEVENT")] == [
        str(e["UID"]) for e in request.walk("VEVENT")
    ]
    for sent, cancelled in zip(request.walk("VEVENT"), cancel.walk("VEVENT")):
        assert cancelled["STATUS"] == "CANCELLED"
        assert cancelled["SEQUENCE"] > sent["SEQUENCE"]
    assert _events(enrollment)[-1].note == "Annulation de la convocation envoyée par courriel"


def test_cancelling_a_course_withdraws_every_emailed_convocation(make, case):
    course = case["course"]
    convocation.send_convocation(case["enrollment"], by=case["organizer"])
    postal = _enrolled(make, course, case["org"], surname="POSTAL")  # no email address
    convocation.mark_summoned_by_post(postal, by=case["organizer"])
    _enrolled(make, course, case["org"], surname="NEUF", email="neuf@example.org")  # not summoned
    outbox().clear()
    course.status = CourseStatus.CANCELLED
    summary = convocation.send_cancellations_for_course(course)
    assert (summary.sent, summary.failed) == (1, 0)
    [message] = outbox()
    assert message["To"] == "jean.durand@example.org"
    assert "Ce stage est annulé." in message.get_body(("plain",)).get_content()


# ---------------------------------------------------------------------------------------------
# Mail backends


def test_a_real_smtp_server_receives_the_convocation_with_both_attachments(app, case):
    with smtp_server(app) as server:
        convocation.send_convocation(case["enrollment"], by=case["organizer"])
    [envelope] = server.envelopes
    assert envelope.mail_from == "stages@localhost"
    assert envelope.rcpt_tos == ["jean.durand@example.org"]
    received = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert received["Subject"] == "Convocation à un stage de sensibilisation — jeudi 12 mars 2026"
    attachments = {p.get_filename(): p for p in received.iter_attachments()}
    assert set(attachments) == {"convocation.pdf", "invitation.ics"}
    assert "DURAND Jean" in _pdf_text(attachments["convocation.pdf"].get_payload(decode=True))
    assert _ics(received)["METHOD"] == "REQUEST"
    assert outbox() == []  # it went through SMTP, not the memory backend
    assert case["enrollment"].status == EnrollmentStatus.SUMMONED


def test_a_refusing_smtp_server_leaves_the_convocation_due(app, case):
    enrollment = case["enrollment"]
    with smtp_server(app, reply="550 refusé") as server:
        with pytest.raises(MailError):
            convocation.send_convocation(enrollment, by=case["organizer"])
    assert len(server.envelopes) == 1  # it was tried, and refused
    assert enrollment.status == EnrollmentStatus.ENROLLED
    assert enrollment.convocation_sent_at is None
    assert _events(enrollment) == []


def test_an_unreachable_smtp_server_is_a_mail_error(app):
    with override_config(app, MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=free_port()):
        with pytest.raises(MailError, match="échoué"):
            send_email(build_message("a@example.org", "Essai", "Bonjour"))


def test_the_file_backend_writes_an_eml_under_the_instance_folder(app, case, tmp_path):
    saved = app.instance_path
    app.instance_path = str(tmp_path)
    try:
        with override_config(app, MAIL_BACKEND="file"):
            convocation.send_convocation(case["enrollment"], by=case["organizer"])
    finally:
        app.instance_path = saved
    [path] = (tmp_path / "mail").glob("*.eml")
    assert "DURAND" not in path.name and "durand" not in path.name
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == "jean.durand@example.org"
    assert {p.get_filename() for p in message.iter_attachments()} == {"convocation.pdf", "invitation.ics"}


def test_an_unknown_backend_refuses_to_send(app):
    with override_config(app, MAIL_BACKEND="pigeon"):
        with pytest.raises(MailError):
            send_email(build_message("a@example.org", "Essai", "Bonjour"))


def test_build_message_keeps_mime_parameters_of_attachments(app):
    message = build_message(
        "a@example.org", "Objet", "Texte",
        [("invitation.ics", b"BEGIN:VCALENDAR", "text/calendar; method=CANCEL")],
    )
    [part] = message.iter_attachments()
    assert part.get_content_type() == "text/calendar"
    assert part.get_param("method") == "CANCEL"
    assert message["From"] == "stages@localhost" and message["Message-ID"]


# ---------------------------------------------------------------------------------------------
# Views


def _flashes(client) -> list[str]:
    """The messages flashed since the last call (read and cleared, as a page would)."""
    with client.session_transaction() as state:
        return [message for _category, message in state.pop("_flashes", [])]


def _audits(action: str) -> list[AuditEntry]:
    return db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    ).all()


def test_send_all_emails_those_due_and_counts_those_to_print(client, make, case):
    course, org = case["course"], case["org"]
    _enrolled(make, course, org, surname="ABEL", email="abel@example.org")
    _enrolled(make, course, org, surname="BRUN")  # no email: to print
    _enrolled(make, course, org, surname="CARON")  # no email: to print
    already = _enrolled(make, course, org, surname="DIAZ", email="diaz@example.org",
                        status=EnrollmentStatus.SUMMONED)
    waiting = _enrolled(make, course, org, surname="ETIENNE", email="etienne@example.org")
    waiting.status, waiting.waitlist_position = EnrollmentStatus.WAITLISTED, 1
    login(client, case["organizer"])

    response = client.post(f"/stages/{course.id}/convocations")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/stages/{course.id}")
    assert _flashes(client) == [
        "2 convocations envoyées, 2 personnes sans adresse électronique (convocation à imprimer), "
        "0 échec."
    ]
    assert sorted(m["To"] for m in outbox()) == ["abel@example.org", "jean.durand@example.org"]
    statuses = dict(
        db.session.execute(
            sa.select(Enrollment.measure_id, Enrollment.status).where(Enrollment.course_id == course.id)
        ).all()
    )
    assert sorted(s.value for s in statuses.values()) == [
        "enrolled", "enrolled", "summoned", "summoned", "summoned", "waitlisted"
    ]
    assert already.convocation_sent_at is None  # not re-sent
    sent = _audits("convocation.sent")
    assert len(sent) == 2 and all(a.participant_id for a in sent)
    assert all("DURAND" not in (a.details or "") and "@" not in (a.details or "") for a in sent)


def test_send_all_goes_on_after_a_failure_and_keeps_what_was_sent(client, make, case, monkeypatch):
    course = case["course"]
    _enrolled(make, course, case["org"], surname="ABEL", email="abel@example.org")
    _enrolled(make, course, case["org"], surname="ZOLA", email="zola@example.org")
    real_send = send_email

    def flaky(message):
        if message["To"] == "jean.durand@example.org":
            raise MailError()
        real_send(message)

    monkeypatch.setattr(convocation.sending, "send_email", flaky)
    login(client, case["organizer"])
    client.post(f"/stages/{course.id}/convocations")
    assert _flashes(client)[0].startswith("2 convocations envoyées, 0 personne sans adresse "
                                          "électronique (convocation à imprimer), 1 échec.")
    assert sorted(m["To"] for m in outbox()) == ["abel@example.org", "zola@example.org"]
    assert case["enrollment"].status == EnrollmentStatus.ENROLLED
    assert case["enrollment"].convocation_sent_at is None


def test_send_all_commits_each_email_as_it_goes(client, make, case, monkeypatch):
    """A crash after the first email must not erase the record that it was sent."""
    course = case["course"]
    _enrolled(make, course, case["org"], surname="ZOLA", email="zola@example.org")
    real_send = send_email

    def crash_on_second(message):
        if outbox():
            raise RuntimeError("le processus s'arrête")
        real_send(message)

    monkeypatch.setattr(convocation.sending, "send_email", crash_on_second)
    login(client, case["organizer"])
    db.session.commit()
    with pytest.raises(RuntimeError):
        client.post(f"/stages/{course.id}/convocations")
    db.session.rollback()
    db.session.expire_all()
    summoned = db.session.scalars(
        sa.select(Enrollment).where(Enrollment.status == EnrollmentStatus.SUMMONED)
    ).all()
    assert len(summoned) == 1 and summoned[0].convocation_sent_at is not None
    assert [m["To"] for m in outbox()] == [summoned[0].measure.participant.email]


def test_send_one_then_back_to_the_person_or_to_the_course(client, case):
    enrollment = case["enrollment"]
    participant_id = enrollment.measure.participant_id
    login(client, case["organizer"])
    response = client.post(f"/inscriptions/{enrollment.id}/convoquer")
    assert response.headers["Location"].endswith(f"/personnes/{participant_id}")
    assert _flashes(client) == ["La convocation a été envoyée par courriel."]
    assert enrollment.status == EnrollmentStatus.SUMMONED
    [entry] = _audits("convocation.sent")
    assert (entry.object_type, entry.object_id, entry.participant_id) == (
        "Enrollment", enrollment.id, participant_id
    )

    response = client.post(f"/inscriptions/{enrollment.id}/convoquer", data={"next_page": "session"})
    assert response.headers["Location"].endswith(f"/stages/{case['course'].id}")
    assert "renvoyée" in _flashes(client)[0]


def test_a_failed_send_says_so_and_leaves_it_due(client, case, monkeypatch):
    def refuse(message):
        raise MailError()

    monkeypatch.setattr(convocation.sending, "send_email", refuse)
    login(client, case["organizer"])
    client.post(f"/inscriptions/{case['enrollment'].id}/convoquer")
    assert _flashes(client) == [
        "L'envoi a échoué ; la convocation reste à envoyer (le motif est noté dans les preuves "
        "d'envoi de la convocation)."
    ]
    assert case["enrollment"].status == EnrollmentStatus.ENROLLED
    assert _audits("convocation.sent") == []


def test_mark_by_post_view(client, make, case):
    enrollment = _enrolled(make, case["course"], case["org"], surname="BRUN")
    login(client, case["organizer"])
    response = client.post(f"/inscriptions/{enrollment.id}/convoque-par-courrier",
                           data={"next_page": "session"})
    assert response.headers["Location"].endswith(f"/stages/{case['course'].id}")
    assert enrollment.status == EnrollmentStatus.SUMMONED
    assert _audits("convocation.sent")[0].details == "courrier"


def test_download_one_letter_is_audited_and_names_no_one_in_the_url_or_file(client, case):
    enrollment = case["enrollment"]
    login(client, case["organizer"])
    response = client.get(f"/inscriptions/{enrollment.id}/convocation.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'inline; filename="convocation.pdf"'
    assert "DURAND Jean" in _pdf_text(response.data)
    [entry] = _audits("convocation.downloaded")
    assert entry.participant_id == enrollment.measure.participant_id


def test_download_all_letters_of_a_course(client, make, case):
    course = case["course"]
    brun = _enrolled(make, course, case["org"], surname="BRUN")
    _enrolled(make, course, case["org"], surname="PARTI", status=EnrollmentStatus.WITHDRAWN)
    login(client, case["organizer"])
    response = client.get(f"/stages/{course.id}/convocations.pdf")
    assert response.status_code == 200
    text = _pdf_text(response.data)
    assert "DURAND Jean" in text and "BRUN Jean" in text and "PARTI" not in text
    assert len(pypdf.PdfReader(io.BytesIO(response.data)).pages) >= 2
    assert sorted(a.participant_id for a in _audits("convocation.downloaded")) == sorted(
        [case["enrollment"].measure.participant_id, brun.measure.participant_id]
    )
    # Only the letters to post: those without an email address.
    text = _pdf_text(client.get(f"/stages/{course.id}/convocations.pdf?sans_courriel=1").data)
    assert "BRUN Jean" in text and "DURAND" not in text


def _routes(case) -> list[tuple[str, str]]:
    enrollment_id, course_id = case["enrollment"].id, case["course"].id
    return [
        ("get", f"/inscriptions/{enrollment_id}/convocation.pdf"),
        ("post", f"/inscriptions/{enrollment_id}/convoquer"),
        ("post", f"/inscriptions/{enrollment_id}/convoque-par-courrier"),
        ("post", f"/stages/{course_id}/convocations"),
        ("get", f"/stages/{course_id}/convocations.pdf"),
    ]


@pytest.mark.parametrize("who", ["facilitator", "liaison", "other_organizer"])
def test_only_the_courses_organizers_may_convoke(client, make, case, who):
    if who == "facilitator":
        user = make.user(Role.FACILITATOR, [case["org"]])
        case["course"].facilitators.append(user)
    elif who == "liaison":
        user = make.user(Role.LIAISON, [case["enrollment"].measure.authority])
    else:
        user = make.user(Role.ORGANIZER, [make.organization(OrganizationKind.ASSOCIATION)])
    login(client, user)
    for method, url in _routes(case):
        assert getattr(client, method)(url).status_code == 403, (who, url)
    assert outbox() == []
    assert case["enrollment"].status == EnrollmentStatus.ENROLLED
    assert _audits("convocation.downloaded") == []


def test_missing_ids_are_403_like_someone_elses(client, case):
    login(client, case["organizer"])
    assert client.post("/inscriptions/999999/convoquer").status_code == 403
    assert client.get("/inscriptions/999999/convocation.pdf").status_code == 403
    assert client.post("/stages/999999/convocations").status_code == 403


def test_anonymous_users_are_sent_to_the_login_page(client, case):
    for method, url in _routes(case):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/connexion" in response.headers["Location"]


# ---------------------------------------------------------------------------------------------
# « 1er »


def test_the_first_of_the_month_is_1er_on_the_page_in_the_email_and_in_the_pdfs(client, make, case):
    """The course page said « mercredi 1 avril 2026 » while the email said « 1er avril »."""
    facilitator = make.user(Role.FACILITATOR, [case["org"]])
    course = make.course(case["venue"], [case["org"]], [facilitator], day=date(2026, 4, 1))
    enrollment = _enrolled(make, course, case["org"], surname="AVRIL", email="avril@example.org")
    login(client, case["organizer"])

    page = client.get(f"/stages/{course.id}").get_data(as_text=True)
    assert "mercredi 1er avril 2026" in page and "1 avril" not in page

    client.post(f"/inscriptions/{enrollment.id}/convoquer")
    [message] = outbox()
    assert message["Subject"].endswith("— mercredi 1er avril 2026")
    body = message.get_body(("plain",)).get_content()
    assert "mercredi 1er avril 2026, de 9\u00a0h\u00a030 à 12\u00a0h\u00a030" in body and "1 avril" not in body

    letter = _pdf_text(client.get(f"/inscriptions/{enrollment.id}/convocation.pdf").data)
    assert "mercredi 1er avril 2026, de 9 h 30 à 12 h 30" in letter and "1 avril" not in letter
    client.post("/deconnexion")
    login(client, facilitator)
    sheet = _pdf_text(client.get(f"/stages/{course.id}/emargement.pdf").data)
    assert "Mercredi 1er avril 2026" in sheet and "1 avril" not in sheet
