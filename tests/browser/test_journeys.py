"""The five journeys of the issue « Proof at national scale and in a real browser », in Chromium,
and a few more (keyboard login, attestation rectificative, a temporary password replaced).

Each journey builds its data with the factories, commits it, logs in through the real login form
and clicks its way through, saving a screenshot per step (in the test's tmp_path and in
test-output/screenshots/<journey>/) and running axe-core (WCAG 2.1 A and AA rules, as RGAA asks)
on every page it visits: a serious or critical violation fails the journey.

Dates and times are set through JavaScript: Chromium's date and time pickers take keystrokes in
the order of the browser's locale (mm/dd/yyyy here, dd/mm/yyyy for a French user), which a test
cannot rely on. Everything else is typed and clicked.
"""
from __future__ import annotations

import csv
import io
from datetime import time, timedelta

import pytest
import sqlalchemy as sa

from stages.attendance.models import AttendanceMark, AttendanceStatus
from stages.auth.models import Role
from stages.certificates.models import Certificate
from stages.enrollment.models import Enrollment, EnrollmentStatus, LegalFrame
from stages.extensions import db
from stages.scheduling.models import Course, CourseStatus
from stages.timeutil import hhmm, now_utc, to_local, today_local
from tests.browser.conftest import MISSING, SKIP_REASON, TABLET, wait_for_download
from tests.factories import PASSWORD

if MISSING:
    pytest.skip(SKIP_REASON, allow_module_level=True)

# The afternoon runs late so that a session built "today" is still upcoming (listed on the home
# page) whatever the hour the suite runs at.
TODAY_PARTS = ((time(9, 30), time(12, 30)), (time(13, 30), time(23, 59)))


def fill(journey, selector: str, value: str) -> None:
    """Set a date or time input as the picker would (see the module docstring)."""
    journey.driver.execute_script(
        "const el = arguments[0]; el.value = arguments[1];"
        "el.dispatchEvent(new Event('input', {bubbles: true}));"
        "el.dispatchEvent(new Event('change', {bubbles: true}));",
        journey.css(selector),
        value,
    )


def check(journey, selector: str) -> None:
    """Tick a checkbox or a radio button by clicking it, as a person would."""
    box = journey.css(selector)
    box.click()
    assert box.is_selected(), selector


def refresh() -> None:
    """Forget what the test's session holds: the browser changed the database."""
    db.session.rollback()
    db.session.expire_all()


# --- 1. The organizer creates a session and enrolls two people ------------------------------


def test_organizer_creates_a_course_and_enrolls_two_people(journey, make):
    association = make.organization(name="Association Ariane")
    organizer = make.user(Role.ORGANIZER, organizations=[association], full_name="Olga Organisatrice")
    venue = make.venue(name="Maison des associations", capacity=15)
    people = [
        make.measure(make.participant(surname=surname, first_names=first), handling=association)
        for surname, first in (("MARTIN", "Luc"), ("BERNARD", "Marc"))
    ]
    email, association_id, venue_id = organizer.email, association.id, venue.id
    measure_ids = [m.id for m in people]
    day = today_local() + timedelta(days=10)
    db.session.commit()

    journey.log_in(email, PASSWORD)
    # No link leads to /stages/nouveau yet: the organizer types it (or follows a bookmark).
    journey.get("/stages/nouveau", "nouveau-stage")
    from selenium.webdriver.support.ui import Select

    Select(journey.css("#venue")).select_by_value(str(venue_id))
    capacity = journey.css("#capacity")
    capacity.clear()
    capacity.send_keys("10")
    fill(journey, "#parts-0-day", day.isoformat())
    fill(journey, "#parts-1-day", day.isoformat())
    check(journey, f"input[name=organizations][value='{association_id}']")
    journey.css("#notes").send_keys("Salle au 2e étage, accès PMR par la cour.")
    journey.step("formulaire-rempli")
    journey.click(journey.button("Programmer le stage"), "stage-programme")
    assert "Le stage est programmé." in " ".join(journey.flashes())
    course_path = journey.path()
    assert course_path.startswith("/stages/")

    journey.click(journey.link("Inscrire des personnes"), "inscription-groupee")
    for measure_id in measure_ids:
        check(journey, f"#m-{measure_id}")
    journey.step("personnes-cochees")
    journey.click(journey.button("Inscrire les personnes cochées"), "personnes-inscrites")
    assert "2 personnes inscrites." in " ".join(journey.flashes())
    assert journey.path() == course_path
    assert "Personnes inscrites (2 places prises sur 10)" in journey.text()
    assert "MARTIN" in journey.text() and "BERNARD" in journey.text()

    refresh()
    course = db.session.scalar(sa.select(Course))
    assert course.status == CourseStatus.SCHEDULED
    assert course.capacity == 10 and len(course.parts) == 2
    assert [o.id for o in course.organizations] == [association_id]
    enrolled = db.session.scalars(sa.select(Enrollment).where(Enrollment.course_id == course.id))
    assert sorted(e.measure_id for e in enrolled) == sorted(measure_ids)
    journey.assert_accessible()


# --- 2. A facilitator on a tablet takes attendance --------------------------------------------


def _course_today(make, association, *, facilitators=(), people=2, status=CourseStatus.SCHEDULED):
    course = make.course(
        organizations=[association], facilitators=list(facilitators), day=today_local(),
        parts=TODAY_PARTS, status=status,
    )
    enrollments = [
        make.enrollment(
            make.measure(make.participant(surname=surname), handling=association), course
        )
        for surname in ("MARTIN", "BERNARD", "PETIT")[:people]
    ]
    return course, enrollments


def test_facilitator_takes_attendance_on_a_tablet(journey, make):
    """The attendance page's script saves through the tablet sync (static/js/attendance.js):
    no page reload, each row says « enregistré » once the server has it."""
    from tests.browser.test_offline_attendance import tap, wait_for

    association = make.organization(name="Association Ariane")
    facilitator = make.user(Role.FACILITATOR, organizations=[association], full_name="Farid Intervenant")
    # Two half-days that have both begun (marks are refused before), whatever the hour the suite
    # runs at: the live server uses the real clock.
    now = now_utc().replace(second=0, microsecond=0)
    spans = [(now - timedelta(minutes=12), now - timedelta(minutes=7)), (now - timedelta(minutes=5), now + timedelta(hours=2))]
    if to_local(spans[0][0]).date() != today_local():
        pytest.skip("the first half-day would start yesterday (run between 0 h 00 and 0 h 12): a past day")
    course = make.course_at(spans, organizations=[association], facilitators=[facilitator])
    enrollments = [
        make.enrollment(make.measure(make.participant(surname=surname), handling=association), course)
        for surname in ("MARTIN", "BERNARD")
    ]
    email, course_id, zone = facilitator.email, course.id, course.venue.timezone
    part_ids = [p.id for p in course.parts]
    first, second = (e.id for e in enrollments)
    arrival = now - timedelta(minutes=10)
    db.session.commit()

    def saved(count: int):
        wait_for(journey, "return document.querySelectorAll('.attendance-row[data-state=saved]').length"
                 " === arguments[0] && document.querySelector('[data-pending-count]').textContent"
                 " === '0 modification en attente'", f"{count} rows saved", 10, count)

    journey.set_viewport(*TABLET)
    journey.log_in(email, PASSWORD)
    journey.click(journey.css(f"main a[href='/stages/{course_id}']"), "stage-du-jour")
    journey.click(
        journey.css(f"a[href='/stages/{course_id}/presence/{part_ids[0]}']"), "presence-matin"
    )
    tap(journey, journey.css(f"input[name='status-{first}'][value='present']"))
    tap(journey, journey.css(f"input[name='status-{second}'][value='late']"))
    fill(journey, f"#arrived-{second}", hhmm(arrival, zone))
    tap(journey, journey.css(f".attendance-row[data-enrollment='{second}'] .attendance-note summary"))
    journey.css(f"#note-{second}").send_keys("Train en retard")
    journey.step("matin-saisi")
    tap(journey, journey.button("Enregistrer la présence"))
    saved(2)
    journey.step("matin-enregistre")

    journey.click(
        journey.css(f"nav a[href='/stages/{course_id}/presence/{part_ids[1]}']"), "presence-apres-midi"
    )
    tap(journey, journey.button("Tout le monde présent"))
    tap(journey, journey.button("Enregistrer la présence"))
    saved(2)
    journey.step("apres-midi-enregistre")

    refresh()
    marks = {
        (m.enrollment_id, m.part_id): m for m in db.session.scalars(sa.select(AttendanceMark))
    }
    assert len(marks) == 4
    late = marks[(second, part_ids[0])]
    assert late.status == AttendanceStatus.LATE and late.note == "Train en retard"
    assert late.arrived_at == arrival
    assert marks[(first, part_ids[1])].status == AttendanceStatus.PRESENT
    journey.assert_accessible()


# --- 3. The organizer closes the session and issues the certificates --------------------------


def test_organizer_closes_the_course_and_issues_certificates(journey, make):
    association = make.organization(name="Association Ariane")
    organizer = make.user(Role.ORGANIZER, organizations=[association])
    course, enrollments = _course_today(make, association)
    for enrollment in enrollments:
        for part in course.parts:
            make.attendance_mark(enrollment, part, AttendanceStatus.PRESENT)
    email, course_id = organizer.email, course.id
    db.session.commit()

    journey.log_in(email, PASSWORD)
    journey.click(journey.css(f"main a[href='/stages/{course_id}']"), "stage")
    # The day is over: the job that marks sessions held runs after the last half-day ends.
    db.session.get(Course, course_id).status = CourseStatus.HELD
    db.session.commit()
    journey.get(f"/stages/{course_id}", "stage-tenu")

    journey.click(journey.css(f"a[href='/stages/{course_id}/cloture']"), "cloture")
    proposed = [td.text for td in journey.all("main tbody tr td:nth-of-type(2)")]
    assert proposed == [EnrollmentStatus.ATTENDED.label] * 2, proposed
    journey.click(journey.button("Clôturer le stage"), "stage-cloture")
    assert "Le stage est clôturé." in " ".join(journey.flashes())

    journey.click(journey.button("Délivrer les attestations (2)"), "attestations-delivrees")
    assert "2 attestations" in " ".join(journey.flashes())
    assert "Attestations délivrées (2)" in journey.text()

    refresh()
    assert db.session.get(Course, course_id).status == CourseStatus.CLOSED
    assert {e.status for e in db.session.scalars(sa.select(Enrollment))} == {EnrollmentStatus.ATTENDED}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)) == 2
    journey.assert_accessible()


# --- 4. A liaison filters the dashboard and downloads an export -------------------------------


def test_liaison_filters_the_dashboard_and_downloads_an_export(journey, make):
    parquet = make.authority(name="Parquet de Bobigny")
    elsewhere = make.authority(name="Parquet de Créteil")
    liaison = make.user(Role.LIAISON, organizations=[parquet], full_name="Lina Référente")
    wanted = [
        make.measure(authority=parquet, frame=LegalFrame.COMPOSITION_PENALE) for _ in range(3)
    ]
    for _ in range(2):
        make.measure(authority=parquet, frame=LegalFrame.ALTERNATIVE_POURSUITES)
    make.measure(authority=elsewhere, frame=LegalFrame.COMPOSITION_PENALE)
    email = liaison.email
    references = sorted(m.case_reference for m in wanted)
    db.session.commit()

    journey.log_in(email, PASSWORD)
    # The liaison's dashboard, from a bookmark (the home page lists the same measures).
    journey.get("/tableau-de-bord", "tableau-de-bord")
    assert len(journey.all("main table tbody tr")) == 5
    from selenium.webdriver.support.ui import Select

    Select(journey.css("#cadre")).select_by_value(LegalFrame.COMPOSITION_PENALE.value)
    journey.click(journey.button("Filtrer"), "filtre-composition-penale")
    rows = journey.all("main table tbody tr")
    assert len(rows) == 3
    assert sorted(r.find_element("css selector", "td.nowrap").text for r in rows) == references

    export = journey.css("a[href*='/tableau-de-bord/export.csv']")
    assert "cadre=composition_penale" in export.get_attribute("href")
    export.click()
    downloaded = wait_for_download(journey.downloads, ".csv")
    journey.step("export-telecharge")
    content = downloaded.read_bytes().decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(content), delimiter=";" if ";" in content.splitlines()[0] else ","))
    assert len(table) == 1 + 3, table
    assert all(any(ref in row for ref in references) for row in table[1:])
    journey.assert_accessible()


# --- 5. An anonymous visitor verifies a certificate -------------------------------------------


def test_anonymous_visitor_verifies_a_certificate(journey, make):
    course, (enrollment,) = make.closed_course_with(people=1)
    surname = enrollment.measure.participant.surname
    certificate = make.certificate(enrollment, verification_code="7K3M9QX2PR4TB8VW")
    number = certificate.number
    db.session.commit()

    journey.get("/verification", "verification")
    journey.css("#code").send_keys("7k3m-9qx2-pr4t-b8vw")
    journey.click(journey.button("Vérifier"), "attestation-valide")
    result = journey.css("[role=status]").text
    assert "Attestation valide" in result and number in result
    assert surname not in journey.text()

    code = journey.css("#code")
    code.clear()
    code.send_keys("7K3M9QX2PR4TB8VX")
    journey.click(journey.button("Vérifier"), "code-inconnu")
    assert "Code inconnu" in journey.css("[role=status]").text

    # The QR code printed on the attestation leads straight to the result.
    journey.get("/verification/7K3M-9QX2-PR4T-B8VW", "qr-code")
    assert "Attestation valide" in journey.css("[role=status]").text
    journey.assert_accessible()


# --- Keyboard: the login form ------------------------------------------------------------------


def test_login_form_works_with_the_keyboard(journey, make):
    """TAB goes skip link → … → email → password → « remember me » → submit; Enter submits;
    a failed login is announced (role="alert") and the next try succeeds."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    organizer = make.user(Role.ORGANIZER, organizations=[make.organization()])
    email = organizer.email
    db.session.commit()
    journey.get("/connexion", "connexion")
    driver = journey.driver

    def active():
        return driver.switch_to.active_element

    def tab():
        ActionChains(driver).send_keys(Keys.TAB).perform()
        return active()

    assert "skip-link" in tab().get_attribute("class")
    order = []
    for _ in range(10):
        element = tab()
        order.append(element.get_attribute("id") or element.text.strip())
        if element.tag_name == "button":
            break
    fields = [item for item in order if item in ("email", "password", "remember", "Se connecter")]
    assert fields == ["email", "password", "remember", "Se connecter"], order

    journey.css("#email").send_keys(email)
    journey.css("#password").send_keys("not the password")
    journey.submit_with_enter(journey.css("#password"), "echec-annonce")
    alert = journey.css("[role=alert]")
    assert alert.is_displayed() and alert.text
    assert journey.path() == "/connexion"

    journey.css("#password").send_keys(PASSWORD)
    journey.submit_with_enter(journey.css("#password"), "connecte-au-clavier")
    assert journey.path() == "/"
    assert "Se déconnecter" in driver.find_element("css selector", "header").text
    journey.assert_accessible()


# --- Attestation rectificative: revoke with a reason, then replace ------------------------------


def test_organizer_revokes_an_attestation_and_issues_its_replacement(journey, make):
    from stages.certificates import issuing as certificates

    association = make.organization(name="Association Ariane")
    organizer = make.user(Role.ORGANIZER, organizations=[association])
    _course, (enrollment,) = make.closed_course_with(people=1, organizations=[association],
                                                      handling=association)
    first = certificates.issue_certificate(enrollment, by=organizer)
    email, participant_id, first_id = organizer.email, enrollment.measure.participant_id, first.id
    old_code, old_number = first.verification_code, first.number
    db.session.commit()

    journey.log_in(email, PASSWORD)
    journey.get(f"/personnes/{participant_id}", "dossier")
    journey.click(journey.css(f"a[href='/attestations/{first_id}/revoquer']"), "revocation")
    journey.css("#reason").send_keys("Erreur sur le prénom")
    journey.click(journey.button("Révoquer l'attestation"), "attestation-revoquee")
    assert f"L'attestation n° {old_number} est révoquée." in " ".join(journey.flashes())
    journey.click(
        journey.css(f"form[action='/attestations/{first_id}/remplacer'] button"),
        "attestation-rectificative",
    )
    assert "Attestation rectificative" in " ".join(journey.flashes())
    assert f"en remplacement de l'attestation n° {old_number}" in journey.text()

    refresh()
    replacement = db.session.scalar(sa.select(Certificate).where(Certificate.replaces_id == first_id))
    assert replacement is not None and replacement.revoked_at is None
    journey.get(f"/verification/{old_code}", "ancienne-attestation")
    assert f"Elle est remplacée par l'attestation n° {replacement.number}" in journey.text()
    journey.assert_accessible()


# --- A temporary password is replaced before anything else --------------------------------------


def test_a_new_account_chooses_its_own_password_first(journey, make):
    temporary, own = "Kx7q-Vn3p-Hd9w-Lr2m", "girafe lunaire sous la pluie tiède"
    user = make.user(Role.ORGANIZER, organizations=[make.organization()], password=temporary)
    user.password_change_required = True
    email = user.email
    db.session.commit()

    journey.log_in(email, temporary)
    assert journey.path() == "/mon-compte"
    assert "mot de passe actuel est provisoire" in journey.text()
    journey.get("/calendrier", "calendrier-redirige")
    assert journey.path() == "/mon-compte"
    journey.css("#current_password").send_keys(temporary)
    journey.css("#new_password").send_keys(own)
    journey.css("#confirm_password").send_keys(own)
    journey.click(journey.button("Enregistrer"), "mot-de-passe-choisi")
    assert "Votre mot de passe a été modifié." in " ".join(journey.flashes())
    assert "provisoire" not in journey.text()
    journey.get("/calendrier", "calendrier")
    assert journey.path() == "/calendrier"
    journey.assert_accessible()


# --- 9. The organizer imports a parquet's list on a phone ------------------------------------

PHONE = (390, 844)


def test_organizer_imports_a_parquet_list_naming_an_unknown_column_on_a_phone(journey, make, app, tmp_path):
    from selenium.webdriver.support.ui import Select

    from stages.enrollment.models import ImportColumnMapping, LegalMeasure
    from tests.enrollment.test_import_columns import OTHER_HEADERS, other_list

    app.config["IMPORT_UPLOAD_DIR"] = str(tmp_path / "imports")
    apcars = make.organization(name="APCARS")
    make.authority(name="Parquet de Bobigny")
    organizer = make.user(Role.ORGANIZER, organizations=[apcars])
    email = organizer.email
    db.session.commit()
    path = tmp_path / "orientations-janvier.csv"
    path.write_bytes(other_list(0, 4))  # Excel's CSV: Windows-1252, « ; », « Fin de délai »

    def fits():
        assert journey.driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"
        ), f"sideways scrolling on {journey.path()}"

    try:
        journey.set_viewport(*PHONE)
        journey.log_in(email, PASSWORD)
        journey.get("/personnes/import", "import")
        fits()
        journey.css("#file").send_keys(str(path))
        Select(journey.css("#authority")).select_by_visible_text("Parquet de Bobigny")
        journey.click(journey.button("Voir l'aperçu"), "colonnes")
        assert journey.path() == "/personnes/import/colonnes"
        fits()
        unknown = OTHER_HEADERS.index("Fin de délai"), OTHER_HEADERS.index("Observations")
        Select(journey.css(f"#column_{unknown[0]}")).select_by_value("deadline")
        Select(journey.css(f"#column_{unknown[1]}")).select_by_value("ignore")
        journey.click(journey.button("Voir l'aperçu"), "apercu")
        assert "Date limite (choisi pour cet import)" in journey.text()
        fits()
        journey.click(journey.button("Importer 4 mesures"), "importee")
        assert "4 mesures importées pour APCARS." in " ".join(journey.flashes())
        journey.assert_accessible()
    finally:
        app.config.pop("IMPORT_UPLOAD_DIR")
    refresh()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LegalMeasure)) == 4
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportColumnMapping)) == 2
