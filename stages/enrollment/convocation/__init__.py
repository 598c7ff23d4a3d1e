"""Convocations: the summons letter (PDF), its email with a calendar invitation, and sending them.

A convocation tells a person when and where to attend, what to bring, what the course costs, what
happens if they do not come (which depends on their legal frame) and how to ask for another date.
It goes by email (letter + ``.ics`` invitation) or, for people without an address, by post.
When the course moves, the people summoned by email are owed an update (``InvitationUpdate``,
written with the move) that the organizer's confirmation sends: what changed, the updated letter,
and an invitation that moves the events already in their calendar (same UIDs, higher SEQUENCE).

State follows what really happened: the enrollment becomes « convoqué·e » only after the mail
server has accepted the message, and a failure leaves it « à convoquer ». Services flush; the
caller commits — after each email, since a sent email cannot be rolled back.

The package reads in one direction: ``wording`` (what every document says) ← ``letter`` (the
PDF) and ``emails`` (the emails and their ``.ics`` invitation) ← ``sending`` (send and record).
``delivery`` keeps the proof of what became of each convocation (``record_delivery``, the one
way to write it), read by ``sending``, ``registered_letters`` and ``bounces`` (the DSNs).
"""
from stages.enrollment.convocation.emails import (
    EVENT_SUMMARY,
    cancellation_email,
    convocation_email,
    reminder_email,
    take_sequence,
    update_email,
)
from stages.enrollment.convocation.letter import convocation_pdf, course_convocations_pdf
from stages.enrollment.convocation.sending import (
    CancellationSummary,
    ConvocationSummary,
    UpdateSummary,
    can_be_emailed,
    due_convocations,
    due_invitation_updates,
    enrollments_to_attend,
    letters_to_print,
    mark_summoned_by_post,
    record_invitation_updates,
    send_cancellation,
    send_cancellations_for_course,
    send_convocation,
    send_course_convocations,
    send_invitation_update,
    send_invitation_updates,
    summoned_people,
)
from stages.enrollment.convocation.wording import (
    COURSE,
    fee_text,
    new_date_text,
    schedule_lines,
    sender_organization,
)

__all__ = [
    "COURSE",
    "EVENT_SUMMARY",
    "CancellationSummary",
    "ConvocationSummary",
    "UpdateSummary",
    "can_be_emailed",
    "cancellation_email",
    "convocation_email",
    "convocation_pdf",
    "due_convocations",
    "due_invitation_updates",
    "enrollments_to_attend",
    "letters_to_print",
    "fee_text",
    "mark_summoned_by_post",
    "new_date_text",
    "record_invitation_updates",
    "reminder_email",
    "schedule_lines",
    "send_cancellation",
    "send_cancellations_for_course",
    "send_convocation",
    "send_course_convocations",
    "send_invitation_update",
    "send_invitation_updates",
    "sender_organization",
    "summoned_people",
    "take_sequence",
    "update_email",
    "course_convocations_pdf",
]
