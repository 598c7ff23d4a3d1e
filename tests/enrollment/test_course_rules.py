"""What a course accepts, the same for every enrollment path (one person, in bulk, a move, the
waitlist) and for the lists that offer courses: on the services and through the views."""
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from stages.auth.models import Role
from stages.enrollment import services
from stages.enrollment.services.lifecycle import promote_waitlist
from stages.enrollment.forms import EnrollForm, course_choices
from stages.enrollment.models import Enrollment, EnrollmentStatus
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import Course, CourseStatus
from stages.timeutil import today_local
from tests.helpers import login


@pytest.fixture
def office(make):
    o = type("Office", (), {})()
    o.apcars = make.organization(name="APCARS")
    o.parquet = make.authority(name="Parquet de Paris")
    o.organizer = make.user(Role.ORGANIZER, [o.apcars])
    # Today's course has begun (its half-days started at 9 h 30 local, it is later than that:
    # the suite runs with the clock of the day, so the course is placed yesterday to be sure).
    o.begun = make.course(organizations=[o.apcars], day=today_local() - timedelta(days=1))
    o.coming = make.course(organizations=[o.apcars], day=today_local() + timedelta(days=20))
    return o


def measures(make, office, n=1, **kw):
    return [make.measure(authority=office.parquet, handling=office.apcars, **kw) for _ in range(n)]


def test_a_course_that_has_begun_takes_no_enrollment_by_any_path(make, office):
    one, two = measures(make, office, 2)
    for call in (
        lambda: services.enroll(one, office.begun, by=office.organizer),
        lambda: services.enroll_many([one, two], office.begun, by=office.organizer),
    ):
        with pytest.raises(DomainError, match="Ce stage a commencé"):
            call()
    current = services.enroll(one, office.coming, by=office.organizer).enrollment
    with pytest.raises(DomainError, match="Ce stage a commencé"):
        services.reschedule(current, office.begun, by=office.organizer)


def test_the_waitlist_of_a_course_begun_stays_where_it_is(make, office):
    (waiting,) = measures(make, office)
    enrollment = make.enrollment(waiting, office.begun, status=EnrollmentStatus.WAITLISTED, waitlist_position=1)
    assert promote_waitlist(office.begun, by=office.organizer) == []
    assert db.session.get(Enrollment, enrollment.id).status == EnrollmentStatus.WAITLISTED


def test_bulk_enrollment_of_a_course_begun_is_refused_and_not_offered(client, make, office):
    (measure,) = measures(make, office)
    db.session.commit()
    login(client, office.organizer)
    page = client.get(f"/stages/{office.begun.id}").get_data(as_text=True)
    assert f"/stages/{office.begun.id}/inscrire" not in page
    assert f"/stages/{office.coming.id}/inscrire" in client.get(f"/stages/{office.coming.id}").get_data(as_text=True)
    response = client.post(f"/stages/{office.begun.id}/inscrire", data={"measure": [str(measure.id)]},
                           follow_redirects=True)
    assert "Ce stage a commencé" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Enrollment)) == 0
    response = client.get(f"/stages/{office.begun.id}/inscrire")
    assert response.status_code == 302


def test_proposals_put_the_best_fit_first_and_say_draft(app, make, office):
    """Deadline in 10 days: the course in 20 days ends late, the one in 5 days fits; a draft
    within the deadline comes after the scheduled one that fits, and says « brouillon »."""
    (measure,) = measures(make, office, deadline=today_local() + timedelta(days=10))
    fits = make.course(organizations=[office.apcars], day=today_local() + timedelta(days=5))
    draft = make.course(organizations=[office.apcars], day=today_local() + timedelta(days=3),
                        status=CourseStatus.DRAFT)
    full = make.course(organizations=[office.apcars], day=today_local() + timedelta(days=2), capacity=1)
    make.enrollment(measures(make, office)[0], full)
    with app.test_request_context():
        form = EnrollForm()
        proposals = course_choices(form, measure, office.organizer)
        assert [c.id for c, _ in proposals] == [fits.id, draft.id, full.id, office.coming.id]
        labels = {choice.value: choice.label for choice in form.course.choices}
        assert "brouillon" in labels[draft.id] and "brouillon" not in labels[fits.id]
        assert "APRÈS LA DATE LIMITE" in labels[office.coming.id]
        assert office.begun.id not in labels


def test_the_enroll_page_preselects_the_best_fit(client, make, office):
    (measure,) = measures(make, office, deadline=today_local() + timedelta(days=10))
    fits = make.course(organizations=[office.apcars], day=today_local() + timedelta(days=5))
    db.session.commit()
    login(client, office.organizer)
    page = client.get(f"/mesures/{measure.id}/inscrire").get_data(as_text=True)
    radios = re.findall(r'<input[^>]*name="course"[^>]*>', page)  # radio buttons: whole labels
    assert f'value="{fits.id}"' in radios[0] and "checked" in radios[0], radios
    assert not any(f'value="{office.begun.id}"' in radio for radio in radios)
    assert db.session.get(Course, office.coming.id) is not None
