"""The feed's line-by-line writer against ``icalendar``'s object model (the builder before issue
13, kept as the oracle in ``reference_ical``): the same bytes for hostile text, every zone and
status, and what both parsers (``icalendar`` and Mozilla's ical.js) read back is what was written."""
import itertools
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from stages.auth.models import Role
from stages.calendar_feeds.ical import build_calendar
from stages.calendar_feeds.models import FeedKind
from stages.calendar_feeds.queries import feed_courses
from stages.calendar_feeds.services import feed_query
from stages.extensions import db
from stages.scheduling.models import Course, CourseStatus
from stages.timeutil import today_local
from tests.calendar_feeds.parsers import read_both
from tests.calendar_feeds.reference_ical import reference_calendar

STAMP = datetime(2026, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)
SETTINGS = {"uid_domain": "stages.test", "base_url": "http://stages.test/", "stamp": STAMP}

_numbers = itertools.count(1)

HOSTILE = [
    "Stage\nsur deux lignes",
    "Retour\r\nchariot\rseul",
    "Virgule, point-virgule; deux-points: et \\ barre",
    "\\\\double\\; déjà échappé \\, \\n",
    "Émoji 🎉👩🏽‍⚖️ et caractères accentués " + "é" * 60,
    "x" * 73 + "\\" + "y" * 80,  # a backslash where the line would fold
    "x" * 72 + "^^" + "🎉" * 30,  # a caret, then 4-octet characters across the fold
    "Ա" * 200,  # 2-octet characters, a fold inside none of them
    "中文标题" * 40,
    "",
]


def _hostile_course(make, title, *, timezone_name="Europe/Paris", status=CourseStatus.SCHEDULED,
                    parts=((time(9, 30), time(12, 30)), (time(13, 30), time(16, 30))), day=None):
    venue = make.venue(
        name=f"Salle « {title[:40]} », n° {next(_numbers)}", room=title[:120] or None,
        address="1, rue; \\ du Pont\nBâtiment B", timezone=timezone_name,
    )
    organization = make.organization(name=f"Assoc, {title[:50]} ; {next(_numbers)}")
    facilitator = make.user(full_name=f"Zoë {title[:30]}, d'Arc")
    return make.course(
        venue=venue, organizations=[organization], facilitators=[facilitator], title=title,
        status=status, parts=parts, day=day or date(2026, 3, 12),
    )


def _both(courses, **extra):
    ours = build_calendar(courses, name="Stages — tous", **SETTINGS, **extra)
    theirs = reference_calendar(courses, name="Stages — tous", **SETTINGS, **extra)
    return ours, theirs


def _assert_well_formed(body: bytes) -> None:
    assert body.endswith(b"\r\n") and b"\n" not in body.replace(b"\r\n", b"")
    for line in body.split(b"\r\n")[:-1]:
        assert len(line) <= 75, line
        line.decode("utf-8")  # never cut inside a character


def test_hostile_courses_give_the_same_bytes_as_icalendar(make):
    courses = [_hostile_course(make, title) for title in HOSTILE]
    courses.append(_hostile_course(make, "Annulé, hélas", status=CourseStatus.CANCELLED))
    courses.append(_hostile_course(make, "Une demi-journée", parts=((time(9), time(12)),)))
    courses.append(_hostile_course(make, "Cayenne", timezone_name="America/Cayenne"))
    courses.append(_hostile_course(make, "Réunion", timezone_name="Indian/Reunion",
                                   day=date(2027, 2, 1)))
    courses.append(_hostile_course(make, "En UTC", timezone_name="UTC"))
    courses.append(_hostile_course(make, "Zone inconnue", timezone_name="Mars/Olympus"))

    ours, theirs = _both(courses)

    assert ours == theirs
    _assert_well_formed(ours)
    assert ours.count(b"BEGIN:VEVENT") == 2 * len(courses) - 1
    assert ours.count(b"BEGIN:VTIMEZONE") == 4  # Paris, Cayenne, Réunion, UTC
    # Both independent parsers read the same events, times and zones (ical.js names the zone of
    # a UTC time "UTC" where icalendar gives none: the UTC course is left out of that check).
    zoned = [course for course in courses if course.venue.timezone != "UTC"]
    [reading] = read_both(build_calendar(zoned, name="Stages", **SETTINGS))
    assert len(reading["events"]) == 2 * len(zoned) - 1
    # And the text read back is the text written, line breaks as \n.
    events = Calendar.from_ical(ours).walk("VEVENT")
    summaries = {str(event["SUMMARY"]) for event in events}
    for title in HOSTILE:
        assert title.replace("\r\n", "\n").replace("\r", "\n") in summaries
    locations = {str(event["LOCATION"]) for event in events}
    assert any("1, rue; \\ du Pont\nBâtiment B" in location for location in locations)


def test_an_empty_feed_gives_the_same_bytes(make):
    ours, theirs = _both([])
    assert ours == theirs
    assert b"BEGIN:VTIMEZONE" in ours and b"BEGIN:VEVENT" not in ours


def test_drafts_and_courses_without_half_days_give_the_same_bytes(make):
    draft = _hostile_course(make, "Brouillon", status=CourseStatus.DRAFT)
    held = _hostile_course(make, "Tenu", status=CourseStatus.HELD)
    lonely = SimpleNamespace(**{**_fake(title="Sans demi-journée").__dict__, "parts": []})
    ours, theirs = _both([draft, held, lonely])
    assert ours == theirs
    assert b"Brouillon" not in ours and b"Sans demi" not in ours


def test_a_backslash_n_stays_a_backslash_and_an_n(make):
    # ``icalendar`` writes "\N" as a line break; the writer keeps what the organizer typed.
    course = _hostile_course(make, "C:\\Nouveau dossier")
    body = build_calendar([course], name="Stages", **SETTINGS)
    assert b"SUMMARY:C:\\\\Nouveau dossier\r\n" in body
    [event] = Calendar.from_ical(body).walk("VEVENT")[:1]
    assert str(event["SUMMARY"]) == "C:\\Nouveau dossier"


# --- Any text at all (property-based, without the database) --------------------------------

_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",)), max_size=300
).filter(lambda text: "\\N" not in text)


def _fake(title="Stage", location="Salle", organization="APCARS", facilitator="Zoë", parts=2,
          status=CourseStatus.SCHEDULED):
    moment = datetime(2026, 10, 24, 8, 30, tzinfo=UTC)  # the night the clocks change
    return SimpleNamespace(
        id=42, title=title, status=status, seats_taken=3, ical_sequence=2,
        created_at=moment - timedelta(days=30, microseconds=7), updated_at=moment,
        venue=SimpleNamespace(name=location, room=None, full_address="1 rue X, 75001 Paris",
                              timezone="Europe/Paris"),
        organizations=[SimpleNamespace(name=organization)],
        facilitators=[SimpleNamespace(full_name=facilitator)],
        parts=[SimpleNamespace(id=100 + n, starts_at=moment + timedelta(days=n),
                               ends_at=moment + timedelta(days=n, hours=3)) for n in range(parts)],
    )


# The calendar's name, where the writer escapes what icalendar leaves raw (see the next test).
_NAME = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=",;\\\r\n"),
                max_size=100)


def test_the_calendar_name_is_escaped_text():
    # icalendar writes X-WR-CALNAME verbatim, and fails outright on a line break (a course
    # titled on two lines broke its .ics, issue 13 item 7): the writer escapes it as TEXT.
    body = build_calendar([], name="Stages — Salle 1, 2e étage; \\ A\nB", **SETTINGS)
    assert b"X-WR-CALNAME:Stages \xe2\x80\x94 Salle 1\\, 2e \xc3\xa9tage\\; \\\\ A\\nB\r\n" in body
    _assert_well_formed(body)


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(title=_TEXT, location=_TEXT, organization=_TEXT, facilitator=_TEXT, name=_NAME,
       cancelled=st.booleans(), parts=st.integers(1, 12))
def test_any_text_gives_the_same_bytes_as_icalendar(title, location, organization, facilitator,
                                                    name, cancelled, parts):
    status = CourseStatus.CANCELLED if cancelled else CourseStatus.SCHEDULED
    course = _fake(title, location or "Salle", organization, facilitator, parts, status)
    ours = build_calendar([course], name=name, **SETTINGS)
    assert ours == reference_calendar([course], name=name, **SETTINGS)
    _assert_well_formed(ours)
    [event] = Calendar.from_ical(ours).walk("VEVENT")[:1]
    assert str(event["SUMMARY"]).startswith(title.replace("\r\n", "\n").replace("\r", "\n"))


def test_the_feed_read_model_gives_the_same_bytes_as_the_courses(make):
    # The feeds load plain rows (``queries.feed_courses``), not Course objects: same output,
    # collections in the same order (co-organizers by name, facilitators by name, half-days by
    # start), drafts and courses out of the window left out by the same statement.
    admin = make.user(Role.ADMIN)
    orgs = [make.organization(name=name) for name in ("Zeta", "APCARS", "Fondation Scelles")]
    people = [make.user(Role.FACILITATOR, orgs[:1], full_name=name)
              for name in ("Zoë Martin", "Albert Durand", "Émile Roy")]
    today = today_local()
    for offset, status in enumerate((CourseStatus.SCHEDULED, CourseStatus.CANCELLED,
                                     CourseStatus.HELD, CourseStatus.DRAFT)):
        make.course(
            make.venue(room="Salle 2" if offset % 2 else None, timezone="America/Cayenne"
                       if offset == 2 else "Europe/Paris"),
            orgs[offset % 3:], people[: offset + 1], title=f"Stage {offset}, « test »",
            status=status, day=today + timedelta(days=7 * offset - 10),
            parts=((time(13, 30), time(16, 30)), (time(9), time(12))),
        )
    make.course(day=today - timedelta(days=500))  # out of the window
    db.session.flush()

    query = feed_query(admin, FeedKind.ALL)
    rows = feed_courses(query)
    db.session.expire_all()
    courses = db.session.scalars(query.order_by(Course.starts_at, Course.id)).all()
    assert [row.id for row in rows] == [course.id for course in courses]
    assert len(rows) == 3
    assert build_calendar(rows, name="Tous", **SETTINGS) == build_calendar(
        courses, name="Tous", **SETTINGS
    ) == reference_calendar(courses, name="Tous", **SETTINGS)
