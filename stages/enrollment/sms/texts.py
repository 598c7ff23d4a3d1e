"""What each SMS says: in French, then, for a person who speaks a language with a catalog
(``stages.i18n.TRANSLATED``), a short translation for information (``sms_text``).

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
from stages.enrollment.convocation.translation import day_lines
from stages.enrollment.models import Enrollment
from stages.i18n import format_day, gettext_for, is_translated
from stages.phones import display_phone

CONVOCATION, REMINDER = "convocation", "reminder"
STOP_LINE = "STOP au numéro d'envoi : plus de SMS."


def sms_text(kind: str, enrollment: Enrollment, *, days_left: int | None = None,
             language: str | None = None) -> str:
    """The text of a convocation (``CONVOCATION``) or reminder (``REMINDER``, the course
    ``days_left`` days away) SMS: the French text, which alone counts, then its translation in
    ``language`` (by default the person's) when there is a catalog for it."""
    if kind not in (CONVOCATION, REMINDER):
        raise ValueError(f"unknown SMS kind {kind!r}")
    text = _french(kind, enrollment, days_left)
    lang = language or enrollment.measure.participant.language
    if is_translated(lang):
        text += f"\n\n{_translated(kind, enrollment, lang)}"
    return f"{text}\n{STOP_LINE}"


def _translated(kind: str, enrollment: Enrollment, lang: str) -> str:
    """The translation that follows the French: what, when, where, what to bring."""
    _ = gettext_for(lang)
    course = enrollment.course
    if kind == CONVOCATION:
        opening = _("Convocation au stage de sensibilisation, présence obligatoire :")
    else:
        first_day = format_day(course.days[0][0], lang) if course.days else ""
        opening = _("Rappel : votre stage de sensibilisation commence le %(day)s :") % {"day": first_day}
    lines = [_("Traduction pour information ; seule la version française fait foi."), opening,
             *day_lines(enrollment, lang), venue_line(course.venue),
             _("Apportez une pièce d'identité.")]
    return "\n".join(lines)


def _french(kind: str, enrollment: Enrollment, days_left: int | None) -> str:
    course = enrollment.course
    organization = sender_organization(enrollment)
    days = "\n".join(schedule_lines(course))
    place = venue_line(course.venue)
    if kind == CONVOCATION:
        opening = f"Convocation au {EMAIL_COURSE}, présence obligatoire :"
    else:
        when = {0: "aujourd'hui", 1: "demain"}.get(days_left, f"dans {days_left} jours")
        opening = f"Rappel : votre {EMAIL_COURSE} a lieu {when} :"
    lines = [opening, days, place, "Apportez une pièce d'identité."]
    contact = course_contact(enrollment, organization)
    if contact is not None and contact.phone:
        name = organization.name if organization else ""
        lines.append(f"Contact {name} : {display_phone(contact.phone) or contact.phone}".replace("  ", " "))
    return "\n".join(lines)
