"""What the attendance and closing forms send, read into the services' inputs.

The attendance sheet posts one ``status-<enrollment>`` (and optional ``arrived-``, ``left-``,
``note-``) per person, and ``all_present`` from « Tout le monde présent »; the closing form one ``outcome-<enrollment>`` and ``reason-<enrollment>``.
"""
from __future__ import annotations

from datetime import datetime, time

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from stages.attendance.models import AttendanceStatus
from stages.attendance.services import OUTCOMES, MarkInput
from stages.enrollment.models import Enrollment, EnrollmentStatus
from stages.errors import DomainError
from stages.scheduling.models import CoursePart
from stages.timeutil import local_to_utc, to_local

NOTE_LENGTH = 500


def parse_time(raw: str, part: CoursePart) -> datetime | None:
    """A wall-clock HH:MM typed on the day, as UTC on that part's date."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        wall = time.fromisoformat(raw)
    except ValueError:
        raise DomainError(f"Heure invalide : « {raw[:10]} » (format attendu : 09:45).") from None
    zone = part.course.venue.timezone
    return local_to_utc(to_local(part.starts_at, zone).date(), wall, zone)


def mark_inputs(data: MultiDict, enrollments: list[Enrollment], part: CoursePart) -> list[MarkInput]:
    """The marks typed for ``part``; a person left blank is left as they were, or marked present
    when the form was sent with « Tout le monde présent » (``all_present``)."""
    inputs = []
    everyone = bool(data.get("all_present"))
    for enrollment in enrollments:
        raw_status = data.get(f"status-{enrollment.id}", "") or (AttendanceStatus.PRESENT.value if everyone else "")
        if not raw_status:
            continue
        if raw_status not in {s.value for s in AttendanceStatus}:
            raise DomainError("Statut de présence inconnu.")
        inputs.append(
            MarkInput(
                enrollment_id=enrollment.id,
                status=AttendanceStatus(raw_status),
                arrived_at=parse_time(data.get(f"arrived-{enrollment.id}", ""), part),
                left_at=parse_time(data.get(f"left-{enrollment.id}", ""), part),
                note=(data.get(f"note-{enrollment.id}") or "").strip()[:NOTE_LENGTH] or None,
            )
        )
    return inputs


def closing_decisions(data: MultiDict) -> dict[int, tuple[EnrollmentStatus, str]]:
    """The outcome chosen for each person at closing, with the reason of an override."""
    decisions = {}
    for key, value in data.items():
        if key.startswith("outcome-") and key[8:].isdigit():
            if value not in {s.value for s in OUTCOMES}:
                raise BadRequest()  # not a value the form offers
            enrollment_id = int(key[8:])
            decisions[enrollment_id] = (
                EnrollmentStatus(value), data.get(f"reason-{enrollment_id}", "")[:NOTE_LENGTH]
            )
    return decisions
