"""The monthly summary per authority: its figures equal a recount from the tables (Europe/Paris
month bounds), it is made and sent once even by two schedulers, the liaison reads it."""
from __future__ import annotations

import hashlib
import threading
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages.auth.models import Role
from stages.certificates.models import Certificate
from stages.enrollment.models import (
    AuthorityReporting,
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    LegalMeasure,
    MeasureStatus,
    ReportFormat,
)
from stages.extensions import db
from stages.jobs import runner
from stages.reports.models import MonthlySummary, ReportTransmission, TransmissionKind, TransmissionStatus
from stages.timeutil import to_local
from tests.conftest import requires_postgres
from tests.helpers import login, pdftotext

# Monday 2 March 2026, 06:30 in Paris: the job's time; the summary is February's.
NOW = datetime(2026, 3, 2, 5, 30, tzinfo=timezone.utc)
FEBRUARY = date(2026, 2, 1)


def _at(year, month, day, hour=10, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=timezone.utc)


@pytest.fixture
def mail(app):
    box = app.extensions.setdefault("mail_outbox", [])
    box.clear()
    return box


@pytest.fixture
def february(make):
    """Two authorities' measures around February, with their histories."""
    w = type("February", (), {})()
    w.assoc = make.organization(name="APCARS")
    w.authority, w.other = make.authority(name="Parquet de Bobigny"), make.authority(name="SPIP de Bobigny")
    course = make.course(organizations=[w.assoc], day=date(2026, 2, 20), capacity=20)

    def measure(created, deadline, authority=None, **kw):
        with time_machine.travel(created, tick=False):
            return make.measure(authority=authority or w.authority, handling=w.assoc,
                                decision_date=date(2025, 11, 1), deadline=deadline, **kw)

    def event(enrollment, status, at):
        db.session.add(EnrollmentEvent(enrollment_id=enrollment.id, at=at, to_status=status.value))

    m1 = measure(_at(2026, 2, 10), date(2026, 6, 1))  # received, summoned, completed
    e1 = make.enrollment(m1, course, status=EnrollmentStatus.ATTENDED)
    event(e1, EnrollmentStatus.SUMMONED, _at(2026, 2, 12))
    event(e1, EnrollmentStatus.SUMMONED, _at(2026, 2, 14))  # summoned again: counted once
    event(e1, EnrollmentStatus.ATTENDED, _at(2026, 2, 20, 17))
    measure(_at(2026, 1, 31, 23, 30), date(2026, 2, 15))  # 1 February in Paris: received; never enrolled
    measure(_at(2026, 2, 28, 23, 30), date(2026, 4, 1))  # 1 March in Paris: not February's
    m4 = measure(_at(2026, 1, 5), date(2026, 2, 27))  # attestation in February: completed
    e4 = make.enrollment(m4, course, status=EnrollmentStatus.PARTLY_ATTENDED)
    with time_machine.travel(_at(2026, 2, 25), tick=False):
        make.certificate(e4)
    m5 = measure(_at(2026, 1, 5), date(2026, 3, 20))  # pending; summoned in January
    event(make.enrollment(m5, course, status=EnrollmentStatus.SUMMONED), EnrollmentStatus.SUMMONED, _at(2026, 1, 20))
    measure(_at(2026, 1, 6), date(2026, 4, 1), status=MeasureStatus.WITHDRAWN)  # returned: not pending
    m7 = measure(_at(2025, 12, 1), date(2026, 2, 3), status=MeasureStatus.ABSENT_UNEXCUSED)  # not executed
    make.enrollment(m7, course, status=EnrollmentStatus.ABSENT_UNEXCUSED)
    measure(_at(2026, 2, 5), date(2026, 2, 28, ), authority=w.other)  # the other authority's
    measure(_at(2026, 2, 5), date(2026, 3, 1))  # deadline 1 March: pending at the end of February
    db.session.add(AuthorityReporting(organization_id=w.authority.id, report_email="greffe@tj-bobigny.example",
                                      report_format=ReportFormat.PDF))
    db.session.commit()
    return w


def _recount(authority_id: int) -> dict:
    """The figures recounted the plain way: every row read, the rules applied in Python."""
    start, end = date(2026, 2, 1), date(2026, 3, 1)

    def paris_day(moment):
        return to_local(moment).date()

    measures = db.session.scalars(sa.select(LegalMeasure).where(LegalMeasure.authority_id == authority_id)).all()
    enrollments = db.session.scalars(sa.select(Enrollment)).all()
    events = db.session.scalars(sa.select(EnrollmentEvent)).all()
    certificates = db.session.scalars(sa.select(Certificate)).all()
    measure_of = {e.id: e.measure_id for e in enrollments}

    def completed(m):
        return any(e.measure_id == m.id and e.status == EnrollmentStatus.ATTENDED for e in enrollments) or any(
            measure_of[c.enrollment_id] == m.id and c.revoked_at is None for c in certificates)

    def in_month(moment):
        return start <= paris_day(moment) < end

    ids = {m.id for m in measures}
    return {
        "received": sum(1 for m in measures if in_month(m.created_at)),
        "summoned": len({measure_of[e.enrollment_id] for e in events
                         if e.to_status == "summoned" and in_month(e.at) and measure_of[e.enrollment_id] in ids}),
        "completed": len({measure_of[e.enrollment_id] for e in events
                          if e.to_status == "attended" and in_month(e.at) and measure_of[e.enrollment_id] in ids}
                         | {measure_of[c.enrollment_id] for c in certificates
                            if in_month(c.issued_at) and c.revoked_at is None and measure_of[c.enrollment_id] in ids}),
        "not_executed": sum(1 for m in measures if start <= m.deadline < end and not completed(m)),
        "pending": sum(1 for m in measures if paris_day(m.created_at) < end and m.deadline >= end
                       and m.status != MeasureStatus.WITHDRAWN and not completed(m)),
    }


def test_the_figures_equal_a_recount(mail, february):
    with time_machine.travel(NOW, tick=False):
        run = runner.run_job("send_monthly_summaries")
    assert run.outcome == "success", run.error
    summaries = {s.authority_id: s for s in db.session.scalars(sa.select(MonthlySummary))}
    for authority in (february.authority, february.other):
        summary = summaries[authority.id]
        assert summary.month == FEBRUARY
        figures = {name: getattr(summary, name) for name in ("received", "summoned", "completed", "not_executed", "pending")}
        assert figures == _recount(authority.id)
    # The case built above, by hand: what the recount must find.
    assert _recount(february.authority.id) == {"received": 3, "summoned": 1, "completed": 2, "not_executed": 2, "pending": 2}
    assert len(summaries[february.authority.id].to_act_on) == 2


def test_the_summary_goes_to_the_authority_once_with_its_pdf(mail, february):
    with time_machine.travel(NOW, tick=False):
        runner.run_job("send_monthly_summaries")
        runner.run_job("send_monthly_summaries")
        manual = runner.run_job("send_monthly_summaries", manual=True)
    assert manual.outcome == "success"
    assert [m["To"] for m in mail] == ["greffe@tj-bobigny.example"]  # the SPIP has no mailbox: in the app only
    message = mail[0]
    assert "février 2026" in message["Subject"]
    (attachment,) = list(message.iter_attachments())
    content = attachment.get_payload(decode=True)
    transmission = db.session.scalar(sa.select(ReportTransmission))
    assert transmission.kind == TransmissionKind.MONTHLY_SUMMARY and transmission.status == TransmissionStatus.SENT
    assert transmission.files[0].sha256 == hashlib.sha256(content).hexdigest()
    text = pdftotext(content, "-layout")
    assert "Synthèse mensuelle" in text and "Parquet de Bobigny" in text and "Mesures reçues" in text
    # No name in the subject or the body: the PDF carries them.
    names = db.session.scalars(sa.select(LegalMeasure.participant_id)).all()
    assert names
    body = message.get_body(("plain",)).get_content()
    for measure in db.session.scalars(sa.select(LegalMeasure)):
        assert measure.participant.surname not in message["Subject"] + body
        assert measure.case_reference not in message["Subject"] + body


@requires_postgres
def test_two_scheduler_processes_send_the_summary_once(app, mail, february):
    barrier = threading.Barrier(2, timeout=20)
    results = []

    def scheduler_instance(manual):
        with app.app_context():
            barrier.wait()
            results.append(runner.run_job("send_monthly_summaries", at=NOW, manual=manual))

    with time_machine.travel(NOW, tick=True):
        # Two schedulers on the same slot, then two manual runs racing: one email in all.
        for manual in (False, True):
            barrier.reset()
            threads = [threading.Thread(target=scheduler_instance, args=(manual,)) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
    assert sum(r is not None for r in results[:2]) == 1
    assert len(mail) == 1
    assert db.session.scalar(sa.select(sa.func.count(MonthlySummary.id))) == 2


def test_the_liaison_reads_their_authoritys_summaries(client, make, mail, february):
    with time_machine.travel(NOW, tick=False):
        runner.run_job("send_monthly_summaries")
    liaison = make.user(Role.LIAISON, [february.authority])
    db.session.commit()
    login(client, liaison)
    page = client.get("/syntheses-mensuelles").get_data(as_text=True)
    assert "février 2026" in page and "Parquet de Bobigny" in page and "SPIP de Bobigny" not in page
    theirs, other = (db.session.scalar(sa.select(MonthlySummary.id).where(MonthlySummary.authority_id == a.id))
                     for a in (february.authority, february.other))
    response = client.get(f"/syntheses-mensuelles/{theirs}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert client.get(f"/syntheses-mensuelles/{other}.pdf").status_code == 403


def test_an_authority_without_measures_gets_none(mail, make):
    make.authority(name="Parquet sans mesure")
    db.session.commit()
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        run = runner.run_job("send_monthly_summaries")
    assert run.outcome == "success"
    assert db.session.scalar(sa.select(sa.func.count(MonthlySummary.id))) == 0 and mail == []
