"""Each role's home page is its to-do list: every item a count, and the count is the number of
lines behind its link."""
from __future__ import annotations

import re
from html import unescape as html_unescape
from datetime import datetime, time, timedelta, timezone

import pytest
import time_machine

from stages.auth.models import Role
from stages.enrollment.models import EnrollmentStatus, MeasureStatus
from stages.extensions import db
from stages.jobs.models import JobRun
from stages.reports.models import Bilan
from stages.scheduling.models import CourseStatus
from stages.timeutil import local_to_utc, today_local
from tests.helpers import login, queries_for

# Thursday 11 March 2027, 15:00 in Paris: the morning's half-day is over, the afternoon's is on.
NOW = datetime(2027, 3, 11, 14, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _items(html: str) -> dict[str, tuple[int, str]]:
    """{label: (count, link)} of the to-do lists on a home page."""
    found = re.findall(
        r'<a href="([^"]+)">\s*<span class="bucket-count">(\d+)</span>\s*<span class="bucket-label">([^<]+)</span>',
        html,
    )
    return {html_unescape(label): (int(count), html_unescape(link)) for link, count, label in found}


def _course_rows(client, link: str) -> int:
    html = client.get(link).text
    return len(re.findall(r'href="/stages/\d+">', html.split("<tbody>", 1)[1])) if "<tbody>" in html else 0


@pytest.fixture
def association(make):
    return make.organization(name="APCARS")


@pytest.fixture
def organizer(make, association):
    return make.user(Role.ORGANIZER, [association])


def _one_of_each(make, association, facilitator, shift=0):
    """One course in each work list of the home page, and one that is in none (``shift``: that
    many days later, for more of the same)."""
    today = today_local() + timedelta(days=shift)
    authority = make.authority()
    courses = {
        # A half-day this morning: today's, and over at its end though still « programmé ».
        "today_over": make.course(organizations=[association], facilitators=[facilitator], day=today,
                                  parts=((time(9, 0), time(12, 0)),)),
        "held": make.course(organizations=[association], facilitators=[facilitator],
                            day=today - timedelta(days=2), status=CourseStatus.HELD),
        "no_facilitator": make.course(organizations=[association], day=today + timedelta(days=40)),
        "under_minimum": make.course(organizations=[association], facilitators=[facilitator],
                                     day=today + timedelta(days=10), min_participants=6),
        "full": make.course(organizations=[association], facilitators=[facilitator],
                            day=today + timedelta(days=50), capacity=1),
        "fine": make.course(organizations=[association], facilitators=[facilitator],
                            day=today + timedelta(days=60)),
    }
    make.enrollment(make.measure(authority=authority, handling=association, status=MeasureStatus.SUMMONED),
                    courses["full"])
    closed, _ = make.closed_course_with(people=2, organizations=[association], authority=authority,
                                        handling=association, day=today - timedelta(days=3))
    reported, _ = make.closed_course_with(people=1, organizations=[association], authority=authority,
                                          handling=association, day=today - timedelta(days=4))
    db.session.add(Bilan(course_id=reported.id, authority_id=authority.id, sent_at=NOW))
    courses["closed"], courses["reported"] = closed, reported
    # People: one referral to enroll, one enrolled not summoned, one past their deadline.
    make.measure(authority=authority, handling=association, status=MeasureStatus.REFERRED)
    make.enrollment(make.measure(authority=authority, handling=association, status=MeasureStatus.ENROLLED),
                    courses["fine"], status=EnrollmentStatus.ENROLLED)
    make.measure(authority=authority, handling=association, status=MeasureStatus.REFERRED,
                 deadline=today - timedelta(days=1))
    db.session.commit()
    return courses


def test_organizer_home_counts_what_its_links_list(client, make, association, organizer):
    facilitator = make.user(Role.FACILITATOR, [association])
    _one_of_each(make, association, facilitator)
    # Another association's courses count nowhere.
    other = make.organization(name="Autre")
    make.course(organizations=[other], day=today_local(), parts=((time(9, 0), time(12, 0)),))
    db.session.commit()
    login(client, organizer)
    html = client.get("/").text
    items = _items(html)
    assert {label: count for label, (count, _) in items.items()} == {
        "À convoquer": 3,  # the two referrals and the enrolled person not summoned
        "Échéance dépassée": 1,
        "Échéance dans moins de 30 jours": 0,
        "Stages du jour": 1,
        "À clôturer": 2,  # held two days ago, and this morning's
        "Bilans à envoyer": 1,
        "Sans intervenant·e": 1,
        "Sous le minimum d'inscrits": 1,
        "Complets": 1,
        "Transmissions sans accusé de réception": 0,
    }
    for label, (count, link) in items.items():
        if link.startswith("/calendrier/liste"):
            assert _course_rows(client, link) == count, label
    assert "À clôturer" in html and "Bilans à envoyer" in html


def test_work_lists_are_the_lists_behind_the_links(client, make, association, organizer):
    facilitator = make.user(Role.FACILITATOR, [association])
    courses = _one_of_each(make, association, facilitator)
    login(client, organizer)
    expected = {
        "aujourdhui": {"today_over"},
        "a-cloturer": {"today_over", "held"},
        "bilans-a-envoyer": {"closed"},
        "sans-intervenant": {"no_facilitator"},
        "sous-le-minimum": {"under_minimum"},
        "complets": {"full"},
    }
    for slug, names in expected.items():
        html = client.get(f"/calendrier/liste?etat={slug}").text
        shown = {int(i) for i in re.findall(r'href="/stages/(\d+)">', html.split("<tbody>", 1)[1])}
        assert shown == {courses[name].id for name in names}, slug


def test_an_unknown_work_list_is_a_notice_not_an_error(client, make, organizer):
    login(client, organizer)
    response = client.get("/calendrier/liste?etat=n-importe-quoi")
    assert response.status_code == 200
    assert "Cette liste de stages n'existe pas" in html_unescape(response.text)


def test_facilitator_finds_the_course_that_ended_this_morning_and_takes_attendance(client, make, association):
    facilitator = make.user(Role.FACILITATOR, [association])
    today = today_local()
    this_morning = make.course(organizations=[association], facilitators=[facilitator], day=today,
                               parts=((time(9, 0), time(12, 0)),), title="Stage de ce matin")
    tomorrow = make.course(organizations=[association], facilitators=[facilitator],
                           day=today + timedelta(days=1), title="Stage de demain")
    make.course(organizations=[association], day=today, title="Stage d'un collègue")
    make.course(organizations=[association], facilitators=[facilitator], day=today - timedelta(days=1),
                title="Stage d'hier")
    db.session.commit()
    login(client, facilitator)
    html = client.get("/").text
    assert "Stage de ce matin" in html and "Stage de demain" in html
    assert "Stage d'un collègue" not in html and "Stage d'hier" not in html
    part = this_morning.parts[0]
    assert f'href="/stages/{this_morning.id}/presence/{part.id}">Prendre la présence' in html
    # Tomorrow's attendance cannot be taken yet: not offered; its sign-in sheet can be printed.
    assert f"/stages/{tomorrow.id}/presence/" not in html
    assert f'href="/stages/{tomorrow.id}/emargement"' in html
    assert "À faire" not in html  # a facilitator's home is their courses


def test_facilitator_without_courses_is_told_so(client, make, association):
    login(client, make.user(Role.FACILITATOR, [association]))
    assert "Aucun stage ne vous est confié" in client.get("/").text


def test_admin_home_lists_failed_jobs_and_locked_accounts(client, make):
    admin = make.user(Role.ADMIN)
    make.user(Role.ORGANIZER, locked_until=NOW + timedelta(minutes=10), failed_logins=5)
    make.user(Role.ORGANIZER, locked_until=NOW - timedelta(minutes=10), failed_logins=5)
    slot = local_to_utc(today_local(), time(3))
    db.session.add_all([
        JobRun(job="purge_expired_data", slot=slot - timedelta(days=1), outcome="failure"),
        JobRun(job="purge_expired_data", slot=slot, outcome="success"),  # failed, then recovered
        JobRun(job="send_deadline_digests", slot=slot, outcome="failure"),
    ])
    db.session.commit()
    login(client, admin)
    items = _items(client.get("/").text)
    assert items["Tâches en échec"] == (1, "/admin/taches")
    assert items["Comptes bloqués"] == (1, "/admin/comptes?etat=bloques")
    locked_page = client.get("/admin/comptes?etat=bloques").text
    assert locked_page.count("Bloqué</span>") == 1


def test_liaison_home_is_their_dashboard(client, make):
    login(client, make.user(Role.LIAISON, [make.authority()]))
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/tableau-de-bord")


@pytest.mark.parametrize("role", [Role.ORGANIZER, Role.FACILITATOR, Role.ADMIN])
def test_home_query_count_does_not_grow(client, make, association, role):
    user = make.user(role, [association] if role != Role.ADMIN else [])
    facilitator = user if role == Role.FACILITATOR else make.user(Role.FACILITATOR, [association])
    _one_of_each(make, association, facilitator)
    login(client, user)
    small = queries_for(client, "/")
    for week in range(1, 4):
        _one_of_each(make, association, facilitator, shift=7 * week)
    assert queries_for(client, "/") == small
