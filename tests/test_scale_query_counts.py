"""The key pages send as many SQL statements on a national-scale database as on a tiny one.

The generator (stages/generate/) fills the test database at two scales, ten times apart; the
benchmark's pages (bench/run.py) are opened on the same Paris objects at both, and each page must
send the same number of statements: a page that queries per venue, per association or per year of
history fails here. The Paris pages show the same rows at both scales; the admin's national views
(calendar, iCal feed, dashboard) show ten times more at the larger one, so a query per row shows
up too.
"""
from __future__ import annotations

from contextlib import nullcontext

import sqlalchemy as sa

from stages.auth.models import User
from stages.extensions import db
from bench.generate import (
    BENCH_ADMIN,
    BENCH_LIAISON,
    BENCH_ORGANIZER,
    BENCH_PASSWORD,
    bench_targets,
    generate,
)
from tests.conftest import _empty_all_tables
from tests.helpers import count_queries, login, search

SMALL, LARGE = 0.001, 0.01  # 20 and 200 courses: a few seconds each


def _clients(client) -> dict:
    """One logged-in client per account the benchmark uses, and one anonymous."""
    clients = {None: client.application.test_client()}
    for who, email in (("organizer", BENCH_ORGANIZER), ("liaison", BENCH_LIAISON),
                       ("admin", BENCH_ADMIN)):
        user = db.session.scalar(sa.select(User).where(User.email == email))
        logged_in = client.application.test_client()
        assert login(logged_in, user, BENCH_PASSWORD).status_code == 302, email
        clients[who] = logged_in
    return clients


def _page_counts(client) -> dict[str, int]:
    """The statements each key page sends (writes included: attendance save, bulk enrollment)."""
    t = bench_targets()
    clients = _clients(client)
    course = f"/stages/{t.course_id}"
    attendance = f"{course}/presence/{t.part_id}"
    feed = f"/agenda/{t.organizer_token}/tous.ics"
    admin_token = db.session.scalar(sa.select(User.feed_token).where(User.email == BENCH_ADMIN))
    expected = _expected_enrollments(t.course_id)
    pages = {
        "calendar": ("organizer", "GET", "/calendrier", None, 200),
        "calendar_admin": ("admin", "GET", "/calendrier", None, 200),
        "calendar_admin_list": ("admin", "GET", "/calendrier/liste?quand=passes", None, 200),
        "ical_admin": (None, "GET", f"/agenda/{admin_token}/tous.ics", None, 200),
        "dashboard_admin": ("admin", "GET", "/tableau-de-bord", None, 200),
        "session": ("organizer", "GET", course, None, 200),
        "roster_pdf": ("organizer", "GET", f"{course}/emargement.pdf", None, 200),
        "attendance": ("organizer", "GET", attendance, None, 200),
        "attendance_save": ("organizer", "POST", attendance,
                            {**{f"status-{e}": "present" for e in expected},
                             "reason": "Correction"}, 302),
        "participant": ("organizer", "GET", f"/personnes/{t.participant_id}", None, 200),
        "dashboard": ("liaison", "GET", "/tableau-de-bord", None, 200),
        # The search was posted before (names stay out of URLs): the page reads it back.
        "dashboard_search": ("liaison", "GET", "/tableau-de-bord?recherche=1", None, 200),
        "ical": (None, "GET", feed, None, 200),
        "verification": (None, "GET", f"/verification/{t.certificate_code}", None, 200),
        "bulk_enroll": ("organizer", "POST", f"/stages/{t.enroll_course_id}/inscrire",
                        {"measure": [str(i) for i in t.measure_ids]}, 302),
    }
    search(clients["liaison"], "/tableau-de-bord", t.search_prefix)
    # Attendance is taken once its half-day has begun: an hour into it, whatever the scale's
    # target (a course of next week at the smallest scale, one held last week at a larger one).
    from datetime import timedelta

    import time_machine

    from stages.scheduling.models import CoursePart

    during_part = db.session.get(CoursePart, t.part_id).starts_at + timedelta(hours=1)
    counts = {}
    for key, (who, method, url, data, status) in pages.items():
        clock = time_machine.travel(during_part, tick=False) if key.startswith("attendance") else nullcontext()
        with clock:
            # At that moment, with a login of that moment.
            user = _clients(client)[who] if key.startswith("attendance") else clients[who]
            with count_queries() as counter:
                response = user.open(url, method=method, data=data)
        assert response.status_code == status, (key, url, response.status_code)
        counts[key] = counter.count
        if key == "ical":
            etag = response.headers["ETag"]
            with count_queries() as counter:
                response = clients[None].get(feed, headers={"If-None-Match": etag})
            assert response.status_code == 304
            counts["ical_304"] = counter.count
            # Unchanged, asked again without a validator: the copy kept in the database.
            with count_queries() as counter:
                response = clients[None].get(feed)
            assert response.status_code == 200
            counts["ical_cached"] = counter.count
    # The API's measures list (a token, no cookie): the benchmark liaison's, and an admin's of
    # all of France, whose page is as full at both scales.
    from stages.api.tokens import create_token
    from stages.timeutil import today_local
    from bench.generate import bench_api_token

    admin = db.session.scalar(sa.select(User).where(User.email == BENCH_ADMIN))
    tokens = {"api_measures": bench_api_token(),
              "api_measures_admin": create_token(admin, "Test", today_local() + timedelta(days=1)).value}
    db.session.commit()
    for key, token in tokens.items():
        with count_queries() as counter:
            response = clients[None].get("/api/v1/measures", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200 and len(response.get_json()["items"]) == 50, key
        counts[key] = counter.count
    return counts


def _expected_enrollments(course_id: int) -> list[int]:
    from stages.enrollment.statuses import SEAT_HOLDING_STATUSES
    from stages.enrollment.models import Enrollment

    return list(db.session.scalars(
        sa.select(Enrollment.id).where(
            Enrollment.course_id == course_id, Enrollment.status.in_(SEAT_HOLDING_STATUSES)
        )
    ))


def _at_scale(client, scale: float) -> dict[str, int]:
    report = generate(scale, seed=7)
    db.session.commit()
    assert report.counts["course_sessions"] >= 0.9 * 20_000 * scale  # the scale was honoured
    try:
        return _page_counts(client)
    finally:
        db.session.rollback()
        db.session.remove()
        _empty_all_tables()


def test_key_pages_send_the_same_queries_at_every_scale(client):
    small = _at_scale(client, SMALL)
    large = _at_scale(client, LARGE)
    assert large == small
