"""Rapports de non-exécution: one per reason, none for a completed measure or a later deadline,
drafted once whatever runs the job, withdrawn (with the reason) when they no longer apply; the
list scoped and paginated, the report page audited, its PDF."""
from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages.attendance.models import AttendanceStatus
from stages.auth.models import AuditEntry, Role
from stages.enrollment.convocation.delivery import DeliveryChannel, DeliveryStatus, SummonsDelivery
from stages.enrollment.models import EnrollmentStatus, MeasureStatus
from stages.enrollment.services.lifecycle import withdraw_measure
from stages.extensions import db
from stages.jobs import runner
from stages.reports.models import NonExecutionReason, NonExecutionReport, NonExecutionStatus
from stages.reports.non_execution import draft_reports
from stages.scheduling.models import CourseStatus
from tests.conftest import requires_postgres
from tests.helpers import count_queries, login, pdftotext, queries_for

# Tuesday 10 March 2026, 06:00 in Paris: the job's time.
NOW = datetime(2026, 3, 10, 5, 0, tzinfo=timezone.utc)
TODAY = date(2026, 3, 10)
DEADLINE = date(2026, 3, 5)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(make, frozen):
    """An association, its organizer, an authority and its liaison, a course held before the
    deadline and one after it."""
    w = type("World", (), {})()
    w.assoc = make.organization(name="APCARS")
    w.authority = make.authority(name="Parquet de Créteil")
    w.organizer = make.user(Role.ORGANIZER, [w.assoc])
    w.liaison = make.user(Role.LIAISON, [w.authority])
    w.held = make.course(organizations=[w.assoc], day=date(2026, 2, 20), status=CourseStatus.CLOSED)
    w.later = make.course(organizations=[w.assoc], day=date(2026, 3, 20))
    db.session.commit()
    return w


def _measure(make, w, **kw):
    return make.measure(authority=w.authority, handling=w.assoc, decision_date=date(2025, 9, 1),
                        deadline=kw.pop("deadline", DEADLINE), **kw)


def _proof(enrollment, status=DeliveryStatus.ACCEPTED, message_id="<c1@stages.test>"):
    db.session.add(SummonsDelivery(enrollment_id=enrollment.id, channel=DeliveryChannel.EMAIL, status=status,
                                   at=datetime(2026, 2, 1, 9, 0, tzinfo=timezone.utc), message_id=message_id))
    db.session.flush()


def _reports(measure=None) -> list[NonExecutionReport]:
    db.session.expire_all()
    query = sa.select(NonExecutionReport).order_by(NonExecutionReport.id)
    if measure is not None:
        query = query.where(NonExecutionReport.measure_id == measure.id)
    return list(db.session.scalars(query))


def _draft():
    counts = draft_reports(TODAY)
    db.session.commit()
    return counts


# --- One report per reason --------------------------------------------------------------------


def test_never_enrolled(make, world):
    measure = _measure(make, world)
    _draft()
    (report,) = _reports(measure)
    assert report.reason == NonExecutionReason.NEVER_ENROLLED
    assert (report.deadline, report.authority_id, report.status) == (DEADLINE, world.authority.id, NonExecutionStatus.DRAFT)


def test_a_waitlist_place_is_no_enrollment(make, world):
    measure = _measure(make, world)
    make.enrollment(measure, world.later, status=EnrollmentStatus.WAITLISTED, waitlist_position=1)
    _draft()
    assert [r.reason for r in _reports(measure)] == [NonExecutionReason.NEVER_ENROLLED]


def test_unreachable_when_every_summons_bounced(make, world):
    measure = _measure(make, world, status=MeasureStatus.ENROLLED)
    enrollment = make.enrollment(measure, world.held, status=EnrollmentStatus.ENROLLED)
    _proof(enrollment, DeliveryStatus.ACCEPTED)
    _proof(enrollment, DeliveryStatus.BOUNCED)
    _draft()
    assert [r.reason for r in _reports(measure)] == [NonExecutionReason.UNREACHABLE]


def test_unreachable_when_no_summons_was_sent(make, world):
    measure = _measure(make, world, status=MeasureStatus.ENROLLED)
    make.enrollment(measure, world.held, status=EnrollmentStatus.ENROLLED)
    _draft()
    assert [r.reason for r in _reports(measure)] == [NonExecutionReason.UNREACHABLE]


def test_absent(make, world):
    measure = _measure(make, world, status=MeasureStatus.ABSENT_UNEXCUSED)
    enrollment = make.enrollment(measure, world.held, status=EnrollmentStatus.ABSENT_UNEXCUSED)
    _proof(enrollment)
    make.attendance_mark(enrollment, world.held.parts[0], AttendanceStatus.EXCUSED)
    make.attendance_mark(enrollment, world.held.parts[1], AttendanceStatus.ABSENT)
    _draft()
    (report,) = _reports(measure)
    assert report.reason == NonExecutionReason.ABSENT
    from stages.reports.non_execution import report_content

    (line,) = report_content(report).courses
    assert line.outcome == "Absence non excusée"
    assert line.absences == ["vendredi 20 février 2026, matin (absence excusée)",
                             "vendredi 20 février 2026, après-midi (absence non excusée)"]
    assert "Courriel accepté par le serveur de messagerie" in line.summons[0]


def test_absent_after_a_partial_attendance(make, world):
    measure = _measure(make, world, status=MeasureStatus.PARTLY_ATTENDED)
    enrollment = make.enrollment(measure, world.held, status=EnrollmentStatus.PARTLY_ATTENDED)
    _proof(enrollment)
    make.attendance_mark(enrollment, world.held.parts[0], AttendanceStatus.PRESENT)
    make.attendance_mark(enrollment, world.held.parts[1], AttendanceStatus.ABSENT)
    _draft()
    assert [r.reason for r in _reports(measure)] == [NonExecutionReason.ABSENT]


def test_refused_when_returned_to_the_authority_after_a_summons_reached_the_person(make, world):
    measure = _measure(make, world, status=MeasureStatus.SUMMONED)
    enrollment = make.enrollment(measure, world.later, status=EnrollmentStatus.SUMMONED)
    _proof(enrollment)
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc), tick=False):
        withdraw_measure(measure, "La personne a déclaré par téléphone refuser le stage.", by=world.organizer)
    _draft()
    (report,) = _reports(measure)
    assert report.reason == NonExecutionReason.REFUSED


def test_withdrawn_when_returned_before_any_summons(make, world):
    measure = _measure(make, world)
    withdraw_measure(measure, "Personne domiciliée hors du ressort.", by=world.organizer)
    _draft()
    assert [r.reason for r in _reports(measure)] == [NonExecutionReason.WITHDRAWN]


def test_late_course_when_summoned_to_a_course_after_the_deadline(make, world):
    measure = _measure(make, world, status=MeasureStatus.SUMMONED)
    enrollment = make.enrollment(measure, world.later, status=EnrollmentStatus.SUMMONED)
    _proof(enrollment)
    _draft()
    assert [r.reason for r in _reports(measure)] == [NonExecutionReason.LATE_COURSE]


# --- None when not due ------------------------------------------------------------------------


def test_completed_measures_and_later_deadlines_produce_none(make, world):
    attended = _measure(make, world, status=MeasureStatus.ATTENDED)
    make.enrollment(attended, world.held, status=EnrollmentStatus.ATTENDED)
    # Reported after attending (« bilan transmis »): still completed.
    certified = _measure(make, world, status=MeasureStatus.REPORTED)
    make.certificate(make.enrollment(certified, world.held, status=EnrollmentStatus.PARTLY_ATTENDED))
    later = _measure(make, world, deadline=TODAY)  # the deadline is today: not passed yet
    far = _measure(make, world, deadline=date(2026, 6, 1))
    too_old = _measure(make, world, deadline=TODAY - timedelta(days=61))
    counts = _draft()
    assert counts["rapports de non-exécution établis"] == 0
    assert _reports() == []
    assert {attended.id, certified.id, later.id, far.id, too_old.id}


def test_a_revoked_certificate_does_not_complete_the_measure(make, world):
    measure = _measure(make, world, status=MeasureStatus.PARTLY_ATTENDED)
    enrollment = make.enrollment(measure, world.held, status=EnrollmentStatus.PARTLY_ATTENDED)
    make.certificate(enrollment, revoked_at=NOW - timedelta(days=1), revocation_reason="Erreur")
    _draft()
    assert [r.reason for r in _reports(measure)] == [NonExecutionReason.ABSENT]


# --- Once, and withdrawn when outdated -----------------------------------------------------------


def test_drafted_once_when_the_job_runs_twice(make, world):
    measure = _measure(make, world)
    first = runner.run_job("draft_non_execution_reports")
    again = runner.run_job("draft_non_execution_reports")
    manual = runner.run_job("draft_non_execution_reports", manual=True)
    assert first.outcome == "success" and again is None and manual.outcome == "success"
    assert len(_reports(measure)) == 1
    assert '"rapports de non-exécution établis": 0' in manual.counts


@requires_postgres
def test_drafted_once_when_two_schedulers_run_at_once(app, make, world):
    people = [_measure(make, world) for _ in range(20)]
    db.session.commit()
    barrier = threading.Barrier(2, timeout=20)
    errors = []

    def manual_run():  # no slot between them: only the unique (measure, deadline) stands
        with app.app_context():
            barrier.wait()
            try:
                counts.append(draft_reports(TODAY)["rapports de non-exécution établis"])
                db.session.commit()
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                errors.append(repr(error))

    counts = []
    with time_machine.travel(NOW, tick=True):
        threads = [threading.Thread(target=manual_run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert errors == []
    assert sorted(r.measure_id for r in _reports()) == sorted(p.id for p in people)
    assert sum(counts) == len(people)  # each drafted by one of them


def test_a_draft_is_withdrawn_when_the_measure_gets_completed(make, world):
    measure = _measure(make, world, status=MeasureStatus.ENROLLED)
    enrollment = make.enrollment(measure, world.later, status=EnrollmentStatus.ENROLLED)
    _draft()
    enrollment.status = EnrollmentStatus.ATTENDED  # done at last (after the deadline)
    db.session.commit()
    counts = _draft()
    (report,) = _reports(measure)
    assert counts["rapports retirés"] == 1
    assert report.status == NonExecutionStatus.WITHDRAWN and report.withdrawn_at is not None
    assert report.withdrawn_reason.startswith("Stage effectué")


def test_a_moved_deadline_withdraws_the_draft_and_a_new_one_follows_it(make, world):
    measure = _measure(make, world)
    _draft()
    measure.deadline = date(2026, 3, 31)
    db.session.commit()
    _draft()
    (report,) = _reports(measure)
    assert report.status == NonExecutionStatus.WITHDRAWN
    assert report.withdrawn_reason.startswith("Date limite reportée au mardi 31 mars 2026")
    with time_machine.travel(datetime(2026, 4, 1, 4, 0, tzinfo=timezone.utc), tick=False):
        draft_reports(date(2026, 4, 1))
        db.session.commit()
    reports = _reports(measure)
    assert [(r.deadline, r.status) for r in reports] == [
        (DEADLINE, NonExecutionStatus.WITHDRAWN), (date(2026, 3, 31), NonExecutionStatus.DRAFT),
    ]


def test_one_report_per_measure_and_deadline_in_the_database(make, world):
    measure = _measure(make, world)
    _draft()
    db.session.add(NonExecutionReport(measure_id=measure.id, authority_id=world.authority.id,
                                      deadline=DEADLINE, reason=NonExecutionReason.ABSENT))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


# --- Pages ------------------------------------------------------------------------------------


def test_the_organizer_reviews_the_report_and_reads_it_audited(client, make, world):
    measure = _measure(make, world)
    _draft()
    (report,) = _reports(measure)
    login(client, world.organizer)
    page = client.get(f"/rapports-non-execution/{report.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Jamais inscrit à un stage" in text and measure.case_reference in text
    assert client.post(f"/rapports-non-execution/{report.id}/relu").status_code == 302
    assert _reports(measure)[0].status == NonExecutionStatus.READY
    actions = db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_type == "NonExecutionReport")).all()
    assert {"non_execution.viewed", "non_execution.reviewed"} <= set(actions)


def test_the_pdf_states_the_person_the_measure_and_the_reason(client, make, world):
    measure = _measure(make, world, status=MeasureStatus.ABSENT_UNEXCUSED,
                       participant=make.participant(surname="MARTIN", first_names="Paul", birth_place="Lyon"))
    enrollment = make.enrollment(measure, world.held, status=EnrollmentStatus.ABSENT_UNEXCUSED)
    _proof(enrollment)
    _draft()
    (report,) = _reports(measure)
    login(client, world.organizer)
    response = client.get(f"/rapports-non-execution/{report.id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdftotext(response.data, "-layout")
    for expected in ("Rapport de non-exécution", "Parquet de Créteil", "MARTIN Paul", "Lyon",
                     measure.case_reference, "jeudi 5 mars 2026", "Absence au stage",
                     "Courriel accepté par le serveur de messagerie", "(absence non excusée)"):
        assert expected in text, expected
    assert "·" not in text  # official document: no inclusive-writing dot


def test_the_list_is_scoped_and_filtered(client, make, world):
    mine = _measure(make, world)
    other_assoc = make.organization(name="Autre association")
    theirs = make.measure(authority=world.authority, handling=other_assoc, decision_date=date(2025, 9, 1),
                          deadline=DEADLINE, participant=make.participant(surname="AILLEURS"))
    _draft()
    login(client, world.organizer)
    text = client.get("/rapports-non-execution").get_data(as_text=True)
    assert mine.participant.surname.upper() in text and "AILLEURS" not in text
    text = client.get("/rapports-non-execution?motif=absent").get_data(as_text=True)
    assert mine.participant.surname.upper() not in text
    assert client.get("/rapports-non-execution?motif=inconnu").status_code == 400
    assert client.get("/rapports-non-execution?autorite=999999").status_code == 400
    # A liaison reads the reports transmitted to their authority only: none yet.
    client.post("/deconnexion")
    login(client, world.liaison)
    assert theirs.participant.surname not in client.get("/rapports-non-execution").get_data(as_text=True)
    (report,) = _reports(mine)
    assert client.get(f"/rapports-non-execution/{report.id}").status_code == 403


def test_the_list_query_count_does_not_grow_with_its_size(client, make, world):
    for _ in range(3):
        _measure(make, world)
    _draft()
    login(client, world.organizer)
    small = queries_for(client, "/rapports-non-execution")
    for _ in range(30):
        _measure(make, world)
    _draft()
    assert queries_for(client, "/rapports-non-execution") == small


def test_drafting_sends_a_bounded_number_of_queries(make, world):
    big = make.course(organizations=[world.assoc], day=date(2026, 2, 21), status=CourseStatus.CLOSED, capacity=50)

    def absentees(count):
        for _ in range(count):
            enrollment = make.enrollment(_measure(make, world), big, status=EnrollmentStatus.ABSENT_UNEXCUSED)
            _proof(enrollment, message_id=f"<m{enrollment.id}@stages.test>")

    absentees(3)
    with count_queries() as few:
        _draft()
    absentees(40)
    with count_queries() as many:
        _draft()
    assert many.count == few.count
    assert len(_reports()) == 43


# --- Transmission -----------------------------------------------------------------------------


def test_a_reviewed_report_is_transmitted_with_its_pdf_and_then_acknowledged(app, client, make, world):
    import hashlib

    from stages.enrollment.models import AuthorityReporting, ReportFormat
    from stages.reports.models import AcknowledgmentChannel, ReportTransmission
    from stages.reports.transmissions import acknowledge

    db.session.add(AuthorityReporting(organization_id=world.authority.id, report_email="greffe@tj-creteil.example",
                                      report_format=ReportFormat.CSV))
    measure = _measure(make, world, participant=make.participant(surname="LEGRAND"))
    _draft()
    (report,) = _reports(measure)
    mail = app.extensions.setdefault("mail_outbox", [])
    mail.clear()
    login(client, world.organizer)
    # A draft is not transmitted: it is reviewed first.
    client.post(f"/rapports-non-execution/{report.id}/transmettre", data={"numero": "1"})
    assert mail == []
    client.post(f"/rapports-non-execution/{report.id}/relu")
    client.post(f"/rapports-non-execution/{report.id}/transmettre", data={"numero": "1"})
    client.post(f"/rapports-non-execution/{report.id}/transmettre", data={"numero": "1"})  # a second click
    assert [m["To"] for m in mail] == ["greffe@tj-creteil.example"]
    assert "LEGRAND" not in mail[0]["Subject"] and measure.case_reference not in mail[0]["Subject"]
    (attachment,) = list(mail[0].iter_attachments())
    assert attachment.get_content_type() == "application/pdf"  # a PDF whatever the format chosen
    transmission = db.session.scalar(sa.select(ReportTransmission))
    assert transmission.files[0].sha256 == hashlib.sha256(attachment.get_payload(decode=True)).hexdigest()
    assert _reports(measure)[0].state == ("Transmis", "success")
    # The liaison now reads it, and acknowledges receipt.
    client.post("/deconnexion")
    login(client, world.liaison)
    assert "LEGRAND" in client.get("/rapports-non-execution").get_data(as_text=True)
    assert client.get(f"/rapports-non-execution/{report.id}").status_code == 200
    acknowledge(db.session.get(ReportTransmission, transmission.id), by=world.liaison, via=AcknowledgmentChannel.APP)
    db.session.commit()
    assert _reports(measure)[0].state == ("Transmis, réception accusée", "success")
    # Completed after being transmitted: the authority has it, it stays as sent.
    db.session.add(make.enrollment(db.session.get(type(measure), measure.id), world.held, status=EnrollmentStatus.ATTENDED))
    db.session.commit()
    assert _draft()["rapports retirés"] == 0


def test_no_mailbox_leaves_the_report_to_transmit_with_a_french_message(client, make, world):
    measure = _measure(make, world)
    _draft()
    (report,) = _reports(measure)
    login(client, world.organizer)
    client.post(f"/rapports-non-execution/{report.id}/relu")
    response = client.post(f"/rapports-non-execution/{report.id}/transmettre", data={"numero": "1"}, follow_redirects=True)
    assert "Aucune adresse de transmission" in response.get_data(as_text=True)
    assert _reports(measure)[0].state[0] == "Relu, prêt à transmettre"


# --- The API ----------------------------------------------------------------------------------


def test_the_api_lists_reports_in_scope_with_their_state(api, make, world):
    from stages.reports.models import ReportTransmission, TransmissionKind, TransmissionStatus

    mine = _measure(make, world)
    other = make.measure(authority=world.authority, handling=make.organization(name="Autre"),
                         decision_date=date(2025, 9, 1), deadline=DEADLINE)
    _draft()
    (report,) = _reports(mine)
    (theirs,) = _reports(other)
    organizer, liaison = make.api_token(world.organizer), make.api_token(world.liaison)
    db.session.commit()
    body = api.get("/api/v1/non-execution-reports", organizer).get_json()
    assert [item["id"] for item in body["items"]] == [report.id]
    assert body["items"][0]["reason"] == "never_enrolled" and body["items"][0]["state"] == "draft"
    assert api.get(f"/api/v1/non-execution-reports/{theirs.id}", organizer).status_code == 404
    # The liaison: nothing before it is transmitted, then the report, « transmitted ».
    assert api.get("/api/v1/non-execution-reports", liaison).get_json()["items"] == []
    assert api.get(f"/api/v1/non-execution-reports/{report.id}", liaison).status_code == 404
    db.session.add(ReportTransmission(
        authority_id=world.authority.id, kind=TransmissionKind.NON_EXECUTION, refs={"report": report.id},
        document_key=f'{{"report":{report.id}}}', number=1, status=TransmissionStatus.SENT, sent_at=NOW,
        recipients="greffe@tj.example"))
    db.session.commit()
    item = api.get(f"/api/v1/non-execution-reports/{report.id}", liaison).get_json()
    assert item["state"] == "transmitted" and item["measure_id"] == mine.id
    assert [i["id"] for i in api.get("/api/v1/non-execution-reports", liaison).get_json()["items"]] == [report.id]


def test_the_api_list_query_count_does_not_grow_with_the_page(api, make, world):
    for _ in range(12):
        _measure(make, world)
    _draft()
    token = make.api_token(world.organizer)
    db.session.commit()
    api.get("/api/v1/non-execution-reports?limit=1", token)  # the token's first use is written once
    counts = []
    for limit in (2, 12):
        with count_queries() as counter:
            assert len(api.get(f"/api/v1/non-execution-reports?limit={limit}", token).get_json()["items"]) == limit
        counts.append(counter.count)
    assert counts[0] == counts[1]
