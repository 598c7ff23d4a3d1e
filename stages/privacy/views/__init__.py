"""Privacy pages, one blueprint ``privacy``:

- ``audit_log``: the audit log for admins, and its CSV export;
- ``subject_access``: a person's data, as JSON or PDF (right of access);
- ``retention``: the retention periods, set by admins.
"""
from stages.privacy.views import audit_log, retention, subject_access  # noqa: F401, I001  (routes)
from stages.privacy.views.blueprint import bp

__all__ = ["bp"]
