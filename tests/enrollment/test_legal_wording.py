"""Issue 16, legal wording and model: what each frame's documents say, as a parquet would sign
them off.

The convocation of each frame, as ``pdftotext`` reads it, is compared with a reviewed French text
(tests/fixtures/convocations/<frame>.txt; STAGES_UPDATE_FIXTURES=1 rewrites them, to be reviewed
in the diff). Then: the peine de stage's deadline, the criminal-record line, no inclusive-writing
dot on any letter, attestation or bilan, the attestation's required contents, the emails, the
association's rule on lateness, and the migration of existing measures.
"""
from __future__ import annotations

import os
import re
from datetime import date, datetime, time, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from stages.attendance import services as attendance
from stages.attendance.models import AttendanceStatus
from stages.auth.models import AuditEntry, OrganizationKind, Role
from stages.certificates import document, issuing
from stages.enrollment import convocation, frames, services
from stages.enrollment.confirmation import links
from stages.enrollment.models import (
    DecisionProcedure,
    EnrollmentStatus,
    LegalFrame,
    LegalMeasure,
    MeasureStatus,
)
from stages.errors import DomainError
from stages.extensions import db
from stages.reports.bilans import bilan_rows, bilan_signatory, bilan_summary
from stages.reports.pdf import bilan_pdf
from stages.scheduling.models import CourseStatus
from stages.timeutil import local_to_utc
from tests.helpers import login, pdftotext

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "convocations"
SESSION_DAY = date(2026, 3, 12)  # a Thursday
ISSUED_ON = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
# Each frame's letter, as the fixtures hold them: the frame, its procedure, its judgment.
LETTERS = {
    "alternative_poursuites": dict(frame=LegalFrame.ALTERNATIVE_POURSUITES),
    "composition_penale": dict(frame=LegalFrame.COMPOSITION_PENALE),
    "stage_contravention": dict(
        frame=LegalFrame.STAGE_CONTRAVENTION, procedure=DecisionProcedure.ORDONNANCE_PENALE
    ),
    # The legal deadline: decided on 10 January, final ten days later, plus six months.
    "peine_stage": dict(frame=LegalFrame.PEINE_STAGE, penalty_set_in_advance=False, deadline=date(2026, 7, 20)),
    "sursis_probatoire": dict(frame=LegalFrame.SURSIS_PROBATOIRE),
}
INCLUSIVE_DOT = "·"


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def paris(make):
    """APCARS runs a one-day course at the MJD du 17e for the Parquet de Paris."""
    w = type("Paris", (), {})()
    w.apcars = make.organization(
        name="APCARS", address="5 rue Leblanc, 75015 Paris", email="stages@apcars.test",
        phone="01 23 45 67 89",
    )
    w.parquet = make.organization(OrganizationKind.PARQUET, name="Parquet de Paris")
    w.venue = make.venue(
        name="MJD du 17e", address="16 rue Jacques Kellner", postal_code="75017", city="Paris",
        room="Salle 2", access_instructions="Métro Guy Môquet (ligne 13).",
        accessibility="Salle au rez-de-chaussée, accessible en fauteuil roulant.",
    )
    w.course = make.course(w.venue, [w.apcars], day=SESSION_DAY)
    w.organizer = make.user(Role.ORGANIZER, [w.apcars], full_name="Claire Martin")
    return w


def _enrolled(make, w, surname="DURAND", **measure_kw):
    person = make.participant(
        surname=surname, first_names="Jean", birth_date=date(1980, 5, 17), birth_place="Lyon",
        address="3 rue des Lilas", postal_code="75011", city="Paris",
    )
    measure_kw.setdefault("deadline", date(2026, 7, 10))
    measure = make.measure(
        person, authority=w.parquet, handling=w.apcars, case_reference="26012000123",
        decision_date=date(2026, 1, 10), **measure_kw,
    )
    return make.enrollment(measure, w.course, status=EnrollmentStatus.ENROLLED)


def _flat(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------------------------------------
# The convocation of each frame


@pytest.mark.parametrize("name", list(LETTERS))
def test_the_convocation_of_each_frame_matches_its_reviewed_text(make, paris, name, monkeypatch):
    # The confirmation page's code is drawn at random for each enrollment, and its glyphs' widths
    # move the line breaks around it: one fixed code makes the layout the same on every run.
    monkeypatch.setattr(links, "_derive", lambda salt: "ABCDEFGHJKMNPQRS")
    enrollment = _enrolled(make, paris, **LETTERS[name])
    text = pdftotext(convocation.convocation_pdf(enrollment, issued_on=ISSUED_ON))
    text = re.sub(r"/c/[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", "/c/XXXX-XXXX-XXXX-XXXX", text)
    fixture = FIXTURES / f"{name}.txt"
    if os.environ.get("STAGES_UPDATE_FIXTURES") == "1":
        fixture.write_text(text, encoding="utf-8")
    assert text == fixture.read_text(encoding="utf-8")


def test_the_reviewed_texts_say_what_issue_16_asks(make, paris):
    """What a reviewer checks in the fixtures, asserted so that a regenerated one cannot drop it."""
    texts = {name: _flat((FIXTURES / f"{name}.txt").read_text(encoding="utf-8")) for name in LETTERS}
    offence = "constitue en lui-même un délit (article 434-41 du code pénal)"
    assert offence in texts["peine_stage"] and offence in texts["stage_contravention"]
    assert "six mois à compter du jour où la décision est devenue définitive (article 131-5-1" in texts["peine_stage"]
    assert "elle ne repousse pas la date limite fixée par l'autorité prescriptrice" not in texts["peine_stage"]
    assert "Cette révocation n'est pas automatique" in texts["sursis_probatoire"]
    assert "n'est pas inscrite au casier judiciaire" in texts["alternative_poursuites"]
    for name, text in texts.items():
        assert "Casier judiciaire" in text and frames.CRIMINAL_RECORD[LETTERS[name]["frame"]] in text
        assert INCLUSIVE_DOT not in text and "vous devriez" not in text
        assert "Mandant" in text and "autorité prescriptrice" not in text
        assert "(Parquet de Paris) en sera informée" in text
        assert "Accessibilité : Salle au rez-de-chaussée, accessible en fauteuil roulant." in text
        assert "les tribunaux (tribunaux judiciaires et tribunaux de police) et les services " \
               "pénitentiaires d'insertion et de probation (SPIP)" in text
    assert "Ordonnance pénale (art. 131-16 9° bis CP)" not in texts["stage_contravention"]
    assert "prononcée par ordonnance pénale" in texts["stage_contravention"]


def test_a_peine_de_stage_with_a_penalty_set_in_advance_names_the_judge_not_the_offence(make, paris):
    enrollment = _enrolled(make, paris, frame=LegalFrame.PEINE_STAGE, penalty_set_in_advance=True)
    text = _flat(pdftotext(convocation.convocation_pdf(enrollment, issued_on=ISSUED_ON)))
    assert "que le tribunal a fixée par avance (article 131-9 du code pénal)" in text
    assert "434-41" not in text


# ---------------------------------------------------------------------------------------------
# The peine de stage's deadline


def _measure_data(w, **kw) -> services.MeasureData:
    values = dict(
        frame=LegalFrame.PEINE_STAGE, authority=w.parquet, case_reference="26012000999",
        decision_date=date(2026, 1, 10), deadline=None, handling_organization=w.apcars,
        penalty_set_in_advance=False,
    )
    values.update(kw)
    return services.MeasureData(**values)


def test_the_peine_de_stage_deadline_is_computed_from_the_decision_date(make, paris):
    person = make.participant()
    # The date it became final unknown: ten days of appeal after the decision, then six months.
    measure = services.add_measure(person, _measure_data(paris))
    assert measure.deadline == date(2026, 7, 20) and measure.deadline_reason is None
    assert frames.deadline_basis(measure).startswith(frames.PEINE_STAGE_BASIS)
    # Known: six months from it, to the same date (or the month's last day).
    known = services.add_measure(
        person, _measure_data(paris, case_reference="2", final_date=date(2026, 8, 31), decision_date=date(2026, 8, 1))
    )
    assert known.deadline == date(2027, 2, 28)
    assert frames.legal_deadline(LegalFrame.COMPOSITION_PENALE, date(2026, 1, 10), None) is None


def test_another_deadline_needs_a_reason_and_is_audited(make, paris):
    person = make.participant()
    with pytest.raises(DomainError, match="diffère du délai légal"):
        services.add_measure(person, _measure_data(paris, deadline=date(2026, 9, 1)))
    measure = services.add_measure(
        person, _measure_data(paris, deadline=date(2026, 9, 1), deadline_reason="Jugement signifié le 12 mars")
    )
    assert measure.deadline == date(2026, 9, 1) and measure.deadline_reason == "Jugement signifié le 12 mars"
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "measure.deadline_set")).one()
    assert entry.details == "date limite du mardi 1er septembre 2026 au lieu du lundi 20 juillet 2026 (délai légal)"
    assert "Jugement" not in entry.details  # free text stays on the measure, out of the log
    assert "Jugement signifié le 12 mars" in frames.deadline_basis(measure)


def test_the_persons_page_shows_the_deadline_basis_and_the_criminal_record(client, make, paris):
    enrollment = _enrolled(make, paris, frame=LegalFrame.PEINE_STAGE, penalty_set_in_advance=False)
    db.session.commit()
    login(client, paris.organizer)
    page = client.get(f"/personnes/{enrollment.measure.participant_id}").get_data(as_text=True)
    assert "six mois à compter du jour où la décision est devenue définitive (article 131-5-1 du code pénal)" in page
    assert frames.CRIMINAL_RECORD[LegalFrame.PEINE_STAGE] in page
    assert "constitue en lui-même un délit (article 434-41 du code pénal)" in page


def test_the_form_computes_the_deadline_when_it_is_left_empty(client, make, paris):
    person = _enrolled(make, paris).measure.participant  # on file with APCARS
    db.session.commit()
    login(client, paris.organizer)
    response = client.post(f"/personnes/{person.id}/mesures/nouvelle", data={
        "frame": "peine_stage", "authority": str(paris.parquet.id),
        "handling_organization": str(paris.apcars.id), "case_reference": "26-TC-1",
        "decision_date": "2026-01-10", "final_date": "2026-01-25", "deadline": "",
        "penalty_set_in_advance": "non", "procedure": "", "fee": "0", "payer": "participant",
        "payment_status": "due",
    })
    assert response.status_code == 302, response.get_data(as_text=True)
    measure = db.session.scalars(sa.select(LegalMeasure).where(LegalMeasure.case_reference == "26-TC-1")).one()
    assert measure.deadline == date(2026, 7, 25) and measure.penalty_set_in_advance is False


# ---------------------------------------------------------------------------------------------
# Attestation, bilan and emails


def _closed(make, w, frame=LegalFrame.STAGE_CONTRAVENTION):
    course, enrollments = make.closed_course_with(
        people=2, organizations=[w.apcars], authority=w.parquet, handling=w.apcars,
        day=date(2026, 2, 26), venue=w.venue,
    )
    for enrollment in enrollments:
        enrollment.measure.frame = frame
        enrollment.measure.procedure = DecisionProcedure.POLICE_COURT_JUDGMENT
    enrollments[1].status = EnrollmentStatus.ABSENT_EXCUSED
    db.session.flush()
    return course, enrollments


def test_the_attestation_states_the_required_contents_and_no_inclusive_dot(make, paris):
    _course, (enrollment, _other) = _closed(make, paris)
    certificate = issuing.issue_certificate(enrollment, by=paris.organizer)
    text = _flat(pdftotext(document.certificate_pdf(certificate)))
    assert "décret n° 2016-1709 du 12 décembre 2016" in text
    assert "les réalités de la prostitution" in text
    assert "les conséquences de la marchandisation du corps" in text
    assert "sa responsabilité pénale et civile" in text
    assert "Je soussigné(e), Claire Martin" in text and INCLUSIVE_DOT not in text
    assert "prononcée par jugement du tribunal de police" in text
    assert "Mandant" in text and "autorité prescriptrice" not in text
    assert "(SPIP)" in text


def test_an_attestation_issued_in_the_first_wording_is_still_redrawn_to_its_bytes(make, paris):
    """Attestations issued before their bytes were kept are checked by redrawing them: in the
    wording they were issued in (« Je soussigné·e », the frame's former name)."""
    _course, (enrollment, _other) = _closed(make, paris)
    certificate = issuing.issue_certificate(enrollment, by=paris.organizer)
    earlier = document._render(certificate, wording=1)
    assert "Ordonnance pénale (art. 131-16 9° bis CP)" in _flat(pdftotext(earlier))
    certificate.sha256 = document.hashlib.sha256(earlier).hexdigest()
    certificate.pdf = None
    assert document.certificate_pdf(certificate) == earlier


def test_the_bilan_has_no_inclusive_dot_and_names_the_mandant(make, paris):
    course, _enrollments = _closed(make, paris)
    rows = bilan_rows(course, paris.parquet.id)
    pdf = bilan_pdf(course, paris.parquet, rows, bilan_summary(rows), NOW,
                    bilan_signatory(course, paris.parquet.id, paris.organizer))
    text = _flat(pdftotext(pdf))
    assert INCLUSIVE_DOT not in text
    assert "Stage suivi en entier" in text and "Absence excusée" in text
    assert "réservées au mandant destinataire" in text and "(SPIP)" in text


def test_the_emails_do_not_name_the_course_in_full(make, paris):
    enrollment = _enrolled(make, paris, frame=LegalFrame.COMPOSITION_PENALE)
    enrollment.measure.participant.email = "jean.durand@example.org"
    message = convocation.convocation_email(enrollment, b"%PDF")
    body = message.get_body(("plain",)).get_content()
    invitation = next(p for p in message.iter_attachments() if p.get_filename() == "invitation.ics")
    ics = invitation.get_payload(decode=True).decode().replace("\r\n ", "")
    for text in (message["Subject"], body, ics):
        assert "achat d'actes sexuels" not in text and INCLUSIVE_DOT not in text
    assert "stage de sensibilisation" in body


# ---------------------------------------------------------------------------------------------
# Lateness: the association's rule, shown and applied at closing


def _held_with_a_late_person(make, w):
    from stages.attendance.models import AttendanceMark

    course = make.course(w.venue, [w.apcars], day=date(2026, 2, 26), status=CourseStatus.HELD)
    enrollment = make.enrollment(make.measure(authority=w.parquet, handling=w.apcars), course,
                                 status=EnrollmentStatus.CONFIRMED)
    first, second = course.parts
    db.session.add_all([
        AttendanceMark(enrollment_id=enrollment.id, part_id=first.id, status=AttendanceStatus.LATE,
                       arrived_at=local_to_utc(date(2026, 2, 26), time(10, 0)), updated_by_id=w.organizer.id),
        AttendanceMark(enrollment_id=enrollment.id, part_id=second.id, status=AttendanceStatus.PRESENT,
                       updated_by_id=w.organizer.id),
    ])
    db.session.flush()
    return course, enrollment


def test_lateness_counts_as_attended_by_default_as_before(make, paris):
    course, enrollment = _held_with_a_late_person(make, paris)
    assert paris.apcars.lateness_counts_as_attended is True
    [row] = attendance.outcome_rows(course)
    assert row.computed == EnrollmentStatus.ATTENDED and row.reservations


def test_an_association_whose_rule_says_otherwise_gets_a_partial_outcome_at_closing(client, make, paris):
    course, enrollment = _held_with_a_late_person(make, paris)
    paris.apcars.lateness_counts_as_attended = False
    db.session.commit()
    login(client, paris.organizer)
    page = client.get(f"/stages/{course.id}/cloture").get_data(as_text=True)
    assert "Règle de APCARS : une demi-journée avec un retard ou un départ anticipé n'est suivie qu'en partie" in page
    attendance.close_course(course, {}, by=paris.organizer)
    assert enrollment.status == EnrollmentStatus.PARTLY_ATTENDED
    assert enrollment.measure.status == MeasureStatus.PARTLY_ATTENDED


def test_the_rule_is_set_on_the_association_by_an_admin_and_audited(client, make, paris):
    admin = make.user(Role.ADMIN)
    db.session.commit()
    login(client, admin)
    response = client.post(f"/organisations/{paris.apcars.id}/modifier", data={
        "name": "APCARS", "short_name": "APCARS", "kind": "association",
        "address": "5 rue Leblanc, 75015 Paris", "email": "stages@apcars.example.org", "phone": "01 23 45 67 89",
    })  # the box left unticked
    assert response.status_code == 302
    db.session.expire_all()
    assert paris.apcars.lateness_counts_as_attended is False
    assert db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_id == paris.apcars.id)).all()[-1] == "organization.saved"


def test_a_peine_de_stage_recorded_before_keeps_its_deadline_when_edited(client, make, paris):
    """A measure from before migration 0020 (another deadline, no reason): its date is shown, not
    silently replaced by the legal one; keeping it asks for the reason."""
    enrollment = _enrolled(make, paris, frame=LegalFrame.PEINE_STAGE, deadline=date(2026, 6, 30))
    measure = enrollment.measure
    db.session.commit()
    login(client, paris.organizer)
    page = client.get(f"/mesures/{measure.id}/modifier").get_data(as_text=True)
    assert 'value="2026-06-30"' in page
    form = {
        "frame": "peine_stage", "authority": str(paris.parquet.id),
        "handling_organization": str(paris.apcars.id), "case_reference": measure.case_reference,
        "decision_date": "2026-01-10", "deadline": "2026-06-30", "penalty_set_in_advance": "oui",
        "fee": "0", "payer": "participant", "payment_status": "due",
    }
    refused = client.post(f"/mesures/{measure.id}/modifier", data=form).get_data(as_text=True)
    assert "diffère du délai légal" in refused
    assert client.post(f"/mesures/{measure.id}/modifier",
                       data=form | {"deadline_reason": "Date fixée par le JAP"}).status_code == 302
    db.session.expire_all()
    assert measure.deadline == date(2026, 6, 30) and measure.deadline_reason == "Date fixée par le JAP"


@pytest.mark.parametrize(("cell", "frame", "procedure"), [
    ("Ordonnance pénale", LegalFrame.STAGE_CONTRAVENTION, DecisionProcedure.ORDONNANCE_PENALE),
    ("ordonnance_penale", LegalFrame.STAGE_CONTRAVENTION, DecisionProcedure.ORDONNANCE_PENALE),
    ("Jugement du tribunal de police", LegalFrame.STAGE_CONTRAVENTION, DecisionProcedure.POLICE_COURT_JUDGMENT),
    ("Peine complémentaire de stage", LegalFrame.STAGE_CONTRAVENTION, None),
    ("Peine de stage", LegalFrame.PEINE_STAGE, None),
])
def test_a_referral_list_names_the_complementary_penalty_by_its_procedure(cell, frame, procedure):
    from stages.enrollment.importer.cells import convert_cell
    from stages.enrollment.importer.columns import COLUMNS

    column = next(c for c in COLUMNS if c.field == "frame")
    assert convert_cell(column, cell, False, None) == (frame, procedure)
