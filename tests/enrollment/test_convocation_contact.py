"""Whom the convocation tells the person to contact: the association's email and phone; without
either, those of the association that manages the venue; then the email of the course's
organizer. Never « par courrier » alone while one of them is on file (issue 14)."""
from __future__ import annotations

import io
from datetime import date, datetime, timezone

import pypdf
import pytest

from stages.auth.models import Role
from stages.enrollment import convocation
from stages.enrollment.convocation.letter import course_convocations_pdf
from stages.enrollment.convocation.wording import course_contact
from stages.enrollment.models import EnrollmentStatus
from stages.extensions import db
from stages.mail import outbox
from tests.helpers import count_queries

SESSION_DAY = date(2026, 3, 12)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
ASSOCIATION = "par courriel (stages@apcars.test) ou par téléphone (01 23 45 67 89)"
MANAGER = (
    "par courriel (accueil@scelles.test) ou par téléphone (01 98 76 54 32), auprès de "
    "Fondation Scelles, qui gère le lieu du stage"
)
ORGANIZER = "par courriel (claire.martin@apcars.test), auprès de Claire Martin, qui organise le stage"


@pytest.fixture(autouse=True)
def _frozen_and_empty_outbox(time_machine):
    time_machine.move_to(NOW, tick=False)
    outbox().clear()
    yield
    outbox().clear()


@pytest.fixture
def case(make):
    """APCARS, with nothing on file but its address, runs a course at a venue the Fondation Scelles
    manages; Claire Martin, of APCARS, created the course."""
    w = type("Case", (), {})()
    w.org = make.organization(name="APCARS", address="5 rue Leblanc, 75015 Paris")
    w.manager = make.organization(name="Fondation Scelles", email="accueil@scelles.test", phone="01 98 76 54 32")
    w.venue = make.venue(name="MJD du 17e", owner=w.manager)
    w.organizer = make.user(Role.ORGANIZER, [w.org], email="claire.martin@apcars.test", full_name="Claire Martin")
    w.course = make.course(w.venue, [w.org], day=SESSION_DAY, created_by_id=w.organizer.id)
    person = make.participant(surname="DURAND", address="3 rue des Lilas", postal_code="75011", city="Paris",
                              email="jean.durand@example.org")
    w.enrollment = make.enrollment(make.measure(person, handling=w.org), w.course, status=EnrollmentStatus.ENROLLED)
    db.session.commit()
    return w


def _letter(enrollment) -> str:
    reader = pypdf.PdfReader(io.BytesIO(convocation.convocation_pdf(enrollment)))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _emailed(w):
    convocation.send_convocation(w.enrollment, by=w.organizer)
    [message] = outbox()
    outbox().clear()
    return message, " ".join(message.get_body(("plain",)).get_content().split())


def test_the_association_own_email_and_phone_come_first(case):
    case.org.email, case.org.phone = "stages@apcars.test", "01 23 45 67 89"
    db.session.commit()
    letter = _letter(case.enrollment)
    assert f"contactez APCARS avant le stage, {ASSOCIATION}, en joignant" in letter
    assert "Fondation Scelles" not in letter and "Claire Martin" not in letter
    message, body = _emailed(case)
    assert f"contactez APCARS avant le stage, {ASSOCIATION}, en joignant" in body
    assert message["Reply-To"] == "stages@apcars.test"


def test_a_phone_alone_is_enough_for_the_association(case):
    case.org.phone = "01 23 45 67 89"
    db.session.commit()
    assert course_contact(case.enrollment, case.org).phone == "01 23 45 67 89"
    letter = _letter(case.enrollment)
    assert "contactez APCARS avant le stage, par téléphone (01 23 45 67 89), en joignant" in letter
    message, _body = _emailed(case)
    assert message["Reply-To"] is None  # no address to reply to but the phone


def test_without_the_association_contact_the_venue_manager_answers(case):
    letter = _letter(case.enrollment)
    assert f"contactez APCARS avant le stage, {MANAGER}, en joignant" in letter
    assert "Contact : Fondation Scelles accueil@scelles.test Tél. : 01 98 76 54 32" in letter
    assert "par courrier" not in letter
    message, body = _emailed(case)
    assert f"contactez APCARS avant le stage, {MANAGER}, en joignant" in body
    assert "par courrier" not in body
    assert message["Reply-To"] == "accueil@scelles.test"
    invitation = next(p for p in message.iter_attachments() if p.get_filename() == "invitation.ics")
    # Unfolded (RFC 5545 folds lines at 75 octets, wherever the text falls).
    assert "Fondation Scelles" in invitation.get_payload(decode=True).decode().replace("\r\n ", "")


@pytest.mark.parametrize("manager", ["none", "no contact"])
def test_then_the_organizer_of_the_course_answers_by_email(case, manager):
    if manager == "none":
        case.venue.owner = None
    else:
        case.manager.email = case.manager.phone = None
    db.session.commit()
    letter = _letter(case.enrollment)
    assert f"contactez APCARS avant le stage, {ORGANIZER}, en joignant" in letter
    assert "Contact : Claire Martin claire.martin@apcars.test" in letter
    assert "par courrier" not in letter
    message, body = _emailed(case)
    assert f"contactez APCARS avant le stage, {ORGANIZER}, en joignant" in body
    assert "Contact : par courriel (claire.martin@apcars.test), auprès de Claire Martin" in body
    assert message["Reply-To"] == "claire.martin@apcars.test"


def test_a_departed_organizer_is_not_given_as_contact(case, make):
    case.venue.owner = None
    case.organizer.active = False
    db.session.commit()
    assert course_contact(case.enrollment, case.org) is None
    assert "contactez APCARS avant le stage, par courrier, en joignant" in _letter(case.enrollment)
    case.course.created_by_id = make.user(Role.FACILITATOR, [case.org]).id  # not an organizer
    db.session.commit()
    assert course_contact(case.enrollment, case.org) is None


def test_the_letters_of_a_course_ask_for_the_organizer_once(case, make):
    case.venue.owner = None
    enrollments = [case.enrollment] + [
        make.enrollment(make.measure(make.participant(), handling=case.org), case.course, status=EnrollmentStatus.ENROLLED)
        for _ in range(3)
    ]
    db.session.commit()
    db.session.expire_all()
    with count_queries() as counter:
        text = " ".join(
            page.extract_text()
            for page in pypdf.PdfReader(io.BytesIO(course_convocations_pdf(enrollments))).pages
        )
    assert text.count("Claire Martin") >= 4
    from_users = [s for s in counter.statements if "FROM users" in s and "users.id = ?" in s.replace("%(pk_1)s", "?")]
    assert len(from_users) == 1, from_users
