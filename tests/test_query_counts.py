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
