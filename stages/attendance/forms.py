"""What the attendance and closing forms send, read into the services' inputs.

The attendance sheet posts one ``status-<enrollment>`` (and optional ``arrived-``, ``left-``,
``note-``) per person, and ``all_present`` from « Tout le monde présent »; the closing form one ``outcome-<enrollment>`` and ``reason-<enrollment>``.
"""
from __future__ import annotations

from datetime import datetime, time

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from stages.attendance.incidents import IncidentInput
from stages.attendance.models import INCIDENT_TEXT_MAX, AttendanceStatus, IncidentKind
from stages.attendance.services import OUTCOMES, MarkInput
from stages.enrollment.models import Enrollment, EnrollmentStatus
from stages.errors import DomainError
from stages.forms import LINE, TEXT, BaseForm
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


class IncidentForm(BaseForm):
    """An incident of a half-day: the time, the kind, what happened, and the person concerned."""

    heure = StringField("Heure (HH:MM)", validators=[InputRequired("Indiquez l'heure de l'incident.")], **LINE)
    nature = SelectField("Nature", choices=IncidentKind.choices(), validators=[InputRequired()])
    personne = SelectField("Personne concernée", choices=[], validate_choice=True)
    texte = TextAreaField("Ce qui s'est passé", validators=[
        InputRequired("Décrivez l'incident."), Length(max=INCIDENT_TEXT_MAX)], **TEXT)

    def set_people(self, people: list[Enrollment]) -> None:
        """The choice of person: nobody in particular, or one of the course's seat holders."""
        self.personne.choices = [("", "Personne en particulier")] + [
            (str(e.id), e.measure.participant.display_name) for e in people
        ]

    def incident_input(self, part: CoursePart) -> IncidentInput:
        """The typed incident, its time on the half-day's date (DomainError when unreadable)."""
        occurred = parse_time(self.heure.data, part)
        return IncidentInput(occurred, IncidentKind(self.nature.data), self.texte.data,
                             int(self.personne.data) if self.personne.data else None)


def incident_form_data(incident, part: CoursePart) -> dict:
    """An incident's values as its form shows them."""
    return {"heure": to_local(incident.occurred_at, part.course.venue.timezone).strftime("%H:%M"),
            "nature": incident.kind.value, "texte": incident.text,
            "personne": str(incident.enrollment_id) if incident.enrollment_id else ""}
