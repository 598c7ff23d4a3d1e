"""Seats, the waitlist, rescheduling and withdrawal: the participant lifecycle rules."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from stages.auth.models import Role
from stages.enrollment import services
from stages.enrollment.models import Enrollment, EnrollmentEvent, EnrollmentStatus, MeasureStatus
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import Course, CourseStatus
from stages.timeutil import today_local


@pytest.fixture
def organizer(make):
    return make.user(Role.ORGANIZER, [make.organization()])


def seats(course):
    db.session.expire(course, ["seats_taken"])
    return course.seats_taken


def test_enroll_takes_a_seat_and_logs_who(make, organizer):
    course = make.course(capacity=2)
    measure = make.measure()
    result = services.enroll(measure, course, by=organizer)
    assert not result.waitlisted
    assert result.enrollment.status == EnrollmentStatus.ENROLLED
    assert measure.status == MeasureStatus.ENROLLED
    assert seats(course) == 1
    event = db.session.scalars(sa.select(EnrollmentEvent)).one()
    assert (event.user_id, event.from_status, event.to_status) == (organizer.id, None, "enrolled")


def test_full_course_waitlists_then_promotes_when_a_seat_frees(make, organizer):
    course = make.course(capacity=1)
    first, second, third = make.measure(), make.measure(), make.measure()
    seated = services.enroll(first, course, by=organizer).enrollment
    waiting = services.enroll(second, course, by=organizer)
    last = services.enroll(third, course, by=organizer)
    assert waiting.waitlisted and waiting.enrollment.waitlist_position == 1
    assert last.enrollment.waitlist_position == 2
    assert second.status == MeasureStatus.REFERRED  # still to be summoned
    services.change_enrollment_status(seated, EnrollmentStatus.ABSENT_EXCUSED, by=organizer)
    assert seats(course) == 1  # an excused absence keeps the seat until rescheduled
    services.withdraw_measure(first, "Décision annulée", by=organizer)
    db.session.refresh(waiting.enrollment)
    assert waiting.enrollment.status == EnrollmentStatus.ENROLLED
    assert waiting.enrollment.waitlist_position is None
    assert last.enrollment.status == EnrollmentStatus.WAITLISTED
    assert seats(course) == 1
    assert first.status == MeasureStatus.WITHDRAWN and first.closed_at is not None


def test_no_waitlist_when_refused(make, organizer):
    course = make.course(capacity=1)
    services.enroll(make.measure(), course, by=organizer)
    with pytest.raises(DomainError, match="complet"):
        services.enroll(make.measure(), course, by=organizer, waitlist_if_full=False)


def test_one_live_enrollment_per_measure(make, organizer):
    measure = make.measure()
    services.enroll(measure, make.course(), by=organizer)
    other = make.course(day=today_local() + timedelta(days=30))
    with pytest.raises(DomainError, match="déjà inscrite"):
        services.enroll(measure, other, by=organizer)


def test_cannot_enroll_into_held_or_cancelled_courses(make, organizer):
    for status in (CourseStatus.HELD, CourseStatus.CANCELLED, CourseStatus.CLOSED):
        course = make.course(status=status, day=today_local() + timedelta(days=10 + status.value.__len__()))
        with pytest.raises(DomainError):
            services.enroll(make.measure(), course, by=organizer)


def test_reschedule_keeps_measure_and_deadline_and_history(make, organizer):
    measure = make.measure()
    deadline = measure.deadline
    first = make.course(capacity=3)
    second = make.course(day=today_local() + timedelta(days=40))
    enrollment = services.enroll(measure, first, by=organizer).enrollment
    services.change_enrollment_status(enrollment, EnrollmentStatus.ABSENT_EXCUSED, by=organizer,
                                      note="Hospitalisé")
    result = services.reschedule(enrollment, second, by=organizer)
    assert enrollment.status == EnrollmentStatus.RESCHEDULED
    assert result.enrollment.course_id == second.id
    assert result.enrollment.measure_id == measure.id and measure.deadline == deadline
    assert seats(first) == 0 and seats(second) == 1
    notes = [e.note for e in db.session.scalars(sa.select(EnrollmentEvent).order_by(EnrollmentEvent.id))]
    assert "Hospitalisé" in notes
    assert any(n and n.startswith("Reporté·e depuis le stage du") for n in notes)


def test_deadline_warning(make, organizer):
    measure = make.measure(deadline=today_local() + timedelta(days=10))
    late = make.course(day=today_local() + timedelta(days=20))
    assert services.enroll(measure, late, by=organizer).after_deadline


def test_lifecycle_refuses_impossible_moves(make, organizer):
    enrollment = services.enroll(make.measure(), make.course(), by=organizer).enrollment
    with pytest.raises(DomainError, match="ne peut pas passer"):
        services.change_enrollment_status(enrollment, EnrollmentStatus.WAITLISTED, by=organizer)


def test_withdraw_requires_a_reason(make, organizer):
    with pytest.raises(DomainError, match="motif"):
        services.withdraw_measure(make.measure(), "  ", by=organizer)


def test_seat_count_has_a_database_guard(make):
    course = make.course(capacity=1)
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(
            sa.update(Course).where(Course.id == course.id).values(seats_taken=2)
        )
        db.session.flush()
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Enrollment)) == 0


def test_duplicates_are_found_accent_blind(make):
    from datetime import date

    person = make.participant(surname="LÉGER", first_names="Frédéric", birth_date=date(1980, 1, 2))
    person.search_key = services.search_key(person.surname, person.first_names)
    db.session.flush()
    assert services.find_duplicates("Leger", "frederic", date(1980, 1, 2)) == [person]
    assert services.find_duplicates("Leger", "frederic", date(1980, 1, 3)) == []


def test_one_live_enrollment_per_measure_is_a_database_rule(make):
    measure = make.measure()
    make.enrollment(measure, make.course(), status=EnrollmentStatus.ENROLLED)
    other = make.course(day=today_local() + timedelta(days=45))
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        db.session.add(Enrollment(measure_id=measure.id, course_id=other.id, status=EnrollmentStatus.ENROLLED))
        db.session.flush()
    db.session.rollback()
