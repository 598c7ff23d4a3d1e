"""Bad input everywhere: hostile values sent to every route, form and query parameter.

Property-based (hypothesis): very long strings, control characters, HTML/JS, SQL fragments,
wrong types (lists where one value is expected), dates out of range…

* The sweep is generated from the URL map: every rule (but ``static``), every method it
  accepts, as an administrator and as an organizer of the association in the `every_route` fixture (tests/conftest.py). GETs carry
  1–4 random query parameters (the names the views read, and random ones); POSTs carry every
  field of the page's forms (read from the rendered page) plus the dynamic names of the
  attendance and closing pages, all filled with hostile values. Nothing may answer 500.
* The forms that store text get focused property tests, then a stored-script check: a record
  saved with a script in one free-text field is shown, escaped, on every page that lists it.

Runs are derandomized (the same examples every time), so a failure is reproducible; hypothesis
prints the falsifying example.
"""
from __future__ import annotations

import html
import io
import os
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stages.enrollment.models import LegalMeasure, Participant
from stages.extensions import db
from stages.scheduling.models import Course, CourseStatus, Venue
from stages.auth.models import Organization
from stages.timeutil import today_local
from tests.conftest import IsolatedClient
from tests.factories import PASSWORD
from tests.helpers import search

# --- Hostile values ----------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
PAYLOAD = f"X{SCRIPT}{IMG}"

HOSTILE = st.one_of(
    st.text(max_size=50),
    st.text(min_size=1000, max_size=5000),
    st.text(st.characters(whitelist_categories=("Cc",)), min_size=1, max_size=20),
    st.sampled_from(
        [
            SCRIPT, IMG, "'; DROP TABLE users; --", "' OR 1=1 --", "%00", "\x00",
            "../../etc/passwd", "9" * 40, "-1", "0", "1e309", "NaN", "2026-02-30", "0000-00-00",
            "9999-12-31", "31/12/99999", "😀" * 100, '=HYPERLINK("http://x")', "", " ",
            "99:99", "25:00", "-99999999999999999999", "0x10", "1.5", "true", "[]", "{}",
        ]
    ),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.dates().map(lambda d: d.isoformat()),
)
# Wrong types: several values where the view expects one.
HOSTILE_FIELD = st.one_of(HOSTILE, st.lists(HOSTILE, min_size=2, max_size=3))

# Query parameters the views read (grep request.args / request.values / parse_filters).
QUERY_NAMES = [
    "page", "q", "statut", "cadre", "annee", "mois", "date", "lieu", "organisation",
    "intervenant", "mes", "quand", "depuis", "du", "au", "utilisateur", "personne", "action",
    "autorite", "echeance_du", "echeance_au", "archives", "sans_courriel", "next", "format",
    "limit", "cursor", "motif",
]
QUERY = st.dictionaries(
    st.one_of(st.sampled_from(QUERY_NAMES), st.text(min_size=1, max_size=12)),
    HOSTILE_FIELD, min_size=1, max_size=4,
)

# Names of POST-only routes (no page to read them from) and of the dynamic rows.
FALLBACK_FIELDS = ["status", "note", "reason", "next_page", "archive", "code", "measure", "session",
                   "selected", "token", "confirm", "email", "password", "next", "q", "create",
                   "flux", "numero", "date_avis", "lettre"]
# Always sent too: names that appear only on some states of a page (series preview, search hits).
EXTRA_FIELDS = {"measure", "session", "selected", "create", "confirm", "confirm_new", "attach_to",
                "next_page", "status", "note"}

# Kept small so the module runs in about a minute; HOSTILE_SCALE=10 for a deeper (nightly) run.
_SCALE = max(1, int(os.environ.get("HOSTILE_SCALE", "1")))
SWEEP_EXAMPLES = 1 * _SCALE      # per rule × method × role
FOCUSED_EXAMPLES = 25 * _SCALE   # per form that stores text


def _settings(examples: int):
    return settings(
        max_examples=examples, deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large, HealthCheck.large_base_example],
        print_blob=True,
    )



def _logged_in(app, user) -> IsolatedClient:
    client = IsolatedClient(app, app.response_class, use_cookies=True)
    response = client.post("/connexion", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, user.email
    return client


# Pages about a closed session, or one that is over (attendance, closing).
CLOSED_SESSION_ENDPOINTS = {
    "certificates.course_issue", "reports.bilans", "reports.bilan_download", "reports.bilan_mark_sent",
}
PAST_SESSION_ENDPOINTS = {"attendance.close", "attendance.take_attendance", "attendance.roster"}
# Ending the login session would log the sweeping client out: checked on their own client.
SESSION_ENDING = {"auth.logout", "auth.logout_everywhere"}


def _url(rule, every_route) -> str:
    values = {}
    for name in rule.arguments:
        if name == "course_id" and rule.endpoint in CLOSED_SESSION_ENDPOINTS:
            values[name] = every_route.closed_course_id
        elif name == "course_id" and rule.endpoint in PAST_SESSION_ENDPOINTS:
            values[name] = every_route.past_course_id
        elif name == "part_id" and rule.endpoint in PAST_SESSION_ENDPOINTS:
            values[name] = every_route.past_part_id
        else:
            values[name] = every_route.params[name]
    return rule.build(values)[1]


def _rules(app, endpoint=None):
    return sorted(
        (r for r in app.url_map.iter_rules()
         if r.endpoint != "static" and (endpoint is None or r.endpoint == endpoint)),
        key=lambda r: (r.endpoint, r.rule),
    )


_FIELD = re.compile(r"<(input|select|textarea|button)\b([^>]*)>", re.I)
_NAME = re.compile(r'\sname="([^"]+)"')


def _field_names(page: str) -> tuple[set[str], set[str]]:
    """(text-ish field names, file field names) of the forms of a rendered page."""
    names, files = set(), set()
    for _tag, attrs in _FIELD.findall(page):
        found = _NAME.search(attrs)
        if not found:
            continue
        name = html.unescape(found.group(1))
        if name == "csrf_token":
            continue
        (files if 'type="file"' in attrs else names).add(name)
    return names, files


def _dynamic_fields(every_route) -> set[str]:
    names = {"measure", "selected", "session", "reason", "status"}
    for eid in every_route.enrollment_ids:
        names |= {f"status-{eid}", f"arrived-{eid}", f"left-{eid}", f"note-{eid}",
                  f"outcome-{eid}", f"reason-{eid}"}
    return names


def _check(response, what) -> None:
    code = response.status_code
    response.get_data()  # a streamed body (CSV exports) runs, and ends its contexts, here
    response.close()
    assert code < 500, (code, what)


def _sweep(app, every_route, client, rule, method, fields, files):
    url = _url(rule, every_route)
    if method == "GET":
        @_settings(SWEEP_EXAMPLES)
        @given(query=QUERY)
        def run(query):
            _check(client.get(url, query_string=query), (method, url, query))
    else:
        strategy = st.fixed_dictionaries({name: HOSTILE_FIELD for name in sorted(fields)})

        @_settings(SWEEP_EXAMPLES)
        @given(form=strategy, query=st.one_of(st.just({}), QUERY),
               upload=st.binary(max_size=2000) | HOSTILE.map(lambda s: s.encode()))
        def run(form, query, upload):
            data = dict(form)
            for name in files:
                data[name] = (io.BytesIO(upload), "fichier.csv")
            _check(client.post(url, data=data, query_string=query,
                               content_type="multipart/form-data" if files else None),
                   (method, url, form, query))
    run()


def _sweep_endpoint(app, every_route, endpoint, client_for):
    rules = _rules(app, endpoint)
    assert rules
    for role in ("admin", "organizer"):
        client = client_for(role)
        for rule in rules:
            url = _url(rule, every_route)
            fields, files = set(), set()
            if "GET" in rule.methods:
                page = client.get(url)
                body = page.get_data(as_text=page.mimetype == "text/html")
                page.close()
                assert page.status_code < 500, (role, url)
                if page.status_code == 200 and page.mimetype == "text/html":
                    fields, files = _field_names(body)
                _sweep(app, every_route, client, rule, "GET", fields, files)
            if "POST" in rule.methods:
                fields = (fields or set(FALLBACK_FIELDS)) | EXTRA_FIELDS
                fields |= _dynamic_fields(every_route) if endpoint.startswith("attendance.") else set()
                _sweep(app, every_route, client, rule, "POST", fields, files)


# Endpoints known when the module is collected (from an app built without a database).
def _all_endpoints() -> list[str]:
    from stages import create_app

    bare = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return sorted({r.endpoint for r in bare.url_map.iter_rules() if r.endpoint != "static"})


@pytest.mark.parametrize("endpoint", _all_endpoints())
def test_no_500_on_hostile_input(app, every_route, endpoint):
    """Every rule × method × role of ``endpoint``, with hostile query strings and forms."""
    clients = {}

    def client_for(role):
        if role not in clients:
            clients[role] = _logged_in(app, every_route.admin if role == "admin" else every_route.organizer)
        return clients[role]

    _sweep_endpoint(app, every_route, endpoint, client_for)


# Values that broke a route before (each once answered 500 somewhere): the deterministic pass
# sends each of them in every field and every query parameter, and in every text path parameter.
KILLERS = [
    "\x00", "a\x00b", "sNaN", "NaN", "-Infinity", "1e999", str(2**31), str(2**63),
    str(-(2**63)), "9" * 40, "0001-01-01", "9999-12-31", "10000-01-01", "0000-00-00",
    "2026-02-30", "a\nb\r\nc", "ligne\u2028suite", "25:61", "😀" * 300,
]
PUBLIC_ENDPOINTS = {
    "auth.login", "auth.login_code", "certificates.verify_form", "certificates.verify_submit",
    "certificates.verify_code", "calendar_feeds.my_feed", "calendar_feeds.all_feed",
    "calendar_feeds.venue_feed", "calendar_feeds.organization_feed", "favicon",
    "enrollment.summons_page", "enrollment.summons_confirm", "enrollment.summons_other_date",
    "evaluation.answer",
}


def _killer_urls(rule, every_route) -> list[str]:
    """The route's URL, and one per killer in each of its text path parameters (token, code)."""
    urls = [_url(rule, every_route)]
    texts = [name for name, conv in rule._converters.items() if type(conv).__name__ in ("UnicodeConverter", "PathConverter")]
    for name in texts:
        for killer in KILLERS:
            values = {n: every_route.params[n] for n in rule.arguments}
            values[name] = killer
            try:
                urls.append(rule.build(values)[1])
            except Exception:  # a value the converter itself refuses to build
                continue
    return urls


def _killers_on(client, rule, every_route, fields: set[str]) -> None:
    names = set(QUERY_NAMES) | fields
    for url in _killer_urls(rule, every_route):
        for killer in KILLERS:
            query = {name: killer for name in QUERY_NAMES}
            if "GET" in rule.methods:
                _check(client.get(url, query_string=query), ("GET", url, killer))
            if "POST" in rule.methods:
                _check(client.post(url, data={name: killer for name in names}, query_string=query),
                       ("POST", url, killer))
            if url != _url(rule, every_route):
                break  # a hostile path: one pass of query killers is enough


@pytest.mark.parametrize("endpoint", _all_endpoints())
def test_no_500_on_the_values_that_broke_routes_before(app, every_route, endpoint):
    """Every rule of ``endpoint`` with each known killer (NUL bytes, sNaN, out-of-range dates and
    integers, line breaks in one-line fields…) in every field, query and text path parameter,
    anonymous (public routes) and logged in as an admin and an organizer."""
    users = {"admin": every_route.admin, "organizer": every_route.organizer}
    roles = (["anonymous"] if endpoint in PUBLIC_ENDPOINTS else []) + list(users)
    for role in roles:
        client = (IsolatedClient(app, app.response_class, use_cookies=True) if role == "anonymous"
                  else _logged_in(app, users[role]))
        for rule in _rules(app, endpoint):
            fields = FALLBACK_FIELDS if "POST" in rule.methods else []
            if "GET" in rule.methods:
                page = client.get(_url(rule, every_route))
                if page.status_code == 200 and page.mimetype == "text/html":
                    fields = sorted(set(fields) | _field_names(page.get_data(as_text=True))[0])
                page.close()
            if endpoint.startswith("attendance."):
                fields = sorted(set(fields) | _dynamic_fields(every_route))
            _killers_on(client, rule, every_route, set(fields))


def test_the_sweep_covers_every_route(app):
    """The parametrized sweep was built from the same URL map as the test app's."""
    assert _all_endpoints() == sorted({r.endpoint for r in _rules(app)})


@pytest.mark.parametrize("endpoint", sorted(SESSION_ENDING))
def test_course_ending_routes_survive_hostile_input(app, every_route, endpoint):
    """Logging out with a hostile body and query string: never a 500 (checked again logged in)."""
    for user in (every_route.admin, every_route.organizer):
        client = _logged_in(app, user)

        @_settings(SWEEP_EXAMPLES * 2)
        @given(form=st.fixed_dictionaries({n: HOSTILE_FIELD for n in FALLBACK_FIELDS}), query=QUERY)
        def run(form, query):
            _check(client.post(_url(_rules(app, endpoint)[0], every_route), data=form, query_string=query),
                   (endpoint, form, query))

        run()


# --- Forms that store text: focused properties, then stored script ------------------------------

RAW_MARKERS = (SCRIPT, "<img src=x onerror")
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
_serial = iter(range(10**9))


def _page(client, url) -> str:
    response = client.get(url)
    body = response.get_data(as_text=True)
    response.close()
    assert response.status_code < 500, (url, response.status_code)
    return body


def _no_raw_script(client, urls) -> dict[str, str]:
    pages = {url: _page(client, url) for url in urls}
    for url, body in pages.items():
        for marker in RAW_MARKERS:  # case-insensitive: names are upper-cased, HTML is not
            assert marker.lower() not in body.lower(), f"unescaped {marker!r} on {url}"
    return pages


def _post(client, url, data):
    response = client.post(url, data=data)
    response.get_data()
    response.close()
    assert response.status_code < 500, (url, response.status_code, data)
    return response


def _saved(response) -> bool:
    return response.status_code == 302


def _referral_data(every_route, **overrides) -> dict:
    n = next(_serial)
    today = today_local()
    data = {
        "surname": f"MARTIN{n}", "first_names": "Paul", "birth_date": "1980-05-17",
        "birth_place": "Lyon", "address": "1 rue de la Paix", "postal_code": "75002",
        "city": "Paris", "phone": "0102030405", "email": f"p{n}@example.org",
        "frame": "composition_penale", "authority": str(every_route.authority_id),
        "handling_organization": str(every_route.assoc_id), "case_reference": f"24{n:09d}",
        "decision_date": (today - timedelta(days=10)).isoformat(),
        "deadline": (today + timedelta(days=170)).isoformat(), "fee": "0",
        "payer": "participant", "payment_status": "due", "certificate_recipient": "",
        "confirm_new": "1",
    }
    data.update(overrides)
    return data


def _course_data(every_route, **overrides) -> dict:
    day = today_local() + timedelta(days=40 + next(_serial) % 300)
    data = {
        "title": "Stage", "venue": str(every_route.venue_id), "capacity": "12", "min_participants": "5",
        "fee": "0", "organizations": str(every_route.assoc_id), "notes": "",
        "parts-0-day": day.isoformat(), "parts-0-start": "09:30", "parts-0-end": "12:30",
        "schedule": "Programmer le stage",
    }
    data.update(overrides)
    return data


def _venue_data(**overrides) -> dict:
    data = {
        "name": f"Salle hostile {next(_serial)}", "room": "", "address": "2 rue du Bac",
        "postal_code": "75007", "city": "Paris", "capacity": "20", "timezone": "Europe/Paris",
        "opening_hours": "", "accessibility": "", "access_instructions": "",
    }
    data.update(overrides)
    return data


def _organization_data(**overrides) -> dict:
    n = next(_serial)
    data = {"name": f"Association {n}", "short_name": f"Asso {n}", "kind": "association",
            "address": "", "email": "", "phone": ""}
    data.update(overrides)
    return data


REFERRAL_TEXT = ["surname", "first_names", "birth_place", "address", "postal_code", "city", "phone",
                 "email", "case_reference", "certificate_recipient", "birth_date", "decision_date",
                 "deadline", "fee", "frame", "authority", "payer"]
SESSION_TEXT = ["title", "notes", "capacity", "min_participants", "fee", "venue", "organizations",
                "facilitators", "parts-0-day", "parts-0-start", "parts-0-end", "parts-1-day"]
VENUE_TEXT = ["name", "room", "address", "postal_code", "city", "capacity", "timezone",
              "opening_hours", "accessibility", "access_instructions"]
ORGANIZATION_TEXT = ["name", "short_name", "kind", "address", "email", "phone"]


@pytest.fixture
def admin_client(app, every_route):
    return _logged_in(app, every_route.admin)


def test_referral_form_property(admin_client, every_route):
    @_settings(FOCUSED_EXAMPLES)
    @given(field=st.sampled_from(REFERRAL_TEXT), value=HOSTILE)
    def run(field, value):
        response = _post(admin_client, "/personnes/nouvelle", _referral_data(every_route, **{field: value}))
        urls = ["/personnes", "/tableau-de-bord", f"/stages/{every_route.course_id}/inscrire"]
        if _saved(response):
            urls.append(response.headers["Location"])
        _no_raw_script(admin_client, urls)

    run()


def test_course_form_property(admin_client, every_route):
    @_settings(FOCUSED_EXAMPLES)
    @given(field=st.sampled_from(SESSION_TEXT), value=HOSTILE_FIELD)
    def run(field, value):
        data = _course_data(every_route, **{field: value})
        response = _post(admin_client, "/stages/nouveau", data)
        urls = ["/calendrier/liste"]
        if _saved(response):
            day = data["parts-0-day"]
            urls += [response.headers["Location"], f"/calendrier/semaine?date={day}",
                     f"/calendrier?annee={day[:4]}&mois={int(day[5:7])}"]
        _no_raw_script(admin_client, urls)

    run()


def test_venue_form_property(admin_client, every_route):
    @_settings(FOCUSED_EXAMPLES)
    @given(field=st.sampled_from(VENUE_TEXT), value=HOSTILE, edit=st.booleans())
    def run(field, value, edit):
        url = f"/lieux/{every_route.venue_id}/modifier" if edit else "/lieux/nouveau"
        _post(admin_client, url, _venue_data(**{field: value}))
        _no_raw_script(admin_client, ["/lieux", f"/lieux/{every_route.venue_id}/modifier",
                                      f"/stages/{every_route.course_id}", "/calendrier/liste"])

    run()


def test_organization_form_property(admin_client, every_route):
    @_settings(FOCUSED_EXAMPLES)
    @given(field=st.sampled_from(ORGANIZATION_TEXT), value=HOSTILE, edit=st.booleans())
    def run(field, value, edit):
        url = f"/organisations/{every_route.assoc_id}/modifier" if edit else "/organisations/nouvelle"
        data = _organization_data(**{field: value})
        if edit:
            data["kind"] = "association" if field != "kind" else value
        _post(admin_client, url, data)
        _no_raw_script(admin_client, ["/organisations", "/calendrier", f"/stages/{every_route.course_id}"])

    run()


def test_attendance_notes_property(admin_client, every_route):
    eid = every_route.past_enrollment_id
    url = f"/stages/{every_route.past_course_id}/presence/{every_route.past_part_id}"

    @_settings(FOCUSED_EXAMPLES)
    @given(note=HOSTILE, arrived=HOSTILE, reason=HOSTILE,
           status=st.sampled_from(["present", "late", "left_early", "absent", "excused"]) | HOSTILE)
    def run(note, arrived, reason, status):
        _post(admin_client, url, {f"status-{eid}": status, f"note-{eid}": note,
                                  f"arrived-{eid}": arrived, "reason": reason})
        _no_raw_script(admin_client, [url, f"/stages/{every_route.past_course_id}/emargement",
                                      f"/personnes/{_participant_of(eid)}"])

    run()


def _participant_of(enrollment_id: int) -> int:
    from stages.enrollment.models import Enrollment

    return db.session.get(Enrollment, enrollment_id).measure.participant_id


def _fresh_measure_with_certificate(every_route):
    """A measure and its attestation, of a session closed three days ago (for one example)."""
    from tests import factories as make

    assoc = db.session.get(Organization, every_route.assoc_id)
    authority = db.session.get(Organization, every_route.authority_id)
    _, enrollments = make.closed_course_with(
        people=1, organizations=[assoc], authority=authority, handling=assoc,
        day=today_local() - timedelta(days=3 + next(_serial) % 200),
    )
    certificate = make.certificate(enrollments[0])
    db.session.commit()
    return enrollments[0].measure, certificate


def test_reasons_property(admin_client, every_route):
    """Cancellation, withdrawal and revocation reasons, on fresh objects each time."""
    from tests import factories as make

    @_settings(FOCUSED_EXAMPLES)
    @given(kind=st.sampled_from(["cancel", "withdraw", "revoke"]), reason=HOSTILE_FIELD)
    def run(kind, reason):
        if kind == "cancel":
            course = make.course(organizations=[db.session.get(Organization, every_route.assoc_id)],
                                   day=today_local() + timedelta(days=30 + next(_serial) % 300))
            db.session.commit()
            _post(admin_client, f"/stages/{course.id}/annuler", {"reason": reason})
            _no_raw_script(admin_client, [f"/stages/{course.id}", "/calendrier/liste?quand=tous"])
        elif kind == "withdraw":
            measure = make.measure(authority=db.session.get(Organization, every_route.authority_id))
            db.session.commit()
            _post(admin_client, f"/mesures/{measure.id}/renvoyer", {"reason": reason})
            _no_raw_script(admin_client, [f"/personnes/{measure.participant_id}", "/personnes"])
        else:
            measure, certificate = _fresh_measure_with_certificate(every_route)
            _post(admin_client, f"/attestations/{certificate.id}/revoquer", {"reason": reason})
            _no_raw_script(admin_client, [f"/personnes/{measure.participant_id}",
                                          f"/verification/{certificate.verification_code}"])

    run()


# --- Stored script: saved for real, shown escaped -----------------------------------------------


def _shown_escaped(client, urls) -> None:
    pages = _no_raw_script(client, urls)
    assert any(ESCAPED.lower() in body.lower() for body in pages.values()), (
        f"the payload is shown nowhere: {urls}"
    )


def test_referral_stores_script_as_text(admin_client, every_route):
    data = _referral_data(every_route, surname=f"DURAND{PAYLOAD}", first_names=PAYLOAD, city=PAYLOAD,
                          address=PAYLOAD)
    response = _post(admin_client, "/personnes/nouvelle", data)
    assert _saved(response), response.get_data(as_text=True)
    person = db.session.scalar(sa.select(Participant).where(Participant.surname.startswith("DURAND")))
    # Stored as typed (names upper-cased): escaping is the templates' job.
    assert SCRIPT.lower() in person.surname.lower() and SCRIPT in person.city
    detail = f"/personnes/{person.id}"
    _shown_escaped(admin_client, [detail])
    _shown_escaped(admin_client, ["/personnes", search(admin_client, "/personnes", "DURAND")])
    _no_raw_script(admin_client, ["/tableau-de-bord", f"/stages/{every_route.course_id}/inscrire",
                                  f"/personnes/{person.id}/modifier"])


def test_referral_refuses_a_formula(admin_client, every_route):
    for surname in ('=HYPERLINK("http://x")', "+33 1", "@SUM(A1)"):
        response = _post(admin_client, "/personnes/nouvelle", _referral_data(every_route, surname=surname))
        assert response.status_code == 200
        assert "ne peut pas commencer par" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Participant)) == 5  # the every_route's (3, and the 2 of its fee ledger)


def test_course_stores_script_as_text(admin_client, every_route):
    data = _course_data(every_route, title=f"Stage {PAYLOAD}", notes=PAYLOAD)
    response = _post(admin_client, "/stages/nouveau", data)
    assert _saved(response), response.get_data(as_text=True)
    day = data["parts-0-day"]
    _shown_escaped(admin_client, [response.headers["Location"]])
    _shown_escaped(admin_client, ["/calendrier/liste", f"/calendrier/semaine?date={day}",
                                  f"/calendrier?annee={day[:4]}&mois={int(day[5:7])}"])


def test_venue_stores_script_as_text(admin_client, every_route):
    response = _post(admin_client, f"/lieux/{every_route.venue_id}/modifier",
                     _venue_data(name=f"Salle {PAYLOAD}", room=PAYLOAD, address=PAYLOAD,
                                 access_instructions=PAYLOAD))
    assert _saved(response), response.get_data(as_text=True)
    assert SCRIPT in db.session.get(Venue, every_route.venue_id).room
    for url in ["/lieux", f"/stages/{every_route.course_id}", "/calendrier/liste",
                f"/stages/{every_route.course_id}/emargement"]:
        _shown_escaped(admin_client, [url])


def test_organization_stores_script_as_text(admin_client, every_route):
    response = _post(admin_client, f"/organisations/{every_route.assoc_id}/modifier",
                     _organization_data(name=f"Asso {PAYLOAD}", short_name="Asso <b>x</b>",
                                        address=PAYLOAD))
    assert _saved(response), response.get_data(as_text=True)
    assert SCRIPT in db.session.get(Organization, every_route.assoc_id).name
    for url in ["/organisations", "/calendrier", f"/stages/{every_route.course_id}"]:
        _no_raw_script(admin_client, [url])
    _shown_escaped(admin_client, ["/organisations"])


def test_attendance_note_stores_script_as_text(admin_client, every_route):
    eid = every_route.past_enrollment_id
    url = f"/stages/{every_route.past_course_id}/presence/{every_route.past_part_id}"
    response = _post(admin_client, url, {f"status-{eid}": "present", f"note-{eid}": PAYLOAD,
                                      "reason": "Saisie après coup"})
    assert _saved(response), response.get_data(as_text=True)
    _shown_escaped(admin_client, [f"/personnes/{_participant_of(eid)}"])
    _no_raw_script(admin_client, [url, f"/stages/{every_route.past_course_id}/emargement"])


def test_cancellation_reason_stores_script_as_text(admin_client, every_route):
    response = _post(admin_client, f"/stages/{every_route.course_id}/annuler", {"reason": PAYLOAD})
    assert _saved(response), response.get_data(as_text=True)
    assert db.session.get(Course, every_route.course_id).status == CourseStatus.CANCELLED
    _shown_escaped(admin_client, [f"/stages/{every_route.course_id}"])


def test_withdrawal_reason_stores_script_as_text(admin_client, every_route):
    response = _post(admin_client, f"/mesures/{every_route.measure_id}/renvoyer", {"reason": PAYLOAD})
    assert _saved(response), response.get_data(as_text=True)
    assert SCRIPT in db.session.get(LegalMeasure, every_route.measure_id).withdrawal_reason
    _shown_escaped(admin_client, [f"/personnes/{every_route.participant_id}"])
    _no_raw_script(admin_client, ["/personnes", "/tableau-de-bord"])


def test_revocation_reason_stores_script_as_text(admin_client, every_route):
    from stages.certificates.models import Certificate

    response = _post(admin_client, f"/attestations/{every_route.certificate_id}/revoquer", {"reason": PAYLOAD})
    assert _saved(response), response.get_data(as_text=True)
    certificate = db.session.get(Certificate, every_route.certificate_id)
    assert certificate.revoked_at is not None and SCRIPT in certificate.revocation_reason
    participant_id = certificate.enrollment.measure.participant_id
    # The reason is kept on the row, not displayed: the pages around it must stay clean.
    _no_raw_script(admin_client, [f"/personnes/{participant_id}",
                                  f"/verification/{certificate.verification_code}"])


def test_other_date_form_property(app, admin_client, every_route):
    """The public request for another date: hostile reasons and details are a French 400 or
    stored as typed (at most 200 characters), and shown escaped to the organizers."""
    from stages.enrollment.confirmation.models import SummonsReply

    public = IsolatedClient(app, app.response_class, use_cookies=True)
    url = f"/c/{every_route.params['link_code']}/autre-date"

    @_settings(FOCUSED_EXAMPLES)
    @given(reason=st.sampled_from(["medical", "work", "other"]) | HOSTILE, details=HOSTILE_FIELD)
    def run(reason, details):
        # One request waits at a time: the earlier ones are handled first.
        db.session.execute(sa.update(SummonsReply).values(handled_at=sa.func.now()))
        db.session.commit()
        response = _post(public, url, {"reason": reason, "details": details})
        assert response.status_code in (303, 400)
        stored = db.session.scalars(sa.select(SummonsReply.reason_text).where(SummonsReply.handled_at.is_(None))).all()
        assert all(text is None or len(text) <= 200 for text in stored)
        _no_raw_script(admin_client, ["/", f"/personnes/{every_route.participant_id}"])

    run()
