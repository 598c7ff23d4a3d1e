"""The token-protected feeds over HTTP: scope, revocation, bad tokens, caching, query counts."""
from datetime import date, datetime, time, timedelta, timezone

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from stages.auth.models import Role
from stages.calendar_feeds.models import CachedFeed
from stages.extensions import db
from stages.scheduling.models import Course, CourseStatus
from stages.timeutil import today_local
from tests.helpers import count_queries, login, queries_for


def _feed(user, name="mes-stages.ics") -> str:
    return f"/agenda/{user.feed_token}/{name}"


def _parse(response) -> Calendar:
    assert response.status_code == 200, response.status_code
    calendar = Calendar.from_ical(response.data)
    for component in calendar.walk():
        assert component.errors == [], (component.name, component.errors)
    return calendar


def _course_ids(calendar: Calendar) -> set[int]:
    return {int(str(event["URL"]).rsplit("/", 1)[1]) for event in calendar.events}


@pytest.fixture
def team(make):
    """An association, its organizer, two facilitators each with a session in one venue."""
    org = make.organization(name="APCARS")
    venue = make.venue(name="MJD du 17e")
    alice = make.user(Role.FACILITATOR, [org], full_name="Alice Martin")
    bruno = make.user(Role.FACILITATOR, [org], full_name="Bruno Petit")
    day = today_local() + timedelta(days=10)
    return {
        "org": org,
        "venue": venue,
        "organizer": make.user(Role.ORGANIZER, [org]),
        "alice": alice,
        "bruno": bruno,
        "alice_course": make.course(venue, [org], [alice], day=day),
        "bruno_course": make.course(venue, [org], [bruno], day=day + timedelta(days=1)),
    }


def test_a_dst_series_in_the_feed_keeps_0930_paris_time(client, make, time_machine):
    time_machine.move_to(datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc), tick=False)
    facilitator = make.user(Role.FACILITATOR, [make.organization()])
    venue = make.venue()
    day = date(2026, 3, 5)
    while day <= date(2026, 4, 16):
        make.course(
            venue, facilitators=[facilitator], day=day, parts=((time(9, 30), time(12, 30)),)
        )
        day += timedelta(days=7)

    calendar = _parse(client.get(_feed(facilitator)))

    assert len(calendar.events) == 7
    for event in calendar.events:
        for prop in ("DTSTART", "DTEND"):
            assert event[prop].params.get("TZID") == "Europe/Paris"
        assert event.start.time() == time(9, 30) and event.end.time() == time(12, 30)
    assert calendar.get_missing_tzids() == set()
    [vtimezone] = calendar.timezones
    assert b"1970" not in vtimezone.to_ical() and b"2100" not in vtimezone.to_ical()


def test_headers_of_a_feed(client, team):
    response = client.get(_feed(team["alice"]))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Cache-Control"] == "private, max-age=300"
    assert response.headers["Content-Disposition"] == 'inline; filename="mes-stages.ics"'
    assert response.headers["ETag"].startswith('W/"')
    assert response.headers["Last-Modified"]
    assert "Set-Cookie" not in response.headers


def test_each_feed_holds_its_scope(client, make, team):
    alice, organizer = team["alice"], team["organizer"]
    mine, theirs = team["alice_course"].id, team["bruno_course"].id
    elsewhere = make.course(organizations=[make.organization()])  # another association's
    venue_id, org_id = team["venue"].id, team["org"].id

    assert _course_ids(_parse(client.get(_feed(alice)))) == {mine}
    # A facilitator's venue and organization feeds still show only their own sessions.
    assert _course_ids(_parse(client.get(_feed(alice, f"lieu/{venue_id}.ics")))) == {mine}
    assert _course_ids(_parse(client.get(_feed(alice, f"organisation/{org_id}.ics")))) == {mine}
    assert client.get(_feed(alice, "tous.ics")).status_code == 404

    assert _course_ids(_parse(client.get(_feed(organizer)))) == {mine, theirs}
    assert _course_ids(_parse(client.get(_feed(organizer, "tous.ics")))) == {mine, theirs}
    assert _course_ids(_parse(client.get(_feed(organizer, f"lieu/{venue_id}.ics")))) == {
        mine, theirs,
    }

    admin = make.user(Role.ADMIN)
    assert _course_ids(_parse(client.get(_feed(admin, "tous.ics")))) == {
        mine, theirs, elsewhere.id,
    }


def test_organizer_my_feed_adds_courses_they_facilitate(client, make, team):
    organizer = team["organizer"]
    other = make.course(
        organizations=[make.organization()], facilitators=[organizer],
        day=today_local() + timedelta(days=30),
    )
    ids = _course_ids(_parse(client.get(_feed(organizer))))
    assert other.id in ids
    assert other.id not in _course_ids(_parse(client.get(_feed(organizer, "tous.ics"))))


def test_the_time_window_and_drafts(client, make, team):
    alice, venue = team["alice"], team["venue"]
    recent = make.course(venue, facilitators=[alice], day=today_local() - timedelta(days=300))
    make.course(venue, facilitators=[alice], day=today_local() - timedelta(days=400))
    make.course(
        venue, facilitators=[alice], day=today_local() + timedelta(days=60),
        status=CourseStatus.DRAFT,
    )
    assert _course_ids(_parse(client.get(_feed(alice)))) == {team["alice_course"].id, recent.id}


def test_cancelled_course_is_kept_with_status_cancelled_and_its_sequence(client, team):
    course = team["alice_course"]
    course.status = CourseStatus.CANCELLED
    course.ical_sequence = 3
    calendar = _parse(client.get(_feed(team["alice"])))
    assert len(calendar.events) == 2
    for event in calendar.events:
        assert event["STATUS"] == "CANCELLED"
        assert event["SEQUENCE"] == 3


def test_no_feed_ever_holds_a_participant_s_name(client, make, team):
    authority = make.authority()
    for surname, course in (
        ("ZORGLUBIANSKI", team["alice_course"]),
        ("QUIMPERLEAU", team["bruno_course"]),
    ):
        person = make.participant(surname=surname, first_names="Hyacinthe")
        make.enrollment(make.measure(participant=person, authority=authority), course)
    admin = make.user(Role.ADMIN)
    venue_id, org_id = team["venue"].id, team["org"].id
    urls = [
        _feed(user, name)
        for user in (team["alice"], team["organizer"], admin)
        for name in ("mes-stages.ics", f"lieu/{venue_id}.ics", f"organisation/{org_id}.ics")
    ] + [_feed(admin, "tous.ics"), _feed(team["organizer"], "tous.ics")]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True).lower()
        assert "zorglubianski" not in body and "quimperleau" not in body
        assert "hyacinthe" not in body
    login(client, admin)
    body = client.get(f"/stages/{team['alice_course'].id}/agenda.ics").get_data(as_text=True)
    assert "ZORGLUBIANSKI" not in body.upper() and "1 personne inscrite" in body


@pytest.mark.parametrize(
    "token",
    ["x", "a" * 500, "%00", "%00" * 43, "é" * 43, "😀" * 20, "a%2Fb", "..", " " * 43, "A" * 43],
)
def test_malformed_or_unknown_tokens_answer_404(client, team, token):
    for name in ("mes-stages.ics", "tous.ics", f"lieu/{team['venue'].id}.ics"):
        response = client.get(f"/agenda/{token}/{name}")
        assert response.status_code == 404
        assert "Page introuvable" in response.get_data(as_text=True)


def test_liaison_inactive_user_and_unknown_targets_answer_404(client, make, team):
    liaison = make.user(Role.LIAISON, [make.authority()])
    venue_id, org_id = team["venue"].id, team["org"].id
    names = ("mes-stages.ics", "tous.ics", f"lieu/{venue_id}.ics", f"organisation/{org_id}.ics")
    for name in names:
        assert client.get(_feed(liaison, name)).status_code == 404
    inactive = make.user(Role.ORGANIZER, [team["org"]], active=False)
    assert client.get(_feed(inactive)).status_code == 404
    organizer = team["organizer"]
    for name in ("lieu/999999.ics", "organisation/999999.ics", f"lieu/{10**30}.ics"):
        assert client.get(_feed(organizer, name)).status_code == 404


def test_conditional_get_answers_304_until_the_feed_changes(client, make, time_machine):
    time_machine.move_to(datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc), tick=False)
    facilitator = make.user(Role.FACILITATOR, [make.organization()])
    course = make.course(facilitators=[facilitator])
    url = _feed(facilitator)
    first = client.get(url)
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]

    for headers in ({"If-None-Match": etag}, {"If-Modified-Since": last_modified}):
        response = client.get(url, headers=headers)
        assert response.status_code == 304
        assert response.data == b""
        assert response.headers["ETag"] == etag

    time_machine.move_to(datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc), tick=False)
    course = db.session.get(Course, course.id)
    course.ical_sequence += 1  # what a reschedule does; updated_at follows
    db.session.flush()

    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert client.get(url, headers={"If-Modified-Since": last_modified}).status_code == 200
    assert client.get(url, headers={"If-None-Match": changed.headers["ETag"]}).status_code == 304


def test_enrolling_someone_changes_the_etag(client, make, team):
    url = _feed(team["alice"])
    etag = client.get(url).headers["ETag"]
    make.enrollment(make.measure(), db.session.get(Course, team["alice_course"].id))
    response = client.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert "1 personne inscrite" in response.get_data(as_text=True)


def _add_courses(make, count, first_day, venue, org, facilitator):
    for offset in range(count):
        make.course(
            venue, [org], [facilitator], day=today_local() + timedelta(days=first_day + offset)
        )


@pytest.mark.parametrize(
    "role,name",
    [
        (Role.FACILITATOR, "mes-stages.ics"),
        (Role.ORGANIZER, "mes-stages.ics"),
        (Role.ORGANIZER, "tous.ics"),
        (Role.ADMIN, "tous.ics"),
    ],
)
def test_feed_query_count_does_not_grow_with_courses(client, make, role, name):
    org = make.organization()
    venue = make.venue()
    facilitator = make.user(Role.FACILITATOR, [org])
    owner = facilitator if role == Role.FACILITATOR else make.user(role, [org])
    _add_courses(make, 10, 1, venue, org, facilitator)
    small = queries_for(client, _feed(owner, name))
    _add_courses(make, 190, 11, venue, org, facilitator)
    _forget_cached_feeds()
    url = _feed(owner, name)
    with count_queries() as counter:
        response = client.get(url)
    assert len(Calendar.from_ical(response.data).events) == 400
    assert counter.count == small
    # Built once, then served from the cache: the token's owner with their associations, then
    # the validator, which reads the cached copy with it.
    assert queries_for(client, url) == 2


def _forget_cached_feeds():
    db.session.execute(sa.delete(CachedFeed))
    db.session.commit()


def test_a_304_loads_no_course(client, team):
    url = _feed(team["alice"])
    etag = client.get(url).headers["ETag"]
    with count_queries() as counter:
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    # The token's owner, then one aggregate: nothing from sessions' parts or venues.
    assert counter.count == 2
    assert not any("session_parts" in statement for statement in counter.statements)
