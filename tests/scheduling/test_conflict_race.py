"""Two organizers saving overlapping bookings at the same moment: the database lets one win.

Both requests pass the check in Python (neither sees the other's uncommitted session), then both
write; the exclusion constraint (PostgreSQL) or the trigger under SQLite's single writer refuses
the second. Runs on both databases.
"""
import threading
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
import time_machine
from flask.testing import FlaskClient

from stages.auth.models import Role
from stages.extensions import db
from stages.scheduling.services import conflicts
from stages.scheduling.models import Course
from tests.factories import PASSWORD
from tests.scheduling.test_courses import form_data


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc), tick=False):
        yield


@pytest.mark.parametrize("clash", ["venue", "facilitator"])
def test_concurrent_overlapping_bookings_only_one_wins(app, make, monkeypatch, clash):
    team = type("Team", (), {})()
    team.apcars = make.organization(name="APCARS")
    team.scelles = make.organization(name="Fondation Scelles")
    team.julien = make.user(Role.FACILITATOR, [team.apcars], full_name="Julien Morel")
    team.lea = make.user(Role.FACILITATOR, [team.scelles], full_name="Léa Fabre")
    organizers = [make.user(Role.ORGANIZER, [team.apcars]) for _ in range(2)]
    venues = [make.venue(capacity=14), make.venue(capacity=14)]
    db.session.commit()

    barrier = threading.Barrier(2, timeout=20)
    original = conflicts.find_conflicts

    def check_then_wait(*args, **kwargs):
        found = original(*args, **kwargs)
        barrier.wait()  # both requests have passed the Python check: now race to write
        return found

    # Everything the threads need, read now: they run outside this test's app context.
    requests = []
    for index in range(2):
        team.venue = venues[0] if clash == "venue" else venues[index]
        facilitators = [str(team.julien.id)] if clash == "facilitator" else []
        requests.append(
            (organizers[index].email, form_data(team, day="2026-03-12", facilitators=facilitators))
        )
    monkeypatch.setattr(conflicts, "find_conflicts", check_then_wait)
    results = []

    def organizer_saves(index):
        email, data = requests[index]
        client = FlaskClient(app, app.response_class, use_cookies=True)
        client.post("/connexion", data={"email": email, "password": PASSWORD})
        response = client.post("/stages/nouveau", data=data)
        results.append((response.status_code, response.get_data(as_text=True)))

    threads = [threading.Thread(target=organizer_saves, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    codes = sorted(code for code, _ in results)
    assert codes == [200, 302], [(c, b[:300]) for c, b in results]
    loser = next(body for code, body in results if code == 200)
    assert "être réservé par une autre personne" in loser
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Course)) == 1
