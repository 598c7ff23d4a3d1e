"""The sign-in sheet printed from the browser (issue 14): the « Imprimer » button, shown by
static/js/print.js, opens the print dialog; printed, the page keeps the table alone — no
navigation, no button — and every printed page starts with the course, the day and the half-days.
"""
from __future__ import annotations

import base64
import io

import pytest
from pypdf import PdfReader

from stages.auth.models import Role
from stages.extensions import db
from stages.timeutil import fr_date, today_local
from tests.browser.conftest import MISSING, SKIP_REASON
from tests.factories import PASSWORD

if MISSING:
    pytest.skip(SKIP_REASON, allow_module_level=True)

TITLE = "Stage imprimé du parquet"


def _display(journey, selector: str) -> list[str]:
    return journey.driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => getComputedStyle(e).display)",
        selector,
    )


def test_facilitator_prints_the_sign_in_sheet(journey, make):
    association = make.organization(name="Association Ariane")
    facilitator = make.user(Role.FACILITATOR, organizations=[association])
    course = make.course(organizations=[association], facilitators=[facilitator], day=today_local(),
                         capacity=25, title=TITLE)
    for number in range(22):
        make.enrollment(make.measure(make.participant(surname=f"PERSONNE{number:02d}"), handling=association), course)
    email, course_id = facilitator.email, course.id
    db.session.commit()

    journey.log_in(email, PASSWORD)
    journey.get(f"/stages/{course_id}/emargement", "emargement")
    button = journey.button("Imprimer")
    assert button.is_displayed()
    journey.driver.execute_script("window.__printed = 0; window.print = () => { window.__printed += 1; };")
    button.click()
    assert journey.driver.execute_script("return window.__printed") == 1
    # On screen, the running line of the printed pages is not shown.
    assert _display(journey, ".roster-running") == ["none"]

    driver = journey.driver
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        for selector in (".site-nav", ".page-actions", ".site-footer", "button", ".header-tools"):
            assert set(_display(journey, selector)) <= {"none"}, selector
        assert _display(journey, ".roster-table") == ["table"]
        assert _display(journey, ".roster-table thead") == ["table-header-group"]
        assert _display(journey, ".roster-running") == ["table-row"]
        driver.save_screenshot(str(journey.copy_dir / "impression.png"))
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})

    printed = driver.execute_cdp_cmd("Page.printToPDF", {"landscape": True, "paperWidth": 11.69, "paperHeight": 8.27})
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(base64.b64decode(printed["data"]))).pages]
    assert len(pages) >= 2, len(pages)
    day = fr_date(today_local())
    for text in pages:
        assert TITLE in text and day in text and "matin" in text, text[:300]
        assert "Se déconnecter" not in text and "Imprimer" not in text
    assert "PERSONNE21" in " ".join(pages[1:])
    journey.assert_accessible()
