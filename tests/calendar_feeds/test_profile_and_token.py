"""The profile's "Mes agendas" section, renewing the feed token, and one session's .ics."""
import re
from datetime import timedelta

import pytest

import sqlalchemy as sa
from icalendar import Calendar
from markupsafe import escape

from stages.auth.models import AuditEntry, Role
from stages.extensions import db
from stages.scheduling.models import CourseStatus
from stages.timeutil import now_utc, today_local
from tests.factories import PASSWORD
from tests.helpers import flashes, login

RENEWED = "Vos liens d'agenda ont été renouvelés ; les anciens ne fonctionnent plus."


def _profile_feeds(client) -> dict[str, str]:
    """The feed URLs on « Mon compte », by the input's id (``feed-mine``, ``feed-venue-3``…)."""
    html = client.get("/mon-compte").get_data(as_text=True)
    return {
        key: url for key, url in re.findall(
            r'<input type="text" id="(feed-[^"]+)" value="http://stages\.test(/agenda/[^"]+)"', html
        )
    }


def test_profile_lists_the_feeds_with_webcal_links_and_copy_buttons(client, make):
    org = make.organization(name="Fondation Scelles")
    venue = make.venue(name="Préfecture de la Région Île-de-France")
    make.venue(name="Salle archivée", archived_at=now_utc())
    organizer = make.user(Role.ORGANIZER, [org])
    login(client, organizer)

    html = client.get("/mon-compte").get_data(as_text=True)
    feeds = _profile_feeds(client)

    assert "Mes agendas" in html
    assert set(feeds) == {"feed-mine", "feed-all", f"feed-organization-{org.id}", f"feed-venue-{venue.id}"}
    assert feeds["feed-mine"].endswith("/mes-stages.ics")
    assert feeds["feed-all"].endswith("/tous.ics")
    assert feeds[f"feed-organization-{org.id}"].endswith(f"/organisation/{org.id}.ics")
    assert feeds[f"feed-venue-{venue.id}"].endswith(f"/lieu/{venue.id}.ics")
    # Each feed has its own secret: one address passed on opens no other feed.
    tokens = [url.split("/")[2] for url in feeds.values()]
    assert len(set(tokens)) == 4 and all(len(token) >= 43 for token in tokens)
    assert organizer.feed_token not in html  # the token of the old shared addresses
    mine = feeds["feed-mine"]
    assert f'href="webcal://stages.test{mine}"' in html
    assert "Salle archivée" not in html
    assert 'data-copy-target="feed-mine"' in html and 'id="feed-mine"' in html
    assert "Ouvrir dans mon agenda" in html
    assert 'action="/mon-compte/agenda/regenerer"' in html and "data-confirm=" in html
    assert html.count('action="/mon-compte/agenda/renouveler-un-lien"') == 4
    # Every copy button points at an input that exists.
    ids = set(re.findall(r'<input type="text" id="([^"]+)"', html))
    assert set(re.findall(r'data-copy-target="([^"]+)"', html)) == ids
    # Each listed URL answers; swapped onto another feed, its token answers 404.
    for url in feeds.values():
        assert client.get(url).status_code == 200, url
    swapped = feeds[f"feed-venue-{venue.id}"].rsplit("/", 2)[0] + "/mes-stages.ics"
    assert client.get(swapped).status_code == 404


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


def test_renewing_all_links_revokes_every_old_url(client, make):
    org = make.organization()
    facilitator = make.user(Role.FACILITATOR, [org])
    make.course(facilitators=[facilitator])
    legacy_url = f"/agenda/{facilitator.feed_token}/mes-stages.ics"
    login(client, facilitator)
    old = _profile_feeds(client)
    assert client.get(legacy_url).status_code == 200

    assert client.get("/mon-compte/agenda/regenerer").status_code == 405
    response = client.post("/mon-compte/agenda/regenerer", follow_redirects=True)

    assert response.request.path == "/mon-compte"
    assert escape(RENEWED) in response.get_data(as_text=True)
    new = _profile_feeds(client)
    assert set(new) == set(old)
    for key, url in old.items():
        assert client.get(url).status_code == 404, key
        assert new[key] != url and client.get(new[key]).status_code == 200, key
    assert client.get(legacy_url).status_code == 404
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "calendar.token_regenerated")
    ).one()
    assert (entry.user_id, entry.object_type, entry.object_id) == (
        facilitator.id, "User", facilitator.id,
    )
    assert entry.details is None or "agenda/" not in entry.details


def test_each_feed_is_renewed_alone_and_audited(client, make):
    org = make.organization(name="APCARS")
    venue = make.venue(name="MJD du 17e")
    organizer = make.user(Role.ORGANIZER, [org])
    make.course(venue, [org])
    login(client, organizer)
    old = _profile_feeds(client)
    venue_key = f"feed-venue-{venue.id}"

    response = client.post("/mon-compte/agenda/renouveler-un-lien", data={"flux": f"lieu-{venue.id}"})

    assert response.status_code == 302 and response.headers["Location"].endswith("/mon-compte")
    assert flashes(client) == [
        "Le lien d'agenda « MJD du 17e » a été renouvelé ; l'ancienne adresse ne fonctionne plus."
    ]
    new = _profile_feeds(client)
    assert client.get(old[venue_key]).status_code == 404
    assert new[venue_key] != old[venue_key] and client.get(new[venue_key]).status_code == 200
    for key in set(old) - {venue_key}:
        assert new[key] == old[key] and client.get(old[key]).status_code == 200, key
    [entry] = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "calendar.feed_renewed")
    ).all()
    assert (entry.user_id, entry.object_type, entry.object_id) == (organizer.id, "User", organizer.id)
    assert entry.details == f"lieu n° {venue.id}"
    # Renewed again: the second address stops working too.
    client.post("/mon-compte/agenda/renouveler-un-lien", data={"flux": f"lieu-{venue.id}"})
    assert client.get(new[venue_key]).status_code == 404
    assert client.get(_profile_feeds(client)[venue_key]).status_code == 200


def test_addresses_from_before_the_upgrade_keep_working_until_renewed(client, make):
    """Feeds subscribed to before each feed had its own secret used the account's one token for
    every feed: those addresses still answer, each until its own feed is renewed."""
    org = make.organization()
    venue = make.venue()
    organizer = make.user(Role.ORGANIZER, [org])
    make.course(venue, [org])
    token = organizer.feed_token
    legacy = {
        "mine": f"/agenda/{token}/mes-stages.ics",
        "all": f"/agenda/{token}/tous.ics",
        "venue": f"/agenda/{token}/lieu/{venue.id}.ics",
        "organization": f"/agenda/{token}/organisation/{org.id}.ics",
    }
    for url in legacy.values():
        assert client.get(url).status_code == 200, url
    login(client, organizer)

    client.post("/mon-compte/agenda/renouveler-un-lien", data={"flux": f"lieu-{venue.id}"})
    assert client.get(legacy["venue"]).status_code == 404
    for kind in ("mine", "all", "organization"):
        assert client.get(legacy[kind]).status_code == 200, kind

    client.post("/mon-compte/agenda/renouveler-un-lien", data={"flux": "tous"})
    assert client.get(legacy["all"]).status_code == 404
    assert client.get(legacy["mine"]).status_code == 200


@pytest.mark.parametrize("value", ["", "lieu-999999", "organisation-999999", "lieu-x", "tout", "lieu-1-2", "x" * 500])
def test_renewing_an_unknown_feed_is_refused_in_french(client, make, value):
    organizer = make.user(Role.ORGANIZER, [make.organization()])
    login(client, organizer)
    response = client.post("/mon-compte/agenda/renouveler-un-lien", data={"flux": value})
    assert response.status_code == 302
    assert flashes(client) == ["Ce lien d'agenda n'existe pas."]
    assert db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "calendar.feed_renewed")
    ).all() == []


def test_a_facilitator_cannot_renew_an_all_courses_feed_they_do_not_have(client, make):
    facilitator = make.user(Role.FACILITATOR, [make.organization()])
    login(client, facilitator)
    client.post("/mon-compte/agenda/renouveler-un-lien", data={"flux": "tous"})
    assert flashes(client) == ["Ce lien d'agenda n'existe pas."]


def test_renewing_needs_a_login(client, make):
    response = client.post("/mon-compte/agenda/regenerer")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


def test_renewing_needs_the_form_s_csrf_token(client, make, csrf_enabled):
    facilitator = make.user(Role.FACILITATOR)
    page = client.get("/connexion").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post(
        "/connexion", data={"email": facilitator.email, "password": PASSWORD, "csrf_token": csrf}
    )

    before = _profile_feeds(client)
    assert client.post("/mon-compte/agenda/regenerer").status_code == 400
    assert client.post("/mon-compte/agenda/renouveler-un-lien", data={"flux": "mes-stages"}).status_code == 400
    assert _profile_feeds(client) == before

    profile = client.get("/mon-compte").get_data(as_text=True)
    form = profile[profile.index('action="/mon-compte/agenda/regenerer"'):]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = client.post("/mon-compte/agenda/regenerer", data={"csrf_token": csrf})
    assert response.status_code == 302
    assert _profile_feeds(client)["feed-mine"] != before["feed-mine"]


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
