"""The public verification page: valid, revoked, unknown; nothing personal; limited; logged."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages.auth.models import AuditEntry, Role
from stages.certificates import issuing
from stages.certificates.codes import format_code, new_verification_code, verification_url
from stages.certificates.models import VerificationTally
from stages.extensions import db, limiter
from tests.conftest import requires_postgres
from stages.auth.models import OrganizationKind

COURSE_DAY = date(2026, 3, 16)
NOW = datetime(2026, 3, 20, 10, 0, tzinfo=timezone.utc)
SURNAME, FIRST_NAMES, CASE_REFERENCE = "VERCINGETORIX", "Maximilien Aurèle", "24-PARQ-0042"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def certificate(make):
    """An attestation for a person whose every identifying detail is distinctive."""
    apcars = make.organization(name="APCARS")
    parquet = make.organization(OrganizationKind.PARQUET, name="Parquet de Paris")
    organizer = make.user(Role.ORGANIZER, [apcars], full_name="Claire Martin")
    _course, (enrollment,) = make.closed_course_with(
        people=1, organizations=[apcars], authority=parquet, day=COURSE_DAY,
    )
    person = enrollment.measure.participant
    person.surname, person.first_names, person.birth_place = SURNAME, FIRST_NAMES, "Lyon"
    enrollment.measure.case_reference = CASE_REFERENCE
    certificate = issuing.issue_certificate(enrollment, by=organizer)
    certificate.organizer = organizer  # for the tests, not stored
    db.session.commit()
    return certificate


def assert_nothing_personal(html: str) -> None:
    for secret in (SURNAME, *FIRST_NAMES.split(), CASE_REFERENCE, "Lyon", "17 mai 1980",
                   "Parquet de Paris", "Composition pénale"):
        assert secret.lower() not in html.lower(), secret


def verifications() -> list[tuple[str, int | None, int]]:
    """The public checks counted: (outcome, attestation, count) by outcome and attestation."""
    return [
        tuple(row) for row in db.session.execute(
            sa.select(VerificationTally.outcome, VerificationTally.certificate_id, VerificationTally.count)
            .order_by(VerificationTally.outcome, VerificationTally.certificate_id)
        )
    ]


def checked() -> int:
    return sum(count for _outcome, _certificate, count in verifications())


def test_valid_code_shows_only_number_dates_initials_birth_year(client, certificate):
    response = client.get(f"/verification/{format_code(certificate.verification_code)}")
    assert response.status_code == 200
    html = response.text
    assert "Attestation valide" in html
    assert certificate.number in html
    assert "lundi 16 mars 2026" in html
    assert "M. V." in html and "1980" in html
    assert '<meta name="robots" content="noindex">' in html
    assert response.headers["Cache-Control"] == "no-store"
    assert_nothing_personal(html)


def test_qr_url_printed_on_the_pdf_leads_to_the_valid_page(client, certificate):
    url = verification_url(certificate.verification_code)
    assert url.startswith("http://stages.test/verification/")
    assert "Attestation valide" in client.get(url.removeprefix("http://stages.test")).text


def test_typed_code_in_lower_case_without_dashes_is_found(client, certificate):
    typed = certificate.verification_code.lower()
    response = client.post("/verification", data={"code": f"  {typed}  "})
    assert response.status_code == 200
    assert "Attestation valide" in response.text
    assert_nothing_personal(response.text)


def test_revoked_after_revocation(client, certificate):
    issuing.revoke_certificate(certificate, f"Erreur sur {SURNAME}", by=certificate.organizer)
    response = client.get(f"/verification/{certificate.verification_code}")
    assert "Attestation révoquée le 20 mars 2026" in response.text
    assert certificate.number in response.text
    assert "Attestation valide" not in response.text
    assert_nothing_personal(response.text)  # the reason is not shown either


def test_revoked_and_replaced_names_the_replacement_which_is_valid(client, certificate):
    issuing.revoke_certificate(certificate, "Erreur sur le prénom", by=certificate.organizer)
    replacement = issuing.replace_certificate(certificate, by=certificate.organizer)
    db.session.commit()
    old = client.get(f"/verification/{certificate.verification_code}").text
    assert "Attestation révoquée le 20 mars 2026" in old
    assert f"Elle est remplacée par l'attestation n° {replacement.number}" in old
    assert_nothing_personal(old)
    new = client.get(f"/verification/{replacement.verification_code}").text
    assert "Attestation valide" in new and replacement.number in new
    assert_nothing_personal(new)


def test_unknown_for_a_random_code(client, certificate):
    random_code = new_verification_code()
    response = client.get(f"/verification/{random_code}")
    assert response.status_code == 200
    assert "Code inconnu" in response.text
    assert certificate.number not in response.text


@pytest.mark.parametrize("path", [
    "/verification/xyz",
    "/verification/" + "A" * 500,
    "/verification/%F0%9F%98%80%00",
    "/verification/ABCD-EFGH-JKMN-PQR%25",
    "/verification/'%20OR%201=1--",
])
def test_malformed_codes_are_unknown_never_an_error(client, certificate, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "Code inconnu" in response.text
    assert "n'a pas la forme d'un code" in response.text


@pytest.mark.parametrize("typed, message", [
    ("", "Saisissez le code"),
    ("x" * 65, "trop long"),
])
def test_form_errors_are_not_checks(client, certificate, typed, message):
    response = client.post("/verification", data={"code": typed})
    assert response.status_code == 200
    assert message in response.text
    assert verifications() == []


def test_form_page_needs_no_login_and_checks_nothing(client, certificate):
    response = client.get("/verification")
    assert response.status_code == 200
    assert "Saisir le code de vérification" in response.text
    assert verifications() == []


def test_every_check_is_counted_without_code_or_personal_data(client, certificate):
    client.get(f"/verification/{certificate.verification_code}")
    client.post("/verification", data={"code": new_verification_code()})
    client.get("/verification/pas-un-code")
    client.get(f"/verification/{certificate.verification_code}")
    assert verifications() == [("inconnue", None, 2), ("valide", certificate.id, 2)]
    # Counted, not logged one by one: the public cannot fill the audit log.
    before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    client.get(f"/verification/{certificate.verification_code}")
    client.get("/verification/pas-un-code")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == before
    assert db.session.scalar(sa.select(VerificationTally.day).limit(1)) == NOW.date()


def test_revoked_check_is_logged_as_revoked(client, certificate):
    issuing.revoke_certificate(certificate, "Erreur", by=certificate.organizer)
    client.get(f"/verification/{certificate.verification_code}")
    assert verifications() == [("révoquée", certificate.id, 1)]


def test_post_needs_the_csrf_token(client, certificate, csrf_enabled):
    refused = client.post("/verification", data={"code": certificate.verification_code})
    assert refused.status_code == 400
    assert verifications() == []
    form = client.get("/verification").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    accepted = client.post(
        "/verification", data={"code": certificate.verification_code, "csrf_token": token}
    )
    assert accepted.status_code == 200 and "Attestation valide" in accepted.text


@pytest.fixture
def limited_client(app):
    """A client of an app built like production, with rate limits on.

    Flask-Limiter reads RATELIMIT_ENABLED once, in ``init_app``: flipping the test app's setting
    later changes nothing. So a second app shares the test database with limits on, and the
    shared ``limiter`` object is switched back off afterwards for the rest of the suite.
    """
    from stages import create_app

    keep = ("SQLALCHEMY_DATABASE_URI", "SERVER_NAME", "BASE_URL", "SECRET_KEY", "TESTING")
    limited = create_app(
        {**{key: app.config[key] for key in keep}, "WTF_CSRF_ENABLED": False,
         "RATELIMIT_ENABLED": True}
    )
    limiter.reset()
    try:
        yield limited.test_client()
    finally:
        limiter.reset()
        limiter.enabled = False
        with limited.app_context():
            db.engine.dispose()


def test_rate_limit_gives_the_french_429_page(limited_client, certificate):
    code = certificate.verification_code
    db.session.commit()
    for index in range(30):
        # Scanned and typed checks share one budget.
        response = (
            limited_client.get(f"/verification/{code}") if index % 2
            else limited_client.post("/verification", data={"code": code})
        )
        assert response.status_code == 200, index
    refused = limited_client.get(f"/verification/{code}")
    assert refused.status_code == 429
    assert "Trop de tentatives" in refused.text
    assert "Attestation valide" not in refused.text
    assert limited_client.post("/verification", data={"code": code}).status_code == 429
    # The blank form stays reachable, and refused requests are not checks.
    assert limited_client.get("/verification").status_code == 200
    assert checked() == 30


def test_limits_are_off_again_after_the_limited_app(client, certificate):
    """Guard for the fixture above: the rest of the suite runs without limits."""
    for _ in range(35):
        assert client.get(f"/verification/{certificate.verification_code}").status_code == 200


def test_anonymized_person_shows_no_initials_nor_birth_year(client, certificate):
    person = certificate.enrollment.measure.participant
    person.anonymized_at = NOW
    response = client.get(f"/verification/{certificate.verification_code}")
    assert "Attestation valide" in response.text
    assert "M. V." not in response.text and "1980" not in response.text


@requires_postgres
def test_checks_at_the_same_moment_are_all_counted(app, certificate):
    """The day's first checks race to create its counter: each one is counted, none fails."""
    import threading

    from flask.testing import FlaskClient

    db.session.commit()
    url = f"/verification/{certificate.verification_code}"
    barrier, codes = threading.Barrier(10, timeout=30), []

    def check():
        client = FlaskClient(app, app.response_class)
        barrier.wait()
        codes.append(client.get(url).status_code)

    threads = [threading.Thread(target=check) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert codes == [200] * 10
    db.session.expire_all()
    assert verifications() == [("valide", certificate.id, 10)]
