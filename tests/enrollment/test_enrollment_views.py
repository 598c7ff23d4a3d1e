"""Referrals and enrollment through the pages: validation, duplicates, permissions, seats."""
import threading
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from stages.auth.models import AuditEntry, Role
from stages.enrollment.models import (
    LIVE_STATUSES,
    SEAT_HOLDING_STATUSES,
    Enrollment,
    EnrollmentStatus,
    LegalMeasure,
    MeasureStatus,
    Participant,
)
from stages.extensions import db
from stages.scheduling.models import Course
from stages.timeutil import today_local
from tests.conftest import requires_postgres
from tests.factories import PASSWORD
from tests.helpers import login, queries_for, search


@pytest.fixture
def office(make):
    o = type("Office", (), {})()
    o.apcars = make.organization(name="APCARS")
    o.other = make.organization(name="Autre association")
    o.parquet = make.authority(name="Parquet de Paris")
    o.organizer = make.user(Role.ORGANIZER, [o.apcars])
    o.facilitator = make.user(Role.FACILITATOR, [o.apcars])
    o.liaison = make.user(Role.LIAISON, [o.parquet])
    o.course = make.course(organizations=[o.apcars], capacity=12, day=today_local() + timedelta(days=20))
    return o


def referral(office, **overrides):
    decision = today_local() - timedelta(days=10)
    data = {
        "surname": "Martin", "first_names": "Paul", "birth_date": "1975-04-02",
        "birth_place": "Lyon", "address": "3 rue de la Paix", "postal_code": "75002", "city": "Paris",
        "phone": "06 00 00 00 00", "email": "paul.martin@example.org",
        "frame": "composition_penale", "authority": str(office.parquet.id),
        "handling_organization": str(office.apcars.id), "case_reference": "24123000456",
        "facts_date": "", "decision_date": decision.isoformat(),
        "final_date": "", "deadline": (decision + timedelta(days=180)).isoformat(),
        "fee": "180", "payer": "participant", "payment_status": "due", "certificate_recipient": "",
    }
    data.update(overrides)
    return data


def test_new_referral_creates_person_and_measure(client, office):
    login(client, office.organizer)
    response = client.post("/personnes/nouvelle", data=referral(office))
    assert response.status_code == 302
    person = db.session.scalars(sa.select(Participant)).one()
    assert person.surname == "MARTIN" and person.search_key == "martin paul"
    measure = db.session.scalars(sa.select(LegalMeasure)).one()
    assert measure.case_reference == "24123000456" and measure.fee_cents == 18000
    assert measure.status == MeasureStatus.REFERRED


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"birth_date": "1850-01-01"}, "pas plausible"),
        ({"birth_date": "2030-01-01"}, "futur"),
        ({"deadline": "2000-01-01"}, "doit suivre la date de la décision"),
        ({"fee": "500"}, "entre 0 et 450"),
        ({"surname": "=HYPERLINK(\"http://x\")"}, "ne peut pas commencer"),
        # Invisible characters before the sign are dropped before the check, not after it.
        ({"surname": "\u200b=HYPERLINK(\"http://x\")"}, "ne peut pas commencer"),
        ({"first_names": "\ufeff@SUM(A1)"}, "ne peut pas commencer"),
        ({"city": "\u2060 \uff1d1+1"}, "ne peut pas commencer"),
        ({"case_reference": ""}, "numéro de parquet"),
        ({"email": "pas-une-adresse"}, "Adresse électronique invalide"),
        ({"frame": "amende"}, "choix valide"),
    ],
)
def test_referral_bad_input_saves_nothing(client, office, overrides, message):
    login(client, office.organizer)
    html = client.post("/personnes/nouvelle", data=referral(office, **overrides)).get_data(as_text=True)
    assert message in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Participant)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LegalMeasure)) == 0


def test_duplicate_person_is_offered_and_measure_attached(client, make, office):
    existing = make.participant(surname="MARTIN", first_names="Paul", birth_date=date(1975, 4, 2))
    existing.search_key = "martin paul"
    make.measure(participant=existing, authority=office.parquet, handling=office.apcars)
    hidden = make.participant(surname="DURAND", first_names="Luc", birth_date=date(1960, 1, 1))
    hidden.search_key = "durand luc"
    make.measure(participant=hidden, authority=office.parquet, handling=office.other)
    login(client, office.organizer)
    html = client.post("/personnes/nouvelle", data=referral(office)).get_data(as_text=True)
    assert "peut-être déjà connue" in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LegalMeasure)) == 2  # nothing new
    response = client.post("/personnes/nouvelle", data=referral(office, attach_to=str(existing.id)))
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Participant)) == 2
    assert db.session.scalar(sa.select(sa.func.count()).where(LegalMeasure.participant_id == existing.id)) == 2
    client.post("/personnes/nouvelle", data=referral(office, confirm_new="1", case_reference="X2"))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Participant)) == 3
    # Someone outside the organizer's scope is never offered (that would reveal a file).
    html = client.post("/personnes/nouvelle", data=referral(
        office, surname="Durand", first_names="Luc", birth_date="1960-01-01")).get_data(as_text=True)
    assert "peut-être déjà connue" not in html


def test_enroll_shows_deadline_and_warns(client, make, office):
    measure = make.measure(authority=office.parquet, handling=office.apcars,
                           deadline=today_local() + timedelta(days=5))
    login(client, office.organizer)
    html = client.get(f"/mesures/{measure.id}/inscrire").get_data(as_text=True)
    assert "Après la date limite" in html
    html = client.post(f"/mesures/{measure.id}/inscrire", data={"course": office.course.id},
                       follow_redirects=True).get_data(as_text=True)
    assert "après la date limite" in html
    assert db.session.get(LegalMeasure, measure.id).status == MeasureStatus.ENROLLED


def test_bulk_enrollment_fills_seats_then_waitlists(client, make, office):
    small = make.course(organizations=[office.apcars], capacity=2, day=today_local() + timedelta(days=30))
    measures = [make.measure(authority=office.parquet, handling=office.apcars) for _ in range(3)]
    login(client, office.organizer)
    html = client.get(f"/stages/{small.id}/inscrire").get_data(as_text=True)
    assert all(m.participant.surname in html for m in measures)
    html = client.post(f"/stages/{small.id}/inscrire", data={"measure": [str(m.id) for m in measures]},
                       follow_redirects=True).get_data(as_text=True)
    assert "2 personnes inscrites, 1 sur liste" in html
    assert "Liste d'attente (1)" in html
    assert db.session.get(Course, small.id).seats_taken == 2


def test_bulk_enrollment_sends_the_same_statements_for_3_or_12_people(client, make, office):
    """Checks read everyone at once, rows go in as one batch per table: no statement per person."""
    from tests.helpers import count_queries

    login(client, office.organizer)
    counts = {}
    for people, capacity in ((3, 2), (12, 10)):  # both fill the course and start a waitlist
        course = make.course(organizations=[office.apcars], capacity=capacity,
                              day=today_local() + timedelta(days=30 + people))
        measures = [make.measure(authority=office.parquet, handling=office.apcars) for _ in range(people)]
        data = {"measure": [str(m.id) for m in measures]}
        db.session.commit()
        with count_queries() as counter:
            response = client.post(f"/stages/{course.id}/inscrire", data=data)
        assert response.status_code == 302
        counts[people] = counter.count
        statuses = db.session.scalars(
            sa.select(Enrollment.status).where(Enrollment.course_id == course.id).order_by(Enrollment.id)
        ).all()
        assert len(statuses) == people
        seated = capacity
        assert statuses.count(EnrollmentStatus.ENROLLED) == seated
        assert db.session.get(Course, course.id).seats_taken == seated
    positions = db.session.scalars(
        sa.select(Enrollment.waitlist_position).where(Enrollment.status == EnrollmentStatus.WAITLISTED)
        .order_by(Enrollment.waitlist_position)
    ).all()
    assert positions == [1, 1, 2]  # one course's waitlist, then the other's
    assert counts[3] == counts[12], counts


def test_status_actions_reschedule_and_withdraw(client, make, office):
    measure = make.measure(authority=office.parquet, handling=office.apcars)
    enrollment = make.enrollment(measure, office.course, status=EnrollmentStatus.SUMMONED)
    later = make.course(organizations=[office.apcars], day=today_local() + timedelta(days=40))
    login(client, office.organizer)
    client.post(f"/inscriptions/{enrollment.id}/statut", data={"status": "absent_excused"})
    assert db.session.get(Enrollment, enrollment.id).status == EnrollmentStatus.ABSENT_EXCUSED
    response = client.post(f"/inscriptions/{enrollment.id}/reporter", data={"course": later.id, "note": "Certificat médical"})
    assert response.status_code == 302
    moved = db.session.scalars(sa.select(Enrollment).where(Enrollment.course_id == later.id)).one()
    assert moved.measure_id == measure.id
    html = client.get(f"/personnes/{measure.participant_id}").get_data(as_text=True)
    assert "Certificat médical" in html and "Reporté·e depuis le stage" in html
    html = client.post(f"/mesures/{measure.id}/renvoyer", data={"reason": ""}).get_data(as_text=True)
    assert "Indiquez le motif" in html
    client.post(f"/mesures/{measure.id}/renvoyer", data={"reason": "Personne décédée"})
    assert db.session.get(LegalMeasure, measure.id).status == MeasureStatus.WITHDRAWN
    assert db.session.get(Course, later.id).seats_taken == 0


def test_permissions_on_enrollment_pages(client, make, office):
    mine = make.measure(authority=office.parquet, handling=office.apcars)
    theirs = make.measure(authority=make.authority(), handling=office.other)
    enrollment = make.enrollment(mine, office.course)
    login(client, office.facilitator)
    assert client.get(f"/personnes/{mine.participant_id}").status_code == 403  # not enrolled in their session... yet
    office.course.facilitators.append(office.facilitator)
    db.session.commit()
    assert client.get(f"/personnes/{mine.participant_id}").status_code == 200
    for url in ("/personnes/nouvelle", f"/mesures/{mine.id}/inscrire", f"/mesures/{mine.id}/renvoyer",
                f"/inscriptions/{enrollment.id}/reporter"):
        assert client.get(url).status_code == 403, url
    client.post("/deconnexion")
    login(client, office.liaison)
    assert client.get(f"/personnes/{mine.participant_id}").status_code == 200
    assert client.get(f"/personnes/{theirs.participant_id}").status_code == 403
    assert client.get(f"/mesures/{mine.id}/modifier").status_code == 403
    assert client.post(f"/inscriptions/{enrollment.id}/statut", data={"status": "confirmed"}).status_code == 403
    html = client.get("/personnes").get_data(as_text=True)
    assert mine.case_reference in html and theirs.case_reference not in html
    client.post("/deconnexion")
    login(client, office.organizer)
    assert client.get(f"/personnes/{theirs.participant_id}").status_code == 403


def test_participant_page_shows_who_viewed_it(client, make, office):
    measure = make.measure(authority=office.parquet, handling=office.apcars)
    login(client, office.liaison)
    client.get(f"/personnes/{measure.participant_id}")
    client.post("/deconnexion")
    login(client, office.organizer)
    html = client.get(f"/personnes/{measure.participant_id}").get_data(as_text=True)
    assert "Consultations du dossier" in html and office.liaison.full_name in html
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditEntry.action == "participant.viewed")) == 2


def test_search_by_name_prefix_and_case_reference(client, make, office):
    a = make.measure(authority=office.parquet, handling=office.apcars, participant=make.participant(surname="LEFEVRE"))
    a.participant.search_key = "lefevre jean"
    b = make.measure(authority=office.parquet, handling=office.apcars, participant=make.participant(surname="MOREAU"))
    b.participant.search_key = "moreau jean"
    login(client, office.organizer)
    html = client.get(search(client, "/personnes", "Lefè")).get_data(as_text=True)
    assert "LEFEVRE" in html and "MOREAU" not in html
    assert 'value="Lefè"' in html  # the search box shows the term; the URL does not
    html = client.get(search(client, "/personnes", b.case_reference)).get_data(as_text=True)
    assert "MOREAU" in html and "LEFEVRE" not in html
    # The menu (no « recherche ») opens the whole list again.
    html = client.get("/personnes").get_data(as_text=True)
    assert "MOREAU" in html and "LEFEVRE" in html


def test_participant_page_query_count_is_constant(client, make, office):
    person = make.participant()
    login(client, office.organizer)
    make.enrollment(make.measure(participant=person, authority=office.parquet, handling=office.apcars), office.course)
    client.get(f"/personnes/{person.id}")  # from now on the page lists who viewed the file
    small = queries_for(client, f"/personnes/{person.id}")
    for i in range(4):
        s = make.course(organizations=[office.apcars], day=today_local() + timedelta(days=50 + i))
        m = make.measure(participant=person, authority=office.parquet, handling=office.apcars)
        make.enrollment(m, s)
    assert queries_for(client, f"/personnes/{person.id}") == small


def test_thirty_concurrent_enrollments_for_the_last_five_seats(app, make, office):
    """Exactly five get the seats, the others are waitlisted; never a 500 (both databases)."""
    course = make.course(organizations=[office.apcars], capacity=12, day=today_local() + timedelta(days=60))
    for _ in range(7):
        make.enrollment(make.measure(authority=office.parquet, handling=office.apcars), course)
    measures = [make.measure(authority=office.parquet, handling=office.apcars) for _ in range(30)]
    organizers = [make.user(Role.ORGANIZER, [office.apcars]) for _ in range(30)]
    db.session.commit()
    jobs = [(u.email, m.id) for u, m in zip(organizers, measures)]
    course_id = course.id
    barrier = threading.Barrier(30, timeout=60)
    codes = []

    def enroll(email, measure_id):
        client = FlaskClient(app, app.response_class, use_cookies=True)
        client.post("/connexion", data={"email": email, "password": PASSWORD})
        barrier.wait()
        codes.append(client.post(f"/mesures/{measure_id}/inscrire", data={"course": course_id}).status_code)

    threads = [threading.Thread(target=enroll, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert codes.count(302) == 30, codes
    db.session.expire_all()
    course = db.session.get(Course, course_id)
    assert course.seats_taken == 12
    statuses = db.session.scalars(sa.select(Enrollment.status).where(Enrollment.course_id == course_id)).all()
    assert statuses.count(EnrollmentStatus.ENROLLED) == 5
    assert statuses.count(EnrollmentStatus.WAITLISTED) == 25


def _identical_enrollments(app, email: str, measure_id: int, course_id: int, times: int) -> list[int]:
    """``times`` identical POSTs of one enrollment from one logged-in browser, all at once (a
    double click, a flaky network that re-sends): the status code of each."""
    client = FlaskClient(app, app.response_class, use_cookies=True)
    client.post("/connexion", data={"email": email, "password": PASSWORD})
    cookie = client.get_cookie("session", domain="stages.test").value
    barrier = threading.Barrier(times, timeout=60)
    codes = []

    def post():
        browser = FlaskClient(app, app.response_class, use_cookies=True)
        browser.set_cookie("session", cookie, domain="stages.test")
        barrier.wait()
        codes.append(browser.post(f"/mesures/{measure_id}/inscrire", data={"course": course_id}).status_code)

    threads = [threading.Thread(target=post) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return codes


def _seat_holders(course_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Enrollment).where(
            Enrollment.course_id == course_id, Enrollment.status.in_(SEAT_HOLDING_STATUSES)
        )
    )


@requires_postgres
@pytest.mark.parametrize("came_back", [False, True], ids=["new", "back-to-an-earlier-course"])
def test_identical_enrollments_at_once_give_one_seat(app, make, office, came_back):
    """20 identical POSTs into a full-but-one course: one enrollment, one seat taken; also for a
    measure that was in this course before (its old row is reused), where the seat used to be
    counted twice."""
    course = make.course(organizations=[office.apcars], capacity=3, day=today_local() + timedelta(days=60))
    for _ in range(2):
        make.enrollment(make.measure(authority=office.parquet, handling=office.apcars), course)
    measure = make.measure(authority=office.parquet, handling=office.apcars)
    if came_back:
        make.enrollment(measure, course, status=EnrollmentStatus.RESCHEDULED)
    db.session.commit()
    codes = _identical_enrollments(app, office.organizer.email, measure.id, course.id, 20)
    assert len(codes) == 20 and set(codes) <= {200, 302}, codes
    db.session.expire_all()
    course = db.session.get(Course, course.id)
    assert codes.count(302) == 1, codes
    assert course.seats_taken == _seat_holders(course.id) == 3
    live = db.session.scalars(
        sa.select(Enrollment).where(Enrollment.measure_id == measure.id, Enrollment.status.in_(LIVE_STATUSES))
    ).all()
    assert len(live) == 1
