"""Participants, measures and enrollment pages.

The blueprint ``bp`` (endpoints ``enrollment.<function>``) is created here; each module adds its
routes to it:

- ``lists``: the measures list and the participant page;
- ``referrals``: recording a referral (a person and their measure), correcting an identity or a
  measure;
- ``enrollments``: enrolling, changing an enrollment's status, rescheduling, returning a measure
  to the referring authority, and enrolling several people into one session.
"""
from flask import Blueprint

bp = Blueprint("enrollment", __name__)

# The route modules register on ``bp`` as they are imported, so they come after it (in the order
# of the pages, which keeps the URL map's order).
from stages.enrollment.views import lists, referrals, enrollments  # noqa: E402, F401, I001

__all__ = ["bp"]
