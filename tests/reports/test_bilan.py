"""Bilans: one per closed session and authority, everyone once, who may read them, marking sent."""
from types import SimpleNamespace
import csv
import io
import re
from datetime import time, timedelta

import pypdf
import pytest
import sqlalchemy as sa

from stages.attendance.models import AttendanceStatus
from stages.auth.models import AuditEntry, Role
from stages.certificates.pdf import for_organization
from stages.enrollment.models import EnrollmentStatus, MeasureStatus
from stages.extensions import db
from stages.reports import bilans
from stages.reports.models import Bilan
from stages.scheduling.models import CourseStatus
from stages.timeutil import fr_date, local_to_utc, today_local
from tests.helpers import count_queries, login, queries_for

OUTCOME = {
    "attended": EnrollmentStatus.ATTENDED,
    "partly": EnrollmentStatus.PARTLY_ATTENDED,
    "excused": EnrollmentStatus.ABSENT_EXCUSED,
    "unexcused": EnrollmentStatus.ABSENT_UNEXCUSED,
}
MEASURE_FOR = {
    EnrollmentStatus.ATTENDED: MeasureStatus.ATTENDED,
    EnrollmentStatus.PARTLY_ATTENDED: MeasureStatus.PARTLY_ATTENDED,
    EnrollmentStatus.ABSENT_EXCUSED: MeasureStatus.ABSENT_EXCUSED,
    EnrollmentStatus.ABSENT_UNEXCUSED: MeasureStatus.ABSENT_UNEXCUSED,
    EnrollmentStatus.RESCHEDULED: MeasureStatus.ENROLLED,
}


@pytest.fixture
def bilan_course(make):
    """A closed one-day session (09:30–12:30, 13:30–16:30) with people of two parquets."""
    w = SimpleNamespace()
    w.assoc, w.other_assoc = make.organization(), make.organization()
    w.parquet_a = make.authority("Parquet de Paris")
    w.parquet_b = make.authority("Parquet de Bobigny")
    w.organizer = make.user(Role.ORGANIZER, [w.assoc])
    w.other_organizer = make.user(Role.ORGANIZER, [w.other_assoc])
    w.facilitator = make.user(Role.FACILITATOR, [w.assoc])
    w.liaison_a = make.user(Role.LIAISON, [w.parquet_a])
    w.liaison_b = make.user(Role.LIAISON, [w.parquet_b])
    w.day = today_local() - timedelta(days=3)
    w.course = make.course(
        organizations=[w.assoc], facilitators=[w.facilitator], status=CourseStatus.CLOSED,
        day=w.day, capacity=15,
    )
    morning, afternoon = w.course.parts
    w.morning, w.afternoon = morning, afternoon

    def person(surname, authority, status, marks=()):
        measure = make.measure(
            make.participant(surname, "Jean"), authority, w.assoc, status=MEASURE_FOR[status],
        )
        enrollment = make.enrollment(measure, w.course, status=status)
        for part, mark_status, extra in marks:
            make.attendance_mark(enrollment, part, mark_status, **extra)
        return enrollment

    at = lambda h, m: local_to_utc(w.day, time(h, m))  # noqa: E731
    w.attended = person("ASSIDU", w.parquet_a, EnrollmentStatus.ATTENDED, [
        (morning, AttendanceStatus.LATE, {"arrived_at": at(9, 50), "note": "Téléphone en cours de séance"}),
        (afternoon, AttendanceStatus.PRESENT, {}),
    ])
    w.partly = person("PARTIEL", w.parquet_a, EnrollmentStatus.PARTLY_ATTENDED, [
        (morning, AttendanceStatus.PRESENT, {}),
        (afternoon, AttendanceStatus.LEFT_EARLY, {"left_at": at(15, 10)}),
    ])
    w.excused = person("EXCUSE", w.parquet_a, EnrollmentStatus.ABSENT_EXCUSED, [
        (morning, AttendanceStatus.EXCUSED, {"note": "Certificat médical"}),
        (afternoon, AttendanceStatus.EXCUSED, {}),
    ])
    w.unexcused = person("ABSENT", w.parquet_a, EnrollmentStatus.ABSENT_UNEXCUSED)
    w.moved = person("REPORTE", w.parquet_a, EnrollmentStatus.RESCHEDULED)
    w.other = person("BRAVO", w.parquet_b, EnrollmentStatus.ATTENDED, [
        (morning, AttendanceStatus.PRESENT, {}), (afternoon, AttendanceStatus.PRESENT, {}),
    ])
    w.attended.measure.status = MeasureStatus.CERTIFICATE_ISSUED
    w.certificate = make.certificate(w.attended, number="2026-00007")
    db.session.commit()
    return w


def _csv(response):
    assert response.status_code == 200, response.status_code
    data = response.get_data()
    assert data.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def _url(w, authority=None, fmt="csv"):
    return f"/stages/{w.course.id}/bilans/{(authority or w.parquet_a).id}.{fmt}"


def test_bilan_csv_lists_every_enrolled_person_once_with_the_right_outcome(client, bilan_course):
    login(client, bilan_course.organizer)
    rows = _csv(client.get(_url(bilan_course)))
    assert sorted(r["Nom"] for r in rows) == ["ABSENT", "ASSIDU", "EXCUSE", "PARTIEL"]
    by_name = {r["Nom"]: r for r in rows}
    assert by_name["ASSIDU"]["Issue"] == "Stage suivi en entier"
    assert by_name["PARTIEL"]["Issue"] == "Stage suivi en partie"
    assert by_name["EXCUSE"]["Issue"] == "Absence excusée"
    assert by_name["ABSENT"]["Issue"] == "Absence non excusée"
    assert by_name["ASSIDU"]["Retards"] == "retard à 9\u00a0h\u00a050"
    assert by_name["ASSIDU"]["Incidents"] == "Téléphone en cours de séance"
    assert by_name["ASSIDU"]["N° d'attestation"] == "2026-00007"
    assert by_name["PARTIEL"]["Départs anticipés"] == "départ à 15\u00a0h\u00a010"
    assert by_name["PARTIEL"]["Retards"] == "" and by_name["ABSENT"]["N° d'attestation"] == ""
    assert by_name["ASSIDU"]["N° de parquet"] == bilan_course.attended.measure.case_reference
    # The reason of an absence (here medical) is not the referrer's business.
    assert by_name["EXCUSE"]["Incidents"] == ""


def test_other_authority_bilan_holds_only_its_people(client, bilan_course):
    login(client, bilan_course.organizer)
    rows = _csv(client.get(_url(bilan_course, bilan_course.parquet_b)))
    assert [r["Nom"] for r in rows] == ["BRAVO"]


def test_two_day_course_dates_each_lateness(make, bilan_course):
    day2 = bilan_course.day + timedelta(days=1)
    course = make.course(
        organizations=[bilan_course.assoc], status=CourseStatus.CLOSED, day=bilan_course.day,
        parts=((time(9, 30), time(12, 30)),),
    )
    from stages.scheduling.models import CoursePart

    second = CoursePart(starts_at=local_to_utc(day2, time(9, 30)), ends_at=local_to_utc(day2, time(12, 30)))
    course.parts.append(second)
    db.session.flush()
    enrollment = make.enrollment(
        make.measure(authority=bilan_course.parquet_a), course, status=EnrollmentStatus.ATTENDED
    )
    make.attendance_mark(enrollment, course.parts[0], AttendanceStatus.PRESENT)
    make.attendance_mark(enrollment, second, AttendanceStatus.LATE,
                         arrived_at=local_to_utc(day2, time(10, 5)))
    (row,) = bilans.bilan_rows(course, bilan_course.parquet_a.id)
    assert row.lateness == [f"retard le {day2:%d/%m} à 10\u00a0h\u00a005"]


def test_bilan_pdf(client, bilan_course):
    login(client, bilan_course.organizer)
    response = client.get(_url(bilan_course, fmt="pdf"))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'inline; filename="bilan-stage-{bilan_course.course.id}-autorite-{bilan_course.parquet_a.id}.pdf"'
    )
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.get_data())).pages)
    assert "Parquet de Paris" in text and "ASSIDU Jean" in text and "retard à 9 h 50" in text
    assert "BRAVO" not in text


def test_bilan_queries_do_not_grow_with_people(client, make, bilan_course):
    with count_queries() as small:
        bilans.bilan_rows(bilan_course.course, bilan_course.parquet_a.id)
    for _ in range(6):
        enrollment = make.enrollment(
            make.measure(authority=bilan_course.parquet_a), bilan_course.course, status=EnrollmentStatus.ATTENDED
        )
        make.attendance_mark(enrollment, bilan_course.morning, AttendanceStatus.PRESENT, note="RAS")
    db.session.commit()
    with count_queries() as large:
        assert len(bilans.bilan_rows(bilan_course.course, bilan_course.parquet_a.id)) == 10
    assert large.count == small.count


def test_liaison_reads_their_authoritys_bilan_only(client, bilan_course):
    login(client, bilan_course.liaison_a)
    assert client.get(_url(bilan_course)).status_code == 200
    assert client.get(_url(bilan_course, fmt="pdf")).status_code == 200
    assert client.get(_url(bilan_course, bilan_course.parquet_b)).status_code == 403
    assert client.get(_url(bilan_course, bilan_course.parquet_b, "pdf")).status_code == 403
    # Read-only: no bilan list, no marking as sent.
    assert client.get(f"/stages/{bilan_course.course.id}/bilans").status_code == 403
    assert client.post(f"/stages/{bilan_course.course.id}/bilans/{bilan_course.parquet_a.id}/envoye").status_code == 403
    client.post("/deconnexion")
    login(client, bilan_course.liaison_b)
    assert client.get(_url(bilan_course)).status_code == 403
    assert "ASSIDU" not in client.get(_url(bilan_course)).get_data(as_text=True)


@pytest.mark.parametrize("who", ["other_organizer", "facilitator"])
def test_others_get_403(client, bilan_course, who):
    login(client, getattr(bilan_course, who))
    assert client.get(_url(bilan_course)).status_code == 403
    assert client.get(f"/stages/{bilan_course.course.id}/bilans").status_code == 403
    assert client.post(f"/stages/{bilan_course.course.id}/bilans/{bilan_course.parquet_a.id}/envoye").status_code == 403


def test_missing_course_is_403_for_non_admins(client, bilan_course):
    login(client, bilan_course.liaison_a)
    assert client.get(f"/stages/999999/bilans/{bilan_course.parquet_a.id}.csv").status_code == 403


def test_each_bilan_download_is_audited(client, bilan_course):
    login(client, bilan_course.liaison_a)
    client.get(_url(bilan_course))
    client.get(_url(bilan_course, fmt="pdf"))
    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "export.downloaded").order_by(AuditEntry.id)
    ).all()
    assert [e.details for e in entries] == [
        f"bilan, csv, autorité n° {bilan_course.parquet_a.id}, 4 lignes",
        f"bilan, pdf, autorité n° {bilan_course.parquet_a.id}, 4 lignes",
    ]
    assert all(e.object_type == "Course" and e.object_id == bilan_course.course.id for e in entries)


def test_bilans_page_lists_one_row_per_authority(client, bilan_course):
    login(client, bilan_course.organizer)
    html = client.get(f"/stages/{bilan_course.course.id}/bilans").get_data(as_text=True)
    assert "Parquet de Paris" in html and "Parquet de Bobigny" in html
    assert html.count("Marquer comme remis") == 2
    assert [(a.name, a.people) for a in bilans.bilan_authorities(bilan_course.course)] == [
        ("Parquet de Bobigny", 1), ("Parquet de Paris", 4),
    ]


def test_no_bilan_before_the_course_is_closed(client, make, bilan_course):
    open_course = make.course(organizations=[bilan_course.assoc], status=CourseStatus.HELD,
                                day=today_local())
    make.enrollment(make.measure(authority=bilan_course.parquet_a), open_course,
                    status=EnrollmentStatus.ATTENDED)
    db.session.commit()
    login(client, bilan_course.organizer)
    response = client.get(f"/stages/{open_course.id}/bilans")
    assert response.status_code == 302
    assert client.get(f"/stages/{open_course.id}/bilans/{bilan_course.parquet_a.id}.csv").status_code == 404
    response = client.post(f"/stages/{open_course.id}/bilans/{bilan_course.parquet_a.id}/envoye")
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Bilan)) == 0


def test_marking_sent_closes_the_covered_measures(client, bilan_course):
    login(client, bilan_course.organizer)
    response = client.post(f"/stages/{bilan_course.course.id}/bilans/{bilan_course.parquet_a.id}/envoye")
    assert response.status_code == 302
    bilan = db.session.scalar(sa.select(Bilan))
    assert bilan.course_id == bilan_course.course.id and bilan.authority_id == bilan_course.parquet_a.id
    assert bilan.sent_at is not None and bilan.sent_by_id == bilan_course.organizer.id
    for enrollment in (bilan_course.attended, bilan_course.unexcused):
        measure = enrollment.measure
        assert measure.status == MeasureStatus.REPORTED, measure.participant.surname
        assert measure.closed_at == bilan.sent_at
        assert measure.status_changed_at == bilan.sent_at
    # Excused or partly there: reported in the bilan, but still to be rescheduled.
    for enrollment in (bilan_course.partly, bilan_course.excused):
        assert enrollment.measure.status != MeasureStatus.REPORTED
        assert enrollment.measure.closed_at is None
    # Someone rescheduled elsewhere, and the other parquet's people, stay as they were.
    assert bilan_course.moved.measure.status == MeasureStatus.ENROLLED
    assert bilan_course.moved.measure.closed_at is None
    assert bilan_course.other.measure.status == MeasureStatus.ATTENDED
    audit = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "bilan.sent"))
    assert audit.details == f"autorité n° {bilan_course.parquet_a.id}, 2 mesures closes"
    page = client.get(f"/stages/{bilan_course.course.id}/bilans").get_data(as_text=True)
    assert "Remis" in page and "Marquer comme remis à nouveau" in page


def test_marking_sent_twice_keeps_one_bilan(client, bilan_course):
    login(client, bilan_course.organizer)
    url = f"/stages/{bilan_course.course.id}/bilans/{bilan_course.parquet_a.id}/envoye"
    client.post(url)
    client.post(url)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Bilan)) == 1
    entries = db.session.scalars(sa.select(AuditEntry.details).where(AuditEntry.action == "bilan.sent")).all()
    assert entries[-1].endswith(", 0 mesures closes")


def test_marking_sent_for_an_authority_without_people_is_refused(client, make, bilan_course):
    stranger = make.authority()
    db.session.commit()
    login(client, bilan_course.organizer)
    response = client.post(f"/stages/{bilan_course.course.id}/bilans/{stranger.id}/envoye", follow_redirects=True)
    assert "Aucune personne de cette autorité" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Bilan)) == 0


def test_sent_bilans_reach_the_liaisons_dashboard(client, bilan_course):
    login(client, bilan_course.organizer)
    client.post(f"/stages/{bilan_course.course.id}/bilans/{bilan_course.parquet_a.id}/envoye")
    client.post("/deconnexion")
    login(client, bilan_course.liaison_a)
    html = client.get("/tableau-de-bord").get_data(as_text=True)
    assert "Derniers bilans transmis" in html
    assert f"/stages/{bilan_course.course.id}/bilans/{bilan_course.parquet_a.id}.pdf" in html
    client.post("/deconnexion")
    login(client, bilan_course.liaison_b)
    assert "Derniers bilans transmis" not in client.get("/tableau-de-bord").get_data(as_text=True)


# ---------------------------------------------------------------------------------------------
# The half-days missed, the deadline and the signatory (issue 14)


def _missed(w, *halves, excused=False):
    day = fr_date(w.day)
    suffix = " (absence excusée)" if excused else ""
    return " ; ".join(f"{day}, {half}{suffix}" for half in halves)


def _pdf_text(response) -> str:
    assert response.status_code == 200, response.status_code
    pages = pypdf.PdfReader(io.BytesIO(response.get_data())).pages
    return " ".join(" ".join(page.extract_text() for page in pages).split())


def test_bilan_csv_lists_the_half_days_missed_the_deadline_and_the_signatory(client, bilan_course):
    w = bilan_course
    login(client, w.organizer)
    by_name = {r["Nom"]: r for r in _csv(client.get(_url(w)))}
    assert by_name["ABSENT"]["Demi-journées manquées"] == _missed(w, "matin", "après-midi")
    assert by_name["EXCUSE"]["Demi-journées manquées"] == _missed(w, "matin", "après-midi", excused=True)
    # Late or gone early is still there: not a missed half-day.
    assert by_name["ASSIDU"]["Demi-journées manquées"] == ""
    assert by_name["PARTIEL"]["Demi-journées manquées"] == ""
    for name, enrollment in (("ABSENT", w.unexcused), ("ASSIDU", w.attended)):
        assert by_name[name]["Échéance de la mesure"] == f"{enrollment.measure.deadline:%d/%m/%Y}"
    signatory = f"{w.organizer.full_name}, coordination des stages, {w.assoc.name}"
    assert {r["Signataire"] for r in by_name.values()} == {signatory}


def test_a_half_day_marked_absent_is_missed_and_only_that_one(make, bilan_course):
    w = bilan_course
    enrollment = make.enrollment(
        make.measure(make.participant("MATINAL"), w.parquet_a), w.course, status=EnrollmentStatus.PARTLY_ATTENDED
    )
    make.attendance_mark(enrollment, w.morning, AttendanceStatus.PRESENT)
    make.attendance_mark(enrollment, w.afternoon, AttendanceStatus.ABSENT, note="Malade")
    (row,) = [r for r in bilans.bilan_rows(w.course, w.parquet_a.id) if r.enrollment_id == enrollment.id]
    assert row.missed == [_missed(w, "après-midi")]
    assert row.incidents == []  # the reason of an absence stays out, as before


def test_bilan_pdf_shows_the_half_days_missed_the_deadline_and_the_signatory(client, bilan_course):
    w = bilan_course
    login(client, w.organizer)
    text = _pdf_text(client.get(_url(w, fmt="pdf")))
    for header in ("Échéance", "Demi-journées manquées", "Signataire"):
        assert header in text, header
    assert _missed(w, "matin") in text and _missed(w, "après-midi", excused=True) in text
    assert f"{w.unexcused.measure.deadline:%d/%m/%Y}" in text
    on_behalf = for_organization(w.assoc.name)  # « pour l'Association 3 »
    assert f"Signataire : P{on_behalf[1:]}, {w.organizer.full_name}" in text
    assert "Coordination des stages" in text
    # The proofs of delivery of the convocations (issue 17) take the signature to a second page.
    assert re.search(r"Page 1 / 2\b", text) and re.search(r"Page 2 / 2\b", text)
    assert "Convocations : preuves d'envoi" in text and "Aucune preuve d'envoi enregistrée." in text


def test_a_sent_bilan_is_signed_by_whoever_sent_it(client, make, bilan_course):
    w = bilan_course
    colleague = make.user(Role.ORGANIZER, [w.assoc], full_name="Claire Martin")
    db.session.commit()
    login(client, colleague)
    assert client.post(f"/stages/{w.course.id}/bilans/{w.parquet_a.id}/envoye").status_code == 302
    client.post("/deconnexion")
    for reader in (w.organizer, w.liaison_a):
        login(client, reader)
        assert {r["Signataire"] for r in _csv(client.get(_url(w)))} == {
            f"Claire Martin, coordination des stages, {w.assoc.name}"
        }
        assert "Claire Martin" in _pdf_text(client.get(_url(w, fmt="pdf")))
        client.post("/deconnexion")


def test_before_it_is_sent_a_liaison_sees_the_course_organizer_as_signatory(client, make, bilan_course):
    w = bilan_course
    login(client, w.liaison_a)
    # No one to name yet: the signature line stays blank rather than naming the liaison.
    assert {r["Signataire"] for r in _csv(client.get(_url(w)))} == {""}
    assert "Signataire : —" in _pdf_text(client.get(_url(w, fmt="pdf")))
    assert w.liaison_a.full_name not in _pdf_text(client.get(_url(w, fmt="pdf")))
    w.course.created_by_id = w.organizer.id
    db.session.commit()
    assert {r["Signataire"] for r in _csv(client.get(_url(w)))} == {
        f"{w.organizer.full_name}, coordination des stages, {w.assoc.name}"
    }


def test_two_day_course_names_the_day_of_each_missed_half_day(make, bilan_course):
    day2 = bilan_course.day + timedelta(days=1)
    course = make.course(organizations=[bilan_course.assoc], status=CourseStatus.CLOSED, day=bilan_course.day)
    from stages.scheduling.models import CoursePart

    course.parts.append(CoursePart(starts_at=local_to_utc(day2, time(9, 30)), ends_at=local_to_utc(day2, time(12, 30))))
    db.session.flush()
    enrollment = make.enrollment(make.measure(authority=bilan_course.parquet_a), course,
                                 status=EnrollmentStatus.PARTLY_ATTENDED)
    for part in course.parts[:2]:
        make.attendance_mark(enrollment, part, AttendanceStatus.PRESENT)
    (row,) = bilans.bilan_rows(course, bilan_course.parquet_a.id)
    assert row.missed == [f"{fr_date(day2)}, matin"]


@pytest.mark.parametrize("fmt", ["csv", "pdf"])
def test_bilan_download_queries_do_not_grow_with_people(client, make, bilan_course, fmt):
    w = bilan_course
    login(client, w.organizer)
    small = queries_for(client, _url(w, fmt=fmt))
    for _ in range(6):
        enrollment = make.enrollment(
            make.measure(authority=w.parquet_a), w.course, status=EnrollmentStatus.ABSENT_UNEXCUSED
        )
        make.attendance_mark(enrollment, w.morning, AttendanceStatus.ABSENT)
    db.session.commit()
    assert queries_for(client, _url(w, fmt=fmt)) == small
