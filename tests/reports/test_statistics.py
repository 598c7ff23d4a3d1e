"""Statistics: known figures on a small dataset, scope per role, charts without scripts."""
from types import SimpleNamespace
from datetime import date, datetime, time, timedelta, timezone

import pytest
import time_machine

from stages.auth.models import Role
from stages.enrollment.models import EnrollmentStatus, LegalFrame
from stages.extensions import db
from stages.reports import statistics
from stages.reports.statistics import _percentile
from stages.scheduling.models import CourseStatus
from stages.timeutil import local_to_utc
from tests.helpers import login

NOW = datetime(2025, 12, 15, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def year_2025(make):
    """2025: two closed sessions in January, one in March, one cancelled; one session in 2024.

    Parquet A's four people in the closed sessions: three attended (two certificates), one
    absent; decided 10, 20, 30 and 40 days before their course.
    """
    with time_machine.travel(NOW, tick=False):
        w = SimpleNamespace()
        w.assoc, w.other_assoc = make.organization(), make.organization()
        w.parquet_a, w.parquet_b = make.authority(), make.authority()
        w.organizer = make.user(Role.ORGANIZER, [w.assoc])
        w.other_organizer = make.user(Role.ORGANIZER, [w.other_assoc])
        w.liaison_a = make.user(Role.LIAISON, [w.parquet_a])
        w.liaison_b = make.user(Role.LIAISON, [w.parquet_b])
        w.admin = make.user(Role.ADMIN)

        def course(day, status=CourseStatus.CLOSED, assoc=None):
            return make.course(organizations=[assoc or w.assoc], day=day, status=status)

        jan_1, jan_2 = course(date(2025, 1, 14)), course(date(2025, 1, 28))
        mar = course(date(2025, 3, 11))
        course(date(2025, 4, 8), CourseStatus.CANCELLED)
        course(date(2024, 11, 5))

        def seat(course, status, delay, frame=LegalFrame.COMPOSITION_PENALE, authority=None):
            day = course.starts_at.date()
            measure = make.measure(
                authority=authority or w.parquet_a, handling=w.assoc, frame=frame,
                decision_date=day - timedelta(days=delay),
            )
            return make.enrollment(measure, course, status=status)

        first = seat(jan_1, EnrollmentStatus.ATTENDED, 10)
        second = seat(jan_1, EnrollmentStatus.ATTENDED, 20, LegalFrame.STAGE_CONTRAVENTION)
        seat(jan_2, EnrollmentStatus.ATTENDED, 30, LegalFrame.STAGE_CONTRAVENTION)
        seat(mar, EnrollmentStatus.ABSENT_UNEXCUSED, 40)
        make.certificate(first)
        make.certificate(second)
        revoked = make.certificate(
            seat(mar, EnrollmentStatus.RESCHEDULED, 5), revoked_at=NOW, revocation_reason="Erreur",
        )
        assert revoked.revoked_at
        # Another association's session, with parquet B's person: invisible to w.organizer.
        w.foreign = course(date(2025, 6, 3), assoc=w.other_assoc)
        seat(w.foreign, EnrollmentStatus.ATTENDED, 100, LegalFrame.PEINE_STAGE, w.parquet_b)
        db.session.commit()
    return w


def test_figures_for_the_organizer(year_2025):
    with time_machine.travel(NOW, tick=False):
        stats = statistics.compute_statistics(year_2025.organizer, 2025)
    assert dict(stats.years) == {2024: 1, 2025: 3}
    months = dict(stats.months)
    assert months["janvier"] == 2 and months["mars"] == 1 and months["avril"] == 0
    assert sum(months.values()) == 3
    frames = dict(stats.frames)
    assert frames[LegalFrame.COMPOSITION_PENALE.label] == 2
    assert frames[LegalFrame.STAGE_CONTRAVENTION.label] == 2
    assert frames[LegalFrame.PEINE_STAGE.label] == 0
    assert stats.seats == 4 and stats.attended == 3 and stats.certificates == 2
    assert stats.attendance_rate == 0.75 and stats.completion_rate == 0.5
    assert dict(stats.outcomes)[EnrollmentStatus.ABSENT_UNEXCUSED.label] == 1
    assert stats.delays.count == 4
    assert (stats.delays.q1, stats.delays.median, stats.delays.q3) == (17.5, 25.0, 32.5)
    assert dict(stats.delays.histogram)["0 à 30 jours"] == 3


def test_scope_of_liaisons_and_admins(year_2025):
    with time_machine.travel(NOW, tick=False):
        mine = statistics.compute_statistics(year_2025.liaison_a, 2025)
        theirs = statistics.compute_statistics(year_2025.liaison_b, 2025)
        everything = statistics.compute_statistics(year_2025.admin, 2025)
        other = statistics.compute_statistics(year_2025.other_organizer, 2025)
    assert mine.seats == 4 and sum(n for _, n in mine.months) == 3
    assert theirs.seats == 1 and theirs.attended == 1 and theirs.completion_rate == 0
    assert sum(n for _, n in theirs.months) == 1
    assert dict(theirs.frames)[LegalFrame.PEINE_STAGE.label] == 1
    assert theirs.delays.median == 100.0
    assert everything.delays.count == 5 and sum(n for _, n in everything.months) == 4
    assert everything.seats == 5 and everything.certificates == 2
    assert sum(n for _, n in other.months) == 1 and other.seats == 1 and other.attendance_rate == 1.0


def test_months_follow_paris_time(make):
    """A session starting at 00:30 on 1 March in Paris is 23:30 UTC on 28 February."""
    organizer = make.user(Role.ORGANIZER, [assoc := make.organization()])
    start = local_to_utc(date(2025, 3, 1), time(0, 30))
    assert start.month == 2
    make.course_at([(start, start + timedelta(hours=3))], organizations=[assoc])
    db.session.commit()
    months = dict(statistics.courses_per_month(organizer, 2025))
    assert months["mars"] == 1 and months["février"] == 0


def test_percentile_matches_percentile_cont():
    assert _percentile([(10, 1)], 1, 0.5) == 10
    assert _percentile([(1, 2), (5, 1), (9, 1)], 4, 0.5) == 3.0
    assert _percentile([(0, 3), (100, 1)], 4, 0.75) == 25.0
    assert _percentile([], 0, 0.5) is None


def test_statistics_page_renders_svg_charts_and_tables(client, year_2025):
    with time_machine.travel(NOW, tick=False):
        login(client, year_2025.organizer)
        response = client.get("/statistiques?annee=2025")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count('role="img"') == 5
    assert "<title id=\"stages-par-mois-title\">Stages par mois en 2025</title>" in html
    assert "75,0\u00a0%" in html and "50,0\u00a0%" in html and "25 jours" in html
    assert "<script>" not in html and "<script " not in html.replace(
        '<script src="/static/js/stages.js" defer></script>', ""
    )
    assert "cdn" not in html.lower() and "https://" not in html
    assert 'style="' not in html


def test_statistics_year_selector_and_bad_years(client, year_2025):
    with time_machine.travel(NOW, tick=False):
        login(client, year_2025.liaison_a)
        html = client.get("/statistiques?annee=2024").get_data(as_text=True)
        assert '<option value="2024" selected>' in html
        assert client.get("/statistiques?annee=1").status_code == 200
        assert client.get("/statistiques?annee=abc").status_code == 200


def test_facilitators_have_no_statistics(client, make, year_2025):
    login(client, make.user(Role.FACILITATOR, [year_2025.assoc]))
    assert client.get("/statistiques").status_code == 403
