"""What each SMS says, in French: the one function the translations will extend (``sms_text``).

An SMS shows on a locked screen: like the emails' subjects it says « stage de sensibilisation »
and nothing of the offence, the frame or the case. It gives the first day, the times, the place
and who to call; the letter (by email or post) stays the document that summons.
"""
from __future__ import annotations

from stages.enrollment.convocation.wording import (
    EMAIL_COURSE,
    course_contact,
    schedule_lines,
    sender_organization,
    venue_line,
)
from stages.enrollment.models import Enrollment
from stages.phones import display_phone

CONVOCATION, REMINDER = "convocation", "reminder"
STOP_LINE = "STOP au numéro d'envoi : plus de SMS."


def sms_text(kind: str, enrollment: Enrollment, *, days_left: int | None = None,
             language: str = "fr") -> str:
    """The text of a convocation (``CONVOCATION``) or reminder (``REMINDER``, the course
    ``days_left`` days away) SMS. Only French for now: ``language`` is where a translation
    will follow the French text (the French one stays the one that counts)."""
    if language != "fr":
        raise ValueError(f"no SMS text in {language!r} yet")
    course = enrollment.course
    organization = sender_organization(enrollment)
    days = "\n".join(schedule_lines(course))
    place = venue_line(course.venue)
    if kind == CONVOCATION:
        opening = f"Convocation au {EMAIL_COURSE}, présence obligatoire :"
    elif kind == REMINDER:
        when = {0: "aujourd'hui", 1: "demain"}.get(days_left, f"dans {days_left} jours")
        opening = f"Rappel : votre {EMAIL_COURSE} a lieu {when} :"
    else:
        raise ValueError(f"unknown SMS kind {kind!r}")
    lines = [opening, days, place, "Apportez une pièce d'identité."]
    contact = course_contact(enrollment, organization)
    if contact is not None and contact.phone:
        name = organization.name if organization else ""
        lines.append(f"Contact {name} : {display_phone(contact.phone) or contact.phone}".replace("  ", " "))
    lines.append(STOP_LINE)
    return "\n".join(lines)
