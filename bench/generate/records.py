"""The in-memory records the world is built from: organizations, venues, lanes, clusters, slots.

Plain dataclasses, measures included: the rows themselves go to the writer; these keep what the
later steps need (ids, time zones, facilitator pools, the measures moved to a later course).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime

from stages.scheduling.models import CourseStatus
from stages.auth.models import OrganizationKind


@dataclass
class _Org:
    id: int
    name: str
    short_name: str
    kind: OrganizationKind
    # An association's default programme: its modules' ids, in order (issue 19).
    default_modules: list = field(default_factory=list)


@dataclass
class _Venue:
    id: int
    name: str
    capacity: int
    zone: str


@dataclass
class _Lane:
    """Courses that follow one another (one venue, or all of Paris) and their facilitators."""

    venues: list[_Venue]
    pools: list[list[int]]  # one pool per association co-running; a course takes one from each


@dataclass
class _Cluster:
    key: str
    associations: list[_Org]
    authorities: list[_Org]
    lanes: list[_Lane]
    organizers: list[int]
    cities: list[tuple]
    courses: int = 0
    backlog: int = 0


@dataclass
class _Slot:
    """A course to write: its lane, venue, local days and what became of it."""

    lane: _Lane
    venue: _Venue
    days: list[date]
    number: int  # rank on its lane (Paris: on the three-week grid), to rotate facilitators
    rng: random.Random  # the course's own decisions: size, statuses, marks
    people: random.Random  # who comes: new measures and people
    status: CourseStatus = CourseStatus.SCHEDULED
    id: int = 0
    parts: list[tuple[int, datetime, datetime]] = field(default_factory=list)
    reserved: list = field(default_factory=list)  # measures rescheduled into this course

    @property
    def start(self) -> date:
        return self.days[0]

    @property
    def end(self) -> date:
        return self.days[-1]


@dataclass
class _Measure:
    """A measure being written: its row waits until its last enrollment is known."""

    row: dict
    participant_id: int
    enrollments: list[dict] = field(default_factory=list)
    tail: list[tuple[str, dict]] = field(default_factory=list)  # rows that reference the enrollments
    last_at: datetime | None = None  # its latest event, so that a new enrollment comes after
