"""After the courses: attestations numbered per year, the audit log, and the retention rules."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import sqlalchemy as sa

from stages.extensions import db
from bench.generate.helpers import _paris_year
from bench.generate.plan import GRACE_DAYS
from bench.generate.records import _Slot
from stages.scheduling.models import CourseStatus


class _Audit:
    """``_World``'s attestation numbers, audit entries and retention."""

    # --- Attestations, audit, retention ------------------------------------------------------

    def _write_certificates(self) -> None:
        """Numbered per year in the order they were issued, nationally."""
        self.certificates.sort(key=lambda row: (row["issued_at"], row["enrollment_id"]))
        sequences = Counter()
        for row in self.certificates:
            year = _paris_year(row["issued_at"])
            sequences[year] += 1
            row.update(id=self.w.next_id("certificates"), year=year, sequence=sequences[year],
                       number=f"{year}-{sequences[year]:05d}")
            self.w.add("certificates", row)

    def _audit(self, action, at, user_id, object_type, object_id, participant_id=None, details=None):
        if at < self.audit_from or at > self.now:
            return
        self.w.add("audit_entries", dict(
            id=self.w.next_id("audit_entries"), at=at, user_id=user_id, action=action,
            object_type=object_type, object_id=object_id, participant_id=participant_id,
            ip="10.0.0.1", details=details,
        ))

    def _audit_enrollment(self, measure, enrollment_id, enrolled_at, summoned_at, organizer):
        pid = measure.participant_id
        self._audit("participant.viewed", enrolled_at - timedelta(minutes=5), organizer,
                    "Participant", pid, pid)
        self._audit("enrollment.created", enrolled_at, organizer, "Enrollment", enrollment_id, pid)
        if summoned_at:
            self._audit("convocation.sent", summoned_at, organizer, "Enrollment", enrollment_id, pid)

    def _audit_course(self, slot: _Slot, facilitators, organizer, closing, people) -> None:
        if not people:
            return
        begins = slot.parts[0][1]
        self._audit("session.participants_viewed", begins - timedelta(days=3), organizer,
                    "Course", slot.id, details=f"{people} personnes")
        if slot.status in (CourseStatus.HELD, CourseStatus.CLOSED):
            self._audit("roster.downloaded", begins - timedelta(hours=1), facilitators[0],
                        "Course", slot.id, details=f"{people} personnes")
            for part_id, _b, ends in slot.parts:
                self._audit("attendance.recorded", ends - timedelta(minutes=10), facilitators[0],
                            "CoursePart", part_id, details=f"{people} présence(s)")
        if closing:
            self._audit("session.closed", closing, organizer, "Course", slot.id,
                        details=f"{people} personnes")

    def _apply_retention(self) -> None:
        """What the daily purge job would have done: erase identities past retention."""
        from stages.enrollment.models import LegalMeasure, Participant
        from stages.privacy.retention import expired_participants

        # The application's own rule of when a measure closes (stages/privacy/retention.py).
        expired = expired_participants(self.retention_cutoff, GRACE_DAYS)
        result = db.session.execute(
            sa.update(Participant)
            .where(Participant.id.in_(expired))
            .values(surname="", first_names="", birth_date=None, birth_place=None, address=None,
                    postal_code=None, city=None, phone=None, email=None, search_key="",
                    anonymized_at=self.now, updated_at=self.now)
            .execution_options(synchronize_session=False)
        )
        self.w.counts["participants anonymized"] = result.rowcount
        db.session.execute(
            sa.update(LegalMeasure)
            .where(LegalMeasure.participant_id.in_(
                sa.select(Participant.id).where(Participant.anonymized_at.is_not(None))))
            .values(case_reference="", certificate_recipient=None, withdrawal_reason=None)
            .execution_options(synchronize_session=False)
        )
