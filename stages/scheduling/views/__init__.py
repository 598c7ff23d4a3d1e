"""Scheduling pages: sessions (create, edit, cancel, duplicate, series), venues, organizations.

The blueprint ``bp`` (endpoints ``scheduling.<function>``) is created here; each module adds its
routes to it:

- ``sessions``: the session page, creating (or duplicating), editing, changing the status of and
  cancelling a session, with the form helpers the series page shares;
- ``series``: planning several sessions at once;
- ``venues``: the venues list, creating, editing and archiving a venue;
- ``organizations``: the associations and referring authorities, likewise.
"""
from flask import Blueprint

bp = Blueprint("scheduling", __name__)

# The route modules register on ``bp`` as they are imported, so they come after it (in the order
# of the pages, which keeps the URL map's order).
from stages.scheduling.views import sessions, series, venues, organizations  # noqa: E402, F401, I001

__all__ = ["bp"]
