"""Rectifications are saved: every field of the identity and measure forms, and status changes.

Each field is changed alone through the page a user posts, then read back from the database:
it must hold its new value and every other field its old one. Turning an edit into a no-op,
forgetting one field, or writing a value into another column fails here; before these tests,
the enrollment tests all passed with ``update_participant`` or ``update_measure`` reduced to
``return``.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages.auth.models import AuditEntry, OrganizationKind, Role
from stages.enrollment.forms import MeasureForm, ParticipantForm
from stages.enrollment.models import (
    DecisionProcedure,
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    LegalFrame,
    LegalMeasure,
    MeasureStatus,
    Participant,
    Payer,
    PaymentStatus,
)
from stages.enrollment.services import measure_search_condition
from stages.extensions import db
from tests.helpers import FieldChange, assert_saved, form_with, fresh, login

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(make, client):
    """An organizer of two associations, two authorities, one person with one measure."""
    w = type("World", (), {})()
    w.apcars = make.organization(name="APCARS")
    w.scelles = make.organization(name="Fondation Scelles")
    w.parquet = make.organization(OrganizationKind.PARQUET, name="Parquet de Paris")
    w.tribunal = make.organization(OrganizationKind.TRIBUNAL, name="Tribunal judiciaire de Paris")
    w.organizer = make.user(Role.ORGANIZER, [w.apcars, w.scelles])
    person = make.participant(**{f.name: f.stored_before for f in IDENTITY})
    w.person_id = person.id
    w.measure_id = make.measure(
        person, authority=w.parquet, handling=w.apcars,
        **{name: value for name, value in MEASURE_BEFORE.items()},
    ).id
    login(client, w.organizer)
    return w


def _text(name, before, after):
    return FieldChange(name, before, after, lambda o: getattr(o, name), before, after)


# ---------------------------------------------------------------------------------------------
# Identity (« Rectifier l'identité »)

IDENTITY = [
    _text("surname", "DURAND", "DUPONT-MARTIN"),
    _text("first_names", "Jean", "Jean-Pierre Marie"),
    FieldChange("birth_date", "1980-05-17", "1981-06-18", lambda p: p.birth_date,
                date(1980, 5, 17), date(1981, 6, 18)),
    _text("birth_place", "Lyon", "Marseille"),
    _text("address", "1 rue des Lilas", "2 avenue des Roses"),
    _text("postal_code", "69100", "13400"),
    _text("city", "Villeurbanne", "Aubagne"),
    # Typed as clerks write them, stored in E.164 (stages.phones).
    FieldChange("phone", "01 02 03 04 05", "06 05 04 03 02", lambda p: p.phone,
                "+33102030405", "+33605040302"),
    _text("email", "jean.durand@example.org", "jp.dupont@example.net"),
]


@pytest.mark.parametrize("field", [f.name for f in IDENTITY] + ["*"])
def test_each_identity_field_is_saved(client, world, field):
    response = client.post(f"/personnes/{world.person_id}/modifier", data=form_with(IDENTITY, field))
    assert response.status_code == 302, response.get_data(as_text=True)
    person = fresh(Participant, world.person_id)
    assert_saved(person, IDENTITY, field)
    # The name search reads a key derived from the name: it follows the rectification.
    found = db.session.scalars(
        sa.select(LegalMeasure.participant_id).where(measure_search_condition(person.surname))
    ).all()
    assert found == [world.person_id]


def test_an_identity_rectification_is_audited(client, world):
    client.post(f"/personnes/{world.person_id}/modifier", data=form_with(IDENTITY, "city"))
    actions = db.session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.participant_id == world.person_id)
    ).all()
    assert "participant.rectified" in actions


# ---------------------------------------------------------------------------------------------
# The measure (« Modifier la mesure »)

MEASURE_BEFORE = dict(
    frame=LegalFrame.COMPOSITION_PENALE, case_reference="24-PARQ-0042",
    facts_date=date(2025, 11, 2), decision_date=date(2026, 1, 5), final_date=date(2026, 1, 20),
    deadline=date(2026, 7, 5), fee_cents=18000, payer=Payer.PARTICIPANT,
    payment_status=PaymentStatus.DUE, certificate_recipient="Parquet de Paris, bureau des alternatives",
)


def _measure_fields(world) -> list[FieldChange]:
    def day(name, before, after):
        return FieldChange(name, before.isoformat(), after.isoformat(), lambda m: getattr(m, name),
                           before, after)

    return [
        FieldChange("frame", "composition_penale", "sursis_probatoire", lambda m: m.frame,
                    LegalFrame.COMPOSITION_PENALE, LegalFrame.SURSIS_PROBATOIRE),
        FieldChange("authority", str(world.parquet.id), str(world.tribunal.id),
                    lambda m: m.authority_id, world.parquet.id, world.tribunal.id),
        FieldChange("handling_organization", str(world.apcars.id), str(world.scelles.id),
                    lambda m: m.handling_organization_id, world.apcars.id, world.scelles.id),
        _text("case_reference", "24-PARQ-0042", "25-TJ-0099"),
        day("facts_date", date(2025, 11, 2), date(2025, 11, 20)),
        day("decision_date", date(2026, 1, 5), date(2026, 1, 12)),
        day("final_date", date(2026, 1, 20), date(2026, 1, 25)),
        day("deadline", date(2026, 7, 5), date(2026, 8, 31)),
        FieldChange("fee", "180.00", "95.50", lambda m: m.fee_cents, 18000, 9550),
        FieldChange("payer", "participant", "authority", lambda m: m.payer,
                    Payer.PARTICIPANT, Payer.AUTHORITY),
        FieldChange("payment_status", "due", "paid", lambda m: m.payment_status,
                    PaymentStatus.DUE, PaymentStatus.PAID),
        _text("certificate_recipient", "Parquet de Paris, bureau des alternatives",
              "SPIP de Paris, antenne nord"),
    ]


MEASURE_FIELD_NAMES = [
    "frame", "authority", "handling_organization", "case_reference", "facts_date",
    "decision_date", "final_date", "deadline", "fee", "payer", "payment_status",
    "certificate_recipient",
]


@pytest.mark.parametrize("field", MEASURE_FIELD_NAMES + ["*"])
def test_each_measure_field_is_saved(client, world, field):
    fields = _measure_fields(world)
    assert [f.name for f in fields] == MEASURE_FIELD_NAMES
    response = client.post(f"/mesures/{world.measure_id}/modifier", data=form_with(fields, field))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert_saved(fresh(LegalMeasure, world.measure_id), fields, field)


# The fields only one frame has: the procedure of the complementary penalty; whether the court
# set a penalty in advance and the reason for another deadline, for a peine de stage.
FRAME_FIELDS = {
    "procedure": (
        dict(frame=LegalFrame.STAGE_CONTRAVENTION, procedure=DecisionProcedure.ORDONNANCE_PENALE),
        FieldChange("procedure", "ordonnance_penale", "jugement_tribunal_police", lambda m: m.procedure,
                    DecisionProcedure.ORDONNANCE_PENALE, DecisionProcedure.POLICE_COURT_JUDGMENT),
    ),
    "penalty_set_in_advance": (
        dict(frame=LegalFrame.PEINE_STAGE, penalty_set_in_advance=True,
             deadline_reason="Jugement signifié le 10 janvier"),
        FieldChange("penalty_set_in_advance", "oui", "non", lambda m: m.penalty_set_in_advance,
                    True, False),
    ),
    "deadline_reason": (
        dict(frame=LegalFrame.PEINE_STAGE, penalty_set_in_advance=True,
             deadline_reason="Jugement signifié le 10 janvier"),
        _text("deadline_reason", "Jugement signifié le 10 janvier", "Appel du parquet général"),
    ),
}


@pytest.mark.parametrize("field", list(FRAME_FIELDS))
def test_each_field_of_one_frame_is_saved(client, world, make, field):
    values, change = FRAME_FIELDS[field]
    measure = make.measure(
        make.participant(), authority=world.parquet, handling=world.apcars,
        **{**MEASURE_BEFORE, **values},
    )
    db.session.commit()
    base = {f.name: f.before for f in _measure_fields(world)} | {
        "frame": values["frame"].value, "procedure": "", "penalty_set_in_advance": "oui",
        "deadline_reason": values.get("deadline_reason", ""),
    }
    response = client.post(f"/mesures/{measure.id}/modifier", data=base | form_with([change], field))
    assert response.status_code == 302, response.get_data(as_text=True)
    saved = fresh(LegalMeasure, measure.id)
    assert change.read(saved) == change.stored_after
    assert saved.frame == values["frame"] and saved.deadline == MEASURE_BEFORE["deadline"]


def test_these_tests_cover_every_field_of_the_two_forms(app):
    """A field added to a form must be added here, so that its saving is tested too."""
    with app.test_request_context():
        identity = {f.name for f in ParticipantForm()} - {"csrf_token"}
        measure = {f.name for f in MeasureForm()} - {"csrf_token"}
    assert identity == {f.name for f in IDENTITY}
    assert measure == set(MEASURE_FIELD_NAMES) | set(FRAME_FIELDS)


# ---------------------------------------------------------------------------------------------
# Enrollment status changes (« Confirmer », « Convoqué·e », « Excuser »)


@pytest.mark.parametrize(
    ("start", "wanted", "measure_status"),
    [
        (EnrollmentStatus.ENROLLED, EnrollmentStatus.SUMMONED, MeasureStatus.SUMMONED),
        (EnrollmentStatus.SUMMONED, EnrollmentStatus.CONFIRMED, MeasureStatus.CONFIRMED),
        (EnrollmentStatus.CONFIRMED, EnrollmentStatus.SUMMONED, MeasureStatus.SUMMONED),
        (EnrollmentStatus.CONFIRMED, EnrollmentStatus.ABSENT_EXCUSED, MeasureStatus.ABSENT_EXCUSED),
    ],
)
def test_an_enrollment_status_change_is_saved_with_its_note(
    client, make, world, start, wanted, measure_status
):
    course = make.course(organizations=[world.apcars], day=date(2026, 3, 12))
    measure = db.session.get(LegalMeasure, world.measure_id)
    enrollment = make.enrollment(measure, course, status=start)
    response = client.post(
        f"/inscriptions/{enrollment.id}/statut",
        data={"status": wanted.value, "note": "Appel du 2 mars : certificat médical reçu."},
    )
    assert response.status_code == 302
    saved = fresh(Enrollment, enrollment.id)
    assert saved.status == wanted
    assert saved.measure.status == measure_status
    event = db.session.scalars(
        sa.select(EnrollmentEvent).where(EnrollmentEvent.enrollment_id == enrollment.id)
    ).one()
    assert (event.from_status, event.to_status, event.note, event.user_id) == (
        start.value, wanted.value, "Appel du 2 mars : certificat médical reçu.", world.organizer.id,
    )
