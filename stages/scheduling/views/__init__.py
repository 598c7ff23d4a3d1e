"""Scheduling pages, one blueprint ``scheduling``:

- ``courses``: the course page, creating (or duplicating), editing, changing the status of and
  cancelling a course;
- ``series``: planning several courses at once;
- ``venues``: the venues list, creating, editing and archiving a venue;
- ``programme``: the programme of a course's half-days, the catalogue of modules and the
  directory of outside speakers of an association;
- ``calendar``: month, week and list calendars with their filters.
"""
from stages.scheduling.views import courses, series, venues, calendar, programme  # noqa: F401, I001  (routes)
from stages.scheduling.views.blueprint import bp

__all__ = ["bp"]
