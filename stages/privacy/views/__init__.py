"""Privacy pages, one blueprint ``privacy``:

- ``audit_log``: the audit log for admins, and its CSV export;
- ``subject_access``: a person's data, as JSON or PDF (right of access).
"""
from stages.privacy.views import audit_log, subject_access  # noqa: F401, I001  (routes)
from stages.privacy.views.blueprint import bp

__all__ = ["bp"]
