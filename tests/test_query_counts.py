"""Pages do not send more SQL as data grows (no query per row)."""
from datetime import timedelta

from stages.auth.models import Role
from stages.timeutil import today_local
from tests.helpers import login, queries_for


def _courses(make, n, orgs, facilitators, first_day=1):
    venue = make.venue()
    authority = make.authority()
    for i in range(n):
        s = make.course(
            venue=venue, organizations=orgs, facilitators=facilitators,
            day=today_local() + timedelta(days=first_day + i),
        )
        m = make.measure(authority=authority, handling=orgs[0])
        make.enrollment(m, s)
    return authority


def test_home_page_query_count_is_constant(client, make):
    org = make.organization()
    fac = make.user(Role.FACILITATOR, [org])
    organizer = make.user(Role.ORGANIZER, [org])
    _courses(make, 3, [org], [fac])
    login(client, organizer)
    small = queries_for(client, "/")
    _courses(make, 40, [org], [fac], first_day=10)
    assert queries_for(client, "/") == small


def test_liaison_home_query_count_is_constant(client, make):
    org = make.organization()
    fac = make.user(Role.FACILITATOR, [org])
    authority = _courses(make, 3, [org], [fac])
    liaison = make.user(Role.LIAISON, [authority])
    login(client, liaison)
    small = queries_for(client, "/tableau-de-bord")
    for _ in range(40):
        make.measure(authority=authority)
    assert queries_for(client, "/tableau-de-bord") == small


def test_course_page_query_count_does_not_grow_with_enrollments(client, make):
    org = make.organization()
    fac = make.user(Role.FACILITATOR, [org])
    course = make.course(organizations=[org], facilitators=[fac], capacity=15)
    authority = make.authority()
    make.enrollment(make.measure(authority=authority), course)
    login(client, make.user(Role.ORGANIZER, [org]))
    small = queries_for(client, f"/stages/{course.id}")
    for _ in range(12):
        make.enrollment(make.measure(authority=authority), course)
    assert queries_for(client, f"/stages/{course.id}") == small


# The statements of the benchmark's key pages (bench/README.md, issue 13 item 9), read as a
# worker reads them: nothing of the request's objects already in the session. Each load joined
# to its parent where it can be: the user's associations with the login, the course's venue,
# co-organizers and facilitators (for the sign-in sheet, its half-days too) with the course, a
# course's people with their measures, the programme's modules, topics and speakers with its
# items; a half-day keeps its course.
BUDGETS = {"course": 11, "person": 16, "attendance": 5, "sign_in_sheet": 7}


def _statements(client, url: str) -> int:
    from stages.extensions import db

    db.session.commit()
    db.session.expunge_all()
    return queries_for(client, url)


def test_key_pages_stay_within_their_statement_budgets(client, make):
    from datetime import datetime, timezone

    import time_machine

    org = make.organization()
    fac = make.user(Role.FACILITATOR, [org])
    course = make.course(organizations=[org], facilitators=[fac], capacity=15, day=today_local())
    authority = make.authority()
    measures = [make.measure(authority=authority, handling=org) for _ in range(6)]
    for measure in measures:
        make.enrollment(measure, course)
    organizer = make.user(Role.ORGANIZER, [org])
    part = course.parts[0]
    urls = {
        "course": f"/stages/{course.id}",
        "person": f"/personnes/{measures[0].participant_id}",
        "attendance": f"/stages/{course.id}/presence/{part.id}",
        "sign_in_sheet": f"/stages/{course.id}/emargement.pdf",
    }
    with time_machine.travel(datetime.combine(today_local(), datetime.min.time(), timezone.utc)
                             .replace(hour=10), tick=False):
        login(client, organizer)
        found = {key: _statements(client, url) for key, url in urls.items()}
    assert {key: found[key] <= BUDGETS[key] for key in BUDGETS} == dict.fromkeys(BUDGETS, True), found
