"""Series of sessions: the rule, public holidays, the preview, all-or-nothing creation."""
from datetime import date, datetime, time, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import Course, CourseStatus
from stages.scheduling.services import SeriesRule, series_dates
from stages.timeutil import to_local
from tests.helpers import login


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc), tick=False):
        yield


def test_every_other_thursday():
    rule = SeriesRule(date(2026, 1, 1), date(2026, 2, 28), weekday=3, every_weeks=2)
    assert series_dates(rule) == [date(2026, 1, 1), date(2026, 1, 15), date(2026, 1, 29),
                                  date(2026, 2, 12), date(2026, 2, 26)]


def test_second_thursday_of_each_month():
    rule = SeriesRule(date(2026, 1, 1), date(2026, 6, 30), weekday=3, nth_of_month=2)
    assert series_dates(rule) == [date(2026, 1, 8), date(2026, 2, 12), date(2026, 3, 12),
                                  date(2026, 4, 9), date(2026, 5, 14), date(2026, 6, 11)]


def test_last_friday_of_each_month():
    rule = SeriesRule(date(2026, 1, 1), date(2026, 3, 31), weekday=4, nth_of_month=-1)
    assert series_dates(rule) == [date(2026, 1, 30), date(2026, 2, 27), date(2026, 3, 27)]


def test_rule_errors_are_french():
    with pytest.raises(DomainError, match="date de fin"):
        series_dates(SeriesRule(date(2026, 3, 1), date(2026, 1, 1), weekday=3, every_weeks=1))
    with pytest.raises(DomainError, match="au plus 60"):
        series_dates(SeriesRule(date(2026, 1, 1), date(2027, 12, 31), weekday=3, every_weeks=1))


def series_form(staff, **overrides):
    data = {
        "title": "Stage de sensibilisation",
        "venue": str(staff.venue.id),
        "capacity": "12",
        "min_participants": "5",
        "fee": "180",
        "organizations": [str(staff.apcars.id)],
        "facilitators": [str(staff.julien.id)],
        "first_day": "2026-03-01",
        "last_day": "2026-05-31",
        "weekday": "3",
        "frequency": "weekly",
        "nth": "2",
        "morning_start": "09:30",
        "morning_end": "12:30",
        "afternoon_start": "13:30",
        "afternoon_end": "16:30",
        "preview": "1",
    }
    data.update(overrides)
    return data


def test_preview_unticks_public_holidays_and_conflicts(client, make, staff):
    make.course(venue=staff.venue, day=date(2026, 4, 2), title="Déjà là")
    login(client, staff.organizer)
    html = client.post("/stages/serie", data=series_form(staff)).get_data(as_text=True)
    assert "Jour férié : Ascension" in html  # Thursday 14 May 2026
    assert 'value="2026-05-14" id="date-11">' in html  # unticked
    assert 'value="2026-03-05" id="date-1" checked' in html
    assert "déjà réservé" in html and "Déjà là" in html
    assert 'value="2026-04-02" id="date-5">' in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Course)) == 1


def test_series_across_daylight_saving_keeps_paris_time(client, staff):
    login(client, staff.organizer)
    days = ["2026-03-19", "2026-03-26", "2026-04-02", "2026-04-09"]
    response = client.post(
        "/stages/serie",
        data=series_form(staff, first_day="2026-03-15", last_day="2026-04-10", selected=days,
                         preview="", create="1"),
    )
    assert response.status_code == 302
    courses = db.session.scalars(sa.select(Course).order_by(Course.starts_at)).all()
    assert [to_local(s.starts_at).date().isoformat() for s in courses] == days
    for s in courses:
        assert s.status == CourseStatus.SCHEDULED
        assert [to_local(p.starts_at).time() for p in s.parts] == [time(9, 30), time(13, 30)]
    assert {s.starts_at.hour for s in courses} == {8, 7}  # UTC shifts, Paris time does not


def test_series_is_all_or_nothing(client, make, staff):
    make.course(venue=staff.venue, day=date(2026, 4, 2))
    login(client, staff.organizer)
    response = client.post(
        "/stages/serie",
        data=series_form(staff, selected=["2026-03-26", "2026-04-02"], preview="", create="1"),
    )
    html = response.get_data(as_text=True)
    assert "Stage du jeudi 2 avril 2026" in html and "déjà réservé" in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Course)) == 1


def test_series_refuses_a_day_longer_than_the_law_allows(client, staff):
    login(client, staff.organizer)
    html = client.post(
        "/stages/serie", data=series_form(staff, morning_start="08:00", afternoon_end="17:00")
    ).get_data(as_text=True)
    assert "6 heures" in html


def test_two_day_series(client, staff):
    login(client, staff.organizer)
    client.post(
        "/stages/serie",
        data=series_form(staff, two_days="y", selected=["2026-03-05"], preview="", create="1"),
    )
    course = db.session.scalars(sa.select(Course)).one()
    assert [to_local(p.starts_at).date().day for p in course.parts] == [5, 5, 6, 6]


@pytest.mark.parametrize("place, weekday, first, last, holiday, day", [
    # Alsace-Moselle: Good Friday (3 April 2026) and 26 December (a Saturday in 2026).
    (dict(postal_code="67000", city="Strasbourg"), "4", "2026-03-27", "2026-04-10", "Vendredi saint", "2026-04-03"),
    (dict(postal_code="57000", city="Metz"), "5", "2026-12-19", "2026-12-31", "Saint-Étienne", "2026-12-26"),
    # Martinique: the abolition of slavery, 22 May.
    (dict(postal_code="97200", city="Fort-de-France", timezone="America/Martinique"), "4", "2026-05-15",
     "2026-05-29", "Abolition de l'esclavage", "2026-05-22"),
])
def test_series_skip_the_public_holidays_of_the_place(client, make, staff, place, weekday, first, last, holiday, day):
    venue = make.venue(name="Tribunal judiciaire", **place)
    login(client, staff.organizer)
    form = series_form(staff, venue=str(venue.id), first_day=first, last_day=last, weekday=weekday)
    html = client.post("/stages/serie", data=form).get_data(as_text=True)
    assert f"Jour férié : {holiday}".replace("'", "&#39;") in html
    assert f'value="{day}" id="date-2">' in html  # unticked: not planned unless chosen
    # The same dates in Paris: a working day.
    paris = client.post("/stages/serie", data={**form, "venue": str(staff.venue.id)}).get_data(as_text=True)
    assert "Jour férié" not in paris and f'value="{day}" id="date-2" checked' in paris
