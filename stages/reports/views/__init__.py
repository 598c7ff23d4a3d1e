"""Reports pages, one blueprint ``reports``:

- ``dashboard``: the liaison dashboard and its exports;
- ``bilans``: the bilans of a closed course, per referring authority;
- ``statistics``: the yearly statistics;
- ``transmissions``: « Transmettre » a bilan, the transmissions and their acknowledgment;
- ``yearly``: the yearly activity report and the public open statistics;
- ``non_execution``: the non-execution reports and the monthly summaries.
"""
from stages.reports import worklists  # noqa: F401, I001  (registers its list of courses)
from stages.reports import bilan_sending  # noqa: F401, I001  (registers the bilan's transmission)
from stages.reports import non_execution_sending  # noqa: F401, I001  (registers the reports' and summaries')
from stages.reports import yearly_sections  # noqa: F401, I001  (the yearly report's other sections)
from stages.reports.views import dashboard, bilans, non_execution, statistics, transmissions, yearly  # noqa: F401, I001  (routes)
from stages.reports.views.blueprint import bp

__all__ = ["bp"]
