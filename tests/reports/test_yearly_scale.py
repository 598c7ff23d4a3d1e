"""The yearly report's figures equal those recomputed directly from the tables, row by row in
Python, on the benchmark's generated data at scale 0.01 (about 200 courses over ten years)."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from bench.generate import generate
from stages.auth.models import Organization, OrganizationKind
from stages.extensions import db
from stages.reports.yearly import compute_yearly_report
from tests.conftest import _empty_all_tables
from tests.helpers import count_queries

PARIS = ZoneInfo("Europe/Paris")
OUTCOMES = {"attended", "partly_attended", "absent_excused", "absent_unexcused"}
# The report's 7 grouped statements, then its sections: for an association the fee ledger's 3
# and the evaluation's 2; for an authority the invoices it received, 1.
REPORT_QUERIES = 12
AUTHORITY_REPORT_QUERIES = 8


def _utc(value):
    """A datetime read back raw (SQLite: naive UTC text) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _bound(y, m=1, d=1):
    return datetime.combine(date(y, m, d), time(), PARIS).astimezone(UTC)


def _rows(sql: str) -> list:
    return db.session.execute(sa.text(sql)).all()


def _recompute(org_id: int, is_association: bool, year: int) -> dict:
    """The report's definitions, applied in Python to every row of the tables."""
    start, end, known = _bound(year), _bound(year + 1), _bound(year + 1, 2, 1)
    measures = {m.id: m for m in _rows(
        "SELECT id, frame, authority_id, handling_organization_id, created_at, closed_at, status "
        "FROM legal_measures")}
    courses = {c.id: _utc(c.starts_at) if c.starts_at else None
               for c in _rows("SELECT id, starts_at FROM course_sessions")}
    organizers = {}
    for course_id, organization_id in _rows("SELECT session_id, organization_id FROM session_organizations"):
        organizers.setdefault(course_id, set()).add(organization_id)
    enrollments = {e.id: e for e in _rows("SELECT id, measure_id, session_id FROM enrollments")}
    events = _rows("SELECT id, enrollment_id, at, to_status FROM enrollment_events ORDER BY id")
    certificates = _rows("SELECT enrollment_id, issued_at, revoked_at FROM certificates")

    def measure_in(m):
        return (m.handling_organization_id if is_association else m.authority_id) == org_id

    def enrollment_in(e):
        if is_association:
            return org_id in organizers.get(e.session_id, set())
        return measures[e.measure_id].authority_id == org_id

    def valid(enrollment_ids, at):
        return any(c.enrollment_id in enrollment_ids and _utc(c.issued_at) < at
                   and (c.revoked_at is None or _utc(c.revoked_at) >= at) for c in certificates)

    figures = {key: Counter() for key in ("referred", "summoned", "withdrawn", "pending", "completed")}
    outcomes = Counter()
    by_measure = {}
    for e in enrollments.values():
        by_measure.setdefault(e.measure_id, set()).add(e.id)
    for m in measures.values():
        if not measure_in(m):
            continue
        if start <= _utc(m.created_at) < end:
            figures["referred"][m.frame] += 1
        if m.status == "withdrawn" and m.closed_at and start <= _utc(m.closed_at) < end:
            figures["withdrawn"][m.frame] += 1
        if (_utc(m.created_at) < end and (m.closed_at is None or _utc(m.closed_at) >= end)
                and not valid(by_measure.get(m.id, set()), end)):
            figures["pending"][m.frame] += 1
    summoned = {}
    last_outcome = {}
    for ev in events:
        e = enrollments[ev.enrollment_id]
        at = _utc(ev.at)
        if ev.to_status == "summoned" and start <= at < end and enrollment_in(e):
            summoned.setdefault(measures[e.measure_id].frame, set()).add(e.measure_id)
        if ev.to_status in OUTCOMES and at < known:
            last_outcome[e.id] = ev.to_status
    for frame, ids in summoned.items():
        figures["summoned"][frame] = len(ids)
    held, completed = set(), {}
    for e in enrollments.values():
        starts = courses[e.session_id]
        if starts is None or not (start <= starts < end) or not enrollment_in(e) or e.id not in last_outcome:
            continue
        frame = measures[e.measure_id].frame
        outcomes[(frame, last_outcome[e.id])] += 1
        if last_outcome[e.id] in ("attended", "partly_attended"):
            held.add(e.session_id)
        if valid({e.id}, known):
            completed.setdefault(frame, set()).add(e.measure_id)
    for frame, ids in completed.items():
        figures["completed"][frame] = len(ids)
    return {"figures": figures, "outcomes": outcomes, "held": len(held)}


@pytest.fixture
def generated(app):
    generate(0.01, seed=11, today=date(2026, 11, 27))
    db.session.commit()
    yield
    db.session.rollback()
    db.session.remove()
    _empty_all_tables()


def _largest(kind_condition, column: str) -> Organization:
    org_id = db.session.execute(sa.text(
        f"SELECT {column} FROM legal_measures GROUP BY {column} ORDER BY count(*) DESC LIMIT 1"
    )).scalar()
    organization = db.session.get(Organization, org_id)
    assert kind_condition(organization.kind)
    return organization


@pytest.mark.parametrize("year", [2023, 2025])
def test_report_figures_equal_the_tables_at_scale_001(generated, year):
    association = _largest(lambda k: k == OrganizationKind.ASSOCIATION, "handling_organization_id")
    authority = _largest(lambda k: k != OrganizationKind.ASSOCIATION, "authority_id")
    for organization, is_association in ((association, True), (authority, False)):
        db.session.expire_all()
        with count_queries() as counter:
            report = compute_yearly_report(organization, year)
        # The same few grouped statements as on a tiny database (test_yearly.py): none per row.
        assert counter.count == (REPORT_QUERIES if is_association else AUTHORITY_REPORT_QUERIES)
        expected = _recompute(organization.id, is_association, year)
        assert report.courses_held == expected["held"]
        assert report.courses_held > 0  # the data has courses that year: the test compares something
        for figures in report.frames:
            frame = figures.frame.value
            for key, counter in expected["figures"].items():
                assert getattr(figures, key) == counter[frame], (organization.name, frame, key)
            for status, count in figures.outcomes.items():
                assert count == expected["outcomes"][(frame, status.value)], (frame, status)
        assert report.total.referred == sum(expected["figures"]["referred"].values()) > 0
        assert report.total.completed == sum(expected["figures"]["completed"].values()) > 0
        assert report.total.with_outcome == sum(expected["outcomes"].values())
