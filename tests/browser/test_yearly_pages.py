"""The yearly report and the open statistics in a browser, with figures on them: axe-core clean
and no sideways scrolling on a 390×844 phone and at 1280×900 (the every-page sweep opens them
too, on the demo data alone, where last year is empty)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
import time_machine

from stages.auth.models import Organization
from stages.demo import load_demo
from stages.enrollment.models import EnrollmentStatus, LegalFrame
from stages.enrollment.services.lifecycle import set_enrollment_status_unchecked
from stages.extensions import db
from stages.scheduling.models import CourseStatus
from stages.timeutil import today_local
from tests.browser.test_every_page import SIZES, _check_page, _log_in


def _courses_of(year, make, apcars, scelles, parquet) -> None:
    """Closed courses of ``year`` in three départements, one with a small count."""
    frames = list(LegalFrame)
    for index, (postal_code, people) in enumerate((("75017", 11), ("75017", 9), ("93000", 6), ("20000", 3))):
        course = make.course(
            organizations=[apcars, scelles], venue=make.venue(postal_code=postal_code),
            day=date(year, 3, 2) + timedelta(days=30 * index), status=CourseStatus.CLOSED,
        )
        for n in range(people):
            measure = make.measure(authority=parquet, handling=apcars, frame=frames[n % len(frames)])
            enrollment = make.enrollment(measure, course)
            outcome = EnrollmentStatus.ATTENDED if n % 4 else EnrollmentStatus.ABSENT_UNEXCUSED
            set_enrollment_status_unchecked(enrollment, outcome, by=None)
            if outcome == EnrollmentStatus.ATTENDED:  # numbered apart from the demo's
                serial = 90_000 + 100 * index + n
                make.certificate(enrollment, year=year, sequence=serial, number=f"{year}-{serial}")


def test_yearly_report_and_open_statistics_pages(journey, app, make):
    load_demo()
    by_name = {o.name: o for o in db.session.scalars(sa.select(Organization))}
    apcars, scelles, parquet = by_name["APCARS"], by_name["Fondation Scelles"], by_name["Parquet de Paris"]
    apcars.open_statistics = scelles.open_statistics = True
    # Closed last year, as it happened: the history's dates are before the year's settling date.
    last_year = today_local().year - 1
    with time_machine.travel(datetime(last_year, 12, 1, 12, tzinfo=timezone.utc), tick=False):
        _courses_of(last_year, make, apcars, scelles, parquet)
        db.session.commit()
    from stages.reports.open_statistics import clear_cache

    clear_cache()
    pages = {
        "anonymous": [f"/statistiques-ouvertes?annee={last_year}"],
        "organizer": [f"/rapports/annuel?organisation={apcars.id}&annee={last_year}",
                      f"/rapports/annuel?organisation={apcars.id}&annee={last_year + 1}"],
        "liaison": [f"/rapports/annuel?organisation={parquet.id}&annee={last_year}"],
        "admin": ["/rapports/annuel", f"/rapports/annuel?organisation={scelles.id}&annee={last_year}"],
    }
    problems = []
    for role, urls in pages.items():
        if role == "anonymous":
            journey.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        else:
            journey.set_viewport(*SIZES[1])
            _log_in(journey, role)
        for size in SIZES:
            journey.set_viewport(*size)
            for url in urls:
                problems += [f"[{role}] {p}" for p in _check_page(journey, role, url, size)]
                if role == "anonymous":
                    assert journey.all("#table-personnes abbr[title='secret statistique']"), journey.css("main").text
                    assert "2A" in journey.css("#table-personnes").text
                elif url.endswith(f"annee={last_year}") and role != "admin":
                    assert journey.css("#stages-tenus").text == "4"
    assert not problems, "\n".join(problems)
