"""Time: stored as aware UTC on every database, shown in French in Europe/Paris."""
from datetime import date, datetime, time, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages.extensions import db
from stages.models import AuditEntry
from stages.timeutil import fr_date, fr_datetime, fr_time, local_to_utc, now_utc, to_local


def test_datetimes_come_back_aware_utc(make):
    moment = datetime(2026, 7, 14, 10, 0, tzinfo=timezone.utc)
    entry = AuditEntry(action="t", at=to_local(moment))  # written with a +02:00 offset
    db.session.add(entry)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(AuditEntry, entry.id).at
    assert stored == moment
    assert stored.utcoffset().total_seconds() == 0


def test_naive_datetimes_are_refused(make):
    db.session.add(AuditEntry(action="t", at=datetime(2026, 1, 1, 12, 0)))
    with pytest.raises(sa.exc.StatementError):
        db.session.flush()
    db.session.rollback()


def test_paris_wall_clock_across_daylight_saving():
    winter = local_to_utc(date(2026, 3, 26), time(9, 30))
    summer = local_to_utc(date(2026, 4, 2), time(9, 30))
    assert (winter.hour, summer.hour) == (8, 7)
    assert fr_time(winter) == fr_time(summer) == "9\u00a0h\u00a030"


def test_french_formats():
    moment = datetime(2026, 3, 12, 8, 30, tzinfo=timezone.utc)
    assert fr_date(moment) == "jeudi 12 mars 2026"
    assert fr_date(date(2026, 3, 12), "short") == "12/03/2026"
    assert fr_datetime(moment) == "12/03/2026 à 9\u00a0h\u00a030"
    assert fr_date(None) == ""


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("long", "jeudi 1er avril 2027"),
        ("medium", "1er avril 2027"),
        ("EEE d MMM y", "jeu. 1er avr. 2027"),
        ("EEEE d MMMM", "jeudi 1er avril"),
        ("d MMMM y", "1er avril 2027"),
        ("short", "01/04/2027"),  # numbers stay numbers
        ("dd/MM", "01/04"),
        ("'le' d", "le 1er"),
    ],
)
def test_the_first_of_the_month_is_written_1er(fmt, expected):
    """French writes « 1er avril », not « 1 avril », wherever the day is spelt out."""
    assert fr_date(date(2027, 4, 1), fmt) == expected
    # The first in Paris can still be the 31st in UTC.
    assert fr_date(datetime(2027, 3, 31, 22, 30, tzinfo=timezone.utc), fmt) == expected


def test_other_days_keep_their_number():
    assert fr_date(date(2027, 4, 2)) == "vendredi 2 avril 2027"
    assert fr_date(date(2027, 4, 11), "medium") == "11 avril 2027"
    assert fr_date(date(2027, 4, 21), "EEE d MMM y") == "mer. 21 avr. 2027"


def test_now_is_aware_and_freezable():
    with time_machine.travel(datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc), tick=False):
        assert now_utc() == datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    assert now_utc().tzinfo is not None
