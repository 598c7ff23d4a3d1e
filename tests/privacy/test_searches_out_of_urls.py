"""A name typed in a search box never appears in a URL (stages.auth.search_terms).

Query strings end up in access logs, browser history and bookmarks: the three lists searched by
name post their search form, keep the term in the login session, and link with « recherche=1 ».
"""
from __future__ import annotations

import re
from datetime import timedelta

from stages.auth.models import Role
from stages.extensions import db
from stages.timeutil import today_local
from tests.helpers import login, search

TERM = "zorglub"


def _urls(html: str) -> list[str]:
    return re.findall(r'(?:href|action)="([^"]*)"', html)


def test_searched_names_stay_out_of_every_url_and_pages_keep_the_search(client, make):
    assoc = make.organization(name="APCARS")
    parquet = make.authority(name="Parquet de Paris")
    organizer = make.user(Role.ORGANIZER, [assoc])
    liaison = make.user(Role.LIAISON, [parquet])
    for i in range(30):  # more than a page of 25
        make.measure(authority=parquet, handling=assoc,
                     participant=make.participant(surname=f"ZORGLUB{i:02d}"))
    make.measure(authority=parquet, handling=assoc, participant=make.participant(surname="DUPONT"))
    course = make.course(organizations=[assoc], day=today_local() + timedelta(days=20), capacity=40)
    db.session.commit()

    for user, url, paginated in (
        (organizer, "/personnes", True),
        (liaison, "/tableau-de-bord", True),
        (organizer, f"/stages/{course.id}/inscrire", False),  # 50 per page
    ):
        login(client, user)
        location = search(client, url, TERM)
        assert location.endswith("recherche=1"), location
        html = client.get(location).get_data(as_text=True)
        assert "ZORGLUB" in html and "DUPONT" not in html, url
        assert f'value="{TERM}"' in html  # the search box still shows it
        leaked = [u for u in _urls(html) if TERM in u.lower()]
        assert leaked == [], (url, leaked)
        if paginated:
            next_page = next(u for u in _urls(html) if "page=2" in u).replace("&amp;", "&")
            assert "recherche=1" in next_page
            second = client.get(next_page).get_data(as_text=True)
            assert "ZORGLUB" in second and "DUPONT" not in second, url
        # Opened from the menu, the list starts afresh.
        fresh = client.get(url).get_data(as_text=True)
        assert "31 résultats" in fresh and f'value="{TERM}"' not in fresh, url
        client.post("/deconnexion")


def test_a_search_form_without_its_token_is_refused(app, client, make):
    organizer = make.user(Role.ORGANIZER, [make.organization()])
    db.session.commit()
    login(client, organizer)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/personnes", data={"q": TERM, "recherche": "1"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
