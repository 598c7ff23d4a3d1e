"""The yearly activity report: reproducible for a past year, scoped, audited, as PDF and CSV, and
produced by a command."""
from __future__ import annotations

import csv
import io
from dataclasses import asdict
from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import time_machine
from pypdf import PdfReader

from stages.auth.models import AuditEntry, Role
from stages.certificates.issuing import revoke_certificate
from stages.enrollment.models import EnrollmentStatus, LegalFrame
from stages.enrollment.services.lifecycle import (
    change_enrollment_status,
    reschedule,
    set_enrollment_status_unchecked,
    withdraw_measure,
)
from stages.extensions import db
from stages.reports.yearly import compute_yearly_report
from stages.scheduling.models import CourseStatus
from tests.helpers import count_queries, login
from tests.reports.test_yearly_scale import REPORT_QUERIES

IN_2025 = datetime(2025, 3, 1, 9, tzinfo=timezone.utc)
AFTER_2025 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)  # past the settling date, 1 Feb 2026
LATER = datetime(2026, 6, 1, 9, tzinfo=timezone.utc)


def _figures(report) -> dict:
    return {
        "held": report.courses_held,
        "months": report.courses_per_month,
        "frames": [asdict(f) for f in report.frames],
    }


@pytest.fixture
def year_2025(make):
    """Four people of Parquet A handled by the association, summoned to a course of 10 March 2025
    through their history (services), closed: two present (attestations), one partly present,
    one absent; and a measure returned to the authority in 2025."""
    w = SimpleNamespace()
    with time_machine.travel(IN_2025, tick=False):
        w.assoc, w.other = make.organization(name="APCARS"), make.organization(name="Autre")
        w.parquet = make.authority(name="Parquet A")
        w.organizer = make.user(Role.ORGANIZER, [w.assoc])
        w.liaison = make.user(Role.LIAISON, [w.parquet])
        w.course = make.course(organizations=[w.assoc], day=date(2025, 3, 10))
        frames = [LegalFrame.COMPOSITION_PENALE, LegalFrame.COMPOSITION_PENALE,
                  LegalFrame.PEINE_STAGE, LegalFrame.ALTERNATIVE_POURSUITES]
        w.enrollments = []
        for frame in frames:
            measure = make.measure(authority=w.parquet, handling=w.assoc, frame=frame)
            enrollment = make.enrollment(measure, w.course, status=EnrollmentStatus.ENROLLED)
            change_enrollment_status(enrollment, EnrollmentStatus.SUMMONED, by=w.organizer)
            w.enrollments.append(enrollment)
        w.returned = make.measure(authority=w.parquet, handling=w.assoc, frame=LegalFrame.SURSIS_PROBATOIRE)
        withdraw_measure(w.returned, "Personne incarcérée.", by=w.organizer)
        db.session.commit()
    with time_machine.travel(datetime(2025, 3, 12, 9, tzinfo=timezone.utc), tick=False):
        w.course.status = CourseStatus.HELD
        outcomes = [EnrollmentStatus.ATTENDED, EnrollmentStatus.ATTENDED,
                    EnrollmentStatus.PARTLY_ATTENDED, EnrollmentStatus.ABSENT_UNEXCUSED]
        for enrollment, outcome in zip(w.enrollments, outcomes):
            set_enrollment_status_unchecked(enrollment, outcome, by=w.organizer, note="Clôture du stage.")
        w.course.status = CourseStatus.CLOSED
        w.certificates = [make.certificate(e) for e in w.enrollments[:2]]
        db.session.commit()
    return w


def test_figures_of_a_small_year(year_2025):
    w = year_2025
    db.session.expire_all()
    with time_machine.travel(AFTER_2025, tick=False), count_queries() as counter:
        report = compute_yearly_report(w.assoc, 2025)
    assert counter.count == REPORT_QUERIES  # the same at scale 0.01 (test_yearly_scale.py)
    assert not report.provisional
    assert report.courses_held == 1
    assert dict(report.courses_per_month)["mars"] == 1
    total = report.total
    assert (total.referred, total.summoned, total.completed, total.withdrawn, total.pending) == (5, 4, 2, 1, 2)
    assert total.outcomes[EnrollmentStatus.ATTENDED] == 2
    assert total.outcomes[EnrollmentStatus.ABSENT_UNEXCUSED] == 1
    assert total.attendance_rate == total.completion_rate == 0.5
    by_frame = {f.frame: f for f in report.frames}
    assert by_frame[LegalFrame.COMPOSITION_PENALE].completed == 2
    assert by_frame[LegalFrame.SURSIS_PROBATOIRE].withdrawn == 1
    assert by_frame[LegalFrame.PEINE_STAGE].pending == 1
    # The authority's report counts the same people, the other association nothing.
    assert compute_yearly_report(w.parquet, 2025).total.completed == 2
    empty = compute_yearly_report(w.other, 2025)
    assert empty.courses_held == 0 and empty.total.referred == 0


def test_a_past_year_does_not_change_when_this_year_changes(year_2025, make):
    """Freeze time, report 2025; then move the absent person to a 2026 course, revoke an
    attestation, return a measure, record new measures and courses: 2025 reads the same."""
    w = year_2025
    with time_machine.travel(AFTER_2025, tick=False):
        before = {org.id: _figures(compute_yearly_report(org, 2025)) for org in (w.assoc, w.parquet)}
    with time_machine.travel(LATER, tick=False):
        next_course = make.course(organizations=[w.assoc], day=date(2026, 6, 20))
        reschedule(w.enrollments[3], next_course, by=w.organizer)
        revoke_certificate(w.certificates[0], "Erreur sur l'identité.", by=w.organizer)
        withdraw_measure(w.enrollments[2].measure, "Retour au parquet.", by=w.organizer)
        make.measure(authority=w.parquet, handling=w.assoc)
        w.enrollments[1].measure.status_changed_at = LATER
        db.session.commit()
        after = {org.id: _figures(compute_yearly_report(org, 2025)) for org in (w.assoc, w.parquet)}
        this_year = compute_yearly_report(w.assoc, 2026)
    assert after == before
    # The edits did happen, and count in 2026.
    assert this_year.total.withdrawn == 1 and this_year.total.referred == 1
    assert w.enrollments[3].status == EnrollmentStatus.RESCHEDULED


def test_a_year_not_yet_settled_is_provisional(year_2025):
    with time_machine.travel(datetime(2026, 1, 10, 9, tzinfo=timezone.utc), tick=False):
        assert compute_yearly_report(year_2025.assoc, 2025).provisional


def test_page_scope_and_audit(client, year_2025, make):
    w = year_2025
    with time_machine.travel(AFTER_2025, tick=False):
        login(client, w.organizer)
        page = client.get(f"/rapports/annuel?organisation={w.assoc.id}&annee=2025")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert "APCARS — 2025" in text and 'id="stages-tenus">1<' in text
        assert client.get(f"/rapports/annuel?organisation={w.other.id}&annee=2025").status_code == 403
        assert client.get(f"/rapports/annuel?organisation={w.parquet.id}&annee=2025").status_code == 403
        # Nonsense years and ids: last year, or a refusal, never an error.
        assert client.get(f"/rapports/annuel?organisation={w.assoc.id}&annee=99999").status_code == 200
        assert client.get("/rapports/annuel?organisation=abc&annee=x").status_code == 200
        client.post("/deconnexion")
        login(client, w.liaison)
        assert client.get(f"/rapports/annuel?organisation={w.parquet.id}&annee=2025").status_code == 200
        assert client.get(f"/rapports/annuel?organisation={w.assoc.id}").status_code == 403
        download = client.get(f"/rapports/annuel/{w.parquet.id}/rapport.csv?annee=2025")
        assert download.status_code == 200
    actions = db.session.execute(
        sa.select(AuditEntry.action, AuditEntry.object_id, AuditEntry.details, AuditEntry.participant_id)
    ).all()
    assert ("yearly_report.viewed", w.assoc.id, "2025", None) in actions
    assert ("yearly_report.exported", w.parquet.id, "2025 (CSV)", None) in actions


def test_pdf_has_figures_and_charts_and_csv_is_formula_safe(client, year_2025, make):
    w = year_2025
    w.assoc.name = "=APCARS+1"  # a name a spreadsheet would run
    db.session.commit()
    with time_machine.travel(AFTER_2025, tick=False):
        login(client, w.organizer)
        pdf = client.get(f"/rapports/annuel/{w.assoc.id}/rapport.pdf?annee=2025")
        csv_response = client.get(f"/rapports/annuel/{w.assoc.id}/rapport.csv?annee=2025")
    assert pdf.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Rapport d'activité 2025" in text and "Stages tenus par mois" in text
    # No fee in the ledger that year: no such section; no questionnaire answered: nothing published.
    assert "Participations financières" not in text
    assert "Évaluation anonyme" in text and "moins de 5 réponses : non publié" in text
    rows = list(csv.reader(io.StringIO(csv_response.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Indicateur" and rows[0][-1] == "Ensemble"
    table = {row[0]: row[1:] for row in rows[1:]}
    assert table["Stages tenus"][-1] == "1"
    assert table["Stages effectués (attestation)"][-1] == "2"
    assert table["Mesures reçues"][-1] == "5"


def test_command_writes_the_report(app, year_2025, tmp_path):
    w = year_2025
    out = tmp_path / "rapport.pdf"
    with time_machine.travel(AFTER_2025, tick=False):
        result = app.test_cli_runner().invoke(
            args=["stages", "yearly-report", "--year", "2025", "--association", str(w.assoc.id), "-o", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert out.read_bytes().startswith(b"%PDF")
        csv_out = tmp_path / "rapport.csv"
        result = app.test_cli_runner().invoke(
            args=["stages", "yearly-report", "--year", "2025", "--authority", str(w.parquet.id), "-o", str(csv_out)]
        )
        assert result.exit_code == 0, result.output
        assert "Stages tenus" in csv_out.read_text("utf-8-sig")
        wrong = app.test_cli_runner().invoke(
            args=["stages", "yearly-report", "--year", "2025", "--authority", str(w.assoc.id), "-o", str(csv_out)]
        )
        assert wrong.exit_code != 0


def test_a_section_registered_by_another_module_appears_everywhere(client, year_2025, monkeypatch):
    """The integrator's hook for « Participations financières » and « Évaluation »."""
    from stages.reports import yearly
    from stages.reports.yearly_documents import yearly_csv, yearly_pdf

    monkeypatch.setattr(yearly, "EXTRA_SECTIONS", [
        lambda organization, year, known_at: yearly.ReportSection("Participations financières", [("Encaissé", "1 234,00 €")]),
        lambda organization, year, known_at: None,  # a module with nothing to say is not shown
    ])
    w = year_2025
    with time_machine.travel(AFTER_2025, tick=False):
        report = compute_yearly_report(w.assoc, 2025)
        login(client, w.organizer)
        page = client.get(f"/rapports/annuel?organisation={w.assoc.id}&annee=2025").get_data(as_text=True)
    assert [s.title for s in report.sections] == ["Participations financières"]
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(yearly_pdf(report))).pages)
    assert "Participations financières" in text and "1 234,00 €" in text
    assert "Participations financières : Encaissé" in yearly_csv(report).decode("utf-8-sig")
    assert "<caption>Participations financières</caption>" in page


def test_the_evaluation_section_shows_means_from_five_answers_and_nothing_below(make):
    """« Évaluation anonyme »: the association's questionnaire results of the year, small counts
    suppressed as on the results pages; never in an authority's report."""
    from stages.evaluation import answering
    from stages.evaluation.models import Moment
    from tests.evaluation.helpers import MORNING, course_with_people, form_for, questionnaire_of

    course, people, _organizer, _facilitator = course_with_people(make, people=6)
    association, authority = course.organizations[0], people[0].measure.authority
    questionnaire = questionnaire_of(course, Moment.BEFORE)

    def answer(enrollments, value):
        with time_machine.travel(MORNING, tick=False):
            for enrollment in enrollments:
                answering.record_response(course, enrollment, questionnaire, answering.read_answers(
                    questionnaire, form_for(questionnaire, value, "Texte libre à ne pas publier")))
        db.session.commit()

    def section(organization):
        report = compute_yearly_report(organization, 2026)
        return next((s for s in report.sections if s.title == "Évaluation anonyme"), None)

    answer(people[:4], 2)
    lines = dict(section(association).lines)
    assert lines["Avant le stage"] == "moins de 5 réponses : non publié"
    assert not any("/ 5" in value for value in lines.values())
    answer(people[4:], 5)  # 6 answers: four 2s and two 5s, a mean of 3.0
    lines = section(association).lines
    assert ("Avant le stage", "6 réponses") in lines
    means = [value for label, value in lines if label.startswith("Avant le stage — ")]
    assert means and all(value == "3,0 / 5 (6 réponses)" for value in means)
    assert not any("Texte libre" in label + value for label, value in lines)
    assert dict(lines)["Après le stage"] == "moins de 5 réponses : non publié"
    assert section(authority) is None


def test_the_fees_section_counts_the_ledger_entries_of_the_year_recorded_before_it_settled(make):
    """« Participations financières »: charged, collected, refunded, waived, receipts; an entry
    dated in the year but recorded after the settling date (1 February) changes nothing."""
    from datetime import date as day

    from stages.enrollment.ledger.models import PaymentMethod
    from stages.enrollment.ledger.services import record_payment, record_refund, record_waiver

    association = make.organization(name="APCARS")
    with time_machine.travel(datetime(2025, 3, 1, 9, tzinfo=timezone.utc), tick=False):
        paying, waived = (make.measure(handling=association, fee_cents=18000) for _ in range(2))
        record_payment(paying, 18000, PaymentMethod.CHEQUE, day(2025, 3, 1))
        record_refund(paying, 3000, PaymentMethod.TRANSFER, day(2025, 3, 1), reason="Trop-perçu")
        record_waiver(waived, "Ressources insuffisantes")
        db.session.commit()
    with time_machine.travel(datetime(2026, 3, 1, 9, tzinfo=timezone.utc), tick=False):
        late = make.measure(handling=association, fee_cents=9000)
        record_payment(late, 9000, PaymentMethod.CASH, day(2025, 12, 30))  # noted after it settled
        db.session.commit()
        report = compute_yearly_report(association, 2025)
    lines = dict(next(s for s in report.sections if s.title == "Participations financières").lines)
    assert lines["Encaissé"] == "180,00\u00a0€"
    assert lines["Remboursé"] == "30,00\u00a0€"
    assert lines["Dispenses accordées"] == "180,00\u00a0€"
    assert lines["Encaissé, remboursements déduits"] == "150,00\u00a0€"
    assert lines["Reçus délivrés"] == "1"
    assert lines["Montants dus (frais de stage inscrits dans l'année)"] == "360,00\u00a0€"
