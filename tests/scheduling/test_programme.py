"""The programme of each half-day (issue 19): the décret's contents before scheduling, outside
speakers never booked twice at once, the programme printed on the sign-in sheet and on new
attestations only, and the course page's queries whatever the programme's size."""
from __future__ import annotations

import io
import threading
from datetime import date, datetime, time, timezone

import pytest
import sqlalchemy as sa
import time_machine
from flask.testing import FlaskClient
from pypdf import PdfReader

from stages.attendance.pdf import roster_pdf
from stages.auth.models import Role
from stages.certificates import document, issuing
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling import services as scheduling
from stages.scheduling.models import CourseStatus
from stages.scheduling.programme import services
from stages.scheduling.programme.models import (
    BookingStatus,
    ProgrammeModule,
    ProgrammeTopic,
    Speaker,
    SpeakerBooking,
    SpeakerKind,
)
from stages.scheduling.services import CourseData, PartSpec
from tests.factories import PASSWORD
from tests.helpers import drawn_texts, login, queries_for

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
DAY = date(2026, 3, 12)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def team(make):
    team = type("Team", (), {})()
    team.apcars = make.organization(name="APCARS")
    team.organizer = make.user(Role.ORGANIZER, [team.apcars])
    team.other = make.user(Role.ORGANIZER, [make.organization(name="Autre association")])
    db.session.flush()
    team.modules = {m.title: m for m in db.session.scalars(
        sa.select(ProgrammeModule).where(ProgrammeModule.organization_id == team.apcars.id))}
    team.survivor = Speaker(organization=team.apcars, full_name="Nadia B.", kind=SpeakerKind.SURVIVOR,
                            email="nadia@example.org")
    db.session.add(team.survivor)
    db.session.flush()
    return team


def _module(team, topic: ProgrammeTopic) -> ProgrammeModule:
    return next(m for m in team.modules.values() if m.topics == [topic])


def test_every_new_association_gets_the_default_catalogue_covering_the_decret(team):
    covered = {t for m in team.modules.values() if m.default_position for t in m.topics}
    assert {ProgrammeTopic.REALITY, ProgrammeTopic.COMMODIFICATION, ProgrammeTopic.RESPONSIBILITY} <= covered


def test_a_course_lacking_a_required_content_cannot_be_scheduled(client, make, team):
    draft = make.course(organizations=[team.apcars], day=DAY, status=CourseStatus.DRAFT, programme=False)
    services.add_item(draft.parts[0], _module(team, ProgrammeTopic.REALITY), by=team.organizer)
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        scheduling.change_status(draft, CourseStatus.SCHEDULED, by=team.organizer)
    assert "« la marchandisation du corps »" in refused.value.message
    assert "« la responsabilité pénale et civile de l'acheteur »" in refused.value.message
    assert "réalité" not in refused.value.message
    db.session.rollback()

    login(client, team.organizer)
    page = client.post(f"/stages/{draft.id}/statut", data={"status": "scheduled"}, follow_redirects=True)
    assert "marchandisation du corps" in page.get_data(as_text=True)
    assert db.session.get(type(draft), draft.id).status == CourseStatus.DRAFT
    assert 'value="scheduled"' not in client.get(f"/stages/{draft.id}").get_data(as_text=True)

    # Completed through the page, it can be.
    for topic in (ProgrammeTopic.COMMODIFICATION, ProgrammeTopic.RESPONSIBILITY):
        response = client.post(f"/stages/{draft.id}/programme", data={
            "part": str(draft.parts[1].id), "module": str(_module(team, topic).id)})
        assert response.status_code == 302
    client.post(f"/stages/{draft.id}/statut", data={"status": "scheduled"})
    db.session.expire_all()
    assert db.session.get(type(draft), draft.id).status == CourseStatus.SCHEDULED


def test_creating_a_course_as_scheduled_needs_a_default_programme_that_covers_the_decret(make, team):
    venue = make.venue()
    data = CourseData(title="Stage", venue=venue, capacity=12, min_participants=0, fee_cents=0,
                      parts=[PartSpec(DAY, time(9, 30), time(12, 30)), PartSpec(DAY, time(13, 30), time(16, 30))],
                      organizations=[team.apcars], facilitators=[])
    course = scheduling.create_course(data, by=team.organizer, status=CourseStatus.SCHEDULED)
    assert [i.module.title for p in course.parts for i in p.programme][:2] == [
        "Cadre du stage et loi du 13 avril 2016", "La réalité de la prostitution"]
    _module(team, ProgrammeTopic.RESPONSIBILITY).default_position = None
    data.parts = [PartSpec(date(2026, 3, 19), time(9, 30), time(12, 30))]
    with pytest.raises(DomainError, match="responsabilité pénale et civile"):
        scheduling.create_course(data, by=team.organizer, status=CourseStatus.SCHEDULED)
    assert scheduling.create_course(data, by=team.organizer).status == CourseStatus.DRAFT


def test_an_already_scheduled_course_without_programme_stays_scheduled(make, team):
    course = make.course(organizations=[team.apcars], day=DAY, programme=False)
    db.session.commit()
    scheduling.change_status(course, CourseStatus.DRAFT, by=team.organizer)
    with pytest.raises(DomainError):
        scheduling.change_status(course, CourseStatus.SCHEDULED, by=team.organizer)


def _two_courses_at_once(make, team):
    first = make.course(organizations=[team.apcars], day=DAY)
    second = make.course(organizations=[team.apcars], day=DAY)  # another venue, same hours
    return first.parts[1].programme[0], second.parts[1].programme[0]


def test_a_speaker_cannot_be_booked_twice_at_once(make, team):
    mine, clashing = _two_courses_at_once(make, team)
    services.book_speaker(mine, team.survivor, by=team.organizer)
    with pytest.raises(DomainError, match=r"Nadia B\. intervient déjà le jeudi 12 mars 2026"):
        services.book_speaker(clashing, team.survivor, by=team.organizer)
    # Declined, the first one frees the slot; asked again, it clashes with the new one.
    services.set_booking_status(mine.booking, BookingStatus.DECLINED, by=team.organizer)
    services.book_speaker(clashing, team.survivor, by=team.organizer)
    with pytest.raises(DomainError, match="intervient déjà"):
        services.set_booking_status(mine.booking, BookingStatus.REQUESTED, by=team.organizer)


def test_a_module_with_its_own_times_only_holds_the_speaker_then(make, team):
    mine, other = _two_courses_at_once(make, team)
    for item, (start, end) in ((mine, (time(13, 30), time(14, 30))), (other, (time(14, 30), time(15, 30)))):
        item.start_time, item.end_time = start, end
    db.session.flush()
    services.book_speaker(mine, team.survivor, by=team.organizer)
    services.book_speaker(other, team.survivor, by=team.organizer)
    with pytest.raises(DomainError, match="tenir dans la demi-journée"):
        services.add_item(mine.part, mine.module, by=team.organizer, start=time(8, 0), end=time(9, 0))


def test_the_database_itself_refuses_a_speaker_booked_twice_at_once(make, team):
    mine, clashing = _two_courses_at_once(make, team)
    services.book_speaker(mine, team.survivor, by=team.organizer)
    db.session.commit()
    row = dict(item_id=clashing.id, speaker_id=team.survivor.id, status="requested", is_active=True,
               starts_at=mine.booking.starts_at, ends_at=mine.booking.ends_at, updated_at=NOW)
    with pytest.raises(sa.exc.IntegrityError, match="overlap"):
        db.session.execute(sa.insert(SpeakerBooking).values(**row))
    db.session.rollback()
    db.session.execute(sa.insert(SpeakerBooking).values(**dict(row, is_active=False)))  # a declined one may


def test_a_cancelled_course_frees_its_speakers(make, team):
    mine, clashing = _two_courses_at_once(make, team)
    services.book_speaker(mine, team.survivor, by=team.organizer)
    scheduling.change_status(mine.part.course, CourseStatus.CANCELLED, by=team.organizer, reason="Salle fermée")
    assert not mine.booking.is_active
    services.book_speaker(clashing, team.survivor, by=team.organizer)


def test_two_organizers_booking_one_speaker_at_once_only_one_wins(app, make, team, monkeypatch):
    mine, clashing = _two_courses_at_once(make, team)
    second = make.user(Role.ORGANIZER, [team.apcars])
    db.session.commit()
    barrier = threading.Barrier(2, timeout=20)
    original = services.speaker_conflicts

    def check_then_wait(*args, **kwargs):
        found = original(*args, **kwargs)
        barrier.wait()  # both passed the check in Python: now race to write
        return found

    requests = [(team.organizer.email, mine.part.course_id, mine.id),
                (second.email, clashing.part.course_id, clashing.id)]
    speaker_id = team.survivor.id
    monkeypatch.setattr(services, "speaker_conflicts", check_then_wait)
    results = []

    def book(index):
        email, course_id, item_id = requests[index]
        client = FlaskClient(app, app.response_class, use_cookies=True)
        client.post("/connexion", data={"email": email, "password": PASSWORD})
        response = client.post(f"/stages/{course_id}/programme/{item_id}",
                               data={"action": "book", "speaker": str(speaker_id)}, follow_redirects=True)
        results.append(response.get_data(as_text=True))

    threads = [threading.Thread(target=book, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 2
    assert sum("être réservée sur le même créneau" in page for page in results) == 1
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SpeakerBooking)) == 1


def _text(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_sign_in_sheet_prints_the_programme(make, team):
    course = make.course(organizations=[team.apcars], day=DAY)
    item = course.parts[1].programme[0]
    services.book_speaker(item, team.survivor, by=team.organizer)
    services.set_booking_status(item.booking, BookingStatus.CONFIRMED, by=team.organizer)
    text = _text(roster_pdf(course, []))
    assert "Programme, matin :" in text and "La réalité de la prostitution" in text
    assert "Programme, après-midi :" in text and "(intervention : personne survivante" in text
    assert "Nadia" not in text  # a speaker's name and contact stay off the sheet


def test_a_module_title_longer_than_the_sheet_is_cut_inside_the_page(make, team):
    """A module's title without spaces, as long as the field allows, is cut across lines rather
    than drawn off the page, and every character is printed."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    from stages.attendance.pdf import MARGIN, PAGE
    from stages.pdf_fonts import FONT

    course = make.course(organizations=[team.apcars], day=DAY)
    title = "-".join(["SENSIBILISATION"] * 13)[:200]
    course.parts[0].programme[0].module.title = title
    db.session.flush()
    pieces = [piece for piece in drawn_texts(roster_pdf(course, [])) if "SENSIBILISATION" in piece.text]
    for piece in pieces:
        assert piece.x + stringWidth(piece.text, FONT, piece.size) <= PAGE[0] - MARGIN, piece
    assert len(pieces) > 1 and title in "".join(piece.text for piece in pieces)


def test_a_new_attestation_prints_the_programme_an_issued_one_keeps_its_bytes(make, team):
    authority = make.authority()
    course, (first, second) = make.closed_course_with(people=2, organizations=[team.apcars], authority=authority,
                                                      handling=team.apcars, day=date(2026, 2, 26))
    issued = issuing.issue_certificate(first, by=team.organizer)
    db.session.commit()
    before = document.certificate_pdf(issued)
    assert "Modules suivis" in _text(before) and "La marchandisation du corps" in _text(before)
    module = course.parts[0].programme[0].module
    module.title = "Module renommé ensuite"
    db.session.commit()
    db.session.expire_all()
    assert document.certificate_pdf(db.session.get(type(issued), issued.id)) == before
    newer = document.certificate_pdf(issuing.issue_certificate(second, by=team.organizer))
    assert "Module renommé ensuite" in _text(newer) and "Module renommé ensuite" not in _text(before)


def test_course_page_queries_do_not_grow_with_the_programme(client, make, team):
    small = make.course(organizations=[team.apcars], day=DAY, parts=((time(9, 30), time(12, 30)),))
    big = make.course(organizations=[team.apcars], day=date(2026, 3, 19))
    for part in big.parts:
        for module in list(team.modules.values())[:4]:
            services.add_item(part, module, by=team.organizer)
    doctor = Speaker(organization=team.apcars, full_name="Dr G.", kind=SpeakerKind.DOCTOR)
    db.session.add(doctor)
    db.session.flush()
    services.book_speaker(small.parts[0].programme[0], team.survivor, by=team.organizer)
    services.book_speaker(big.parts[0].programme[0], team.survivor, by=team.organizer)
    services.book_speaker(big.parts[1].programme[0], doctor, by=team.organizer)
    db.session.commit()
    login(client, team.organizer)
    assert queries_for(client, f"/stages/{small.id}") == queries_for(client, f"/stages/{big.id}")
    assert queries_for(client, f"/stages/{small.id}/programme") == queries_for(client, f"/stages/{big.id}/programme")


def test_speakers_contact_is_checked_and_seen_by_their_association_only(client, make, team):
    login(client, team.organizer)
    url = f"/organisations/{team.apcars.id}/intervenants/nouveau"
    page = client.post(url, data={"full_name": "Dr Girard", "kind": "medecin", "phone": "12",
                                  "fee": "150,505"}).get_data(as_text=True)
    assert "Numéro de téléphone invalide" in page
    assert "au plus deux décimales" in page and "Dr Girard" not in {s.full_name for s in db.session.scalars(
        sa.select(Speaker))}
    assert client.post(url, data={"full_name": "Dr Girard", "kind": "medecin", "phone": "06 12 34 56 78",
                                  "email": "girard@example.org", "fee": "150,50"}).status_code == 302
    saved = db.session.scalar(sa.select(Speaker).where(Speaker.full_name == "Dr Girard"))
    assert (saved.phone, saved.fee_cents) == ("+33612345678", 15050)
    listing = client.get(f"/organisations/{team.apcars.id}/intervenants").get_data(as_text=True)
    assert "girard@example.org" in listing
    client.post("/deconnexion")
    login(client, team.other)
    assert client.get(f"/organisations/{team.apcars.id}/intervenants").status_code == 403
    assert client.get(f"/intervenants/{saved.id}/modifier").status_code == 403


def test_a_used_module_is_archived_an_unused_one_deleted(client, make, team):
    course = make.course(organizations=[team.apcars], day=DAY)
    used = course.parts[0].programme[0].module
    unused = team.modules["Témoignage d'une personne survivante de la prostitution"]
    db.session.commit()
    used_id, unused_id = used.id, unused.id
    login(client, team.organizer)
    for module_id in (used_id, unused_id):
        assert client.post(f"/modules/{module_id}/archiver", data={"archive": "1"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(ProgrammeModule, used_id).archived_at is not None
    assert db.session.get(ProgrammeModule, unused_id) is None
    assert course.parts[0].programme[0].module_id == used_id
