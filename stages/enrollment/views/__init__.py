"""Participants, measures and enrollment pages, one blueprint ``enrollment``:

- ``measures``: the measures list and the participant page;
- ``referrals``: recording a referral (a person and their measure), correcting an identity or a
  measure;
- ``enrollments``: enrolling, changing an enrollment's status, rescheduling, returning a measure
  to the referring authority, and enrolling several people into one course;
- ``convocations``: the letters, sending them, recording them as posted;
- ``deliveries``: the proofs of delivery of each convocation, registered letters and their AR;
- ``imports``: importing a referral list (upload, preview, confirm);
- ``reservations``: the seats of a course reserved for a referring authority;
- ``settings``: an organization's document settings and defaults per legal frame (admins);
- ``letters``: an association's own paragraphs of its convocations, by version (its organizers);
- ``confirmation``: the person's public confirmation page, and marking their replies handled;
- ``sms``: SMS consent and the SMS sent, on the person's page; the gateway's receipts and replies;
- ``needs``: a person's language and needs, the interpreter booked for one of their courses.
"""
from stages.enrollment.views import measures, referrals, enrollments, convocations, deliveries, imports, reservations, settings, letters, confirmation, sms, needs  # noqa: F401, I001
from stages.enrollment.ledger import views as ledger_views  # noqa: F401 (the fee ledger's pages)
from stages.enrollment.views.blueprint import bp

__all__ = ["bp"]
