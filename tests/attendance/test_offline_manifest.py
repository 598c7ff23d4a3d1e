"""The day offline: what the service worker is told to keep (the manifest), the worker script and
« Préparer la journée hors ligne ».

The manifest is the only list the worker keeps (static/js/attendance-sw.js caches exactly its
``urls``): these tests read it as the worker does and check that it holds that course's
attendance pages and the files they load — and no URL of another course or another person.
"""
import re
from datetime import date, datetime, time, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from stages.auth.models import AuditEntry, Role
from stages.extensions import db
from tests.helpers import login

DAY = date(2026, 3, 12)  # a Thursday (Paris: UTC+1)
ON_THE_DAY = datetime(2026, 3, 12, 15, 0, tzinfo=timezone.utc)
STATIC = Path(__file__).resolve().parents[2] / "static"


@pytest.fixture
def day(make):
    d = type("Day", (), {})()
    d.assoc = make.organization(name="APCARS")
    d.facilitator = make.user(Role.FACILITATOR, [d.assoc])
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=timezone.utc), tick=False):
        d.course = make.course(organizations=[d.assoc], facilitators=[d.facilitator], day=DAY,
                               parts=((time(9, 30), time(12, 30)), (time(13, 30), time(16, 30))))
        d.other = make.course(organizations=[d.assoc], facilitators=[d.facilitator], day=date(2026, 3, 20))
        d.people = [make.enrollment(make.measure(handling=d.assoc), d.course) for _ in range(2)]
    db.session.commit()
    return d


def manifest(client, course_id):
    response = client.get(f"/stages/{course_id}/presence/hors-ligne.json")
    assert response.status_code == 200
    return response.get_json()


def test_the_manifest_lists_this_course_s_attendance_pages_and_their_files_only(client, day):
    login(client, day.facilitator)
    data = manifest(client, day.course.id)
    pages = [f"/stages/{day.course.id}/presence/{part.id}" for part in day.course.parts]
    files = [url for url in data["urls"] if url.startswith("/static/")]
    assert data["urls"] == pages + files + ["/favicon.ico"]
    assert data["cache"] == f"stages-presence-{day.course.id}"
    for url in files:
        assert (STATIC / url.removeprefix("/static/")).is_file(), url
    # Nothing of another course, nobody's own page (a person, an enrollment, a measure).
    for url in data["urls"]:
        ids = [int(n) for n in re.findall(r"/stages/(\d+)", url)]
        assert ids in ([], [day.course.id]), url
        assert not re.search(r"/(personnes|inscriptions|mesures|attestations)/", url), url
    others = set(manifest(client, day.other.id)["urls"]) - {*files, "/favicon.ico"}
    assert others and not others & set(data["urls"])


def test_every_file_the_attendance_page_loads_is_in_the_manifest(client, day):
    with time_machine.travel(ON_THE_DAY, tick=False):
        login(client, day.facilitator)
        data = manifest(client, day.course.id)
        for page in data["urls"][:2]:
            html = client.get(page).get_data(as_text=True)
            loaded = set(re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html))
            assert loaded and loaded <= set(data["urls"]), loaded - set(data["urls"])
            for url in data["urls"]:
                with client.get(url) as response:
                    assert response.status_code == 200, url


def test_the_manifest_expires_at_the_end_of_the_day_after_the_last_half_day(client, day):
    login(client, day.facilitator)
    data = manifest(client, day.course.id)
    # Friday 13 March 2026, 24:00 in Paris (UTC+1) = Saturday 14 March, 00:00 Paris.
    assert data["expires_at"] == "2026-03-13T23:00:00Z"
    assert data["clear_after"] == "2026-03-12T15:30:00Z"  # the last half-day's end


def test_the_worker_is_served_from_inside_its_scope_and_never_kept_stale(client, day):
    login(client, day.facilitator)
    with client.get(f"/stages/{day.course.id}/presence/sw.js") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"
        assert response.headers["Cache-Control"] == "no-cache"
        assert b"hors-ligne.json" in response.data


def test_preparing_the_day_is_audited_and_says_what_the_device_keeps(client, day):
    login(client, day.facilitator)
    html = client.get(f"/stages/{day.course.id}/presence/preparer").get_data(as_text=True)
    assert f'data-worker="/stages/{day.course.id}/presence/sw.js"' in html
    assert f'data-scope="/stages/{day.course.id}/presence/"' in html
    assert "vendredi 13 mars 2026" in html  # kept until the end of the day after
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "attendance.offline_prepared")).one()
    assert entry.user_id == day.facilitator.id


def test_another_course_s_facilitator_gets_none_of_it(client, make, day):
    stranger = make.user(Role.FACILITATOR, [day.assoc])
    db.session.commit()
    login(client, stranger)
    for tail in ("sw.js", "hors-ligne.json", "preparer"):
        assert client.get(f"/stages/{day.course.id}/presence/{tail}").status_code == 403, tail


def test_a_half_day_not_begun_is_kept_ready_to_open_at_its_start(client, day):
    """The morning's copy of the afternoon page must work offline once the afternoon begins."""
    morning, afternoon = day.course.parts
    with time_machine.travel(datetime(2026, 3, 12, 10, 0, tzinfo=timezone.utc), tick=False):
        login(client, day.facilitator)
        html = client.get(f"/stages/{day.course.id}/presence/{afternoon.id}").get_data(as_text=True)
    assert "pas commencé" in html and "data-opens-notice" in html
    assert f'data-opens-at="{afternoon.starts_at.isoformat()}"' in html
    assert "data-attendance-offline" in html and 'id="signature-dialog"' in html
    assert html.count('class="attendance-row"') == html.count("disabled>") == 2  # until it opens
