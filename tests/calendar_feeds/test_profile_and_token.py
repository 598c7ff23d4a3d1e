"""The profile's "Mes agendas" section, renewing the feed token, and one session's .ics."""
import re
from datetime import timedelta

import sqlalchemy as sa
from icalendar import Calendar
from markupsafe import escape

from stages.auth.models import AuditEntry, Role, User
from stages.extensions import db
from stages.scheduling.models import CourseStatus
from stages.timeutil import now_utc, today_local
from tests.factories import PASSWORD
from tests.helpers import login

RENEWED = "Vos liens d'agenda ont été renouvelés ; les anciens ne fonctionnent plus."


def test_profile_lists_the_feeds_with_webcal_links_and_copy_buttons(client, make):
    org = make.organization(name="Fondation Scelles")
    venue = make.venue(name="Préfecture de la Région Île-de-France")
    make.venue(name="Salle archivée", archived_at=now_utc())
    organizer = make.user(Role.ORGANIZER, [org])
    token = organizer.feed_token
    login(client, organizer)

    html = client.get("/mon-compte").get_data(as_text=True)

    assert "Mes agendas" in html
    assert f'value="http://stages.test/agenda/{token}/mes-stages.ics"' in html
    assert f'href="webcal://stages.test/agenda/{token}/mes-stages.ics"' in html
    assert f'href="webcal://stages.test/agenda/{token}/tous.ics"' in html
    assert f"/agenda/{token}/organisation/{org.id}.ics" in html
    assert f"/agenda/{token}/lieu/{venue.id}.ics" in html
    assert "Salle archivée" not in html
    assert 'data-copy-target="feed-mine"' in html and 'id="feed-mine"' in html
    assert "Ouvrir dans mon agenda" in html
    assert 'action="/mon-compte/agenda/regenerer"' in html and "data-confirm=" in html
    # Every copy button points at an input that exists.
    ids = set(re.findall(r'<input type="text" id="([^"]+)"', html))
    assert set(re.findall(r'data-copy-target="([^"]+)"', html)) == ids
    # Each listed URL answers.
    for url in re.findall(r'value="http://stages\.test(/agenda/[^"]+)"', html):
        assert client.get(url).status_code == 200, url


def test_facilitators_get_no_all_courses_feed_and_liaisons_no_section(client, make):
    facilitator = make.user(Role.FACILITATOR, [make.organization()])
    login(client, facilitator)
    html = client.get("/mon-compte").get_data(as_text=True)
    assert "Mes agendas" in html and "mes-stages.ics" in html
    assert "tous.ics" not in html
    client.post("/deconnexion")

    login(client, make.user(Role.LIAISON, [make.authority()]))
    html = client.get("/mon-compte").get_data(as_text=True)
    assert "Mon compte" in html
    assert "Mes agendas" not in html and "/agenda/" not in html


def test_renewing_the_token_revokes_the_old_urls(client, make):
    facilitator = make.user(Role.FACILITATOR, [make.organization()])
    make.course(facilitators=[facilitator])
    old_url = f"/agenda/{facilitator.feed_token}/mes-stages.ics"
    assert client.get(old_url).status_code == 200
    login(client, facilitator)

    assert client.get("/mon-compte/agenda/regenerer").status_code == 405
    response = client.post("/mon-compte/agenda/regenerer", follow_redirects=True)

    assert response.request.path == "/mon-compte"
    assert escape(RENEWED) in response.get_data(as_text=True)
    new_token = db.session.get(User, facilitator.id).feed_token
    assert f"/agenda/{new_token}/mes-stages.ics" in response.get_data(as_text=True)
    assert client.get(old_url).status_code == 404
    assert client.get(f"/agenda/{new_token}/mes-stages.ics").status_code == 200
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "calendar.token_regenerated")
    ).one()
    assert (entry.user_id, entry.object_type, entry.object_id) == (
        facilitator.id, "User", facilitator.id,
    )
    assert entry.details is None or new_token not in entry.details


def test_renewing_needs_a_login(client, make):
    response = client.post("/mon-compte/agenda/regenerer")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


def test_renewing_needs_the_form_s_csrf_token(client, make, csrf_enabled):
    facilitator = make.user(Role.FACILITATOR)
    token = facilitator.feed_token
    page = client.get("/connexion").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post(
        "/connexion", data={"email": facilitator.email, "password": PASSWORD, "csrf_token": csrf}
    )

    assert client.post("/mon-compte/agenda/regenerer").status_code == 400
    assert db.session.get(User, facilitator.id).feed_token == token

    profile = client.get("/mon-compte").get_data(as_text=True)
    form = profile[profile.index('action="/mon-compte/agenda/regenerer"'):]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = client.post("/mon-compte/agenda/regenerer", data={"csrf_token": csrf})
    assert response.status_code == 302
    assert db.session.get(User, facilitator.id).feed_token != token


def test_one_course_ics_for_those_who_may_see_it(client, make):
    org = make.organization()
    alice = make.user(Role.FACILITATOR, [org])
    bruno = make.user(Role.FACILITATOR, [org])
    course = make.course(organizations=[org], facilitators=[alice], ical_sequence=1)
    url = f"/stages/{course.id}/agenda.ics"

    assert client.get(url).status_code == 302  # login first
    login(client, alice)
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="stage-{course.id}.ics"'
    calendar = Calendar.from_ical(response.data)
    assert [str(e["UID"]) for e in calendar.events] == [
        f"session-part-{part.id}@stages.test" for part in course.parts
    ]
    assert all(e["SEQUENCE"] == 1 for e in calendar.events)
    assert all(not c.errors for c in calendar.walk())
    client.post("/deconnexion")

    login(client, bruno)
    assert client.get(url).status_code == 403
    assert client.get("/stages/999999/agenda.ics").status_code == 403  # no probing ids


def test_a_draft_has_no_ics(client, make):
    org = make.organization()
    draft = make.course(
        organizations=[org], status=CourseStatus.DRAFT, day=today_local() + timedelta(days=3)
    )
    login(client, make.user(Role.ORGANIZER, [org]))
    response = client.get(f"/stages/{draft.id}/agenda.ics")
    assert response.status_code == 404
    assert "brouillon" in response.get_data(as_text=True)
