"""Fixtures: one app and one migrated database per test run, emptied after each test.

The schema is built by the real migrations, so what the tests see is what production gets.
Set TEST_DATABASE_URL (postgresql+psycopg://...) to run the suite on PostgreSQL; tests that only
make sense there are skipped, with the reason, on SQLite.
"""
from __future__ import annotations

import os
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")

from stages import create_app  # noqa: E402
from stages.extensions import db  # noqa: E402
from tests import factories  # noqa: E402

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def pytest_report_header(config):
    return f"database: {TEST_DATABASE_URL or 'SQLite (set TEST_DATABASE_URL for PostgreSQL)'}"


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    """The application, bound to a freshly migrated test database."""
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": "stages.test",
            "BASE_URL": "http://stages.test",
            "MAIL_BACKEND": "memory",
            # Never the project's instance/backups: the purge job prunes that folder.
            "BACKUP_DIR": str(tmp_path_factory.mktemp("backups")),
        }
    )
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
        from flask_migrate import upgrade

        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_database(request, app):
    """Run each test in an app context and leave the database empty after it."""
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()
        _empty_all_tables()
        app.extensions.get("mail_outbox", []).clear()


def _empty_all_tables() -> None:
    tables = [t.name for t in db.metadata.sorted_tables]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(tables):
                conn.execute(sa.text(f"DELETE FROM {name}"))


class IsolatedClient(FlaskClient):
    """A test client whose requests run like real ones, each with its own database session.

    What the test built is committed first (a real request could not see it otherwise), and the
    test's own objects are expired afterwards so that its assertions read the database again.
    """

    def open(self, *args, **kwargs):
        db.session.commit()
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.expire_all()
        return response


@pytest.fixture
def client(app):
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make():
    """The test data factories (tests/factories.py)."""
    return factories


@pytest.fixture
def csrf_enabled(app):
    """Turn CSRF protection back on for one test."""
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


def is_postgres() -> bool:
    return bool(TEST_DATABASE_URL) and TEST_DATABASE_URL.startswith("postgresql")


requires_postgres = pytest.mark.skipif(
    not is_postgres(), reason="needs PostgreSQL: set TEST_DATABASE_URL=postgresql+psycopg://..."
)


@pytest.fixture
def every_route(make):
    """One of everything a route may name, with a user of each role and another scope's: the
    access matrix and the hostile-input sweep walk the URL map over it.

    ``params`` holds a value for each URL parameter (the coming course, its first half-day, a
    person summoned to it...); ``closed_course_id`` a closed course with an attestation, and
    ``past_course_id`` a course that is over but not closed (attendance and closing pages).
    """
    from stages.auth.models import Role
    from stages.enrollment.ledger.models import PaymentMethod
    from stages.enrollment.models import EnrollmentStatus
    from stages.scheduling.models import CourseStatus
    from stages.sms import callback_token
    from stages.timeutil import today_local

    w = type("EveryRoute", (), {})()
    assoc, other_assoc = make.organization(name="APCARS"), make.organization(name="Autre")
    authority, other_authority = make.authority(name="Parquet A"), make.authority(name="Parquet B")
    w.users = {
        "admin": make.user(Role.ADMIN),
        "organizer": make.user(Role.ORGANIZER, [assoc]),
        "organizer_other": make.user(Role.ORGANIZER, [other_assoc]),
        "facilitator": make.user(Role.FACILITATOR, [assoc]),
        "facilitator_other": make.user(Role.FACILITATOR, [other_assoc]),
        "liaison": make.user(Role.LIAISON, [authority]),
        "liaison_other": make.user(Role.LIAISON, [other_authority]),
    }
    w.admin, w.organizer = w.users["admin"], w.users["organizer"]
    facilitator = w.users["facilitator"]
    course = make.course(organizations=[assoc], facilitators=[facilitator],
                         day=today_local() + timedelta(days=20))
    course.venue.owner = assoc  # managed by the association: its organizers edit it
    make.course(organizations=[other_assoc], facilitators=[w.users["facilitator_other"]],
                day=today_local() + timedelta(days=21))
    measure = make.measure(authority=authority, handling=assoc,
                           participant=make.participant(email="p@example.org"))
    enrollment = make.enrollment(measure, course, status=EnrollmentStatus.SUMMONED)
    past = make.course(organizations=[assoc], facilitators=[facilitator],
                       day=today_local() - timedelta(days=2), status=CourseStatus.HELD)
    past_enrollment = make.enrollment(make.measure(authority=authority, handling=assoc), past)
    closed, closed_enrollments = make.closed_course_with(
        people=1, organizations=[assoc], authority=authority, handling=assoc, facilitators=[facilitator],
    )
    certificate = make.certificate(closed_enrollments[0])
    from stages.api.models import ApiToken
    from stages.reports.models import Bilan

    from stages.reports.models import ReportTransmission, TransmissionKind, TransmissionStatus
    from stages.reports.transmissions import acknowledgment_token
    from stages.timeutil import now_utc

    transmission = ReportTransmission(
        authority_id=authority.id, sender_id=assoc.id, kind=TransmissionKind.BILAN, refs={"course": closed.id},
        document_key=f'{{"course":{closed.id}}}', number=1, status=TransmissionStatus.SENT,
        sent_at=now_utc(), recipients="greffe@tj.example",
    )
    db.session.add(transmission)
    db.session.flush()
    bilan = Bilan(course_id=closed.id, authority_id=authority.id, transmission_id=transmission.id)
    db.session.add(bilan)
    from stages.reports.models import MonthlySummary, NonExecutionReason, NonExecutionReport, NonExecutionStatus

    # A second measure of the person summoned (no one more in the fixture), past its deadline.
    late = make.measure(authority=authority, handling=assoc, decision_date=today_local() - timedelta(days=200),
                        deadline=today_local() - timedelta(days=3), participant=measure.participant)
    report = NonExecutionReport(measure_id=late.id, authority_id=authority.id, deadline=late.deadline,
                                reason=NonExecutionReason.NEVER_ENROLLED, status=NonExecutionStatus.READY,
                                reviewed_at=now_utc())
    db.session.add(report)
    db.session.flush()
    db.session.add(ReportTransmission(  # transmitted: its authority's liaison reads it
        authority_id=authority.id, sender_id=assoc.id, kind=TransmissionKind.NON_EXECUTION,
        refs={"report": report.id}, document_key=f'{{"report":{report.id}}}', number=1,
        status=TransmissionStatus.SENT, sent_at=now_utc(), recipients="greffe@tj.example",
    ))
    summary = MonthlySummary(authority_id=authority.id, month=today_local().replace(day=1), received=1,
                             summoned=0, completed=0, not_executed=1, pending=0, to_act_on=[late.id])
    db.session.add(summary)
    # One API token for each role that may hold one (facilitators may not: stages.api.tokens).
    w.api_tokens = {role: make.api_token(user) for role, user in w.users.items() if "facilitator" not in role}
    spare = make.user(Role.ORGANIZER, [assoc])  # what admins do to accounts is done to this one
    from stages.enrollment.confirmation.links import format_code, summons_code
    from stages.enrollment.confirmation.models import ChangeReason, ReplyKind, SummonsReply

    link_code = format_code(summons_code(enrollment))
    reply = SummonsReply(enrollment_id=enrollment.id, course_id=course.id, kind=ReplyKind.OTHER_DATE,
                         reason=ChangeReason.WORK)
    db.session.add(reply)
    from stages.attendance.models import HalfDayIncident, IncidentKind
    from stages.evaluation.answering import link_codes
    from stages.evaluation.models import Moment

    incident = HalfDayIncident(part_id=course.parts[0].id, occurred_at=course.parts[0].starts_at,
                               kind=IncidentKind.OTHER, text="Alarme incendie", recorded_by_id=facilitator.id)
    db.session.add(incident)
    answer_code = format_code(link_codes([enrollment], Moment.BEFORE)[enrollment.id])
    from stages.scheduling.programme.models import Speaker, SpeakerKind
    from stages.scheduling.programme.services import book_speaker

    item = course.parts[0].programme[0]
    speaker = Speaker(organization=assoc, full_name="Intervenante extérieure", kind=SpeakerKind.DOCTOR,
                      email="dr@example.org")
    db.session.add(speaker)
    db.session.flush()
    book_speaker(item, speaker, by=w.admin)
    # The fee ledger: a payment with its receipt, on a measure of its own (enrolled nowhere, so
    # that the courses above keep their people), and an invoice of the past course's fees.
    from stages.enrollment.ledger.documents import issue_invoices
    from stages.enrollment.ledger.services import record_payment
    from stages.enrollment.models import Payer

    paying = make.measure(authority=authority, handling=assoc, fee_cents=18000)
    payment = record_payment(paying, 5000, PaymentMethod.CHEQUE, today_local(), "1234567")
    court_paid = make.measure(authority=authority, handling=assoc, fee_cents=9000, payer=Payer.AUTHORITY)
    make.enrollment(court_paid, past, status=EnrollmentStatus.ATTENDED)
    (invoice,) = issue_invoices(past, by=w.admin)
    db.session.commit()
    w.assoc_id, w.authority_id = assoc.id, authority.id
    w.course_id, w.venue_id, w.measure_id = course.id, course.venue_id, measure.id
    w.participant_id, w.enrollment_id, w.certificate_id = measure.participant_id, enrollment.id, certificate.id
    w.past_course_id, w.past_part_id, w.past_enrollment_id = past.id, past.parts[0].id, past_enrollment.id
    w.closed_course_id = closed.id
    w.enrollment_ids = [enrollment.id, past_enrollment.id, closed_enrollments[0].id]
    w.emails = {role: user.email for role, user in w.users.items()}
    w.params = {
        "course_id": course.id, "part_id": course.parts[0].id,
        "participant_id": measure.participant_id, "measure_id": measure.id,
        "enrollment_id": enrollment.id, "venue_id": course.venue_id, "organization_id": assoc.id,
        "user_id": spare.id, "certificate_id": certificate.id,
        "authority_id": authority.id, "token": w.organizer.feed_token,
        "code": certificate.verification_code, "filename": "css/stages.css", "format": "csv",
        "fmt": "csv", "link_code": link_code, "reply_id": reply.id,
        "session_id": course.id, "bilan_id": bilan.id, "report_id": report.id, "summary_id": summary.id,
        "transmission_id": transmission.id, "signed": acknowledgment_token(transmission),
        "module_id": item.module_id, "item_id": item.id, "speaker_id": speaker.id, "object_id": item.module_id,
        "kind": "modules",
        "token_id": db.session.scalar(sa.select(ApiToken.id).where(ApiToken.user_id == w.organizer.id)),
        "signature": callback_token(),
        "answer_code": answer_code, "moment": "avant", "incident_id": incident.id,
        "entry_id": payment.id, "invoice_id": invoice.id,
    }
    return w


@pytest.fixture
def api(app, client):
    """A client for /api/v1 whose every response is validated against the OpenAPI document the
    app serves (tests/api/openapi_check.py)."""
    from tests.api.openapi_check import ApiClient, OpenApiChecker

    document = client.get("/api/v1/openapi.json").get_json()
    return ApiClient(client, OpenApiChecker(app, document))
