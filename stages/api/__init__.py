"""The read-only JSON API ``/api/v1`` for the authorities' and associations' own tools, and the
personal access tokens that open it."""
