"""The schedule and the courses: dates per lane, then each course, its parts and who comes."""
from __future__ import annotations

import random
from datetime import date, time, timedelta

from stages.enrollment.models import SEAT_HOLDING_STATUSES, EnrollmentStatus
from bench.generate.helpers import _next_workday, _weighted
from bench.generate.plan import (
    AFTERNOON,
    MORNING,
    OUTCOMES,
    PARIS_CADENCE,
    PARIS_WEEKDAY,
    TITLE,
)
from bench.generate.records import _Cluster, _Slot
from stages.scheduling.models import CourseStatus
from stages.timeutil import local_to_utc

# A course stays « held » (open to attendance and corrections) this many days after it ends.
HELD_DAYS = 21


class _Courses:
    """``_World``'s schedule of courses, and the writing of each course of a cluster."""

    # --- Scheduling --------------------------------------------------------------------------

    def _paris_days(self) -> list[tuple[int, list[date]]]:
        """Every three weeks on Thursdays, two days (Thursday, Friday) one time in four."""
        start = self.window[0] + timedelta(days=(PARIS_WEEKDAY - self.window[0].weekday()) % 7)
        slots = []
        index = 0
        while start + timedelta(days=PARIS_CADENCE * index) <= self.window[1]:
            day = start + timedelta(days=PARIS_CADENCE * index)
            days = [day, day + timedelta(days=1)] if index % 4 == 3 else [day]
            if any(d in self.holidays for d in days):
                days = [d + timedelta(days=7) for d in days]
            slots.append((index, days))
            index += 1
        return slots

    def _schedule(self, cluster: _Cluster) -> list[_Slot]:
        if cluster.key == "paris":
            lane = cluster.lanes[0]
            slots = self._paris_days()
            # Below scale 0.01, keep the courses nearest the reference date.
            slots.sort(key=lambda s: (abs((s[1][0] - self.today).days), s[0]))
            slots = sorted(slots[: cluster.courses])
            return [
                _Slot(lane, lane.venues[index % 2], days, index,
                      random.Random(f"{self.seed}:paris:{index}"),
                      random.Random(f"{self.seed}:paris:{index}:people"))
                for index, days in slots
            ]
        rng = random.Random(f"{self.seed}:{cluster.key}")
        result = []
        first, last = self.window
        span = (last - first).days
        for number, lane in enumerate(cluster.lanes):
            count = cluster.courses // len(cluster.lanes) + (
                1 if number < cluster.courses % len(cluster.lanes) else 0
            )
            step = span / max(count, 1)
            free_from = first
            for i in range(count):
                wanted = first + timedelta(days=int((i + rng.uniform(0.1, 0.9)) * step))
                two_days = rng.random() < 0.25
                day = _next_workday(max(wanted, free_from), two_days, self.holidays)
                if day > last:
                    break
                days = [day, day + timedelta(days=1)] if two_days else [day]
                free_from = days[-1] + timedelta(days=2)  # a free day between two courses
                result.append(_Slot(lane, lane.venues[0], days, i, rng, rng))
        result.sort(key=lambda s: (s.start, s.venue.id))
        return result

    # --- Writing a cluster --------------------------------------------------------------------

    def _write_cluster(self, cluster: _Cluster) -> None:
        slots = self._schedule(cluster)
        self._former: list[int] = []  # people who may come back with a new measure
        for index, slot in enumerate(slots):
            self._write_course(cluster, slots, index, slot)
            self.progress(1)
        self._write_backlog(cluster, random.Random(f"{self.seed}:{cluster.key}:people"))

    def _write_course(self, cluster, slots, index, slot: _Slot) -> None:
        rng = slot.rng
        w = self.w
        slot.id = w.next_id("course_sessions")
        near = abs((slot.start - self.today).days) <= 60
        # Closed three weeks after: the Paris cluster runs a course every three weeks, so at any
        # date one Paris course has begun and is still held (the benchmark saves its attendance).
        if slot.end < self.today - timedelta(days=HELD_DAYS):
            slot.status = CourseStatus.CLOSED
        elif slot.end < self.today:
            slot.status = CourseStatus.HELD
        elif (slot.start - self.today).days > 180 and rng.random() < 0.15:
            slot.status = CourseStatus.DRAFT
        cancelled = not near and rng.random() < 0.03
        if cancelled:
            slot.status = CourseStatus.CANCELLED
        zone = slot.venue.zone
        # Parts and bookings.
        lane = slot.lane
        if len(lane.pools) == 1:  # two facilitators of the association, in turn
            pool = lane.pools[0]
            facilitators = [pool[2 * slot.number % len(pool)], pool[(2 * slot.number + 1) % len(pool)]]
        else:  # one of each co-running association
            facilitators = [pool[slot.number % len(pool)] for pool in lane.pools]
        active = not cancelled
        for day in slot.days:
            for start, end in (MORNING, AFTERNOON):
                part_id = w.next_id("session_parts")
                begins, ends = local_to_utc(day, start, zone), local_to_utc(day, end, zone)
                slot.parts.append((part_id, begins, ends))
        created = local_to_utc(slot.start, time(10), zone) - timedelta(days=rng.randint(60, 120))
        capacity = min(slot.venue.capacity, 16)
        organizer = cluster.organizers[0] if rng.random() < 0.7 else rng.choice(cluster.organizers)
        entrants = self._entrants(cluster, slots, index, slot, capacity)
        # Rescheduling frees the seat, as ``set_enrollment_status_unchecked`` does.
        seats = sum(
            1 for _m, status, _o, moved in entrants if status in SEAT_HOLDING_STATUSES and not moved
        )
        w.add("course_sessions", dict(
            id=slot.id, title=TITLE, venue_id=slot.venue.id, status=slot.status,
            capacity=capacity, min_participants=5, fee_cents=rng.choice((0, 18000, 18000, 15000)),
            seats_taken=seats, starts_at=slot.parts[0][1], ends_at=slot.parts[-1][2],
            cancel_reason=("Salle indisponible : le stage est reporté." if cancelled else None),
            notes=None, closing_reminder_sent_at=None, bilan_reminder_sent_at=None,
            ical_sequence=1 if cancelled else 0, created_at=created,
            updated_at=created + timedelta(days=1), created_by_id=organizer,
        ))
        for part_id, begins, ends in slot.parts:
            w.add("session_parts", dict(id=part_id, session_id=slot.id, starts_at=begins,
                                        ends_at=ends, venue_id=slot.venue.id, is_active=active))
            for user_id in facilitators:
                w.add("facilitator_bookings", dict(
                    id=w.next_id("facilitator_bookings"), part_id=part_id, user_id=user_id,
                    starts_at=begins, ends_at=ends, is_active=active))
        # The first association's default programme, spread over the half-days in order.
        modules = cluster.associations[0].default_modules
        for index, module_id in enumerate(modules):
            part_id = slot.parts[min(index * len(slot.parts) // len(modules), len(slot.parts) - 1)][0]
            w.add("programme_items", dict(id=w.next_id("programme_items"), part_id=part_id, module_id=module_id,
                                          position=index, start_time=None, end_time=None))
        for org in cluster.associations:
            w.add("session_organizations", dict(session_id=slot.id, organization_id=org.id))
        for user_id in facilitators:
            w.add("session_facilitators", dict(session_id=slot.id, user_id=user_id))
        if rng.random() < 0.1:
            w.add("session_changes", dict(
                id=w.next_id("session_changes"), session_id=slot.id,
                at=created + timedelta(days=rng.randint(1, 20)), user_id=organizer,
                summary=rng.choice((
                    "Horaires modifiés : début à 9 h 30 au lieu de 9 h.",
                    "Intervenant·es modifié·es.",
                    "Capacité modifiée : 16 places au lieu de 14.",
                )),
            ))
        self._write_entrants(cluster, slots, index, slot, entrants, facilitators, organizer, rng)

    def _entrants(self, cluster, slots, index, slot: _Slot, capacity: int) -> list:
        """(measure, status, outcome, moved to) of each person; rescheduled ones first.

        The course's own stream decides its size and everyone's statuses, whoever they are: a
        Paris course holds the same seats at every scale, only the people differ below 0.01.
        """
        rng = slot.rng
        status = slot.status
        if status == CourseStatus.DRAFT:
            wanted = 0
        elif slot.end < self.today:
            wanted = rng.randint(8, min(14, capacity))
        else:
            weeks = (slot.start - self.today).days / 7
            wanted = (rng.randint(8, min(14, capacity)) if weeks <= 4
                      else rng.randint(3, 9) if weeks <= 10 else rng.randint(0, 2))
        measures = list(slot.reserved)[:wanted] if wanted else []
        # Rescheduled people beyond the course's size (rare) wait for a later date.
        for leftover in slot.reserved[len(measures):]:
            self._finalize(leftover, None)
        while len(measures) < wanted:
            measures.append(self._new_measure(cluster, slot, slot.people, slot.people))
        entrants = []
        for measure in measures:
            outcome = _weighted(rng, OUTCOMES)
            if status == CourseStatus.CANCELLED:
                state = EnrollmentStatus.RESCHEDULED
            elif status == CourseStatus.CLOSED:
                state = outcome
            elif status == CourseStatus.HELD:
                state = rng.choice((EnrollmentStatus.SUMMONED, EnrollmentStatus.CONFIRMED))
            else:
                weeks = (slot.start - self.today).days / 7
                state = (rng.choice((EnrollmentStatus.SUMMONED, EnrollmentStatus.CONFIRMED))
                         if weeks <= 4 else EnrollmentStatus.SUMMONED if weeks <= 8
                         else EnrollmentStatus.ENROLLED)
            moved = None
            again = len(measure.enrollments) < 2
            excused_moves = rng.random() < 0.6
            if again and (state == EnrollmentStatus.RESCHEDULED or (
                state == EnrollmentStatus.ABSENT_EXCUSED and excused_moves
            )):
                moved = self._next_slot(slots, index)
            entrants.append((measure, state, outcome, moved))
        return entrants

    def _next_slot(self, slots: list[_Slot], index: int) -> _Slot | None:
        start = slots[index].start + timedelta(days=21)
        for slot in slots[index + 1 :]:
            if slot.start >= start and len(slot.reserved) < 3:
                return slot
        return None
