"""Every page of the URL map, as each demo role sees it, on a phone and on a desktop (issue 14).

The demo data (``flask stages demo``) is loaded into the test database; each demo account logs in
through the real form and opens, in one Chromium, every GET page of the URL map it may open (the
roles of ``tests/test_access_matrix.EXPECTED``), with ids taken from the demo data, at 390×844 and
at 1280×900. A page fails when it is wider than the window (it would scroll sideways), when it is
an error page or a redirection, when a file it loads answers an error or it names no icon, when
a drop-down list cuts its longest choice short, or when axe-core finds a serious or critical
WCAG 2.1 A/AA violation. The person, measure, course and venue that most pages show are given
words longer than any line (a compound surname typed without spaces, a long case reference, a
title and a venue name of 120 letters, the fields' maxima): they must wrap, never widen the
page. Each role's home page is saved at both sizes in
test-output/screenshots/every_page_on_a_phone_and_a_desktop/. A GET route that is neither
visited nor in ``SKIPPED`` (with its reason) fails the test: a new page cannot escape the sweep.

The demo's courses are three weeks apart from about six months ago: the ninth (index 8) always
ended between 8 and 14 days ago (held, not closed), those before it are closed, those after it
are to come; even indexes are the demo facilitator's (Julien Morel).
"""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from stages.attendance.models import HalfDayIncident
from stages.auth.models import Organization, Role, User
from stages.certificates.models import Certificate
from stages.demo import DEMO_ACCOUNTS, load_demo
from stages.enrollment.confirmation.links import format_code, summons_code
from stages.enrollment.models import Enrollment, LegalMeasure, MeasureStatus
from stages.evaluation.answering import link_codes
from stages.evaluation.models import Moment
from stages.extensions import db
from stages.reports.models import NonExecutionReport
from stages.scheduling.models import Course, CoursePart, CourseStatus
from stages.timeutil import today_local
from tests.browser.conftest import DESKTOP, MISSING, SKIP_REASON
from tests.test_access_matrix import EXPECTED

if MISSING:
    pytest.skip(SKIP_REASON, allow_module_level=True)

PHONE = (390, 844)
SIZES = (PHONE, DESKTOP)
ROLES = ("anonymous", "organizer", "facilitator", "liaison", "admin")

# Rules of the URL map that no role visits, each with the reason.
SKIPPED = {
    "/static/<path:filename>": "a file (CSS, JS, images)",
    "/favicon.ico": "a file (the icon; tests/test_security_headers.py fetches it)",
    "/connexion/code": "needs a login in progress (password accepted, one-time code awaited)",
    "/personnes/import/colonnes": "needs a spreadsheet uploaded in the same login session",
    "/agenda/<token>/tous.ics": "an iCalendar file",
    "/agenda/<token>/mes-stages.ics": "an iCalendar file",
    "/agenda/<token>/lieu/<int:venue_id>.ics": "an iCalendar file",
    "/agenda/<token>/organisation/<int:organization_id>.ics": "an iCalendar file",
    "/stages/<int:course_id>/agenda.ics": "an iCalendar file",
    "/stages/<int:course_id>/emargement.pdf": "a PDF file",
    "/stages/<int:course_id>/convocations.pdf": "a PDF file",
    "/inscriptions/<int:enrollment_id>/convocation.pdf": "a PDF file",
    "/attestations/<int:certificate_id>.pdf": "a PDF file",
    "/personnes/<int:participant_id>/export.pdf": "a PDF file",
    "/personnes/<int:participant_id>/export.json": "a JSON file",
    "/stages/<int:course_id>/bilans/<int:authority_id>.<any(pdf, csv):fmt>": "a PDF or CSV file",
    "/tableau-de-bord/export.<any(csv, xlsx):fmt>": "a CSV or XLSX file",
    "/rapports-non-execution/<int:report_id>.pdf": "a PDF file",
    "/syntheses-mensuelles/<int:summary_id>.pdf": "a PDF file",
    "/admin/journal/export.csv": "a CSV file",
    "/rapports/annuel/<int:organization_id>/rapport.<fmt>": "a PDF or CSV file",
    "/statistiques-ouvertes.csv": "a CSV file",
    "/comptabilite/export.csv": "a CSV file",
    "/frais/recus/<int:entry_id>.pdf": "a PDF file",
    "/frais/factures/<int:invoice_id>.pdf": "a PDF file",
    "/stages/<int:course_id>/presence/sw.js": "a JavaScript file (the course's service worker)",
    "/stages/<int:course_id>/presence/hors-ligne.json": "a JSON file (what the service worker keeps)",
    "/stages/<int:course_id>/presence/jeton": "a JSON file (a fresh CSRF token for the tablet's sync)",
    "/api/v1/measures": "JSON of the API (a token, no login: tests/api)",
    "/api/v1/measures/<int:measure_id>": "JSON of the API (a token, no login: tests/api)",
    "/api/v1/measures/<int:measure_id>/attendance": "JSON of the API (a token, no login: tests/api)",
    "/api/v1/sessions": "JSON of the API (a token, no login: tests/api)",
    "/api/v1/non-execution-reports": "JSON of the API (a token, no login: tests/reports)",
    "/api/v1/non-execution-reports/<int:report_id>": "JSON of the API (a token, no login: tests/reports)",
    "/api/v1/sessions/<int:session_id>": "JSON of the API (a token, no login: tests/api)",
    "/api/v1/certificates": "JSON of the API (a token, no login: tests/api)",
    "/api/v1/certificates/<int:certificate_id>": "JSON of the API (a token, no login: tests/api)",
    "/api/v1/bilans": "JSON of the API (a token, no login: tests/api)",
    "/api/v1/bilans/<int:bilan_id>": "JSON of the API (a token, no login: tests/api)",
    "/api/v1/openapi.json": "the API's OpenAPI document (JSON, tests/api)",
}
# (role, address): where a page sends a role instead (a liaison's home is the liaison dashboard).
REDIRECTS = {("liaison", "/"): "/tableau-de-bord"}
# (role, rule): pages a role may open in general but not on the demo's objects, with the reason.
NOT_IN_DEMO = {
    ("liaison", "/rapports-non-execution/<int:report_id>"):
        "the demo's non-execution reports are drafts: a liaison reads them once transmitted",
    ("organizer", "/lieux/<int:venue_id>/modifier"):
        "the demo's venues are shared (no managing association): only admins edit them",
}

# Rendered page checks, in the browser: the page's width and the error page's marker.
OVERFLOW_JS = """
const width = window.innerWidth;
if (document.documentElement.scrollWidth <= width) return null;
const wide = [];
const clipped = el => {
  for (let up = el.parentElement; up; up = up.parentElement) {
    if (getComputedStyle(up).overflowX !== 'visible') return true;
  }
  return false;
};
for (const el of document.querySelectorAll('body *')) {
  const box = el.getBoundingClientRect();
  if (box.right > width + 0.5 && box.width > 0 && !clipped(el)) {
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
    wide.push(name + ' (' + Math.round(box.right) + ' px)');
  }
}
return {width: document.documentElement.scrollWidth, elements: wide.slice(0, 4)};
"""

# Drop-down lists whose widest option does not fit: a closed list shows its choice cut short.
# On a phone, only those of tables are checked: a form's list already takes the screen's whole
# width, and a choice longer than a phone is wide is shown whole only in the list it opens. So is,
# on a desktop, a choice longer than the list could be: as wide as its whole form.
CUT_OPTIONS_JS = """
const cut = [];
const canvas = document.createElement('canvas').getContext('2d');
const lists = arguments[0] ? 'table select' : 'select:not([multiple]):not([size])';
for (const select of document.querySelectorAll(lists)) {
  if (!select.offsetParent) continue;
  const style = getComputedStyle(select);
  canvas.font = style.font;
  const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const form = select.closest('form') || document.querySelector('main');
  const formStyle = getComputedStyle(form);
  const widest = form.clientWidth - parseFloat(formStyle.paddingLeft) - parseFloat(formStyle.paddingRight)
    - (select.offsetWidth - room);
  for (const option of select.options) {
    const needed = canvas.measureText(option.text).width;
    if (needed > room + 1 && needed <= widest) {
      cut.push('#' + (select.id || select.name) + ' « ' + option.text + ' » ('
        + Math.round(needed) + ' px in ' + Math.round(room) + '; window ' + window.innerWidth
        + ' px, fonts ' + document.fonts.status + ')');
      break;
    }
  }
}
return cut;
"""


class Demo:
    """Ids of demo objects, one of each kind every page needs."""

    def __init__(self):
        courses = db.session.scalars(sa.select(Course).order_by(Course.starts_at)).all()
        assert len(courses) == 18, "the demo's calendar changed: update this test's choices"
        held, coming = courses[8], courses[10]
        assert held.status == CourseStatus.HELD and coming.status == CourseStatus.SCHEDULED
        closed = courses[6]
        cancelled, draft = courses[12], courses[17]
        assert closed.status == CourseStatus.CLOSED and cancelled.status == CourseStatus.CANCELLED
        assert draft.status == CourseStatus.DRAFT
        parquet = db.session.scalar(sa.select(Organization).where(Organization.name == "Parquet de Paris"))
        apcars = db.session.scalar(sa.select(Organization).where(Organization.name == "APCARS"))
        # Someone the liaison follows, enrolled in the coming course (everyone else sees them too).
        enrollment = db.session.scalars(
            sa.select(Enrollment).join(LegalMeasure)
            .where(Enrollment.course_id == coming.id, LegalMeasure.authority_id == parquet.id)
            .order_by(Enrollment.id)
        ).first()
        waiting = db.session.scalars(
            sa.select(LegalMeasure)
            .where(LegalMeasure.status == MeasureStatus.REFERRED, LegalMeasure.authority_id == parquet.id)
            .order_by(LegalMeasure.id)
        ).first()
        certificate = db.session.scalars(
            sa.select(Certificate).join(Enrollment).where(Enrollment.course_id == closed.id)
            .order_by(Certificate.id)
        ).first()
        assert enrollment and waiting and certificate
        self.held, self.coming, self.closed = held.id, coming.id, closed.id
        self.cancelled, self.draft = cancelled.id, draft.id
        self.held_part = held.parts[0].id
        self.enrollment, self.participant = enrollment.id, enrollment.measure.participant_id
        self.measure = enrollment.measure_id
        self.waiting_measure, self.waiting_participant = waiting.id, waiting.participant_id
        self.certificate, self.code = certificate.id, certificate.verification_code
        self.venue = coming.venue_id
        self.organization, self.authority = apcars.id, parquet.id
        from stages.scheduling.programme.models import ProgrammeModule, Speaker

        self.module = db.session.scalar(sa.select(ProgrammeModule.id).where(ProgrammeModule.organization_id == apcars.id)
                                        .order_by(ProgrammeModule.id))
        self.speaker = db.session.scalar(sa.select(Speaker.id).where(Speaker.organization_id == apcars.id))
        self.user = db.session.scalar(sa.select(User.id).where(User.email == "l.fabre@demo.stages.test"))
        # The confirmation page behind the person's convocation (its link made as a letter does).
        self.link_code = format_code(summons_code(enrollment))
        self.report = db.session.scalar(sa.select(NonExecutionReport.id).order_by(NonExecutionReport.id))
        assert self.report, "the demo drafts non-execution reports (its waiting referrals past their deadline)"
        # A bilan transmitted to the parquet: the acknowledgment link of its email.
        from stages.reports.models import ReportTransmission, TransmissionStatus
        from stages.reports.transmissions import acknowledgment_token
        from stages.timeutil import now_utc

        transmission = ReportTransmission(
            authority_id=parquet.id, sender_id=apcars.id, kind="bilan", refs={"course": closed.id},
            document_key=f'{{"course":{closed.id}}}', number=1, status=TransmissionStatus.SENT,
            sent_at=now_utc(), recipients="greffe@tj-paris.example",
        )
        db.session.add(transmission)
        db.session.flush()
        self.acknowledgment = acknowledgment_token(transmission)
        # The person's link to the « avant » questionnaire, and the held course's incident.
        self.answer_code = format_code(link_codes([enrollment], Moment.BEFORE)[enrollment.id])
        self.incident = db.session.scalar(sa.select(HalfDayIncident.id).join(CoursePart).where(CoursePart.course_id == held.id))
        assert self.incident
        _words_longer_than_a_line(enrollment, coming, waiting)
        db.session.commit()


def _words_longer_than_a_line(enrollment, course, waiting) -> None:
    """Values as long as their fields allow, without a space to wrap at."""
    enrollment.measure.participant.surname = "-".join(["FERNANDEZ"] * 13)[:120]
    enrollment.measure.case_reference = "PARQUET-DE-PARIS/" + "0123456789" * 6
    waiting.participant.surname = "W" * 120
    course.title = ("Sensibilisation" * 8)[:120]
    course.venue.name = ("MAISONDELAJUSTICEETDUDROIT" * 5)[:120]


def _urls(rule: str, demo: Demo, role: str) -> list[str]:
    """The addresses a role opens for ``rule``: one per object the page shows differently."""
    course_pages = {
        "/stages/<int:course_id>": [demo.coming, demo.held, demo.closed, demo.cancelled]
        + ([demo.draft] if role in ("organizer", "admin") else []),
        "/stages/<int:course_id>/modifier": [demo.coming],
        "/stages/<int:course_id>/annuler": [demo.coming],
        "/stages/<int:course_id>/inscrire": [demo.coming],
        "/stages/<int:course_id>/emargement": [demo.coming, demo.held],
        "/stages/<int:course_id>/cloture": [demo.held],
        "/stages/<int:course_id>/bilans": [demo.closed],
        "/stages/<int:course_id>/places-reservees": [demo.coming],
        "/stages/<int:course_id>/evaluation": [demo.held, demo.closed],
        "/stages/<int:course_id>/programme": [demo.coming, demo.closed]
        + ([demo.draft] if role in ("organizer", "admin") else []),
    }
    if rule in course_pages:
        return [rule.replace("<int:course_id>", str(i)) for i in course_pages[rule]]
    fixed = {
        "/stages/<int:course_id>/presence/<int:part_id>": f"/stages/{demo.held}/presence/{demo.held_part}",
        "/stages/<int:course_id>/presence/<int:part_id>/signatures": f"/stages/{demo.held}/presence/{demo.held_part}/signatures",
        "/stages/<int:course_id>/presence/preparer": f"/stages/{demo.held}/presence/preparer",
        "/personnes/<int:participant_id>": [f"/personnes/{demo.participant}"]
        + ([f"/personnes/{demo.waiting_participant}"] if role != "facilitator" else []),
        "/personnes/<int:participant_id>/modifier": f"/personnes/{demo.participant}/modifier",
        "/personnes/<int:participant_id>/langue-et-besoins": f"/personnes/{demo.participant}/langue-et-besoins",
        "/inscriptions/<int:enrollment_id>/interprete": f"/inscriptions/{demo.enrollment}/interprete",
        "/personnes/<int:participant_id>/mesures/nouvelle": f"/personnes/{demo.participant}/mesures/nouvelle",
        "/mesures/<int:measure_id>/modifier": f"/mesures/{demo.waiting_measure}/modifier",
        # A measure's fee account: a person of the coming course (charged, not paid yet).
        "/mesures/<int:measure_id>/frais": f"/mesures/{demo.measure}/frais",
        "/organisations/<int:organization_id>/facturation": f"/organisations/{demo.organization}/facturation",
        "/mesures/<int:measure_id>/inscrire": f"/mesures/{demo.waiting_measure}/inscrire",
        "/mesures/<int:measure_id>/renvoyer": f"/mesures/{demo.waiting_measure}/renvoyer",
        "/inscriptions/<int:enrollment_id>/reporter": f"/inscriptions/{demo.enrollment}/reporter",
        "/attestations/<int:certificate_id>/revoquer": f"/attestations/{demo.certificate}/revoquer",
        "/verification/<code>": f"/verification/{demo.code}",
        # The person's confirmation page, and what an unknown link shows.
        "/c/<link_code>": [f"/c/{demo.link_code}", "/c/0000-0000-0000-0000"],
        # The acknowledgment page of a transmission's email, and what a bad link shows.
        "/transmissions/accuse-reception/<signed>": [f"/transmissions/accuse-reception/{demo.acknowledgment}",
                                                     "/transmissions/accuse-reception/lien-invalide"],
        "/lieux/<int:venue_id>/modifier": f"/lieux/{demo.venue}/modifier",
        # Evaluation: the person's questionnaire behind their link, and an unknown link; the
        # tablet's screens and the slips, « avant » on the coming course, « après » on the held one.
        "/e/<answer_code>": [f"/e/{demo.answer_code}", "/e/0000-0000-0000-0000"],
        "/organisations/<int:organization_id>/evaluation": f"/organisations/{demo.organization}/evaluation",
        "/organisations/<int:organization_id>/questionnaires/<any(avant, apres):moment>": [
            f"/organisations/{demo.organization}/questionnaires/avant", f"/organisations/{demo.organization}/questionnaires/apres"],
        "/stages/<int:course_id>/questionnaire/<any(avant, apres):moment>": [
            f"/stages/{demo.coming}/questionnaire/avant", f"/stages/{demo.held}/questionnaire/apres"],
        "/stages/<int:course_id>/questionnaire/<any(avant, apres):moment>/repondre": [
            f"/stages/{demo.coming}/questionnaire/avant/repondre", f"/stages/{demo.held}/questionnaire/apres/repondre"],
        "/stages/<int:course_id>/questionnaire/<any(avant, apres):moment>/liens": [
            f"/stages/{demo.coming}/questionnaire/avant/liens", f"/stages/{demo.held}/questionnaire/apres/liens"],
        "/stages/<int:course_id>/presence/<int:part_id>/incidents": f"/stages/{demo.held}/presence/{demo.held_part}/incidents",
        "/stages/<int:course_id>/incidents/<int:incident_id>": f"/stages/{demo.held}/incidents/{demo.incident}",
        "/organisations/<int:organization_id>/modifier": f"/organisations/{demo.organization}/modifier",
        # An association's settings and an authority's (another form).
        "/organisations/<int:organization_id>/parametres": [f"/organisations/{demo.organization}/parametres",
                                                            f"/organisations/{demo.authority}/parametres"],
        "/organisations/<int:organization_id>/courriers": f"/organisations/{demo.organization}/courriers",
        "/organisations/<int:organization_id>/<any(modules, intervenants):kind>": [
            f"/organisations/{demo.organization}/modules", f"/organisations/{demo.organization}/intervenants"],
        "/organisations/<int:organization_id>/modules/nouveau": f"/organisations/{demo.organization}/modules/nouveau",
        "/organisations/<int:organization_id>/intervenants/nouveau":
            f"/organisations/{demo.organization}/intervenants/nouveau",
        "/modules/<int:module_id>/modifier": f"/modules/{demo.module}/modifier",
        "/intervenants/<int:speaker_id>/modifier": f"/intervenants/{demo.speaker}/modifier",
        "/admin/comptes/<int:user_id>/modifier": f"/admin/comptes/{demo.user}/modifier",
        "/rapports-non-execution/<int:report_id>": f"/rapports-non-execution/{demo.report}",
    }
    # The yearly report: the form alone, then the role's own organization's report this year.
    mine = demo.authority if role == "liaison" else demo.organization
    fixed["/rapports/annuel"] = ["/rapports/annuel", f"/rapports/annuel?organisation={mine}&annee={today_local().year}"]
    if rule in fixed:
        value = fixed[rule]
        return value if isinstance(value, list) else [value]
    assert "<" not in rule, f"{rule}: no demo object chosen for it (add it to _urls)"
    return [rule]


def _plan(app, demo: Demo) -> tuple[dict[str, list[str]], list[str]]:
    """{role: addresses to open} and the GET rules nobody opens (not skipped: a failure)."""
    plan = {role: [] for role in ROLES}
    covered = set(SKIPPED)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.rule in SKIPPED:
            continue
        allowed = EXPECTED[rule.endpoint]
        # Public pages once, as nobody; the others as each role that may open them.
        roles = ["anonymous"] if "anonymous" in allowed else [r for r in ROLES if r in allowed]
        for role in roles:
            if (role, rule.rule) in NOT_IN_DEMO:
                continue
            plan[role] += _urls(rule.rule, demo, role)
            covered.add(rule.rule)
    get_rules = {r.rule for r in app.url_map.iter_rules() if "GET" in r.methods}
    assert set(SKIPPED) <= get_rules, f"skipped but gone: {sorted(set(SKIPPED) - get_rules)}"
    return plan, sorted(get_rules - covered)


def _log_in(journey, role: str) -> None:
    email, password = next((e, p) for e, _n, r, p, _o in DEMO_ACCOUNTS if r == Role(role))
    journey.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    journey.driver.get(journey.base_url + "/connexion")
    journey.css("#email").send_keys(email)
    journey.css("#password").send_keys(password)
    # Clicked without Journey.click: its axe-core run would not count here (anonymous checks
    # the login page, and every role checks the page it lands on).
    journey._mark_page()
    journey.button("Se connecter").click()
    journey._wait_new_page()
    home = REDIRECTS.get((role, "/"), "/")
    assert journey.path() == home, f"{role}: login ended on {journey.path()}"


def _check_page(journey, role: str, url: str, size) -> list[str]:
    """Open ``url`` and say what is wrong with it (empty: nothing)."""
    driver = journey.driver
    driver.get(journey.base_url + url)
    journey._wait_loaded()
    where = f"{size[0]}×{size[1]} {url}"
    problems = []
    landed = urlsplit(driver.current_url)
    landed = landed.path + (f"?{landed.query}" if landed.query else "")
    if landed != REDIRECTS.get((role, url), url):
        return [f"{where}: redirected to {landed}"]
    if journey.all(".error-page"):
        return [f"{where}: error page « {driver.title} »"]
    # What the page loaded (style sheet, script, images) answered; and it names its icon.
    broken = driver.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(r => r.responseStatus >= 400).map(r => r.name + ' ' + r.responseStatus)"
    )
    problems += [f"{where}: {entry}" for entry in broken]
    if not journey.all("head link[rel=icon]"):
        problems.append(f"{where}: no icon named (the browser asks for /favicon.ico)")
    # Widths are measured once the page's fonts are in: until then the lists are laid out in a
    # fallback font, and a busy machine once measured one in that state (a false « cut short »).
    driver.execute_async_script("document.fonts.ready.then(() => arguments[arguments.length - 1](true))")
    problems += [f"{where}: option cut short {cut}" for cut in driver.execute_script(CUT_OPTIONS_JS, size == PHONE)]
    overflow = driver.execute_script(OVERFLOW_JS)
    if overflow:
        problems.append(
            f"{where}: {overflow['width']} px wide in a {size[0]} px window — "
            + ", ".join(overflow["elements"])
        )
    before = len(journey.violations)
    journey.check_accessibility()
    problems += [f"{size[0]}×{size[1]} {v}" for v in journey.violations[before:]]
    return problems


def test_every_page_on_a_phone_and_a_desktop(journey, app):
    load_demo()
    db.session.commit()
    demo = Demo()
    plan, unvisited = _plan(app, demo)
    assert unvisited == [], f"GET pages neither visited nor skipped (with a reason): {unvisited}"

    started, problems, opened = time.monotonic(), [], 0
    for role in ROLES:
        if role == "anonymous":
            journey.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        else:
            journey.set_viewport(*DESKTOP)
            _log_in(journey, role)
        for size in SIZES:
            journey.set_viewport(*size)
            for url in plan[role]:
                problems += [f"[{role}] {p}" for p in _check_page(journey, role, url, size)]
                opened += 1
                if url == "/" or (role == "anonymous" and url == "/connexion"):
                    journey.driver.save_screenshot(
                        str(journey.copy_dir / f"accueil-{role}-{size[0]}x{size[1]}.png")
                    )
    elapsed = time.monotonic() - started
    with open(journey.copy_dir / "pages.txt", "w", encoding="utf-8") as listing:
        listing.write(f"{opened} pages opened in {elapsed:.0f} s\n")
        for role in ROLES:
            listing.writelines(f"{role} {url}\n" for url in plan[role])
    assert all(plan[role] for role in ROLES)
    assert not problems, f"{len(problems)} problem(s) on {opened} pages:\n" + "\n".join(problems)
