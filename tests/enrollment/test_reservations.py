"""Seats reserved for a parquet: kept from the other authorities' people until the release date,
through enrollment, bulk enrollment and the waitlist's promotion, and under concurrency."""
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine
from flask.testing import FlaskClient

from stages.auth.models import AuditEntry, Role
from stages.enrollment import services
from stages.enrollment.models import Enrollment, EnrollmentStatus
from stages.enrollment.statuses import SEAT_HOLDING_STATUSES
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import Course
from stages.scheduling.services.reservations import set_reservation
from stages.timeutil import today_local
from tests.factories import PASSWORD
from tests.helpers import login


@pytest.fixture
def office(make):
    o = type("Office", (), {})()
    o.apcars = make.organization(name="APCARS")
    o.paris = make.authority(name="Parquet de Paris")
    o.bobigny = make.authority(name="Parquet de Bobigny")
    o.organizer = make.user(Role.ORGANIZER, [o.apcars])
    o.course = make.course(organizations=[o.apcars], capacity=4, day=today_local() + timedelta(days=30))
    set_reservation(o.course, o.bobigny, 2, 14, by=o.organizer)
    db.session.commit()
    return o


def measures(make, office, authority, n):
    return [make.measure(authority=authority, handling=office.apcars) for _ in range(n)]


def statuses(course, authority=None):
    from stages.enrollment.models import LegalMeasure

    query = sa.select(Enrollment.status).join(LegalMeasure).where(Enrollment.course_id == course.id)
    if authority is not None:
        query = query.where(LegalMeasure.authority_id == authority.id)
    return sorted(s.value for s in db.session.scalars(query))


def test_reserved_seats_are_kept_from_other_parquets(make, office):
    results = services.enroll_many(measures(make, office, office.paris, 3), office.course, by=office.organizer)
    assert [r.waitlisted for r in results] == [False, False, True]
    bobigny = services.enroll_many(measures(make, office, office.bobigny, 3), office.course, by=office.organizer)
    assert [r.waitlisted for r in bobigny] == [False, False, True]
    assert office.course.seats_taken == 4
    with pytest.raises(DomainError, match="Ce stage est complet"):
        services.enroll(make.measure(authority=office.paris), office.course, by=office.organizer, waitlist_if_full=False)


def test_a_batch_seats_the_reserved_authority_even_after_the_others(make, office):
    batch = measures(make, office, office.paris, 3) + measures(make, office, office.bobigny, 1)
    results = services.enroll_many(batch, office.course, by=office.organizer)
    assert [r.waitlisted for r in results] == [False, False, True, False]
    # Two free seats, one still held for Bobigny: one more from Paris fits, a second does not.
    with pytest.raises(DomainError, match="réservées à une autre autorité"):
        services.enroll(make.measure(authority=office.paris), office.course, by=office.organizer, waitlist_if_full=False)


def test_after_the_release_date_the_seats_open_to_everyone(make, office):
    with time_machine.travel(today_local() + timedelta(days=17), tick=False):
        results = services.enroll_many(measures(make, office, office.paris, 4), office.course, by=office.organizer)
    assert [r.waitlisted for r in results] == [False] * 4


def test_a_freed_seat_goes_to_the_first_waitlisted_who_may_take_it(make, office):
    paris = measures(make, office, office.paris, 3)
    services.enroll_many(paris + measures(make, office, office.bobigny, 1), office.course, by=office.organizer)
    late_bobigny = make.measure(authority=office.bobigny, handling=office.apcars)
    services.enroll(late_bobigny, office.course, by=office.organizer)  # the held seat: seated
    assert office.course.seats_taken == 4
    # A Paris person withdraws: the waitlisted Paris person (first in line) takes the seat.
    seated = db.session.scalar(sa.select(Enrollment).where(Enrollment.measure_id == paris[0].id))
    services.set_enrollment_status_unchecked(seated, EnrollmentStatus.WITHDRAWN, by=office.organizer)
    waiting = db.session.scalar(sa.select(Enrollment).where(Enrollment.measure_id == paris[2].id))
    assert waiting.status == EnrollmentStatus.ENROLLED


def test_a_bobigny_seat_freed_waits_for_bobigny(make, office):
    services.enroll_many(measures(make, office, office.paris, 2), office.course, by=office.organizer)
    bobigny = measures(make, office, office.bobigny, 2)
    services.enroll_many(bobigny, office.course, by=office.organizer)
    waiting = measures(make, office, office.paris, 1)
    services.enroll_many(waiting, office.course, by=office.organizer)
    seated = db.session.scalar(sa.select(Enrollment).where(Enrollment.measure_id == bobigny[0].id))
    services.set_enrollment_status_unchecked(seated, EnrollmentStatus.WITHDRAWN, by=office.organizer)
    assert db.session.scalar(sa.select(Enrollment.status).where(Enrollment.measure_id == waiting[0].id)) \
        == EnrollmentStatus.WAITLISTED
    assert office.course.seats_taken == 3


def test_the_page_sets_and_lifts_a_reservation_with_clear_errors(client, make, office):
    login(client, office.organizer)
    url = f"/stages/{office.course.id}/places-reservees"
    too_many = client.post(url, data={"authority": office.paris.id, "seats": 3, "release_days": 7},
                           follow_redirects=True).get_data(as_text=True)
    assert "Les places réservées (5) dépasseraient la capacité du stage (4)." in too_many
    client.post(url, data={"authority": office.paris.id, "seats": 2, "release_days": 7})
    page = client.get(f"/stages/{office.course.id}").get_data(as_text=True)
    assert "Parquet de Paris : 0 occupée sur 2" in page and "Parquet de Bobigny : 0 occupée sur 2" in page
    client.post(url, data={"authority": office.bobigny.id, "seats": 0, "release_days": 14})
    page = client.get(url).get_data(as_text=True)
    assert "Parquet de Bobigny" not in page.split("<h2>Réserver")[0]
    details = db.session.scalars(sa.select(AuditEntry.details).where(AuditEntry.action == "session.seats_reserved")
                                 .order_by(AuditEntry.id)).all()
    assert details[-2].startswith("Parquet de Paris : 2 places jusqu'au")
    assert details[-1] == "Parquet de Bobigny : réservation levée"


def test_only_the_course_organizers_reserve(client, make, office):
    login(client, make.user(Role.ORGANIZER, [make.organization(name="Autre")]))
    url = f"/stages/{office.course.id}/places-reservees"
    assert client.post(url, data={"authority": office.paris.id, "seats": 1, "release_days": 7}).status_code == 403


def test_concurrent_enrollments_from_two_parquets_respect_the_reservation(app, make, office):
    """Six organizers enroll at once, four people from Paris and two from Bobigny: Bobigny's two
    seats hold, Paris gets the other two (SQLite and PostgreSQL)."""
    jobs = [(make.user(Role.ORGANIZER, [office.apcars]).email, m.id)
            for m in measures(make, office, office.paris, 4) + measures(make, office, office.bobigny, 2)]
    course_id = office.course.id
    db.session.commit()
    barrier = threading.Barrier(len(jobs), timeout=60)
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
    assert codes == [302] * 6
    db.session.expire_all()
    course = db.session.get(Course, course_id)
    assert statuses(course, office.bobigny) == ["enrolled", "enrolled"]
    assert statuses(course, office.paris) == ["enrolled", "enrolled", "waitlisted", "waitlisted"]
    holders = db.session.scalar(sa.select(sa.func.count()).select_from(Enrollment).where(
        Enrollment.course_id == course_id, Enrollment.status.in_(SEAT_HOLDING_STATUSES)))
    assert course.seats_taken == holders == 4
