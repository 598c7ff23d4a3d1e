"""Every route × every role, generated from the URL map: who gets in, who gets 403.

A route that is not listed in EXPECTED fails the test: a new page must say who may use it.
Object ids of others lead to 403, never data; nothing ever answers 500.
"""

import pytest

from tests.conftest import IsolatedClient
from tests.factories import PASSWORD

ROLES = [
    "anonymous", "liaison_other", "liaison", "facilitator_other", "facilitator",
    "organizer_other", "organizer", "admin",
]
ALL_STAFF = set(ROLES) - {"anonymous"}
ORGANIZERS = {"admin", "organizer", "organizer_other"}
SESSION_VIEWERS = {"admin", "organizer", "organizer_other", "facilitator", "facilitator_other"}
MEASURE_VIEWERS = {"admin", "organizer", "organizer_other", "liaison", "liaison_other"}
THIS_SESSION_RUN = {"admin", "organizer", "facilitator"}
THIS_SESSION_EDIT = {"admin", "organizer"}
THIS_MEASURE_VIEW = {"admin", "organizer", "liaison"}
THIS_PERSON_VIEW = {"admin", "organizer", "facilitator", "liaison"}
ADMIN = {"admin"}
PUBLIC = set(ROLES)
TOKEN_HOLDERS = ALL_STAFF - {"facilitator", "facilitator_other"}

# endpoint → roles that get in (everyone else: 403 when logged in, the login page when not).
EXPECTED = {
    "home.index": ALL_STAFF,
    "auth.login": PUBLIC,
    "auth.login_code": PUBLIC,
    "auth.logout": PUBLIC,
    "auth.logout_everywhere": ALL_STAFF,
    "auth.profile": ALL_STAFF,
    "auth.totp_setup": ALL_STAFF,
    "auth.totp_disable": ALL_STAFF,
    "auth.users": ADMIN,
    "auth.user_create": ADMIN,
    "auth.user_edit": ADMIN,
    "auth.user_reset_password": ADMIN,
    "auth.user_reset_totp": ADMIN,
    "auth.user_unlock": ADMIN,
    "privacy.audit_log": ADMIN,
    "privacy.audit_log_export": ADMIN,
    "privacy.retention_settings": ADMIN,
    "enrollment.organization_settings": ADMIN,
    "enrollment.organization_letters": THIS_SESSION_EDIT,  # the organizer's own association
    "jobs.runs": ADMIN,
    "auth.organizations": ADMIN,
    "auth.organization_form": ADMIN,
    "auth.organization_archive": ADMIN,
    "scheduling.venues": ORGANIZERS,
    "scheduling.venue_create": ORGANIZERS,
    "scheduling.venue_edit": THIS_SESSION_EDIT,  # the venue its association manages
    "scheduling.venue_archive": THIS_SESSION_EDIT,
    "scheduling.course_create": ORGANIZERS,
    "scheduling.series_create": ORGANIZERS,
    "scheduling.course_detail": {"admin", "organizer", "facilitator"},
    "scheduling.course_edit": THIS_SESSION_EDIT,
    "scheduling.course_status": THIS_SESSION_EDIT,
    "scheduling.course_cancel": THIS_SESSION_EDIT,
    "scheduling.course_programme": {"admin", "organizer", "facilitator"},  # changing it: THIS_SESSION_EDIT
    "scheduling.programme_item": THIS_SESSION_EDIT,
    "scheduling.programme_directory": THIS_SESSION_EDIT,  # the organizer's own association
    "scheduling.module_create": THIS_SESSION_EDIT,
    "scheduling.module_edit": THIS_SESSION_EDIT,
    "scheduling.speaker_create": THIS_SESSION_EDIT,
    "scheduling.speaker_edit": THIS_SESSION_EDIT,
    "scheduling.programme_archive": THIS_SESSION_EDIT,
    "scheduling.calendar_month": SESSION_VIEWERS,
    "scheduling.calendar_week": SESSION_VIEWERS,
    "scheduling.calendar_list": SESSION_VIEWERS,
    "calendar_feeds.my_feed": PUBLIC,  # the token authenticates, not the login
    "calendar_feeds.all_feed": PUBLIC,
    "calendar_feeds.venue_feed": PUBLIC,
    "calendar_feeds.organization_feed": PUBLIC,
    "calendar_feeds.regenerate_token": ALL_STAFF,
    "calendar_feeds.renew_one_feed": ALL_STAFF,  # a feed the user has not: a French refusal
    "calendar_feeds.course_ics": {"admin", "organizer", "facilitator"},
    "enrollment.measures": MEASURE_VIEWERS,
    "enrollment.participant_detail": THIS_PERSON_VIEW,
    "enrollment.participant_edit": THIS_SESSION_EDIT,
    "enrollment.participant_needs": THIS_SESSION_EDIT,
    "enrollment.interpreter_booking": THIS_SESSION_EDIT,
    "enrollment.referral_create": ORGANIZERS,
    "enrollment.measure_form": THIS_SESSION_EDIT,
    "enrollment.measure_enroll": THIS_SESSION_EDIT,
    "enrollment.measure_withdraw": THIS_SESSION_EDIT,
    "enrollment.enrollment_status": THIS_SESSION_EDIT,
    "enrollment.enrollment_reschedule": THIS_SESSION_EDIT,
    "enrollment.course_bulk_enroll": THIS_SESSION_EDIT,
    "enrollment.import_upload": ORGANIZERS,
    "enrollment.import_columns": ORGANIZERS,
    "enrollment.import_confirm": ORGANIZERS,
    "enrollment.convocation_pdf": THIS_SESSION_EDIT,
    "enrollment.convocation_send": THIS_SESSION_EDIT,
    "enrollment.convocation_by_post": THIS_SESSION_EDIT,
    "enrollment.registered_letter_record": THIS_SESSION_EDIT,  # liaisons read the proofs only
    "enrollment.acknowledgement_record": THIS_SESSION_EDIT,
    "enrollment.course_convocations_send": THIS_SESSION_EDIT,
    "enrollment.course_updates_send": THIS_SESSION_EDIT,
    "enrollment.course_convocations_pdf": THIS_SESSION_EDIT,
    "attendance.roster": THIS_SESSION_RUN,
    "attendance.roster_download": THIS_SESSION_RUN,
    "attendance.take_attendance": THIS_SESSION_RUN,
    "enrollment.course_reservations": THIS_SESSION_EDIT,
    "enrollment.sms_consent": THIS_SESSION_EDIT,
    "enrollment.sms_status_callback": PUBLIC,  # the gateway: the HMAC token in the address
    "enrollment.sms_inbound_callback": PUBLIC,
    "attendance.offline_worker": THIS_SESSION_RUN,
    "attendance.offline_manifest_json": THIS_SESSION_RUN,
    "attendance.offline_prepare": THIS_SESSION_RUN,
    "attendance.sync": THIS_SESSION_RUN,
    "attendance.token": THIS_SESSION_RUN,
    "attendance.sheet": THIS_SESSION_RUN,
    "attendance.close": THIS_SESSION_EDIT,
    "attendance.incidents": THIS_SESSION_RUN,
    "attendance.incident_edit": THIS_SESSION_RUN,
    "evaluation.questionnaire_edit": THIS_SESSION_EDIT,  # the organizer's own association
    "evaluation.year_results": THIS_SESSION_EDIT,
    "evaluation.course_evaluation": THIS_SESSION_EDIT,  # liaisons and facilitators: no
    "evaluation.tablet_start": THIS_SESSION_RUN,
    "evaluation.tablet_answer": THIS_SESSION_RUN,
    "evaluation.slips": THIS_SESSION_RUN,
    "evaluation.send_links": THIS_SESSION_EDIT,
    "evaluation.answer": PUBLIC,  # the link's code is the key, no account
    "certificates.download": THIS_MEASURE_VIEW,
    "certificates.revoke": THIS_SESSION_EDIT,
    "certificates.replace": THIS_SESSION_EDIT,
    "certificates.course_issue": THIS_SESSION_EDIT,
    "certificates.verify_form": PUBLIC,
    "certificates.verify_code": PUBLIC,
    "certificates.verify_submit": PUBLIC,
    "enrollment.summons_page": PUBLIC,  # the link's code is the key, no account
    "enrollment.summons_confirm": PUBLIC,
    "enrollment.summons_other_date": PUBLIC,
    "enrollment.summons_reply_handled": THIS_SESSION_EDIT,
    "reports.dashboard": MEASURE_VIEWERS,
    "reports.dashboard_export": MEASURE_VIEWERS,
    "reports.statistics": ORGANIZERS | {"liaison", "liaison_other"},
    "reports.yearly_report": MEASURE_VIEWERS,  # each their own organizations (403 for others')
    "reports.yearly_report_download": THIS_SESSION_EDIT,  # the association's admin and organizers
    "reports.open_statistics_optin": THIS_SESSION_EDIT,
    "reports.open_statistics_page": PUBLIC,  # anonymous national figures, no login
    "reports.open_statistics_csv": PUBLIC,
    "reports.bilans": THIS_SESSION_EDIT,
    "reports.bilan_download": THIS_MEASURE_VIEW,
    "reports.bilan_mark_sent": THIS_SESSION_EDIT,
    "reports.non_execution_reports": MEASURE_VIEWERS,  # each sees their own (scoped list)
    "reports.non_execution_report": THIS_MEASURE_VIEW,  # a liaison once transmitted (it is)
    "reports.non_execution_report_pdf": THIS_MEASURE_VIEW,
    "reports.non_execution_report_reviewed": THIS_SESSION_EDIT,
    "reports.non_execution_report_transmit": THIS_SESSION_EDIT,
    "reports.monthly_summaries": {"admin", "liaison", "liaison_other"},
    "reports.monthly_summary_pdf": {"admin", "liaison"},
    "reports.bilan_transmit": THIS_SESSION_EDIT,
    "reports.transmissions": MEASURE_VIEWERS,  # received (liaisons) or sent (organizers)
    "reports.transmission_acknowledge": {"liaison"},  # the receiving authority's liaison only
    "reports.transmission_acknowledge_link": PUBLIC,  # the signed link of the email
    "enrollment.fee_account": THIS_SESSION_EDIT,  # the account of its handling association
    "enrollment.fee_receipt": THIS_SESSION_EDIT,
    "enrollment.fee_invoice": THIS_SESSION_EDIT,
    "enrollment.course_invoices_issue": THIS_SESSION_EDIT,
    "enrollment.accounting": ORGANIZERS,  # each sees their own associations' entries
    "enrollment.accounting_export": ORGANIZERS,
    "enrollment.fees_due": ORGANIZERS,
    "enrollment.billing_settings": ADMIN,
    "privacy.subject_export_json": THIS_SESSION_EDIT,
    "privacy.subject_export_pdf": THIS_SESSION_EDIT,
    "static": PUBLIC,
    "favicon": PUBLIC,
    "api.token_create": TOKEN_HOLDERS,
    "api.token_revoke": {"organizer"},  # one's own token only
    "api.openapi": PUBLIC,  # the document holds no data
}
# The API (stages.api): the login cookie opens none of it (401 for every role), a token does.
# Endpoint → the token holders who see the every_route fixture's object (by id: 200, others
# 404; in a list: present, others never see it). Facilitators hold no token.
API_ENDPOINTS = {
    "api.measures": ("measures", "measure_id", THIS_MEASURE_VIEW),
    "api.measure": ("measures", "measure_id", THIS_MEASURE_VIEW),
    "api.measure_attendance": ("measures", "measure_id", THIS_MEASURE_VIEW),
    "api.sessions": ("sessions", "session_id", THIS_SESSION_EDIT),
    "api.session": ("sessions", "session_id", THIS_SESSION_EDIT),
    "api.certificates": ("certificates", "certificate_id", THIS_MEASURE_VIEW),
    "api.certificate": ("certificates", "certificate_id", THIS_MEASURE_VIEW),
    "api.bilans": ("bilans", "bilan_id", THIS_MEASURE_VIEW),
    "api.bilan": ("bilans", "bilan_id", THIS_MEASURE_VIEW),
    "api.non_execution_reports": ("non-execution-reports", "report_id", THIS_MEASURE_VIEW),
    "api.non_execution_report": ("non-execution-reports", "report_id", THIS_MEASURE_VIEW),
}
EXPECTED.update({endpoint: TOKEN_HOLDERS for endpoint in API_ENDPOINTS})
# Routes about the closed session (certificates, bilans) rather than the coming one.
CLOSED_SESSION_ENDPOINTS = {
    "certificates.course_issue", "reports.bilans", "reports.bilan_download", "reports.bilan_mark_sent",
    "reports.bilan_transmit",
    "attendance.close",
}


def _rules(app):
    return sorted((r for r in app.url_map.iter_rules()), key=lambda r: (r.endpoint, r.rule))


def test_every_route_has_an_entry(app):
    """Every route says who may use it (the API's data routes: which token holders, below)."""
    missing = sorted({r.endpoint for r in _rules(app)} - set(EXPECTED))
    assert missing == [], f"routes without an access rule: {missing}"


def _url(rule, every_route):
    values = {}
    for name in rule.arguments:
        if name == "course_id" and rule.endpoint in CLOSED_SESSION_ENDPOINTS:
            values[name] = every_route.closed_course_id
        else:
            values[name] = every_route.params[name]
    return rule.build(values)[1]


# Routes that end a login session: checked each on a every_route of their own.
SESSION_ENDING = {"auth.logout", "auth.logout_everywhere"}


def _clients(app, every_route) -> dict:
    """One logged-in client per role (logging in costs an argon2 verification: once each)."""
    clients = {}
    for role in ROLES:
        client = IsolatedClient(app, app.response_class, use_cookies=True)
        if role != "anonymous":
            response = client.post("/connexion", data={"email": every_route.emails[role], "password": PASSWORD})
            assert response.status_code == 302, role
        clients[role] = client
    return clients


def _check(app, every_route, clients, endpoint) -> list:
    rules = [r for r in _rules(app) if r.endpoint == endpoint]
    assert rules, f"{endpoint} is listed but has no route"
    allowed = EXPECTED[endpoint]
    failures = []
    for rule in rules:
        method = "GET" if "GET" in rule.methods else "POST"
        url = _url(rule, every_route)
        for role in ROLES:
            response = clients[role].open(url, method=method)
            code = response.status_code
            response.close()
            if endpoint in API_ENDPOINTS:
                if code != 401:  # the login cookie is no credential for the API
                    failures.append((role, method, url, code, "should get 401 with a cookie"))
                continue
            to_login = code == 302 and "/connexion" in response.headers.get("Location", "")
            if code >= 500:
                failures.append((role, method, url, code))
            elif role in allowed:
                if code == 403 or (to_login and endpoint not in SESSION_ENDING | {"auth.login_code"}):
                    failures.append((role, method, url, code, "should get in"))
            elif role == "anonymous":
                if not to_login:
                    failures.append((role, method, url, code, "should be sent to the login page"))
            elif code != 403:
                failures.append((role, method, url, code, "should get 403"))
    return failures


def test_access_of_every_route(app, every_route):
    """All routes but the session-ending ones, on one every_route with one login per role."""
    clients = _clients(app, every_route)
    failures = []
    for endpoint in sorted(set(EXPECTED) - SESSION_ENDING):
        failures += _check(app, every_route, clients, endpoint)
    assert failures == []


@pytest.mark.parametrize("endpoint", sorted(SESSION_ENDING))
def test_access_of_course_ending_routes(app, every_route, endpoint):
    assert _check(app, every_route, _clients(app, every_route), endpoint) == []


def test_api_access_of_every_token_holder(app, every_route, api):
    """Each API endpoint with each role's token: the every_route object by id (200, or 404 as
    if it did not exist) and in the list (present, or never); writes refused (405)."""
    failures = []
    for endpoint, (kind, param, allowed) in sorted(API_ENDPOINTS.items()):
        (rule,) = [r for r in _rules(app) if r.endpoint == endpoint]
        url = _url(rule, every_route)
        object_id = every_route.params[param]
        for role, token in sorted(every_route.api_tokens.items()):
            if rule.arguments:
                code = api.get(url, token).status_code
                if code != (200 if role in allowed else 404):
                    failures.append((role, url, code))
            else:
                response = api.get(f"{url}?limit=200", token)
                ids = {item["id"] for item in response.get_json()["items"]}
                if response.status_code != 200 or (object_id in ids) != (role in allowed):
                    failures.append((role, url, response.status_code, "in the list" if object_id in ids else "missing"))
            for method in ("POST", "PUT", "PATCH", "DELETE"):
                if api.open(url, token, method=method).status_code != 405:
                    failures.append((role, method, url, "should get 405"))
    assert failures == []


def test_facilitators_hold_no_api_token(every_route):
    from stages.api.tokens import create_token
    from stages.errors import DomainError
    from stages.timeutil import today_local
    from datetime import timedelta

    for role in ("facilitator", "facilitator_other"):
        with pytest.raises(DomainError):
            create_token(every_route.users[role], "Outil", today_local() + timedelta(days=10))
