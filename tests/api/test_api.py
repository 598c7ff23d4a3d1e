"""The read-only API: tokens, scope through the permission helper, pagination, ETags, errors as
problem+json, audit; every response checked against the served OpenAPI document."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import time_machine

from stages.api.models import ApiToken
from stages.auth.models import AuditEntry, Role
from stages.extensions import db
from stages.reports.models import Bilan
from stages.timeutil import now_utc, today_local
from tests.helpers import count_queries, login

LISTS = ("measures", "sessions", "certificates", "bilans")


@pytest.fixture
def two_sides(make):
    """Two associations and two parquets, each side with a measure in a coming course, a closed
    course with an attestation and a bilan; a token for each role on side A and on side B."""
    w = SimpleNamespace(ids={})
    for side in ("a", "b"):
        assoc = make.organization(name=f"Association {side}")
        parquet = make.authority(f"Parquet {side}")
        organizer = make.user(Role.ORGANIZER, [assoc])
        liaison = make.user(Role.LIAISON, [parquet])
        course = make.course(organizations=[assoc], day=today_local() + timedelta(days=10))
        measure = make.measure(authority=parquet, handling=assoc)
        make.enrollment(measure, course)
        closed, enrollments = make.closed_course_with(people=1, organizations=[assoc], authority=parquet,
                                                      handling=assoc)
        certificate = make.certificate(enrollments[0])
        bilan = Bilan(course_id=closed.id, authority_id=parquet.id)
        db.session.add(bilan)
        db.session.flush()
        setattr(w, f"organizer_{side}", organizer)
        setattr(w, f"liaison_{side}", liaison)
        setattr(w, f"parquet_{side}", parquet)
        setattr(w, f"assoc_{side}", assoc)
        w.ids[side] = {
            "measures": {measure.id, enrollments[0].measure_id},
            "sessions": {course.id, closed.id},
            "certificates": {certificate.id},
            "bilans": {bilan.id},
        }
        w.__dict__[f"measure_{side}"] = measure.id
    w.admin = make.user(Role.ADMIN)
    w.tokens = {name: make.api_token(getattr(w, name)) for name in
                ("admin", "organizer_a", "organizer_b", "liaison_a", "liaison_b")}
    db.session.commit()
    return w


def _ids(api, kind, token):
    response = api.get(f"/api/v1/{kind}?limit=200", token)
    assert response.status_code == 200
    return {item["id"] for item in response.get_json()["items"]}


# What each token sees of side A: organizers see their association's everything, liaisons the
# measures, attestations and bilans of their parquet and no course (as on the pages).
SEES_OF_A = {
    "admin": LISTS,
    "organizer_a": LISTS,
    "organizer_b": (),
    "liaison_a": ("measures", "certificates", "bilans"),
    "liaison_b": (),
}

MIRROR = {"organizer_a": "organizer_b", "organizer_b": "organizer_a", "liaison_a": "liaison_b", "liaison_b": "liaison_a"}


@pytest.mark.parametrize("holder", sorted(SEES_OF_A))
def test_each_token_sees_its_scope_only_in_lists_and_by_id(api, two_sides, holder):
    token = two_sides.tokens[holder]
    for kind in LISTS:
        seen = _ids(api, kind, token)
        for side in "ab":
            # What a token sees of side B is what its mirror (organizer_a ↔ organizer_b) sees of A.
            expected = kind in SEES_OF_A[holder if side == "a" else MIRROR.get(holder, holder)]
            if expected:
                assert two_sides.ids[side][kind] <= seen, (holder, kind, side)
            else:
                assert not two_sides.ids[side][kind] & seen, (holder, kind, side)
            for object_id in two_sides.ids[side][kind]:
                response = api.get(f"/api/v1/{kind}/{object_id}", token)
                assert response.status_code == (200 if expected else 404), (holder, kind, side, object_id)
                if response.status_code == 200:
                    assert response.get_json()["id"] == object_id


def test_an_object_outside_the_scope_is_a_404_like_a_missing_one(api, two_sides):
    token = two_sides.tokens["liaison_a"]
    outside = api.get(f"/api/v1/measures/{two_sides.measure_b}", token)
    missing = api.get("/api/v1/measures/999999", token)
    assert outside.status_code == missing.status_code == 404
    assert outside.get_json() == missing.get_json()
    assert outside.mimetype == "application/problem+json"
    assert api.get(f"/api/v1/measures/{two_sides.measure_b}/attendance", token).status_code == 404


def test_measure_shows_status_outcome_frame_authority_deadline_and_case_reference(api, two_sides, make):
    token = two_sides.tokens["liaison_a"]
    items = api.get("/api/v1/measures", token).get_json()["items"]
    by_outcome = {item["id"]: item for item in items}
    attended = next(i for i in items if i["outcome"])
    assert attended["outcome"]["code"] == "attended"
    assert attended["status"]["code"] == "attended"
    assert attended["frame"]["code"] == "composition_penale"
    assert attended["authority"]["name"] == "Parquet a"
    assert attended["case_reference"] and attended["deadline"]
    assert by_outcome[two_sides.measure_a]["outcome"] is None


def test_attendance_per_measure_lists_each_half_day(api, two_sides):
    token = two_sides.tokens["organizer_a"]
    attended_id = (two_sides.ids["a"]["measures"] - {two_sides.measure_a}).pop()
    body = api.get(f"/api/v1/measures/{attended_id}/attendance", token).get_json()
    (enrollment,) = body["enrollments"]
    assert enrollment["status"]["code"] == "attended"
    assert enrollment["half_days"] and {h["status"]["code"] for h in enrollment["half_days"]} == {"present"}


def test_certificate_says_whether_it_is_valid(api, two_sides):
    from stages.certificates.models import Certificate

    (certificate_id,) = two_sides.ids["a"]["certificates"]
    token = two_sides.tokens["liaison_a"]
    assert api.get(f"/api/v1/certificates/{certificate_id}", token).get_json()["valid"] is True
    certificate = db.session.get(Certificate, certificate_id)
    certificate.revoked_at, certificate.revocation_reason = now_utc(), "Erreur de date"
    db.session.commit()
    body = api.get(f"/api/v1/certificates/{certificate_id}", token).get_json()
    assert body["valid"] is False and body["revoked_at"]


def test_bilan_carries_its_transmission_state(api, two_sides):
    (bilan_id,) = two_sides.ids["a"]["bilans"]
    token = two_sides.tokens["liaison_a"]
    assert api.get(f"/api/v1/bilans/{bilan_id}", token).get_json()["transmission"] == {
        "state": "not_sent", "sent_at": None, "reference": None, "acknowledged_at": None, "files": []}
    bilan = db.session.get(Bilan, bilan_id)
    bilan.sent_at = now_utc()  # handed over otherwise (« Marquer comme remis »)
    db.session.commit()
    assert api.get(f"/api/v1/bilans/{bilan_id}", token).get_json()["transmission"]["state"] == "sent"


def test_bilan_transmission_follows_its_latest_transmission_row(api, two_sides):
    """Queued, refused, sent with its files' hashes, then acknowledged: the API says each."""
    from stages.reports.models import ReportTransmission, TransmissionStatus, TransmittedFile

    (bilan_id,) = two_sides.ids["a"]["bilans"]
    token = two_sides.tokens["liaison_a"]
    bilan = db.session.get(Bilan, bilan_id)
    rows = []
    for number, status in ((1, TransmissionStatus.FAILED), (2, TransmissionStatus.QUEUED)):
        rows.append(ReportTransmission(authority_id=bilan.authority_id, kind="bilan", refs={"course": bilan.course_id},
                                       document_key=f'{{"course":{bilan.course_id}}}', number=number, status=status))
    db.session.add_all(rows)
    db.session.flush()
    bilan.transmission_id = rows[0].id
    db.session.commit()
    assert api.get(f"/api/v1/bilans/{bilan_id}", token).get_json()["transmission"]["state"] == "failed"
    bilan.transmission_id = rows[1].id
    db.session.commit()
    assert api.get(f"/api/v1/bilans/{bilan_id}", token).get_json()["transmission"]["state"] == "queued"
    rows[1].status, rows[1].sent_at = TransmissionStatus.SENT, now_utc()
    rows[1].files.append(TransmittedFile(filename="bilan.pdf", mimetype="application/pdf", size=3, sha256="a" * 64))
    db.session.commit()
    state = api.get(f"/api/v1/bilans/{bilan_id}", token).get_json()["transmission"]
    assert state["state"] == "sent" and state["reference"] == rows[1].reference
    assert state["files"] == [{"filename": "bilan.pdf", "size": 3, "sha256": "a" * 64}]
    rows[1].acknowledged_at, rows[1].acknowledged_via = now_utc(), "link"
    db.session.commit()
    listed = api.get("/api/v1/bilans", token).get_json()["items"]
    assert [item["transmission"]["state"] for item in listed if item["id"] == bilan_id] == ["acknowledged"]


# --- Authentication ------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer nope", "Basic abc", "Bearer stg_zzzzzzzzzzzz_" + "a" * 43])
def test_missing_or_malformed_token_is_a_401_problem(api, two_sides, header):
    headers = {"Authorization": header} if header is not None else {}
    response = api.open("/api/v1/measures", headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["title"] == "Authentification requise"


def test_a_wrong_secret_of_a_real_prefix_is_refused(api, two_sides):
    token = two_sides.tokens["liaison_a"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert api.get("/api/v1/measures", forged).status_code == 401


def test_revoked_token_gets_401(api, two_sides):
    token = two_sides.tokens["liaison_a"]
    assert api.get("/api/v1/measures", token).status_code == 200
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == two_sides.liaison_a.id))
    row.revoked_at = now_utc()
    db.session.commit()
    assert api.get("/api/v1/measures", token).status_code == 401


def test_expired_token_gets_401(api, two_sides):
    token = two_sides.tokens["liaison_a"]
    with time_machine.travel(now_utc() + timedelta(days=32), tick=False):
        assert api.get("/api/v1/measures", token).status_code == 401


def test_deactivated_user_or_lost_organization_is_felt_at_once(api, two_sides):
    token = two_sides.tokens["liaison_a"]
    assert two_sides.ids["a"]["measures"] <= _ids(api, "measures", token)
    two_sides.liaison_a.organizations = []
    db.session.commit()
    assert _ids(api, "measures", token) == set()
    two_sides.liaison_a.active = False
    db.session.commit()
    assert api.get("/api/v1/measures", token).status_code == 401


def test_the_login_cookie_opens_nothing(api, client, two_sides):
    assert login(client, two_sides.liaison_a).status_code == 302
    response = api.get("/api/v1/measures")
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_no_write_a_liaison_token_included(api, two_sides, method, csrf_enabled):
    token = two_sides.tokens["liaison_a"]
    for url in ("/api/v1/measures", f"/api/v1/measures/{two_sides.measure_a}", "/api/v1/bilans"):
        response = api.open(url, token, method=method)
        assert response.status_code == 405, (method, url)
        assert response.get_json()["title"] == "Méthode non autorisée"
        assert response.headers["Allow"] == "GET, HEAD"


# --- Audit, pagination, ETag, hostile input ---------------------------------------------------


def test_every_read_is_audited_once_per_request(api, two_sides):
    token = two_sides.tokens["liaison_a"]
    urls = [f"/api/v1/{kind}" for kind in LISTS] + [f"/api/v1/measures/{two_sides.measure_a}",
                                                      f"/api/v1/measures/{two_sides.measure_a}/attendance"]
    for url in urls:
        api.get(url, token)
    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "api.read").order_by(AuditEntry.id)
    ).all()
    assert [e.details.split(" ")[1].rstrip(",") for e in entries] == urls
    assert {e.user_id for e in entries} == {two_sides.liaison_a.id}
    measure_reads = [e for e in entries if e.object_type == "LegalMeasure"]
    assert len(measure_reads) == 2 and all(e.participant_id for e in measure_reads)
    assert db.session.scalar(sa.select(ApiToken.last_used_at).where(ApiToken.user_id == two_sides.liaison_a.id))


def test_cursor_pagination_walks_every_row_once(api, two_sides, make):
    make.bulk_measures(23, two_sides.parquet_a)
    db.session.commit()
    token = two_sides.tokens["liaison_a"]
    seen, url, pages = [], "/api/v1/measures?limit=10", 0
    while url:
        body = api.get(url, token).get_json()
        seen += [item["id"] for item in body["items"]]
        url, pages = body["next"], pages + 1
    assert pages == 3 and len(seen) == len(set(seen)) == 25 and seen == sorted(seen)


def test_list_query_count_does_not_grow_with_the_page(api, two_sides, make):
    make.bulk_measures(60, two_sides.parquet_a, handling=two_sides.assoc_a)
    db.session.commit()
    for holder in ("liaison_a", "organizer_a", "admin"):
        token = two_sides.tokens[holder]
        for kind in LISTS:
            counts = []
            for limit in (2, 60):
                with count_queries() as counter:
                    assert api.get(f"/api/v1/{kind}?limit={limit}", token).status_code == 200
                counts.append(counter.count)
            assert counts[0] == counts[1], (holder, kind, counts)
    # The token with its user and the user's associations, the page, its enrollments, the
    # audit entry, the token's last use (bench/README.md: « API : mesures du référent »).
    db.session.expunge_all()
    with count_queries() as counter:
        assert api.get("/api/v1/measures", two_sides.tokens["liaison_a"]).status_code == 200
    assert counter.count <= 5


def test_etag_gives_304_on_lists_and_items(api, two_sides):
    token = two_sides.tokens["organizer_a"]
    for url in ("/api/v1/measures", f"/api/v1/measures/{two_sides.measure_a}", "/api/v1/sessions"):
        first = api.get(url, token)
        etag = first.headers["ETag"]
        again = api.get(url, token, **{"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
        assert api.get(url, token, **{"If-None-Match": '"autre"'}).status_code == 200


@pytest.mark.parametrize("query", [
    "limit=0", "limit=201", f"limit={10**30}", "limit=-1", "limit=abc", "limit=1e3", "limit= 5",
    "cursor=abc", "cursor=" + "x" * 5000, "limit=5%00", "cursor=%00", "%00=1",
])
def test_hostile_query_is_a_400_problem_never_a_500(api, two_sides, query):
    response = api.get(f"/api/v1/measures?{query}", two_sides.tokens["liaison_a"])
    assert response.status_code == 400, query
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["title"] == "Requête invalide"


def test_a_cursor_of_another_list_or_tampered_is_refused(api, two_sides, make):
    make.bulk_measures(3, two_sides.parquet_a)
    db.session.commit()
    token = two_sides.tokens["liaison_a"]
    next_url = api.get("/api/v1/measures?limit=1", token).get_json()["next"]
    cursor = next_url.split("cursor=")[1]
    assert api.get(f"/api/v1/measures?cursor={cursor}", token).status_code == 200
    assert api.get(f"/api/v1/bilans?cursor={cursor}", token).status_code == 400
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    assert api.get(f"/api/v1/measures?cursor={tampered}", token).status_code == 400


def test_unknown_api_url_is_a_404_problem(api, two_sides):
    response = api.get("/api/v1/nothing-here", two_sides.tokens["admin"])
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


# --- The OpenAPI document ----------------------------------------------------------------------


def test_openapi_document_is_valid_3_1_and_covers_every_endpoint(app, client):
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    assert document["openapi"] == "3.1.0"
    documented = set(document["paths"])
    routes = {rule.rule for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("api.") and rule.rule.startswith("/api/v1/")
              and rule.endpoint != "api.openapi"}
    from stages.api.openapi import _path

    assert {_path(r) for r in routes} == documented


# --- Rate limit ---------------------------------------------------------------------------------


@pytest.fixture
def limited_api(app, two_sides):
    """An app built like production with rate limits on (see the attestation's verification
    tests for why a second app), 3 requests a minute per token."""
    from stages import create_app
    from stages.extensions import limiter
    from tests.api.openapi_check import ApiClient, OpenApiChecker

    keep = ("SQLALCHEMY_DATABASE_URI", "SERVER_NAME", "BASE_URL", "SECRET_KEY", "TESTING")
    limited = create_app({**{key: app.config[key] for key in keep}, "RATELIMIT_ENABLED": True,
                          "API_RATE_LIMIT": "3 per minute"})
    limiter.reset()
    try:
        with limited.app_context():
            yield ApiClient(limited.test_client(), OpenApiChecker(limited))
    finally:
        limiter.reset()
        limiter.enabled = False
        with limited.app_context():
            db.engine.dispose()


def test_rate_limit_per_token_answers_429_with_retry_after(limited_api, two_sides):
    token, other = two_sides.tokens["liaison_a"], two_sides.tokens["liaison_b"]
    for _ in range(3):
        assert limited_api.get("/api/v1/measures", token).status_code == 200
    response = limited_api.get("/api/v1/measures", token)
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
    assert limited_api.get("/api/v1/measures", other).status_code == 200
