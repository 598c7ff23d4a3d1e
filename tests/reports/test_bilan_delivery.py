"""The convocations' proofs of delivery in the bilan (CSV and PDF) and on a person's page, read
in a fixed number of queries."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pypdf
import pytest

from stages.auth.models import Role
from stages.enrollment.convocation.delivery import DeliveryChannel, DeliveryStatus, record_delivery
from stages.enrollment.models import EnrollmentStatus
from stages.extensions import db
from stages.reports import bilans
from stages.timeutil import fr_datetime
from tests.helpers import count_queries, login, queries_for

SENT = datetime(2026, 2, 20, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def closed(make):
    org, authority = make.organization(name="APCARS"), make.authority(name="Parquet de Paris")
    course, enrollments = make.closed_course_with(people=2, organizations=[org], authority=authority, handling=org)
    organizer = make.user(Role.ORGANIZER, [org])
    db.session.commit()
    return {"course": course, "enrollments": enrollments, "authority": authority, "organizer": organizer,
            "org": org}


def _prove(enrollment, index: int = 0) -> None:
    record_delivery(enrollment, DeliveryChannel.EMAIL, DeliveryStatus.ACCEPTED, at=SENT,
                    message_id=f"<proof{enrollment.id}x{index}@stages.test>")
    record_delivery(enrollment, DeliveryChannel.REGISTERED_LETTER, DeliveryStatus.POSTED,
                    at=SENT + timedelta(hours=1), letter_number=f"1A{enrollment.id:05d}{index:06d}")


def test_the_bilan_states_each_convocation_s_proofs(client, closed):
    first, second = closed["enrollments"]
    _prove(first)
    db.session.commit()
    login(client, closed["organizer"])
    url = f"/stages/{closed['course'].id}/bilans/{closed['authority'].id}"
    data = client.get(url + ".csv").get_data().decode("utf-8-sig")
    rows = {r["N° de parquet"]: r for r in csv.DictReader(io.StringIO(data), delimiter=";")}
    proof = rows[first.measure.case_reference]["Preuves d'envoi de la convocation"]
    letter = f"1A{first.id:05d}000000"
    assert fr_datetime(SENT).startswith("20/02/2026 à 10")  # Paris time
    assert proof == (
        f"{fr_datetime(SENT)} : Courriel accepté par le serveur de messagerie (Message-ID <proof{first.id}x0@stages.test>)"
        f" ; {fr_datetime(SENT + timedelta(hours=1))} : Lettre recommandée avec AR n° {letter[:2]} {letter[2:5]} {letter[5:8]} {letter[8:12]} {letter[12:]}"
    )
    assert rows[second.measure.case_reference]["Preuves d'envoi de la convocation"] == "Aucune preuve d'envoi enregistrée."
    reader = pypdf.PdfReader(io.BytesIO(client.get(url + ".pdf").get_data()))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert "Convocations : preuves d'envoi" in text
    assert "Courriel accepté par le serveur de messagerie" in text and "Aucune preuve d'envoi enregistrée." in text


def test_bilan_proofs_take_one_query_whatever_the_number_of_people(make, closed):
    course, authority = closed["course"], closed["authority"]
    for enrollment in closed["enrollments"]:
        _prove(enrollment)
    db.session.commit()
    with count_queries() as small:
        bilans.bilan_rows(course, authority.id)
    for index in range(6):
        enrollment = make.enrollment(make.measure(authority=authority, handling=closed["org"]), course,
                                     status=EnrollmentStatus.ATTENDED)
        _prove(enrollment, index)
    db.session.commit()
    with count_queries() as large:
        rows = bilans.bilan_rows(course, authority.id)
    assert len(rows) == 8 and all(len(row.summons) == 2 for row in rows)
    assert large.count == small.count


def test_the_person_s_page_reads_the_proofs_in_one_query_whatever_their_number(client, make, closed):
    org = closed["org"]
    person = make.participant(email="p@example.org")
    first = make.enrollment(make.measure(person, handling=org), make.course(organizations=[org]),
                            status=EnrollmentStatus.SUMMONED)
    _prove(first, 90)
    db.session.commit()
    login(client, closed["organizer"])
    client.get(f"/personnes/{person.id}")  # the file's first read: its « consultations » list is empty
    small = queries_for(client, f"/personnes/{person.id}")
    for index in range(4):
        enrollment = make.enrollment(make.measure(person, handling=org), make.course(organizations=[org]),
                                     status=EnrollmentStatus.SUMMONED)
        for repeat in range(3):
            _prove(enrollment, index * 10 + repeat)
    db.session.commit()
    page = client.get(f"/personnes/{person.id}").get_data(as_text=True)
    assert page.count("Courriel accepté par le serveur de messagerie") == 13
    assert queries_for(client, f"/personnes/{person.id}") == small
