"""Open statistics: only opted-in associations, by département, small counts suppressed, public."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages.auth.models import AuditEntry, Role
from stages.enrollment.models import EnrollmentStatus, LegalFrame
from stages.enrollment.services.lifecycle import set_enrollment_status_unchecked
from stages.extensions import db
from stages.reports.open_statistics import clear_cache, compute_open_statistics, departement
from stages.scheduling.models import CourseStatus
from tests.helpers import login

NOW = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)  # 2025 is settled (1 February 2026)


@pytest.mark.parametrize("postal_code, expected", [
    ("75008", "75"), ("01000", "01"), ("20000", "2A"), ("20167", "2A"), ("20200", "2B"),
    ("20600", "2B"), ("97100", "971"), ("97200", "972"), ("97300", "973"), ("97400", "974"),
    ("97600", "976"), (" 13 001", "13"), ("7500", "inconnu"), ("ABCDE", "inconnu"), (None, "inconnu"),
])
def test_departement_from_postal_code(postal_code, expected):
    assert departement(postal_code) == expected


def _held_course(make, organizations, postal_code, people, frame=LegalFrame.COMPOSITION_PENALE,
                 certified=True, day=date(2025, 5, 12)):
    """A 2025 course at a venue of ``postal_code`` where ``people`` were present (history kept)."""
    course = make.course(organizations=organizations, venue=make.venue(postal_code=postal_code),
                         day=day, status=CourseStatus.CLOSED, capacity=max(people, 12))
    for _ in range(people):
        enrollment = make.enrollment(make.measure(frame=frame), course, status=EnrollmentStatus.SUMMONED)
        set_enrollment_status_unchecked(enrollment, EnrollmentStatus.ATTENDED, by=None)
        if certified:
            make.certificate(enrollment)
    return course


@pytest.fixture
def national(make):
    clear_cache()
    with time_machine.travel(datetime(2025, 6, 1, 9, tzinfo=timezone.utc), tick=False):
        opted = make.organization(name="Association ouverte", open_statistics=True)
        closed = make.organization(name="Association discrète")
        _held_course(make, [opted], "75011", 12)
        _held_course(make, [opted], "75011", 7, frame=LegalFrame.PEINE_STAGE)
        _held_course(make, [opted], "69003", 3, frame=LegalFrame.PEINE_STAGE, certified=False)
        _held_course(make, [closed], "13001", 40)  # not opted in: never published
        _held_course(make, [opted, closed], "33000", 9)  # co-organized with a refusing one
        db.session.commit()
    yield opted, closed
    clear_cache()


def test_only_opted_in_associations_count(national):
    with time_machine.travel(NOW, tick=False):
        (year,) = [t for t in compute_open_statistics() if t.year == 2025]
    assert year.departements == ["69", "75"]
    assert year.courses == {"69": 1, "75": 2}
    grid = year.people.values
    assert grid[-1][-1] == 22  # 12 + 7 + 3: nobody of Marseille nor Bordeaux
    assert year.completed.values[-1][-1] == 19


def test_public_page_and_csv_show_nothing_of_a_non_opted_association(client, national):
    with time_machine.travel(NOW, tick=False):
        page = client.get("/statistiques-ouvertes?annee=2025")
        data = client.get("/statistiques-ouvertes.csv")
    assert page.status_code == 200 and "public" in page.headers["Cache-Control"]
    text = page.get_data(as_text=True)
    assert "Méthode" in text and "secret statistique" in text
    assert ">13<" not in text and ">33<" not in text and "40" not in text
    assert "Association" not in text  # no organization named, no one's data
    rows = list(csv.reader(io.StringIO(data.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["annee", "departement", "cadre_legal", "stages", "personnes", "stages_effectues"]
    assert {row[1] for row in rows[1:]} == {"69", "75", "Ensemble"}
    published = {(row[1], row[2]): row[4] for row in rows[1:] if row[0] == "2025"}
    # Lyon's 3 people are a small count: suppressed, and so is what would give them away.
    assert published[("69", "peine_stage")] == "s"
    assert published[("69", "ensemble")] == "s"
    assert published[("75", "composition_penale")] == "12"
    for value in published.values():
        assert value == "s" or not 0 < int(value) < 5


def test_an_organizer_opts_in_and_the_page_follows(client, national, make):
    opted, closed = national
    organizer = make.user(Role.ORGANIZER, [closed])
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        assert ">13<" not in client.get("/statistiques-ouvertes?annee=2025").get_data(as_text=True)
        login(client, organizer)
        response = client.post(f"/organisations/{closed.id}/statistiques-ouvertes", data={"participer": "oui"})
        assert response.status_code == 302
        # Another association's consent is not theirs to give.
        assert client.post(f"/organisations/{opted.id}/statistiques-ouvertes", data={"participer": "non"}).status_code == 403
        text = client.get("/statistiques-ouvertes?annee=2025").get_data(as_text=True)
    assert ">13<" in text and ">33<" in text
    entry = db.session.execute(
        sa.select(AuditEntry.action, AuditEntry.object_id, AuditEntry.details)
        .where(AuditEntry.action == "organization.open_statistics_changed")
    ).one()
    assert tuple(entry) == ("organization.open_statistics_changed", closed.id, "oui")


def test_the_current_year_is_not_published(national, make):
    """2026's figures are not settled until 1 February 2027."""
    with time_machine.travel(datetime(2026, 11, 1, 9, tzinfo=timezone.utc), tick=False):
        opted, _ = national
        _held_course(make, [opted], "75011", 8, day=date(2026, 5, 4))
        db.session.commit()
        assert {t.year for t in compute_open_statistics()} == {2025}
