"""Half-day incidents: noted by the facilitator (time, kind, text, author), editable until the
course is closed, on the course page and on the bilan of the authority they concern."""
from __future__ import annotations

from datetime import date, datetime, timezone

import sqlalchemy as sa
import time_machine

from stages.attendance.models import HalfDayIncident, IncidentKind
from stages.auth.models import Role
from stages.enrollment.models import EnrollmentStatus
from stages.extensions import db
from stages.reports import bilans
from stages.scheduling.models import CourseStatus
from tests.helpers import login

DAY = date(2026, 3, 12)
DURING = datetime(2026, 3, 12, 10, 0, tzinfo=timezone.utc)  # 11:00 in Paris


def _course(make):
    association = make.organization(name="APCARS")
    facilitator = make.user(Role.FACILITATOR, [association], full_name="Julien Morel")
    course = make.course(organizations=[association], facilitators=[facilitator], day=DAY)
    parquet_a, parquet_b = make.authority(name="Parquet A"), make.authority(name="Parquet B")
    person_a = make.enrollment(make.measure(authority=parquet_a, handling=association,
                                            participant=make.participant(surname="ALPHA")), course,
                               status=EnrollmentStatus.CONFIRMED)
    person_b = make.enrollment(make.measure(authority=parquet_b, handling=association,
                                            participant=make.participant(surname="BETA")), course,
                               status=EnrollmentStatus.CONFIRMED)
    return course, facilitator, (parquet_a, parquet_b), (person_a, person_b)


def test_the_facilitator_notes_edits_and_removes_an_incident(client, make):
    course, facilitator, _authorities, (person_a, _b) = _course(make)
    part = course.parts[0]
    url = f"/stages/{course.id}/presence/{part.id}/incidents"
    with time_machine.travel(DURING, tick=False):
        login(client, facilitator)
        assert client.get(url).status_code == 200
        response = client.post(url, data={"heure": "10:40", "nature": "behaviour",
                                          "personne": str(person_a.id), "texte": "Propos déplacés."})
        assert response.status_code == 302
        incident = db.session.scalar(sa.select(HalfDayIncident))
        assert (incident.kind, incident.text, incident.recorded_by_id) == (IncidentKind.BEHAVIOUR, "Propos déplacés.", facilitator.id)
        assert incident.occurred_at == datetime(2026, 3, 12, 9, 40, tzinfo=timezone.utc)  # 10:40 Paris
        page = client.get(f"/stages/{course.id}").get_data(as_text=True)
        assert "Propos déplacés." in page and "Julien Morel" in page
        edit = f"/stages/{course.id}/incidents/{incident.id}"
        assert client.post(edit, data={"heure": "10:45", "nature": "other", "personne": "",
                                       "texte": "Propos déplacés, rappel au cadre."}).status_code == 302
        db.session.expire_all()
        assert incident.enrollment_id is None and incident.updated_at is not None
        bad = client.post(url, data={"heure": "25:99", "nature": "behaviour", "personne": "", "texte": "x"})
        assert bad.status_code == 400 and "Heure invalide" in bad.get_data(as_text=True)
        assert client.post(edit, data={"supprimer": "1"}).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(HalfDayIncident)) == 0


def test_incidents_are_frozen_once_the_course_is_closed(client, make):
    course, facilitator, _authorities, _people = _course(make)
    part = course.parts[0]
    db.session.add(HalfDayIncident(part_id=part.id, occurred_at=DURING, kind=IncidentKind.HEALTH,
                                   text="Malaise.", recorded_by_id=facilitator.id))
    course.status = CourseStatus.CLOSED
    db.session.commit()
    incident = db.session.scalar(sa.select(HalfDayIncident))
    with time_machine.travel(DURING, tick=False):
        login(client, facilitator)
        page = client.post(f"/stages/{course.id}/incidents/{incident.id}",
                           data={"heure": "11:00", "nature": "health", "personne": "", "texte": "Changé."})
        listing = client.get(f"/stages/{course.id}/presence/{part.id}/incidents").get_data(as_text=True)
    assert "clôturé" in page.get_data(as_text=True)
    assert db.session.get(HalfDayIncident, incident.id).text == "Malaise."
    assert "Noter l'incident" not in listing


def test_the_bilan_shows_an_incident_only_to_the_authority_it_concerns(make):
    course, facilitator, (parquet_a, parquet_b), (person_a, person_b) = _course(make)
    part = course.parts[0]
    db.session.add_all([
        HalfDayIncident(part_id=part.id, occurred_at=DURING, kind=IncidentKind.BEHAVIOUR, text="Propos déplacés.",
                        enrollment_id=person_a.id, recorded_by_id=facilitator.id),
        HalfDayIncident(part_id=part.id, occurred_at=DURING, kind=IncidentKind.INTERRUPTION,
                        text="Alarme incendie.", recorded_by_id=facilitator.id),
    ])
    course.status = CourseStatus.CLOSED
    person_a.status = person_b.status = EnrollmentStatus.ATTENDED
    db.session.commit()
    (row_a,) = bilans.bilan_rows(course, parquet_a.id)
    (row_b,) = bilans.bilan_rows(course, parquet_b.id)
    assert [line.replace("\u00a0", " ") for line in row_a.incidents] == ["à 11 h 00, comportement : Propos déplacés.",
                               "séance, à 11 h 00, interruption de la séance : Alarme incendie."]
    assert [line.replace("\u00a0", " ") for line in row_b.incidents] == ["séance, à 11 h 00, interruption de la séance : Alarme incendie."]
    # The session's own incidents are on every line but not counted as the person's.
    assert bilans.bilan_summary([row_b])["Incidents"] == 0
    assert bilans.bilan_summary([row_a])["Incidents"] == 1
    assert "Alarme incendie." in bilans.bilan_csv_row(row_b)[7]
