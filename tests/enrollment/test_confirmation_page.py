"""The person's confirmation page (issue 17): the link every summons carries, what the page
shows (and never shows), its expiry, its limits and logs, and the replies reaching organizers."""
from __future__ import annotations

import hashlib
from html import unescape
import io
import re
import threading
from datetime import date, datetime, time, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine
from pypdf import PdfReader

from stages.auth.models import AuditEntry, OrganizationKind, Role
from stages.enrollment import convocation
from stages.enrollment.confirmation.links import (
    CODE_ALPHABET,
    format_code,
    link_url,
    normalize_code,
    summons_code,
)
from stages.enrollment.confirmation.models import ReplyKind, SummonsLink, SummonsReply
from stages.enrollment.frames import frame_title
from stages.enrollment.models import EnrollmentStatus, LegalFrame
from stages.enrollment.services import reschedule, withdraw_measure
from stages.extensions import db, limiter
from tests.conftest import requires_postgres
from tests.helpers import login

COURSE_DAY = date(2027, 3, 16)
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc)
SURNAME, FIRST_NAMES, CASE_REFERENCE = "VERCINGETORIX", "Maximilien", "27-PARQ-0042"
AUTHORITY = "Parquet de Lutèce"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def w(make):
    """A person summoned to a two-half-day course at the MJD du 17e, with distinctive details."""
    w = type("World", (), {})()
    w.apcars = make.organization(name="APCARS")
    w.other = make.organization(name="Autre association")
    w.parquet = make.organization(OrganizationKind.PARQUET, name=AUTHORITY)
    w.venue = make.venue(name="MJD du 17e", address="16 rue Jacques Kellner", postal_code="75017",
                         city="Paris", room="Salle 2")
    w.course = make.course(w.venue, [w.apcars], day=COURSE_DAY)
    w.organizer = make.user(Role.ORGANIZER, [w.apcars])
    w.outsider = make.user(Role.ORGANIZER, [w.other])
    person = make.participant(surname=SURNAME, first_names=FIRST_NAMES, email="m.v@example.org",
                              birth_place="Alésia")
    w.measure = make.measure(person, authority=w.parquet, handling=w.apcars,
                             case_reference=CASE_REFERENCE, frame=LegalFrame.COMPOSITION_PENALE)
    w.enrollment = make.enrollment(w.measure, w.course, status=EnrollmentStatus.SUMMONED)
    w.code = format_code(summons_code(w.enrollment))
    w.url = f"/c/{w.code}"
    db.session.commit()
    return w


def _personal(w) -> list[str]:
    return [SURNAME, FIRST_NAMES, CASE_REFERENCE, AUTHORITY, "Alésia", "m.v@example.org",
            frame_title(w.measure), "Composition pénale", "APCARS"]


def _replies() -> list[tuple[str, str | None]]:
    return [(r.kind.value, r.reason.value if r.reason else None)
            for r in db.session.scalars(sa.select(SummonsReply).order_by(SummonsReply.id))]


# ---------------------------------------------------------------------------------------------
# The link


def test_the_code_is_80_random_bits_typed_from_paper_and_only_its_hash_is_stored(w, make, app):
    code = normalize_code(w.code)
    assert len(code) == 16 and set(code) <= set(CODE_ALPHABET)
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", w.code)
    link = db.session.scalar(sa.select(SummonsLink))
    assert link.code_hash == hashlib.sha256(code.encode()).hexdigest()
    assert code not in (link.salt, link.code_hash)
    # The same link on every copy of the letter; another person's is another.
    assert summons_code(w.enrollment) == code
    other = make.enrollment(make.measure(authority=w.parquet, handling=w.apcars), w.course)
    assert summons_code(other) != code
    # Typed in lower case, without dashes, with O for 0 and I/L for 1: the same page.
    typed = code.lower().replace("0", "o").replace("1", "l")
    assert normalize_code(typed) == code
    # A new secret key: the stored hash no longer matches, the link is drawn anew.
    saved = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "another-secret"
    try:
        assert summons_code(w.enrollment) != code
    finally:
        app.config["SECRET_KEY"] = saved


def test_the_letter_carries_the_short_link_and_its_qr_code(w):
    pdf = convocation.convocation_pdf(w.enrollment)
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    url = link_url(normalize_code(w.code))
    assert url == f"http://stages.test/c/{w.code}" and url in text
    # The QR code is an image of exactly segno's code for that address.
    import segno
    from PIL import Image

    expected = io.BytesIO()
    segno.make(url, error="m", micro=False, boost_error=False).save(expected, kind="png", scale=4, border=1)
    images = [image for page in reader.pages for image in page.images]
    drawn = [image.image.convert("1") for image in images]
    assert Image.open(expected).convert("1").tobytes() in [image.tobytes() for image in drawn]
    # Printed again: the same link (no second row, same bytes).
    assert convocation.convocation_pdf(w.enrollment) == pdf
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SummonsLink)) == 1


def test_the_convocation_and_reminder_emails_carry_the_link(w):
    url = link_url(normalize_code(w.code))
    for message in (convocation.convocation_email(w.enrollment, b"%PDF"), convocation.reminder_email(w.enrollment, 7)):
        body = message.get_body(("plain",)).get_content()
        assert url in body
        assert w.code not in message["Subject"]


# ---------------------------------------------------------------------------------------------
# The page


def test_the_page_shows_dates_times_venue_and_nothing_personal(client, w):
    response = client.get(w.url)
    assert response.status_code == 200
    html = unescape(response.text)  # the page's sentences come from the catalogs, escaped
    for shown in ("mardi 16 mars 2027", "9\u00a0h\u00a030", "12\u00a0h\u00a030", "13\u00a0h\u00a030",
                  "16\u00a0h\u00a030", "MJD du 17e", "Salle 2", "16 rue Jacques Kellner", "75017 Paris",
                  "pièce d'identité"):
        assert shown in html, shown
    for secret in _personal(w):
        assert secret.lower() not in html.lower(), secret
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response.headers["X-Robots-Tag"]
    assert response.headers["Cache-Control"] == "no-store"
    # Typed in lower case without dashes: the same page.
    assert client.get("/c/" + w.code.replace("-", "").lower()).status_code == 200


@pytest.mark.parametrize("language, words, direction", [
    ("ro", ["Cursul dumneavoastră de sensibilizare", "marți, 16 martie 2027", "9:30", "Confirm prezența mea",
            "Motiv medical"], "ltr"),
    ("ar", ["دورة التوعية الخاصة بك", "أؤكد حضوري", "سبب طبي", "9:30"], "rtl"),
])
def test_the_page_speaks_the_persons_language_and_still_shows_nothing_personal(client, w, language,
                                                                               words, direction):
    w.measure.participant.language = language
    db.session.commit()
    html = unescape(client.get(w.url).text)
    assert f'lang="{language}" dir="{direction}"' in html
    assert f'<h1 lang="{language}" dir="{direction}">' in html  # the heading too
    for word in words:
        assert word in html, word
    assert "Je confirme ma présence" not in html  # the page is in their language, not beside it
    for secret in _personal(w):
        assert secret.lower() not in html.lower(), secret
    # The replies work the same: a confirmation in Arabic or Romanian is recorded once.
    assert client.post(w.url + "/confirmer").status_code == 303
    assert _replies() == [("confirmed", None)]


def test_an_unknown_or_malformed_code_is_a_french_404(client, w):
    for code in ("0000-0000-0000-0000", "pas-un-code", "x" * 500):
        response = client.get(f"/c/{code}")
        assert response.status_code == 404
        assert "ne correspond à aucune convocation" in response.text
        assert response.headers["Referrer-Policy"] == "no-referrer"


def test_the_link_expires_after_the_course(client, w):
    with time_machine.travel(datetime.combine(COURSE_DAY, time(15, 0), timezone.utc), tick=False):
        assert client.get(w.url).status_code == 200  # the afternoon's half-day is still on
    with time_machine.travel(datetime.combine(COURSE_DAY, time(16, 0), timezone.utc), tick=False):
        response = client.get(w.url)
        assert response.status_code == 410
        assert "n'est plus valable" in response.text and "MJD du 17e" not in response.text
        assert client.post(w.url + "/confirmer").status_code == 410
    assert _replies() == []


def test_the_link_expires_when_the_measure_is_withdrawn(client, w):
    withdraw_measure(w.measure, "Retour au parquet", by=w.organizer)
    db.session.commit()
    response = client.get(w.url)
    assert response.status_code == 410 and "MJD du 17e" not in response.text


def test_a_person_moved_to_another_course_finds_it_behind_the_earlier_letters_link(client, w, make):
    later = make.course(make.venue(name="Préfecture de la Région"), [w.apcars], day=COURSE_DAY + timedelta(days=21))
    result = reschedule(w.enrollment, later, by=w.organizer)
    db.session.commit()
    html = client.get(w.url).text
    assert "la date de votre stage a changé" in html
    assert "mardi 6 avril 2027" in html and "Préfecture de la Région" in html
    assert "MJD du 17e" not in html
    # A reply through the earlier link is about the new course.
    client.post(w.url + "/confirmer")
    reply = db.session.scalar(sa.select(SummonsReply))
    assert (reply.enrollment_id, reply.course_id) == (result.enrollment.id, later.id)
    # The new letter has a link of its own, to the same course.
    assert client.get(f"/c/{format_code(summons_code(result.enrollment))}").status_code == 200


# ---------------------------------------------------------------------------------------------
# Replies


def _proofs():
    from stages.enrollment.convocation.delivery import SummonsDelivery

    rows = db.session.execute(sa.select(SummonsDelivery.channel, SummonsDelivery.status, SummonsDelivery.detail))
    return [(channel.value, status.value, detail) for channel, status, detail in rows]


def test_a_confirmation_is_recorded_once_and_reaches_the_organizers_home(client, w):
    for _ in range(2):  # a replay, or a double click
        response = client.post(w.url + "/confirmer", headers={"User-Agent": "Navigateur/1.0"})
        assert response.status_code == 303 and response.headers["Location"].endswith(f"/c/{w.code}#reponse")
    assert _replies() == [("confirmed", None)]
    reply = db.session.scalar(sa.select(SummonsReply))
    assert reply.user_agent_hash == hashlib.sha256(b"Navigateur/1.0").hexdigest()
    assert db.session.get(type(w.enrollment), w.enrollment.id).status == EnrollmentStatus.CONFIRMED
    assert "Vous avez confirmé votre présence" in client.get(w.url).text
    # The confirmation is the summons' delivery proof, recorded once like the reply.
    assert _proofs() == [("confirmation", "acknowledged", "Présence confirmée par la personne")]

    login(client, w.organizer)
    home = client.get("/").text
    assert "Réponses aux convocations" in home and "Présence confirmée" in home
    assert f"/personnes/{w.measure.participant_id}" in home
    assert SURNAME.lower() not in home.lower()  # the name is read on the person's (audited) page
    # « Traitée »: audited, and off the list.
    assert client.post(f"/reponses/{reply.id}/traitee").status_code == 302
    assert "Réponses aux convocations" not in client.get("/").text
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "summons.reply_handled"))
    assert entry.user_id == w.organizer.id and entry.participant_id == w.measure.participant_id
    assert client.post(f"/reponses/{reply.id}/traitee").status_code == 302  # again: a notice, no change


def test_a_request_for_another_date_reaches_the_organizers_and_changes_nothing(client, w):
    response = client.post(w.url + "/autre-date", data={"reason": "other", "details": "Mariage de ma sœur"})
    assert response.status_code == 303
    assert client.post(w.url + "/autre-date", data={"reason": "medical"}).status_code == 303
    assert _replies() == [("other_date", "other")]  # one request waits at a time
    assert db.session.get(type(w.enrollment), w.enrollment.id).status == EnrollmentStatus.SUMMONED
    assert "Votre demande d'une autre date a été transmise" in unescape(client.get(w.url).text)
    assert _proofs() == [("confirmation", "acknowledged", "Autre date demandée par la personne")]

    login(client, w.organizer)
    home = unescape(client.get("/").text)
    assert "Demande d'une autre date" in home and "Autre" in home
    assert "Mariage" not in home  # the details are on the person's page
    person = unescape(client.get(f"/personnes/{w.measure.participant_id}").text)
    assert "Mariage de ma sœur" in person and "Demande d'une autre date" in person
    assert "Convocation reçue : la personne a répondu par son lien (Autre date demandée" in person


def test_replies_reach_only_the_organizers_of_that_course(client, w):
    client.post(w.url + "/autre-date", data={"reason": "work"})
    reply = db.session.scalar(sa.select(SummonsReply))
    login(client, w.outsider)
    assert "Réponses aux convocations" not in client.get("/").text
    assert client.post(f"/reponses/{reply.id}/traitee").status_code == 403
    assert db.session.get(SummonsReply, reply.id).handled_at is None


@pytest.mark.parametrize("data, message", [
    ({}, "Choisissez un motif dans la liste."),
    ({"reason": "vacances"}, "Choisissez un motif dans la liste."),
    ({"reason": "other"}, "Précisez votre motif en quelques mots."),
    ({"reason": "other", "details": "x" * 201}, "200 caractères au plus."),
])
def test_a_bad_request_for_another_date_is_a_french_form_error(client, w, data, message):
    response = client.post(w.url + "/autre-date", data=data)
    assert response.status_code == 400
    assert message in response.text
    assert _replies() == []


def test_the_forms_need_the_csrf_token(client, w, csrf_enabled):
    assert client.post(w.url + "/confirmer").status_code == 400
    assert client.post(w.url + "/autre-date", data={"reason": "work"}).status_code == 400
    assert _replies() == []
    page = client.get(w.url).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post(w.url + "/confirmer", data={"csrf_token": token}).status_code == 303
    assert _replies() == [("confirmed", None)]


def test_every_visit_and_reply_is_logged_without_personal_data(client, w):
    client.get(w.url)
    client.get("/c/0000-0000-0000-0000")
    client.post(w.url + "/autre-date", data={"reason": "medical"})
    entries = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
    rows = [(e.action, e.object_type, e.details) for e in entries]
    assert rows == [
        ("summons.page_viewed", "SummonsLink", "ouvert"),
        ("summons.page_viewed", None, "inconnu"),
        ("summons.replied", "SummonsReply", "other_date"),
    ]
    for entry in entries:
        assert entry.ip is None and entry.user_id is None and entry.participant_id is None
        assert "medical" not in (entry.details or "")


# ---------------------------------------------------------------------------------------------
# Rate limit, and two identical requests at once


@pytest.fixture
def limited_client(app):
    """A client of an app with rate limits on (see tests/certificates/test_verification.py)."""
    from stages import create_app

    keep = ("SQLALCHEMY_DATABASE_URI", "SERVER_NAME", "BASE_URL", "SECRET_KEY", "TESTING")
    limited = create_app({**{key: app.config[key] for key in keep}, "WTF_CSRF_ENABLED": False,
                          "RATELIMIT_ENABLED": True, "CONFIRMATION_RATE_LIMIT": "5 per minute"})
    limiter.reset()
    try:
        yield limited.test_client()
    finally:
        limiter.reset()
        limiter.enabled = False
        with limited.app_context():
            db.engine.dispose()


def test_the_page_is_rate_limited_per_address_with_a_french_429(limited_client, w):
    db.session.commit()
    for index in range(5):
        # The page and its forms share one budget.
        response = (limited_client.post(w.url + "/confirmer") if index == 2 else limited_client.get(w.url))
        assert response.status_code in (200, 303), index
    refused = limited_client.get(w.url)
    assert refused.status_code == 429
    assert "Trop de tentatives" in refused.text and "MJD du 17e" not in refused.text
    assert refused.headers["Referrer-Policy"] == "no-referrer"
    assert limited_client.post(w.url + "/autre-date", data={"reason": "work"}).status_code == 429
    # Another address has its own budget.
    assert limited_client.get(w.url, environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200
    assert _replies() == [("confirmed", None)]


@requires_postgres
def test_two_identical_confirmations_at_the_same_moment_are_recorded_once(app, w):
    from flask.testing import FlaskClient

    url = w.url + "/confirmer"
    barrier, codes = threading.Barrier(2, timeout=30), []

    def confirm():
        client = FlaskClient(app, app.response_class)
        barrier.wait()
        codes.append(client.post(url).status_code)

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert codes == [303, 303]
    db.session.expire_all()
    assert _replies() == [("confirmed", None)]
    assert db.session.get(type(w.enrollment), w.enrollment.id).status == EnrollmentStatus.CONFIRMED
    assert db.session.scalar(
        sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "summons.replied")
    ) == 1


def test_the_retention_purge_erases_what_the_person_wrote(client, w):
    from stages.privacy.retention import anonymize

    client.post(w.url + "/autre-date", data={"reason": "other", "details": "Hospitalisation prévue"},
                headers={"User-Agent": "Navigateur/1.0"})
    anonymize([w.measure.participant_id], NOW)
    db.session.commit()
    db.session.expire_all()
    reply = db.session.scalar(sa.select(SummonsReply))
    assert (reply.kind, reply.reason.value, reply.reason_text, reply.user_agent_hash) == (
        ReplyKind.OTHER_DATE, "other", None, None)
    assert client.get(w.url).status_code == 410  # an anonymized person's link leads nowhere


def test_the_persons_replies_are_in_their_data_export(client, w):
    import json

    client.post(w.url + "/autre-date", data={"reason": "other", "details": "Hospitalisation prévue"})
    login(client, w.organizer)
    export = json.loads(client.get(f"/personnes/{w.measure.participant_id}/export.json").data)
    (reply,) = export["measures"][0]["enrollments"][0]["summons_replies"]
    assert (reply["kind"], reply["reason"], reply["reason_text"]) == ("other_date", "other", "Hospitalisation prévue")
