"""The feed's body kept in the database: served again while nothing changed, rebuilt when
anything the body shows did, never to another scope, gone with a renewed token, purged by the
retention job, and written once by two identical requests at the same moment."""
import gzip
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from flask.testing import FlaskClient

from stages.auth.models import Organization, Role, User
from stages.calendar_feeds import views
from stages.calendar_feeds.models import CachedFeed, FeedKind
from stages.calendar_feeds.services import purge_feed_cache
from stages.calendar_feeds.tokens import Feed, renew_all_feeds, renew_feed
from stages.extensions import db
from stages.scheduling.models import Course, Venue
from tests.helpers import count_queries, login

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _feed(user, name="mes-stages.ics") -> str:
    return f"/agenda/{user.feed_token}/{name}"


def _rows():
    db.session.expire_all()
    return db.session.execute(
        sa.select(CachedFeed.user_id, CachedFeed.kind, CachedFeed.target_id, CachedFeed.built_at)
    ).all()


@pytest.fixture
def team(make):
    org = make.organization(name="APCARS")
    venue = make.venue(name="MJD du 17e")
    facilitator = make.user(Role.FACILITATOR, [org], full_name="Léa Fabre")
    organizer = make.user(Role.ORGANIZER, [org])
    course = make.course(venue, [org], [facilitator])
    return {"org": org, "venue": venue, "facilitator": facilitator, "organizer": organizer,
            "course": course}


def test_an_unchanged_feed_is_served_from_the_cache(client, team, frozen):
    url = _feed(team["facilitator"])
    first = client.get(url)
    assert first.status_code == 200
    assert len(_rows()) == 1

    frozen.shift(timedelta(minutes=5))
    with count_queries() as counter:
        again = client.get(url)  # no validator sent: a new subscriber, or another worker
    assert again.status_code == 200
    # The very bytes built first (its DTSTAMP too), without loading a course or a part.
    assert again.data == first.data
    assert again.headers["ETag"] == first.headers["ETag"]
    assert counter.count == 2  # the token's owner, the validator with the cached copy's key
    assert not any("session_parts" in statement for statement in counter.statements)
    # This worker holds the body it built: the database's copy is not read again.
    assert not any("body_gzip" in statement for statement in counter.statements)
    # A client holding another validator gets the same copy (read after the validator).
    with count_queries() as counter:
        stale = client.get(url, headers={"If-None-Match": 'W/"an-older-one"'})
    assert stale.status_code == 200 and stale.data == first.data
    assert counter.count == 3


def test_clients_that_accept_gzip_get_the_stored_body_as_is(client, team):
    url = _feed(team["facilitator"])
    for _ in range(2):  # built, then from the cache
        packed = client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
        assert packed.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in packed.headers["Vary"]
        plain = client.get(url)
        assert "Content-Encoding" not in plain.headers
        assert gzip.decompress(packed.data) == plain.data
        assert plain.data.startswith(b"BEGIN:VCALENDAR\r\n")
    refused = client.get(url, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers and refused.data == plain.data


def test_a_change_rebuilds_the_body_and_replaces_the_row(client, make, team, frozen):
    url = _feed(team["facilitator"])
    first = client.get(url)
    frozen.shift(timedelta(minutes=5))
    make.enrollment(make.measure(), db.session.get(Course, team["course"].id))
    changed = client.get(url)
    assert changed.data != first.data
    assert "1 personne inscrite" in changed.get_data(as_text=True)
    assert len(_rows()) == 1
    assert client.get(url).data == changed.data


def test_what_the_builder_is_given_is_part_of_the_key(app, client, team):
    # A venue's feed is named after the venue: renaming it changes the body at once.
    url = _feed(team["organizer"], f"lieu/{team['venue'].id}.ics")
    assert "X-WR-CALNAME:Stages — MJD du 17e" in client.get(url).get_data(as_text=True)
    db.session.get(Venue, team["venue"].id).name = "Préfecture"
    db.session.flush()
    assert "X-WR-CALNAME:Stages — Préfecture" in client.get(url).get_data(as_text=True)
    # So is the public address the events link to.
    app.config["BASE_URL"], before = "https://ailleurs.example", app.config["BASE_URL"]
    try:
        assert "https://ailleurs.example/stages/" in client.get(url).get_data(as_text=True)
    finally:
        app.config["BASE_URL"] = before


def test_a_body_is_never_served_to_another_scope(client, make, team):
    # Same kind of feed, same courses' aggregates would not matter: each user has their own row,
    # and the key holds what the statement that selects their courses depends on.
    other_org = make.organization()
    other = make.user(Role.ORGANIZER, [other_org])
    make.course(make.venue(), [other_org], [])
    mine = client.get(_feed(team["organizer"], "tous.ics")).get_data(as_text=True)
    theirs = client.get(_feed(other, "tous.ics")).get_data(as_text=True)
    assert mine != theirs
    assert f"/stages/{team['course'].id}" in mine and f"/stages/{team['course'].id}" not in theirs
    assert len(_rows()) == 2


def test_renewing_a_token_drops_its_cached_body(client, make, team):
    organizer = team["organizer"]
    client.get(_feed(organizer))
    client.get(_feed(organizer, "tous.ics"))
    renew_feed(organizer, Feed(FeedKind.MINE))
    db.session.commit()
    assert [row.kind for row in _rows()] == ["all"]
    renew_all_feeds(organizer)
    db.session.commit()
    assert _rows() == []


def test_the_retention_purge_deletes_what_can_no_longer_be_served(client, make, team, frozen):
    stale = make.user(Role.FACILITATOR, [team["org"]])
    team["course"].facilitators.append(stale)
    gone = make.user(Role.FACILITATOR, [team["org"]])
    team["course"].facilitators.append(gone)
    db.session.flush()
    client.get(_feed(stale))  # built on 2 March: stale once the window moves at midnight
    frozen.move_to(datetime(2026, 3, 3, 8, 0, tzinfo=UTC))
    for user in (team["facilitator"], team["organizer"], gone):
        client.get(_feed(user))
    db.session.get(type(gone), gone.id).active = False
    db.session.commit()
    assert len(_rows()) == 4

    assert purge_feed_cache(datetime(2026, 3, 3, 9, 0, tzinfo=UTC)) == 2
    kept = {row.user_id for row in _rows()}
    assert kept == {team["facilitator"].id, team["organizer"].id}


def test_two_identical_requests_at_once_both_answer_and_leave_one_row(app, team, monkeypatch):
    # Both miss the cache and build, then both store: the upsert lets the second replace the
    # first (PostgreSQL: it waits for the first's row), neither fails. Runs on both databases.
    url = _feed(team["facilitator"])
    db.session.commit()
    barrier = threading.Barrier(2, timeout=20)
    original = views.build_calendar

    def build_then_wait(*args, **kwargs):
        body = original(*args, **kwargs)
        barrier.wait()  # both requests have missed and built: now race to store
        return body

    monkeypatch.setattr(views, "build_calendar", build_then_wait)
    results = []

    def subscriber_polls():
        response = FlaskClient(app, app.response_class).get(url)
        results.append((response.status_code, response.get_data()))

    threads = [threading.Thread(target=subscriber_polls) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert [code for code, _ in results] == [200, 200]
    assert all(b"BEGIN:VEVENT" in body for _, body in results)
    assert len(_rows()) == 1


@pytest.mark.parametrize("change", ["venue address", "facilitator name", "organization name"])
def test_renaming_what_a_feed_shows_drops_the_copies(client, team, change):
    url = _feed(team["organizer"], "tous.ics")
    client.get(url)
    assert len(_rows()) == 1
    venue = db.session.get(Venue, team["venue"].id)
    venue.capacity += 1  # not shown in any feed: the copy stays
    db.session.commit()
    assert len(_rows()) == 1
    if change == "venue address":
        db.session.get(Venue, team["venue"].id).address = "3 rue Neuve"
        shown = "3 rue Neuve"
    elif change == "facilitator name":
        db.session.get(User, team["facilitator"].id).full_name = "Léa Fabre-Martin"
        shown = "Léa Fabre-Martin"
    else:
        db.session.get(Organization, team["org"].id).name = "APCARS Paris"
        shown = "APCARS Paris"
    db.session.commit()
    assert _rows() == []
    assert shown in client.get(url).get_data(as_text=True).replace("\r\n ", "")  # unfolded


def test_a_worker_never_serves_from_memory_a_copy_the_database_replaced(client, team):
    # Another worker built the same feed again under the same feed key (its copy was dropped by
    # a renaming in between): this worker's memory holds the former body, which must not serve.
    url = _feed(team["organizer"], "tous.ics")
    first = client.get(url).data
    assert b"MJD du 17e" in first
    row = db.session.scalars(sa.select(CachedFeed)).one()
    feed_key, _nonce = row.cache_key.split(".")
    row.cache_key = f"{feed_key}.0123456789abcdef"
    row.body_gzip = gzip.compress(first.replace(b"MJD du 17e", b"MJD du 18e"))
    db.session.commit()
    assert b"MJD du 18e" in client.get(url).data
    packed = client.get(url, headers={"Accept-Encoding": "gzip"}).data
    assert b"MJD du 18e" in gzip.decompress(packed)


def test_a_feed_request_reads_in_autocommit(app, client, team):
    # No BEGIN, no ROLLBACK: a calendar app's poll costs its statements' round trips only, and
    # psycopg keeps its prepared statements (a ROLLBACK makes it forget them). Built or served
    # from its copy, the feed's reads run outside a transaction; the copy is written in one
    # (there PostgreSQL's SET LOCAL spares the commit its wait for the disk).
    url, organizer_id = _feed(team["organizer"], "tous.ics"), team["organizer"].id
    db.session.commit()
    db.session.remove()  # as a worker starts a request: nothing begun yet
    levels = []

    def record(conn, _cursor, statement, *_args):
        levels.append((statement.split()[0], conn.get_execution_options().get("isolation_level")))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        built = FlaskClient(app, app.response_class).get(url)
        served = FlaskClient(app, app.response_class).get(url)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert built.status_code == served.status_code == 200
    assert served.data == built.data
    reads = {level for verb, level in levels if verb == "SELECT"}
    writes = {level for verb, level in levels if verb != "SELECT"}
    assert reads == {"AUTOCOMMIT"} and writes == {None}
    assert ("INSERT", None) in levels
    # Someone signed in opens the URL in a browser: their session is loaded first, in a
    # transaction; the feed then simply reads within it.
    login(client, db.session.get(User, organizer_id))
    assert client.get(url).data == built.data


def test_a_feed_follows_its_owner_into_another_association(client, make, team, frozen):
    # The validator's statement is built once per scope (owner, role, associations, feed,
    # window) and kept: moving the organizer to another association must give that
    # association's courses at the next poll, not the statement kept for the former one.
    url = _feed(team["organizer"], "tous.ics")
    response = client.get(url)
    first, etag = response.get_data(as_text=True), response.headers["ETag"]
    assert f"/stages/{team['course'].id}" in first
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    other_org = make.organization(name="Fondation Scelles")
    theirs = make.course(make.venue(), [other_org], [])
    organizer = db.session.get(User, team["organizer"].id)
    organizer.organizations = [other_org]
    db.session.commit()
    # The calendar app holds the former ETag: it must get the new content, not a 304.
    moved = client.get(url, headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["ETag"] != etag
    text = moved.get_data(as_text=True)
    assert f"/stages/{theirs.id}" in text and f"/stages/{team['course'].id}" not in text
    # Back in the first association (same scope as the first poll): its courses again.
    organizer.organizations = [db.session.get(Organization, team["org"].id)]
    db.session.commit()
    again = client.get(url).get_data(as_text=True)
    assert f"/stages/{team['course'].id}" in again and f"/stages/{theirs.id}" not in again
