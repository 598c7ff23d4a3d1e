"""Calendar views: month, week and list of sessions, their filters, scope and bad input."""
from __future__ import annotations

from types import SimpleNamespace
import re
from datetime import date, datetime, time, timedelta, timezone

import pytest
import time_machine

from stages.auth.models import Role
from stages.scheduling.models import CourseStatus
from stages.timeutil import local_to_utc
from tests.helpers import login, queries_for

UTC = timezone.utc
# Wednesday 11 March 2026, 10:00 in Paris.
NOW = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)
VIEWS = ("/calendrier", "/calendrier/semaine", "/calendrier/liste")


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def calendar_staff(make):
    """Two associations with their staff, two venues and a liaison."""
    w = SimpleNamespace()
    w.assoc_a = make.organization(short_name="APCARS")
    w.assoc_b = make.organization(short_name="Fondation Scelles")
    w.venue_1 = make.venue(name="Préfecture de région")
    w.venue_2 = make.venue(name="MJD du 17e")
    w.fac_a = make.user(Role.FACILITATOR, [w.assoc_a], full_name="Alice Intervenante")
    w.fac_b = make.user(Role.FACILITATOR, [w.assoc_b], full_name="Bruno Intervenant")
    w.organizer = make.user(Role.ORGANIZER, [w.assoc_a, w.assoc_b], full_name="Olga Organisatrice")
    w.admin = make.user(Role.ADMIN)
    w.liaison = make.user(Role.LIAISON, [make.authority()])
    return w


def link(course) -> str:
    return f'href="/stages/{course.id}"'


def day_chunks(html: str, item_class: str) -> dict[str, str]:
    """The HTML of each calendar day (``data-date`` → markup), to check where a session falls."""
    chunks = {}
    for chunk in html.split(f'<li class="{item_class}')[1:]:
        match = re.search(r'data-date="([0-9-]+)"', chunk)
        chunks[match.group(1)] = chunk
    return chunks


def days_showing(html: str, course, item_class="calendar-day") -> list[str]:
    return [day for day, chunk in day_chunks(html, item_class).items() if link(course) in chunk]


def event_markup(html: str, course) -> str:
    """The calendar entry (link) of ``session`` in the month grid."""
    match = re.search(rf'<a class="calendar-event[^"]*" {link(course)}>.*?</a>', html, re.S)
    assert match, "session not in the grid"
    return match.group(0)


# --- Month -------------------------------------------------------------------------------------


def test_month_shows_the_courses_of_that_month_only(client, make, calendar_staff):
    march = make.course(venue=calendar_staff.venue_1, organizations=[calendar_staff.assoc_a], day=date(2026, 3, 18))
    april = make.course(venue=calendar_staff.venue_1, organizations=[calendar_staff.assoc_a], day=date(2026, 4, 15))
    first_april = make.course(organizations=[calendar_staff.assoc_a], day=date(2026, 4, 1))
    february = make.course(organizations=[calendar_staff.assoc_a], day=date(2026, 2, 27))
    login(client, calendar_staff.organizer)

    html = client.get("/calendrier?annee=2026&mois=3").get_data(as_text=True)

    assert "mars 2026" in html
    assert days_showing(html, march) == ["2026-03-18"]
    for other in (april, first_april, february):
        assert link(other) not in html  # 1 April and 27 February are greyed cells, left empty
    entry = event_markup(html, march)
    assert "9\u00a0h\u00a030" in entry and "16\u00a0h\u00a030" in entry
    assert "Préfecture de région" in entry and "0 place prise sur 12" in entry


def test_month_defaults_to_the_current_month_and_grid_is_monday_first(client, make, calendar_staff):
    course = make.course(organizations=[calendar_staff.assoc_a], day=date(2026, 3, 20))
    login(client, calendar_staff.organizer)

    html = client.get("/calendrier").get_data(as_text=True)

    assert link(course) in html
    days = list(day_chunks(html, "calendar-day"))
    # March 2026 starts on a Sunday: the grid runs from Monday 23 February to Sunday 5 April.
    assert days[0] == "2026-02-23" and days[-1] == "2026-04-05" and len(days) == 42
    headers = re.findall(r'<div class="calendar-weekday">(\w+)</div>', html)
    assert headers == ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
    cells = day_chunks(html, "calendar-day")
    assert cells["2026-02-23"].startswith(' is-other-month"')
    today = cells["2026-03-11"]
    assert today.startswith(' is-today"') and 'aria-current="date"' in today
    assert "annee=2026&amp;mois=2" in html and "annee=2026&amp;mois=4" in html
    assert ">Aujourd'hui</a>" in html


def test_month_marks_cancelled_and_draft_courses(client, make, calendar_staff):
    cancelled = make.course(
        organizations=[calendar_staff.assoc_a], day=date(2026, 3, 12), status=CourseStatus.CANCELLED
    )
    draft = make.course(
        organizations=[calendar_staff.assoc_a], day=date(2026, 3, 13), status=CourseStatus.DRAFT
    )
    scheduled = make.course(organizations=[calendar_staff.assoc_a], day=date(2026, 3, 16))
    login(client, calendar_staff.organizer)

    html = client.get("/calendrier").get_data(as_text=True)

    assert "is-cancelled" in event_markup(html, cancelled)
    assert "Annulé" in event_markup(html, cancelled)
    assert "is-draft" in event_markup(html, draft) and "Brouillon" in event_markup(html, draft)
    plain = event_markup(html, scheduled)
    assert "is-cancelled" not in plain and "Annulé" not in plain and "Brouillon" not in plain


def test_a_two_day_course_appears_on_both_days(client, make, calendar_staff):
    spans = [
        (local_to_utc(day, start), local_to_utc(day, end))
        for day in (date(2026, 3, 19), date(2026, 3, 20))
        for start, end in ((time(9, 30), time(12, 30)), (time(13, 30), time(16, 30)))
    ]
    course = make.course_at(spans, organizations=[calendar_staff.assoc_a])
    login(client, calendar_staff.organizer)

    html = client.get("/calendrier?annee=2026&mois=3").get_data(as_text=True)

    assert days_showing(html, course) == ["2026-03-19", "2026-03-20"]
    assert "jour 1 sur 2" in event_markup(html, course) and "jour 2 sur 2" in html


def test_a_course_spanning_two_months_shows_each_day_in_its_month(client, make, calendar_staff):
    # 31 March and 1 April 2026 (Paris is on summer time from 29 March).
    spans = [
        (local_to_utc(day, time(9, 30)), local_to_utc(day, time(16, 30)))
        for day in (date(2026, 3, 31), date(2026, 4, 1))
    ]
    course = make.course_at(spans, organizations=[calendar_staff.assoc_a])
    login(client, calendar_staff.organizer)

    march = client.get("/calendrier?annee=2026&mois=3").get_data(as_text=True)
    april = client.get("/calendrier?annee=2026&mois=4").get_data(as_text=True)

    assert days_showing(march, course) == ["2026-03-31"]
    assert days_showing(april, course) == ["2026-04-01"]


# --- Week --------------------------------------------------------------------------------------


def test_week_runs_from_monday_to_sunday(client, make, calendar_staff):
    def on(day):
        return make.course(organizations=[calendar_staff.assoc_a], day=day)

    sunday_before, monday, sunday, monday_after = (
        on(date(2026, 3, 8)), on(date(2026, 3, 9)), on(date(2026, 3, 15)), on(date(2026, 3, 16))
    )
    login(client, calendar_staff.organizer)

    html = client.get("/calendrier/semaine?date=2026-03-12").get_data(as_text=True)

    days = list(day_chunks(html, "calendar-agenda-day"))
    assert days == [f"2026-03-{d:02d}" for d in range(9, 16)]
    assert "Semaine 11" in html and "du 9 mars 2026 au 15 mars 2026" in html
    assert days_showing(html, monday, "calendar-agenda-day") == ["2026-03-09"]
    assert days_showing(html, sunday, "calendar-agenda-day") == ["2026-03-15"]
    assert link(sunday_before) not in html and link(monday_after) not in html
    assert "date=2026-03-02" in html and "date=2026-03-16" in html  # previous / next week


def test_week_defaults_to_this_week_with_today_highlighted(client, make, calendar_staff):
    login(client, calendar_staff.organizer)
    html = client.get("/calendrier/semaine").get_data(as_text=True)
    cells = day_chunks(html, "calendar-agenda-day")
    assert list(cells)[0] == "2026-03-09"
    assert cells["2026-03-11"].startswith(' is-today"')


def test_week_places_courses_on_local_dates(client, make, calendar_staff):
    # 23:30 UTC on Sunday 8 March is already Monday 9 March, 00:30, in Paris.
    late = make.course_at(
        [(datetime(2026, 3, 8, 23, 30, tzinfo=UTC), datetime(2026, 3, 9, 1, 30, tzinfo=UTC))],
        organizations=[calendar_staff.assoc_a],
    )
    # A course at the tribunal of Nouméa, Monday 9 March 08:30 local = Sunday 21:30 UTC, when it
    # is still Sunday in Paris: the venue's own date and time are what staff there expect.
    noumea = make.venue(name="Tribunal de Nouméa", timezone="Pacific/Noumea")
    overseas = make.course_at(
        [(datetime(2026, 3, 8, 21, 30, tzinfo=UTC), datetime(2026, 3, 9, 0, 30, tzinfo=UTC))],
        venue=noumea,
        organizations=[calendar_staff.assoc_a],
    )
    login(client, calendar_staff.organizer)

    this_week = client.get("/calendrier/semaine?date=2026-03-09").get_data(as_text=True)
    last_week = client.get("/calendrier/semaine?date=2026-03-08").get_data(as_text=True)
    month = client.get("/calendrier?annee=2026&mois=3").get_data(as_text=True)

    assert days_showing(this_week, late, "calendar-agenda-day") == ["2026-03-09"]
    assert days_showing(this_week, overseas, "calendar-agenda-day") == ["2026-03-09"]
    assert "8\u00a0h\u00a030\u00a0– 11\u00a0h\u00a030" in day_chunks(this_week, "calendar-agenda-day")["2026-03-09"]
    assert link(late) not in last_week and link(overseas) not in last_week
    assert days_showing(month, late) == ["2026-03-09"]
    assert days_showing(month, overseas) == ["2026-03-09"]


# --- List --------------------------------------------------------------------------------------


def test_list_orders_upcoming_ascending_and_past_descending(client, make, calendar_staff):
    def on(day):
        return make.course(organizations=[calendar_staff.assoc_a], day=day)

    later, sooner, ongoing = on(date(2026, 5, 4)), on(date(2026, 3, 20)), on(date(2026, 3, 11))
    old, recent = on(date(2025, 11, 3)), on(date(2026, 2, 2))
    login(client, calendar_staff.organizer)

    upcoming = client.get("/calendrier/liste").get_data(as_text=True)
    past = client.get("/calendrier/liste?quand=passes").get_data(as_text=True)

    # Today's session (still running at 10:00) counts as upcoming.
    positions = [upcoming.index(link(s)) for s in (ongoing, sooner, later)]
    assert positions == sorted(positions)
    assert link(old) not in upcoming and link(recent) not in upcoming
    assert past.index(link(recent)) < past.index(link(old))
    assert link(sooner) not in past and link(ongoing) not in past


def test_list_is_paginated_and_pages_keep_the_filters(client, make, calendar_staff):
    courses = [
        make.course(
            venue=calendar_staff.venue_1, organizations=[calendar_staff.assoc_a],
            day=date(2026, 4, 1) + timedelta(days=i),
        )
        for i in range(27)
    ]
    login(client, calendar_staff.organizer)

    first = client.get(f"/calendrier/liste?lieu={calendar_staff.venue_1.id}").get_data(as_text=True)
    second = client.get(f"/calendrier/liste?lieu={calendar_staff.venue_1.id}&page=2").get_data(as_text=True)

    assert all(link(s) in first for s in courses[:25]) and link(courses[25]) not in first
    assert f"page=2&amp;quand=a-venir&amp;lieu={calendar_staff.venue_1.id}" in first
    assert "Page 2 sur 2 — 27 résultats" in second
    assert link(courses[25]) in second and link(courses[26]) in second


def test_list_shows_details_and_status(client, make, calendar_staff):
    course = make.course(
        venue=calendar_staff.venue_2, organizations=[calendar_staff.assoc_a, calendar_staff.assoc_b],
        facilitators=[calendar_staff.fac_a, calendar_staff.fac_b], day=date(2026, 3, 24),
        status=CourseStatus.CANCELLED,
    )
    login(client, calendar_staff.organizer)
    html = client.get("/calendrier/liste").get_data(as_text=True)
    row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{link(course)}.*?</tr>", html, re.S).group(0)
    assert 'class="is-cancelled"' in row and "Annulé" in row
    for text in ("mar. 24 mars 2026", "9\u00a0h\u00a030\u00a0– 12\u00a0h\u00a030", "13\u00a0h\u00a030\u00a0– 16\u00a0h\u00a030", "MJD du 17e",
                 "APCARS, Fondation Scelles", "Alice Intervenante, Bruno Intervenant", "0 place prise sur 12"):
        assert text in row


# --- Filters and scope -------------------------------------------------------------------------


@pytest.fixture
def filtered(make, calendar_staff):
    """Sessions this week that differ by venue, association and facilitator."""
    w = calendar_staff
    w.s_venue_2 = make.course(venue=w.venue_2, organizations=[w.assoc_a], day=date(2026, 3, 12))
    w.s_assoc_b = make.course(
        venue=w.venue_1, organizations=[w.assoc_b], facilitators=[w.fac_b], day=date(2026, 3, 12)
    )
    w.s_fac_a = make.course(
        venue=w.venue_1, organizations=[w.assoc_a], facilitators=[w.fac_a], day=date(2026, 3, 13)
    )
    w.s_organizer = make.course(
        venue=w.venue_1, organizations=[w.assoc_a], facilitators=[w.organizer, w.fac_a],
        day=date(2026, 3, 14),
    )
    w.all = [w.s_venue_2, w.s_assoc_b, w.s_fac_a, w.s_organizer]
    return w


@pytest.mark.parametrize("view", VIEWS)
def test_each_filter_narrows_the_courses(client, filtered, view):
    w = filtered
    login(client, w.organizer)
    cases = {
        "": w.all,
        f"lieu={w.venue_2.id}": [w.s_venue_2],
        f"organisation={w.assoc_b.id}": [w.s_assoc_b],
        f"intervenant={w.fac_a.id}": [w.s_fac_a, w.s_organizer],
        "mes=1": [w.s_organizer],
        f"lieu={w.venue_1.id}&intervenant={w.fac_a.id}&organisation={w.assoc_a.id}": [
            w.s_fac_a, w.s_organizer
        ],
    }
    for query, expected in cases.items():
        html = client.get(f"{view}?{query}").get_data(as_text=True)
        shown = [s for s in w.all if link(s) in html]
        assert shown == expected, (query, shown)


def test_filters_are_kept_in_the_period_links(client, filtered):
    w = filtered
    login(client, w.organizer)
    args = f"lieu={w.venue_1.id}&amp;intervenant={w.fac_a.id}&amp;mes=1"
    month = client.get(f"/calendrier?lieu={w.venue_1.id}&intervenant={w.fac_a.id}&mes=1")
    html = month.get_data(as_text=True)
    assert f"annee=2026&amp;mois=4&amp;{args}" in html  # next month
    assert f"annee=2026&amp;mois=2&amp;{args}" in html  # previous month
    assert f"/calendrier/semaine?date=2026-03-11&amp;{args}" in html  # "Semaine" tab
    assert f'<option value="{w.venue_1.id}" selected>' in html
    week = client.get(f"/calendrier/semaine?date=2026-03-11&organisation={w.assoc_a.id}")
    assert f"date=2026-03-16&amp;organisation={w.assoc_a.id}" in week.get_data(as_text=True)


def test_filter_options_list_venues_associations_and_facilitators(client, make, filtered):
    w = filtered
    make.venue(name="Salle fermée", archived_at=NOW)
    make.authority(name="Parquet de Paris")
    # A room only another association uses: not offered to this organizer, offered to admins.
    lyon = make.venue(name="Salle de Lyon")
    make.course(venue=lyon, organizations=[make.organization(name="Association lyonnaise")],
                 day=date(2026, 3, 20))

    def filter_form():
        html = client.get("/calendrier").get_data(as_text=True)
        start = html.index('<form class="filters')
        return html[start:html.index("</form>", start)]

    login(client, w.organizer)
    form = filter_form()
    for text in ("Préfecture de région", "MJD du 17e", "APCARS", "Fondation Scelles",
                 "Alice Intervenante", "Bruno Intervenant", "Olga Organisatrice", "Mes stages"):
        assert text in form
    assert "Salle fermée" not in form and "Parquet de Paris" not in form
    assert "Salle de Lyon" not in form
    client.post("/deconnexion")
    login(client, w.admin)
    assert "Salle de Lyon" in filter_form()


@pytest.mark.parametrize("view", VIEWS)
def test_a_facilitator_sees_only_their_courses(client, filtered, view):
    w = filtered
    login(client, w.fac_a)
    html = client.get(view).get_data(as_text=True)
    assert [s for s in w.all if link(s) in html] == [w.s_fac_a, w.s_organizer]
    assert "Calendrier de mes stages" in html and "Vous voyez les stages que vous animez." in html
    # Their co-facilitators are offered as a filter; people they never work with are not.
    assert "Olga Organisatrice" in html and "Bruno Intervenant" not in html
    narrowed = client.get(f"{view}?intervenant={w.organizer.id}").get_data(as_text=True)
    assert [s for s in w.all if link(s) in narrowed] == [w.s_organizer]


def test_a_facilitator_cannot_filter_their_way_to_other_courses(client, filtered):
    w = filtered
    login(client, w.fac_a)
    html = client.get(f"/calendrier/liste?intervenant={w.fac_b.id}").get_data(as_text=True)
    assert link(w.s_assoc_b) not in html
    assert "n&#39;existe pas ou n&#39;est pas proposé·e" in html


def test_admin_sees_every_course(client, filtered):
    w = filtered
    login(client, w.admin)
    html = client.get("/calendrier/liste").get_data(as_text=True)
    assert all(link(s) in html for s in w.all)


@pytest.mark.parametrize("view", VIEWS)
def test_liaisons_are_refused_and_visitors_sent_to_login(client, calendar_staff, view):
    assert client.get(view).status_code == 302
    login(client, calendar_staff.liaison)
    assert client.get(view).status_code == 403


# --- Query counts ------------------------------------------------------------------------------


def _busy_week(make, w, count, start=0):
    """``count`` more sessions in the week of 9 March, about 29 a day.

    The database refuses a room or a facilitator booked twice at once: each day, every session
    gets its own room and facilitator from a pool.
    """
    rooms, staff = w.__dict__.setdefault("rooms", {}), w.__dict__.setdefault("staff", {})
    for i in range(start, start + count):
        slot = i // 7
        if slot not in rooms:
            rooms[slot] = make.venue()
            staff[slot] = make.user(Role.FACILITATOR, [w.assoc_b])
        make.course(
            venue=rooms[slot],
            organizations=[w.assoc_a, w.assoc_b],
            facilitators=[staff[slot]],
            day=date(2026, 3, 9) + timedelta(days=i % 7),
            status=CourseStatus.CANCELLED if i % 10 == 0 else CourseStatus.SCHEDULED,
        )


def _busy_facilitator(make, w, count, start=0):
    """``count`` more sessions for Alice and Olga, one a day from 9 March."""
    for i in range(start, start + count):
        make.course(
            venue=w.venue_1,
            organizations=[w.assoc_a],
            facilitators=[w.fac_a, w.organizer],
            day=date(2026, 3, 9) + timedelta(days=i),
        )


def _urls(w):
    return [
        "/calendrier",
        f"/calendrier?lieu={w.venue_1.id}&organisation={w.assoc_a.id}&mes=1",
        "/calendrier/semaine",
        f"/calendrier/semaine?intervenant={w.fac_a.id}",
        "/calendrier/liste",
        f"/calendrier/liste?organisation={w.assoc_b.id}&page=1",
    ]


@pytest.mark.parametrize("user", ["organizer", "admin"])
def test_query_count_does_not_grow_with_courses(client, make, calendar_staff, user):
    _busy_week(make, calendar_staff, 10)
    login(client, getattr(calendar_staff, user))
    small = {url: queries_for(client, url) for url in _urls(calendar_staff)}

    _busy_week(make, calendar_staff, 190, start=10)
    large = {url: queries_for(client, url) for url in _urls(calendar_staff)}

    assert large == small
    assert max(small.values()) <= 12, small
    html = client.get("/calendrier/semaine").get_data(as_text=True)
    assert html.count('<li class="calendar-agenda-event') == 200
    assert html.count("calendar-agenda-event is-cancelled") == 20


@pytest.mark.parametrize("user", ["fac_a", "organizer"])
def test_query_count_of_someone_who_facilitates_does_not_grow(client, make, calendar_staff, user):
    _busy_facilitator(make, calendar_staff, 10)
    login(client, getattr(calendar_staff, user))
    small = {url: queries_for(client, url) for url in _urls(calendar_staff)}

    _busy_facilitator(make, calendar_staff, 190, start=10)
    large = {url: queries_for(client, url) for url in _urls(calendar_staff)}

    assert large == small
    html = client.get("/calendrier/liste").get_data(as_text=True)
    assert "Page 1 sur 8 — 198 résultats" in html  # 9 and 10 March are past


def test_month_does_not_load_what_it_does_not_show(client, make, calendar_staff):
    """The month grid shows no association or facilitator: not loading them saves the two
    statements (and, nationally, hundreds of objects per request) the week page needs for them."""
    make.course(organizations=[calendar_staff.assoc_a], facilitators=[calendar_staff.fac_a],
                day=date(2026, 3, 12))
    login(client, calendar_staff.organizer)
    month = queries_for(client, "/calendrier")
    week = queries_for(client, "/calendrier/semaine")
    assert month == week - 2
    assert "Alice Intervenante" in client.get("/calendrier/semaine").get_data(as_text=True)


# --- Bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/calendrier?annee=99999&mois=3", "L&#39;année demandée n&#39;est pas valide"),
        ("/calendrier?annee=abc", "L&#39;année demandée n&#39;est pas valide"),
        ("/calendrier?annee=2026&mois=13", "Le mois demandé n&#39;est pas valide"),
        ("/calendrier?mois=-1", "Le mois demandé n&#39;est pas valide"),
        ("/calendrier?mois=%C2%B2", "Le mois demandé n&#39;est pas valide"),
        ("/calendrier/semaine?date=abc", "La date demandée n&#39;est pas valide"),
        ("/calendrier/semaine?date=2026-02-30", "La date demandée n&#39;est pas valide"),
        ("/calendrier/semaine?date=99999-01-01", "La date demandée n&#39;est pas valide"),
        ("/calendrier/semaine?date=2026-W10-1", "La date demandée n&#39;est pas valide"),
        ("/calendrier?lieu=x", "Le lieu demandé n&#39;existe pas"),
        ("/calendrier/semaine?lieu=99999999999999999999", "Le lieu demandé n&#39;existe pas"),
        ("/calendrier/liste?organisation=-4", "L&#39;association demandée n&#39;existe pas"),
        ("/calendrier?mes=peut-etre", "« Mes stages » n&#39;est pas valide"),
        ("/calendrier/liste?page=-3", "Le numéro de page n&#39;est pas valide"),
        ("/calendrier/liste?page=abc", "Le numéro de page n&#39;est pas valide"),
        ("/calendrier/liste?page=99999999999999999999", "Le numéro de page n&#39;est pas valide"),
        ("/calendrier/liste?page=7", "La page 7 n&#39;existe pas"),
        ("/calendrier/liste?quand=demain", "La période demandée n&#39;existe pas"),
    ],
)
def test_malformed_parameters_fall_back_with_a_french_notice(client, make, calendar_staff, url, message):
    course = make.course(organizations=[calendar_staff.assoc_a], day=date(2026, 3, 12))
    login(client, calendar_staff.organizer)
    response = client.get(url)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'class="notice notice-warning" role="alert"' in html and message in html
    assert link(course) in html  # the fallback is the current period, unfiltered


def test_valid_parameters_show_no_notice(client, calendar_staff):
    login(client, calendar_staff.organizer)
    for url in ("/calendrier?annee=2100&mois=12", "/calendrier?annee=2000&mois=1",
                "/calendrier/semaine?date=2026-03-08", "/calendrier/liste?quand=passes&page=1",
                "/calendrier?mes=0&lieu="):
        html = client.get(url).get_data(as_text=True)
        assert "notice-warning" not in html, url
    # At the edges of the supported years the links that would leave them are not offered.
    assert "annee=2101" not in client.get("/calendrier?annee=2100&mois=12").get_data(as_text=True)


def test_nonsense_paths_are_not_found(client, calendar_staff):
    login(client, calendar_staff.organizer)
    assert client.get("/calendrier/annee").status_code == 404
    assert client.get("/calendrier/semaine/2026").status_code == 404


def test_a_nul_character_in_a_filter_is_a_french_400(client, calendar_staff):
    """No query may carry a NUL (the database refuses it): one clear refusal for every page."""
    login(client, calendar_staff.organizer)
    response = client.get("/calendrier?intervenant=%00")
    assert response.status_code == 400
    assert "caractère nul" in response.get_data(as_text=True)
