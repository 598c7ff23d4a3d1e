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
    assert fr_time(winter) == fr_time(summer) == "09 h 30"


def test_french_formats():
    moment = datetime(2026, 3, 12, 8, 30, tzinfo=timezone.utc)
    assert fr_date(moment) == "jeudi 12 mars 2026"
    assert fr_date(date(2026, 3, 12), "short") == "12/03/2026"
    assert fr_datetime(moment) == "12/03/2026 à 09 h 30"
    assert fr_date(None) == ""


def test_now_is_aware_and_freezable():
    with time_machine.travel(datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc), tick=False):
        assert now_utc() == datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    assert now_utc().tzinfo is not None
