"""A course's people: enrollments and their history, attendance marks, attestations, bilans."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from stages.attendance.models import AttendanceStatus
from stages.attendance.services import PRESENT_STATUSES
from stages.certificates.codes import CODE_ALPHABET, CODE_LENGTH
from stages.enrollment.models import EnrollmentStatus, MeasureStatus, PaymentStatus
from bench.generate.plan import OUTCOMES
from bench.generate.records import _Measure, _Slot
from stages.scheduling.models import CourseStatus
from stages.timeutil import local_to_utc


class _Enrollments:
    """``_World``'s enrollments of a course, with what hangs on them, and the measures they close."""

    def _write_entrants(self, cluster, slots, index, slot: _Slot, entrants, facilitators,
                        organizer, rng) -> None:
        w = self.w
        zone = slot.venue.zone
        begins = slot.parts[0][1]
        closing = None
        if slot.status == CourseStatus.CLOSED:
            closing = local_to_utc(slot.end + timedelta(days=rng.randint(1, 5)), time(17), zone)
        bilans = {}
        for measure, state, outcome, moved in entrants:
            m = measure.row
            enrollment_id = w.next_id("enrollments")
            enrolled_at = min(begins - timedelta(days=rng.randint(20, 45)),
                              begins - timedelta(days=8))
            enrolled_at = max(enrolled_at, m["created_at"] + timedelta(hours=2))
            first_note = None
            if measure.last_at is not None:
                enrolled_at = max(enrolled_at, measure.last_at + timedelta(hours=1))
                first_note = "Reporté·e depuis un stage précédent."
            events = [(enrolled_at, None, EnrollmentStatus.ENROLLED, first_note)]
            summoned_at = confirmed_at = None
            reached = {EnrollmentStatus.SUMMONED, EnrollmentStatus.CONFIRMED,
                       *[o for o, _ in OUTCOMES]}
            if state in reached or (state == EnrollmentStatus.RESCHEDULED and slot.end < self.today):
                summoned_at = enrolled_at + timedelta(days=1)
                events.append((summoned_at, EnrollmentStatus.ENROLLED, EnrollmentStatus.SUMMONED, None))
                if state == EnrollmentStatus.CONFIRMED or (
                    state not in (EnrollmentStatus.SUMMONED, EnrollmentStatus.RESCHEDULED)
                    and rng.random() < 0.5
                ):
                    confirmed_at = begins - timedelta(days=rng.randint(2, 6))
                    events.append((confirmed_at, EnrollmentStatus.SUMMONED,
                                   EnrollmentStatus.CONFIRMED, None))
            final = state
            marks_outcome = None
            if slot.status in (CourseStatus.CLOSED, CourseStatus.HELD):
                marks_outcome = outcome
            if slot.status == CourseStatus.CLOSED:
                events.append((closing, events[-1][2], outcome, "Clôture du stage."))
                if moved is not None:
                    final = EnrollmentStatus.RESCHEDULED
                    events.append((closing + timedelta(days=1), outcome, final,
                                   "Report sur un autre stage."))
            elif state == EnrollmentStatus.RESCHEDULED:
                when = begins - timedelta(days=rng.randint(3, 10))
                events.append((max(when, events[-1][0]), events[-1][2], final,
                               "Stage annulé : report sur un autre stage."))
            old = closing is not None and closing < self.retention_cutoff
            enrollment = dict(
                id=enrollment_id, measure_id=m["id"], session_id=slot.id, status=final,
                waitlist_position=None, outcome_override_reason=None,
                convocation_sent_at=summoned_at, reminder_7d_sent_at=None,
                reminder_1d_sent_at=None, created_at=enrolled_at, created_by_id=organizer,
                updated_at=events[-1][0],
            )
            measure.enrollments.append(enrollment)
            measure.last_at = events[-1][0]
            for at, before, after, note in events:
                measure.tail.append(("enrollment_events", dict(
                    id=w.next_id("enrollment_events"), enrollment_id=enrollment_id, at=at,
                    user_id=organizer, from_status=before.value if before else None,
                    to_status=after.value, note=None if old else note,
                )))
            minutes = 0
            if marks_outcome is not None:
                minutes = self._marks(measure, enrollment_id, slot, marks_outcome, facilitators,
                                      organizer, rng, old)
            certificate_at = None
            if slot.status == CourseStatus.CLOSED and outcome == EnrollmentStatus.ATTENDED:
                certificate_at = closing + timedelta(days=rng.randint(0, 5), hours=1)
                if certificate_at < self.now and minutes > 0:
                    self._certificate(enrollment_id, certificate_at, minutes, organizer, rng)
                else:
                    certificate_at = None
            authority_id = m["authority_id"]
            delay = rng.randint(5, 30)
            if slot.status == CourseStatus.CLOSED:
                bilan = bilans.get(authority_id)
                if bilan is None:
                    sent = closing + timedelta(days=delay, hours=2)
                    bilan = bilans[authority_id] = dict(
                        id=w.next_id("bilans"), session_id=slot.id, authority_id=authority_id,
                        created_at=closing, sent_at=sent if sent < self.now else None,
                        sent_by_id=organizer if sent < self.now else None,
                    )
            self._audit_enrollment(measure, enrollment_id, enrolled_at, summoned_at, organizer)
            if moved is not None:
                moved.reserved.append(measure)
                continue
            # The measure's last enrollment: its status follows from the course's outcome.
            if slot.status == CourseStatus.CLOSED:
                status, changed, closed = MeasureStatus(outcome.value), closing, None
                if certificate_at:
                    status, changed = MeasureStatus.CERTIFICATE_ISSUED, certificate_at
                sent = bilans[authority_id]["sent_at"]
                if sent:
                    status, changed, closed = MeasureStatus.REPORTED, sent, sent
            elif state == EnrollmentStatus.RESCHEDULED:
                status, changed, closed = MeasureStatus.REFERRED, events[-1][0], None
            else:
                status, changed, closed = MeasureStatus(state.value), events[-1][0], None
            m.update(status=status, status_changed_at=changed, closed_at=closed)
            if slot.status != CourseStatus.CLOSED:
                m["payment_status"] = PaymentStatus.WAIVED if m["fee_cents"] == 0 else (
                    PaymentStatus.PAID if rng.random() < 0.4 else PaymentStatus.DUE)
            self._finalize(measure, closed)
        for bilan in bilans.values():
            w.add("bilans", bilan)
        self._audit_course(slot, facilitators, organizer, closing, len(entrants))

    def _marks(self, measure, enrollment_id, slot, outcome, facilitators, organizer, rng, old) -> int:
        parts = slot.parts
        if outcome == EnrollmentStatus.ATTENDED:
            statuses = [AttendanceStatus.LATE if rng.random() < 0.08 else AttendanceStatus.PRESENT
                        for _ in parts]
        elif outcome == EnrollmentStatus.PARTLY_ATTENDED:
            statuses = [AttendanceStatus.PRESENT] * (len(parts) - 1) + [AttendanceStatus.ABSENT]
        elif outcome == EnrollmentStatus.ABSENT_EXCUSED:
            statuses = [AttendanceStatus.EXCUSED] * len(parts)
        else:
            statuses = [AttendanceStatus.ABSENT] * len(parts)
        minutes = 0
        for (part_id, begins, ends), status in zip(parts, statuses):
            arrived = None
            if status == AttendanceStatus.LATE:
                arrived = begins + timedelta(minutes=rng.randint(10, 25))
            note = None
            if status == AttendanceStatus.LATE and not old and rng.random() < 0.3:
                note = "Retard signalé par téléphone (transports)."
            if status in PRESENT_STATUSES:
                minutes += int(((ends - (arrived or begins)).total_seconds()) // 60)
            mark_id = self.w.next_id("attendance_marks")
            saved = ends - timedelta(minutes=rng.randint(5, 60))
            by = facilitators[0]
            measure.tail.append(("attendance_marks", dict(
                id=mark_id, enrollment_id=enrollment_id, part_id=part_id, status=status,
                arrived_at=arrived, left_at=None, note=note, updated_at=saved, updated_by_id=by,
            )))
            measure.tail.append(("attendance_revisions", dict(
                id=self.w.next_id("attendance_revisions"), mark_id=mark_id, status=status,
                arrived_at=arrived, left_at=None, note=note, reason=None, changed_at=saved,
                changed_by_id=by,
            )))
        return minutes

    def _certificate(self, enrollment_id, issued_at, minutes, organizer, rng) -> None:
        revoked = rng.random() < 0.002
        self.certificates.append(dict(
            id=0, enrollment_id=enrollment_id, year=0, sequence=0, number="",
            verification_code="".join(rng.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)),
            hours_attended_minutes=minutes, issued_at=issued_at.replace(microsecond=0),
            issued_by_id=organizer,
            revoked_at=issued_at + timedelta(days=3) if revoked else None,
            revocation_reason="Erreur sur l'identité : attestation remplacée." if revoked else None,
            sha256=None,
        ))

    def _finalize(self, measure: _Measure, closed: datetime | None) -> None:
        """Write the measure, then what hangs on it (enrollments, their events and marks)."""
        w = self.w
        w.add("legal_measures", measure.row)
        for enrollment in measure.enrollments:
            w.add("enrollments", enrollment)
        for table, row in measure.tail:
            w.add(table, row)
        if closed is not None and closed < self.now - timedelta(days=365):
            self._former.append(measure.participant_id)
