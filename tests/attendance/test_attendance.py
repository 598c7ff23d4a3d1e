"""Rosters, taking attendance per half-day, corrections, and closing a session."""
import io
import threading
from datetime import date, datetime, time, timezone

import pytest
import sqlalchemy as sa
import time_machine
from flask.testing import FlaskClient
from pypdf import PdfReader

from stages.attendance.models import AttendanceMark, AttendanceRevision, AttendanceStatus
from stages.auth.models import AuditEntry, Role
from stages.enrollment.models import Enrollment, EnrollmentStatus, MeasureStatus
from stages.extensions import db
from stages.scheduling.models import Course, CourseStatus
from tests.factories import PASSWORD
from tests.helpers import login, queries_for

DAY = date(2026, 3, 12)  # a Thursday
# After both half-days began (16:00 in Paris): marks are refused before a half-day starts.
ON_THE_DAY = datetime(2026, 3, 12, 15, 0, tzinfo=timezone.utc)
NEXT_DAY = datetime(2026, 3, 13, 9, 0, tzinfo=timezone.utc)
TWO_DAYS = ((time(9, 30), time(12, 30)), (time(13, 30), time(16, 30)))


@pytest.fixture
def course(make):
    c = type("Course", (), {})()
    c.assoc = make.organization(name="APCARS")
    c.facilitator = make.user(Role.FACILITATOR, [c.assoc])
    c.other_facilitator = make.user(Role.FACILITATOR, [c.assoc])
    c.organizer = make.user(Role.ORGANIZER, [c.assoc])
    c.authority = make.authority()
    c.liaison = make.user(Role.LIAISON, [c.authority])
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=timezone.utc), tick=False):
        c.course = make.course(organizations=[c.assoc], facilitators=[c.facilitator, c.other_facilitator],
                                 day=DAY, capacity=12)
        c.enrollments = [
            make.enrollment(make.measure(authority=c.authority, participant=make.participant(surname=name)), c.course)
            for name in ("ARNAUD", "BERNARD", "CARON")
        ]
    c.parts = c.course.parts
    db.session.commit()
    return c


def post_marks(client, course, part, marks, **extra):
    data = {}
    for enrollment, status, arrived, left, note in marks:
        data[f"status-{enrollment.id}"] = status
        data[f"arrived-{enrollment.id}"] = arrived
        data[f"left-{enrollment.id}"] = left
        data[f"note-{enrollment.id}"] = note
    data.update(extra)
    return client.post(f"/stages/{course.course.id}/presence/{part.id}", data=data, follow_redirects=True)


def test_a_half_day_of_another_course_is_not_found_under_this_one(client, course, make):
    """The attendance pages find their half-day among their own course's: another course's,
    even one the same person may run, is a 404 under this course's address."""
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=timezone.utc), tick=False):
        other = make.course(organizations=[course.assoc], facilitators=[course.facilitator],
                            day=date(2026, 3, 19))
    db.session.commit()
    with time_machine.travel(ON_THE_DAY, tick=False):
        login(client, course.facilitator)
        assert client.get(f"/stages/{course.course.id}/presence/{course.parts[0].id}").status_code == 200
        assert client.get(f"/stages/{other.id}/presence/{other.parts[0].id}").status_code == 200
        assert client.get(f"/stages/{course.course.id}/presence/{other.parts[0].id}").status_code == 404
        assert client.get(f"/stages/{course.course.id}/presence/{other.parts[0].id}/signatures").status_code == 404


def test_roster_html_and_pdf_show_names_not_legal_data(client, course):
    login(client, course.facilitator)
    html = client.get(f"/stages/{course.course.id}/emargement").get_data(as_text=True)
    assert "ARNAUD" in html and "Signature" in html and "jeudi 12 mars 2026" in html
    assert course.enrollments[0].measure.case_reference not in html
    response = client.get(f"/stages/{course.course.id}/emargement.pdf")
    assert response.mimetype == "application/pdf"
    text = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    assert "ARNAUD" in text and "Feuille d'émargement" in text and "Arrivée" in text
    assert course.enrollments[0].measure.case_reference not in text


def test_roster_is_for_the_course_staff_only(client, make, course):
    for user in (make.user(Role.FACILITATOR, [course.assoc]), course.liaison):
        login(client, user)
        assert client.get(f"/stages/{course.course.id}/emargement").status_code == 403
        assert client.get(f"/stages/{course.course.id}/emargement.pdf").status_code == 403
        client.post("/deconnexion")


def test_take_attendance_is_idempotent_and_keeps_history(client, course):
    a, b, c = course.enrollments
    morning = course.parts[0]
    with time_machine.travel(ON_THE_DAY, tick=False):
        login(client, course.facilitator)
        marks = [(a, "present", "", "", ""), (b, "late", "09:50", "", "Bouchons"), (c, "absent", "", "", "")]
        html = post_marks(client, course, morning, marks).get_data(as_text=True)
        assert "(3 modifications)" in html
        html = post_marks(client, course, morning, marks).get_data(as_text=True)
        assert "(0 modification)" in html
    late = db.session.scalars(sa.select(AttendanceMark).where(AttendanceMark.enrollment_id == b.id)).one()
    assert late.status == AttendanceStatus.LATE and late.arrived_at.hour == 8  # 09:50 Paris = 08:50 UTC
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AttendanceRevision)) == 3


@pytest.mark.parametrize(
    "mark, message",
    [
        (("late", "", "", ""), "arrivée des personnes en retard"),
        (("left_early", "", "", ""), "départ des personnes parties plus tôt"),
        (("late", "14:00", "", ""), "comprises dans la demi-journée"),
        (("late", "9h", "", ""), "Heure invalide"),
        (("teleported", "", "", ""), "Statut de présence inconnu"),
    ],
)
def test_bad_attendance_input(client, course, mark, message):
    with time_machine.travel(ON_THE_DAY, tick=False):
        login(client, course.facilitator)
        html = post_marks(client, course, course.parts[0], [(course.enrollments[0], *mark)]).get_data(as_text=True)
    assert message in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AttendanceMark)) == 0


def test_two_facilitators_saving_at_once_lose_nothing(app, course):
    """Both writes land; the mark holds the last, the history both (SQLite and PostgreSQL)."""
    a_id = course.enrollments[0].id
    part_id, course_id = course.parts[0].id, course.course.id
    emails = [course.facilitator.email, course.other_facilitator.email]
    barrier = threading.Barrier(2, timeout=20)
    codes = []

    def save(index, status):
        client = FlaskClient(app, app.response_class, use_cookies=True)
        client.post("/connexion", data={"email": emails[index], "password": PASSWORD})
        barrier.wait()
        response = client.post(f"/stages/{course_id}/presence/{part_id}",
                               data={f"status-{a_id}": status, f"arrived-{a_id}": "09:45" if status == "late" else ""})
        codes.append(response.status_code)

    with time_machine.travel(ON_THE_DAY, tick=True):
        threads = [threading.Thread(target=save, args=(0, "present")), threading.Thread(target=save, args=(1, "late"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert codes == [302, 302]
    db.session.expire_all()
    marks = db.session.scalars(sa.select(AttendanceMark)).all()
    assert len(marks) == 1 and marks[0].status in (AttendanceStatus.PRESENT, AttendanceStatus.LATE)
    revisions = db.session.scalars(sa.select(AttendanceRevision.status)).all()
    assert sorted(revisions) == sorted([AttendanceStatus.PRESENT, AttendanceStatus.LATE])


def test_after_the_day_only_organizers_correct_with_a_reason(client, course):
    a = course.enrollments[0]
    with time_machine.travel(NEXT_DAY, tick=False):
        login(client, course.facilitator)
        html = post_marks(client, course, course.parts[0], [(a, "present", "", "", "")]).get_data(as_text=True)
        assert "seule une personne organisatrice" in html
        client.post("/deconnexion")
        login(client, course.organizer)
        html = post_marks(client, course, course.parts[0], [(a, "present", "", "", "")]).get_data(as_text=True)
        assert "motif de la correction" in html
        post_marks(client, course, course.parts[0], [(a, "present", "", "", "")], reason="Oubli de saisie")
    revision = db.session.scalars(sa.select(AttendanceRevision)).one()
    assert revision.reason == "Oubli de saisie" and revision.changed_by_id == course.organizer.id
    details = db.session.scalars(sa.select(AuditEntry.details).where(AuditEntry.action == "attendance.recorded")).one()
    assert "correction" in details


def mark_all(course, enrollment, statuses):
    for part, status in zip(course.parts, statuses):
        db.session.add(AttendanceMark(enrollment_id=enrollment.id, part_id=part.id, status=status))


def test_closing_computes_outcomes_and_overrides_need_a_reason(client, make, course):
    a, b, c = course.enrollments
    P, A = AttendanceStatus.PRESENT, AttendanceStatus.ABSENT
    mark_all(course, a, [P, P])
    mark_all(course, b, [P, A])
    mark_all(course, c, [A, A])
    course.course.status = CourseStatus.HELD
    db.session.commit()
    with time_machine.travel(NEXT_DAY, tick=False):
        login(client, course.organizer)
        html = client.get(f"/stages/{course.course.id}/cloture").get_data(as_text=True)
        assert "Présence partielle" in html
        form = {f"outcome-{a.id}": "attended", f"outcome-{b.id}": "attended", f"outcome-{c.id}": "absent_unexcused"}
        html = client.post(f"/stages/{course.course.id}/cloture", data=form, follow_redirects=True).get_data(as_text=True)
        assert "indiquez le motif" in html
        assert db.session.get(Course, course.course.id).status == CourseStatus.HELD
        form[f"reason-{b.id}"] = "Absence de 30 minutes pour raison médicale, rattrapée"
        client.post(f"/stages/{course.course.id}/cloture", data=form)
    assert db.session.get(Course, course.course.id).status == CourseStatus.CLOSED
    statuses = {e.id: db.session.get(Enrollment, e.id) for e in course.enrollments}
    assert statuses[a.id].status == EnrollmentStatus.ATTENDED
    assert statuses[b.id].status == EnrollmentStatus.ATTENDED
    assert statuses[b.id].outcome_override_reason.startswith("Absence de 30 minutes")
    assert statuses[c.id].status == EnrollmentStatus.ABSENT_UNEXCUSED
    assert statuses[c.id].measure.status == MeasureStatus.ABSENT_UNEXCUSED


def test_three_of_four_parts_is_partly_attended(make):
    from stages.attendance.services import attended_minutes, compute_outcome

    assoc = make.organization()
    course = make.course(organizations=[assoc], parts=TWO_DAYS + TWO_DAYS[:0], day=DAY)
    session2 = make.course(organizations=[assoc], day=date(2026, 3, 19))
    parts = course.parts + session2.parts  # four half-days
    marks = {p.id: AttendanceMark(part_id=p.id, status=AttendanceStatus.PRESENT) for p in parts[:3]}
    assert compute_outcome(parts, marks) == EnrollmentStatus.PARTLY_ATTENDED
    marks[parts[3].id] = AttendanceMark(part_id=parts[3].id, status=AttendanceStatus.PRESENT)
    assert compute_outcome(parts, marks) == EnrollmentStatus.ATTENDED
    assert attended_minutes(parts, marks) == 4 * 180
    excused = {p.id: AttendanceMark(part_id=p.id, status=AttendanceStatus.EXCUSED) for p in parts}
    assert compute_outcome(parts, excused) == EnrollmentStatus.ABSENT_EXCUSED


def test_attendance_page_query_count_is_constant(client, make, course):
    with time_machine.travel(ON_THE_DAY, tick=False):
        login(client, course.facilitator)
        url = f"/stages/{course.course.id}/presence/{course.parts[0].id}"
        small = queries_for(client, url)
        for _ in range(8):
            make.enrollment(make.measure(authority=course.authority), course.course)
        assert queries_for(client, url) == small


def test_attendance_save_sends_the_same_statements_for_3_or_11_people(client, make, course):
    """The save is one upsert and one insert of revisions, whatever the number of people."""
    from tests.helpers import count_queries

    morning = course.parts[0]

    def save(status):
        enrollments = db.session.scalars(
            sa.select(Enrollment).where(Enrollment.course_id == course.course.id)
        ).all()
        with count_queries() as counter:
            response = post_marks(client, course, morning, [(e, status, "", "", "") for e in enrollments])
        assert "modification" in response.get_data(as_text=True)
        # The redirected GET is counted too: it does not depend on the number of people either.
        return counter.count, len(enrollments)

    with time_machine.travel(ON_THE_DAY, tick=False):
        login(client, course.facilitator)
        small, three = save("present")
        for _ in range(8):
            make.enrollment(make.measure(authority=course.authority), course.course)
        db.session.commit()
        large, eleven = save("absent")
    assert (three, eleven) == (3, 11)
    assert large == small, (small, large)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AttendanceRevision)) == 3 + 11
    statuses = db.session.scalars(sa.select(AttendanceMark.status).where(AttendanceMark.part_id == morning.id))
    assert set(statuses) == {AttendanceStatus.ABSENT}
