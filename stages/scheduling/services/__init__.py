"""Scheduling rules: sessions and their parts, conflicts, status changes, series, venues.

None of them commits: the view, job or CLI command calling them does.

Modules, read in one direction (``validation`` and ``conflicts`` ← ``sessions`` ← ``series``;
``venues`` stands alone):

- ``validation``: what a session form carries (``SessionData``, ``PartSpec``) and the rules it
  must follow (at most six hours of training a day, one or two days, four half-days);
- ``conflicts``: the active sessions already holding a venue or a facilitator, and
  ``flush_guarded``, which turns the database's own overlap guard into the same French message;
- ``sessions``: creating and editing a session, its status changes (``ALLOWED_TRANSITIONS``)
  and its history, and the job marking finished sessions as held;
- ``series``: several sessions planned at once by a rule, public holidays and conflicts flagged;
- ``venues``: venue capacity, unique names, archiving venues and organizations.
"""
from stages.scheduling.services.series import (
    WEEKDAYS_FR,
    SeriesRule,
    create_series,
    preview_series,
    series_dates,
)
from stages.scheduling.services.sessions import (
    ALLOWED_TRANSITIONS,
    change_status,
    create_session,
    describe_changes,
    mark_finished_sessions_held,
    update_session,
)
from stages.scheduling.services.validation import PartSpec, SessionData, validate_session_data
from stages.scheduling.services.venues import (
    archivable_query,
    check_name_free,
    check_venue_capacity,
    set_archived,
)

__all__ = [
    "ALLOWED_TRANSITIONS",
    "WEEKDAYS_FR",
    "PartSpec",
    "SeriesRule",
    "SessionData",
    "archivable_query",
    "change_status",
    "check_name_free",
    "check_venue_capacity",
    "create_series",
    "create_session",
    "describe_changes",
    "mark_finished_sessions_held",
    "preview_series",
    "series_dates",
    "set_archived",
    "update_session",
    "validate_session_data",
]
