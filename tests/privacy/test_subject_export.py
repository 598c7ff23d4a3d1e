"""Right of access: everything held on one person, as JSON (English keys) or PDF (French)."""
from __future__ import annotations

import io
import json
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from stages.attendance.models import AttendanceRevision, AttendanceStatus
from stages.auth.models import AuditEntry, Role
from stages.enrollment.models import EnrollmentEvent, EnrollmentStatus, MeasureStatus
from stages.extensions import db
from stages.reports.models import Bilan
from stages.timeutil import now_utc
from tests.helpers import count_queries, login

UTC = timezone.utc


@pytest.fixture
def file(make):
    """A person with two measures: one followed by APCARS (closed course, attestation, bilan),
    one by another association that APCARS's organizer must not see."""
    f = type("File", (), {})()
    f.apcars = make.organization(name="APCARS", short_name="APCARS")
    f.other = make.organization(name="Autre association", short_name="AUTRE")
    f.organizer = make.user(Role.ORGANIZER, [f.apcars], full_name="Olga Orga")
    f.admin = make.user(Role.ADMIN, full_name="Alice Admin")
    f.parquet = make.authority("Parquet de Paris")
    f.person = make.participant(
        surname="Lefèvre", first_names="Jean-Éric", birth_place="Lyon 3e",
        address="12 rue des Lilas", postal_code="75020", city="Paris", phone="+33612345678",
        email="jean@exemple.fr",
    )
    f.measure = make.measure(
        f.person, f.parquet, handling=f.apcars, case_reference="25.123.456",
        facts_date=date(2025, 9, 1), final_date=date(2025, 10, 20), fee_cents=18000,
        certificate_recipient="Parquet de Paris — bureau des alternatives",
        status=MeasureStatus.CERTIFICATE_ISSUED,
    )
    f.hidden = make.measure(f.person, f.parquet, handling=f.other, case_reference="SECRET-999")
    f.course = make.course(
        organizations=[f.apcars], day=date(2026, 1, 15), status="closed", title="Stage de janvier"
    )
    f.enrollment = make.enrollment(f.measure, f.course, status=EnrollmentStatus.ATTENDED)
    db.session.add_all([
        EnrollmentEvent(enrollment=f.enrollment, from_status=None, to_status="enrolled", user_id=f.organizer.id),
        EnrollmentEvent(
            enrollment=f.enrollment, from_status="enrolled", to_status="attended",
            user_id=f.organizer.id, note="Clôture du stage.",
        ),
    ])
    first, second = f.course.parts
    make.attendance_mark(f.enrollment, first, AttendanceStatus.PRESENT, updated_by_id=f.organizer.id)
    late = make.attendance_mark(
        f.enrollment, second, AttendanceStatus.LATE, note="Train en retard",
        arrived_at=second.starts_at.replace(minute=second.starts_at.minute + 10),
    )
    db.session.add(AttendanceRevision(
        mark_id=late.id, status=AttendanceStatus.ABSENT, changed_by_id=f.organizer.id,
        changed_at=datetime(2026, 1, 15, 13, 0, tzinfo=UTC),
    ))
    db.session.add(AttendanceRevision(
        mark_id=late.id, status=AttendanceStatus.LATE, reason="Arrivée notée après coup",
        changed_by_id=f.organizer.id, changed_at=datetime(2026, 1, 16, 9, 0, tzinfo=UTC),
    ))
    make.certificate(f.enrollment, number="2026-00042", issued_by_id=f.organizer.id,
                     revoked_at=datetime(2026, 2, 1, 10, 0, tzinfo=UTC), revocation_reason="Erreur de nom")
    db.session.add(Bilan(course_id=f.course.id, authority_id=f.parquet.id,
                         sent_at=datetime(2026, 1, 20, 10, 0, tzinfo=UTC)))
    db.session.add(AuditEntry(action="participant.viewed", user_id=f.organizer.id,
                              participant_id=f.person.id, at=datetime(2026, 1, 10, 8, 0, tzinfo=UTC),
                              object_type="Participant", object_id=f.person.id))
    db.session.commit()
    return f


def export_of(client, f, fmt="json"):
    response = client.get(f"/personnes/{f.person.id}/export.{fmt}")
    assert response.status_code == 200, response.status_code
    return response


def test_json_holds_everything_an_organizer_may_see(client, file):
    login(client, file.organizer)
    response = export_of(client, file)
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="export-personne-{file.person.id}.json"'
    )
    data = json.loads(response.get_data(as_text=True))
    assert data["format"] == "stages.subject-export" and data["format_version"] == 2
    assert data["complete"] is False
    person = data["participant"]
    assert person["surname"] == "Lefèvre" and person["first_names"] == "Jean-Éric"
    assert person["birth_date"] == "1980-05-17" and person["email"] == "jean@exemple.fr"
    assert person["address"] == "12 rue des Lilas" and person["phone"] == "+33612345678"

    # Only the measure APCARS follows: the other association's stays out of this export.
    assert [m["case_reference"] for m in data["measures"]] == ["25.123.456"]
    assert "SECRET-999" not in response.get_data(as_text=True)
    measure = data["measures"][0]
    assert measure["frame"] == "composition_penale"
    assert measure["authority"] == "Parquet de Paris"
    assert measure["handling_organization"] == "APCARS"
    assert measure["facts_date"] == "2025-09-01" and measure["final_date"] == "2025-10-20"
    assert measure["fee_cents"] == 18000 and measure["payer"] == "participant"
    assert measure["certificate_recipient"].startswith("Parquet de Paris")
    assert measure["status"] == "certificate_issued"

    enrollment = measure["enrollments"][0]
    assert enrollment["status"] == "attended"
    assert enrollment["session"]["title"] == "Stage de janvier"
    assert [(e["from_status"], e["to_status"], e["by"]) for e in enrollment["history"]] == [
        (None, "enrolled", "Olga Orga"), ("enrolled", "attended", "Olga Orga"),
    ]
    assert [m["status"] for m in enrollment["attendance"]] == ["present", "late"]
    late = enrollment["attendance"][1]
    assert late["note"] == "Train en retard" and late["arrived_at"].endswith("+00:00")
    assert [(r["status"], r["reason"]) for r in late["revisions"]] == [
        ("absent", None), ("late", "Arrivée notée après coup"),
    ]
    [certificate] = enrollment["certificates"]
    assert certificate["replaces"] is None
    assert certificate["number"] == "2026-00042" and certificate["revoked"] is True
    assert certificate["revocation_reason"] == "Erreur de nom"
    assert "verification_code" not in certificate  # an authenticator, not data about the person
    assert enrollment["report_sent_at"] == "2026-01-20T10:00:00+00:00"

    assert data["access_log"][0] == {
        "at": "2026-01-10T08:00:00+00:00", "by": "Olga Orga", "action": "participant.viewed",
        "action_label": "Consultation du dossier d'une personne",
    }


def test_admin_export_is_complete(client, file):
    login(client, file.admin)
    data = json.loads(export_of(client, file).get_data(as_text=True))
    assert data["complete"] is True
    assert {m["case_reference"] for m in data["measures"]} == {"25.123.456", "SECRET-999"}


def test_pdf_lays_it_out_in_french(client, file):
    login(client, file.organizer)
    response = export_of(client, file, "pdf")
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="export-personne-{file.person.id}.pdf"'
    )
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.get_data())).pages)
    text = " ".join(text.split())
    for expected in (
        "droit d'accès", "Date de naissance", "17 mai 1980", "Lefèvre", "Jean-Éric", "N° de parquet",
        "25.123.456", "Composition pénale", "Stage de janvier", "Historique de l'inscription",
        "En retard", "Arrivée notée après coup", "2026-00042", "Erreur de nom",
        "Bilan transmis", "Consultations et actions sur le dossier", "Consultation du dossier d'une personne",
        "Olga Orga", "180,00 €",
    ):
        assert expected in text, expected
    assert "SECRET-999" not in text


def test_each_export_is_audited_without_personal_data(client, file):
    login(client, file.organizer)
    export_of(client, file, "json")
    export_of(client, file, "pdf")
    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "participant.exported").order_by(AuditEntry.id)
    ).all()
    assert [(e.participant_id, e.user_id, e.details) for e in entries] == [
        (file.person.id, file.organizer.id, "droit d'accès, json"),
        (file.person.id, file.organizer.id, "droit d'accès, pdf"),
    ]
    assert entries[0].object_type == "Participant" and entries[0].object_id == file.person.id


def test_only_those_who_may_edit_the_person_export(client, make, file):
    facilitator = make.user(Role.FACILITATOR, [file.apcars])
    file.course.facilitators.append(facilitator)
    liaison = make.user(Role.LIAISON, [file.parquet])
    stranger = make.user(Role.ORGANIZER, [make.organization()])
    db.session.commit()
    for user in (facilitator, liaison, stranger):
        login(client, user)
        for fmt in ("json", "pdf"):
            assert client.get(f"/personnes/{file.person.id}/export.{fmt}").status_code == 403, user.role
        client.post("/deconnexion")
    login(client, file.organizer)
    assert client.get("/personnes/999999/export.json").status_code == 403  # no probing of ids
    assert db.session.scalar(
        sa.select(sa.func.count()).where(AuditEntry.action == "participant.exported")
    ) == 0


def test_query_count_does_not_grow_with_the_file(client, make, file):
    login(client, file.admin)

    def queries() -> int:
        with count_queries() as counter:
            export_of(client, file)
        return counter.count

    small = queries()
    for _ in range(3):
        measure = make.measure(file.person, file.parquet, handling=file.apcars)
        course = make.course(organizations=[file.apcars], status="closed")
        enrollment = make.enrollment(measure, course, status=EnrollmentStatus.ATTENDED)
        for part in course.parts:
            make.attendance_mark(enrollment, part)
        make.certificate(enrollment)
        db.session.add(EnrollmentEvent(enrollment=enrollment, to_status="enrolled", at=now_utc()))
    db.session.commit()
    assert queries() == small


def test_participant_page_snippet_links_to_both_formats(app, file):
    from flask import render_template_string

    from stages.privacy.views.subject_access import export_buttons

    with app.test_request_context():
        html = render_template_string(
            '{% include "privacy/_participant_actions.html" %}', participant=file.person
        )
    assert f"/personnes/{file.person.id}/export.pdf" in html
    assert f"/personnes/{file.person.id}/export.json" in html
    assert "Rectifier" not in html
    # Only those who may edit the person get the buttons on the person's page.
    assert export_buttons(can_edit=True) == {}
    assert export_buttons(can_edit=False) is None


def test_the_sms_consent_and_the_sms_sent_are_in_the_export(client, file):
    """Consent to SMS (given, then withdrawn by « STOP ») and the SMS sent: in the JSON and the PDF,
    without the number or the text of any SMS."""
    from stages.enrollment.sms.models import ConsentWithdrawal, SmsConsent, SmsMessage, SmsStatus

    db.session.add(SmsConsent(participant_id=file.person.id, given_by_id=file.organizer.id,
                              given_at=datetime(2026, 1, 2, 9, 0, tzinfo=UTC),
                              withdrawn_at=datetime(2026, 1, 20, 18, 0, tzinfo=UTC),
                              withdrawn_how=ConsentWithdrawal.STOP))
    db.session.add(SmsMessage(outbox_key=f"sms_convocation:{file.enrollment.id}", kind="sms_convocation",
                              enrollment_id=file.enrollment.id, provider="brevo", provider_id="abc",
                              encoding="GSM-7", segments=2, sent_at=datetime(2026, 1, 3, 9, 0, tzinfo=UTC),
                              status=SmsStatus.DELIVERED, status_at=datetime(2026, 1, 3, 9, 1, tzinfo=UTC)))
    db.session.commit()
    login(client, file.organizer)
    data = export_of(client, file).get_json()
    [consent] = data["sms_consents"]
    assert consent["withdrawn_how"] == "stop" and consent["given_at"].startswith("2026-01-02")
    [enrollment] = data["measures"][0]["enrollments"]
    assert [(m["kind"], m["status"], m["segments"]) for m in enrollment["sms"]] == [("sms_convocation", "delivered", 2)]
    assert "612345678" not in json.dumps(data["sms_consents"]) + json.dumps(enrollment["sms"])
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(export_of(client, file, "pdf").get_data())).pages)
    text = " ".join(text.split())
    assert "Consentement aux SMS" in text and "Réponse « STOP » par SMS" in text


def test_the_fee_ledger_and_the_non_execution_reports_are_in_the_export(client, file):
    """What the person was charged and paid (with the receipt's number) and the reports of
    non-execution drafted about them are theirs too; not those of a measure the requester may
    not see."""
    from stages.enrollment.ledger.models import PaymentMethod
    from stages.enrollment.ledger.services import record_payment, record_waiver, set_amount_owed
    from stages.reports.models import NonExecutionReason, NonExecutionReport

    record_payment(file.measure, 18000, PaymentMethod.CHEQUE, date(2026, 1, 20), "Chèque 0001234")
    set_amount_owed(file.hidden, 9000)
    record_waiver(file.hidden, "Motif d'une autre association")
    db.session.add(NonExecutionReport(measure_id=file.measure.id, authority_id=file.parquet.id,
                                      deadline=date(2026, 2, 1), reason=NonExecutionReason.ABSENT))
    db.session.commit()
    login(client, file.organizer)
    data = json.loads(export_of(client, file).get_data(as_text=True))
    [measure] = data["measures"]
    kinds = [(e["kind"], e["amount_cents"]) for e in measure["fee_entries"]]
    assert ("charge", 18000) in kinds and ("payment", -18000) in kinds
    payment = next(e for e in measure["fee_entries"] if e["kind"] == "payment")
    assert payment["receipt"] and payment["reference"] == "Chèque 0001234"
    assert [r["reason"] for r in measure["non_execution_reports"]] == ["absent"]
    text = " ".join(" ".join(page.extract_text() for page in
                             PdfReader(io.BytesIO(export_of(client, file, "pdf").get_data())).pages).split())
    for expected in ("Frais de stage", "Paiement", payment["receipt"], "Chèque 0001234",
                     "Rapports de non-exécution", "Absence au stage"):
        assert expected in text, expected
    assert "Motif d'une autre association" not in text
