"""Reports pages, one blueprint ``reports``:

- ``dashboard``: the liaison dashboard and its exports;
- ``bilans``: the bilans of a closed course, per referring authority;
- ``statistics``: the yearly statistics;
- ``non_execution``: the non-execution reports and the monthly summaries.
"""
from stages.reports import worklists  # noqa: F401, I001  (registers its list of courses)
from stages.reports.views import dashboard, bilans, non_execution, statistics  # noqa: F401, I001  (routes)
from stages.reports.views.blueprint import bp

__all__ = ["bp"]
