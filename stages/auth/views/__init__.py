"""Auth pages, one blueprint ``auth``:

- ``login``: logging in (password, then the second factor) and out;
- ``account``: the user's own account (password, 2FA, logging out everywhere);
- ``users``: the admin's management of accounts;
- ``organizations``: the admin's associations and referring authorities.
"""
from stages.auth.views import login, account, users, organizations  # noqa: F401, I001  (routes)
from stages.auth.views.blueprint import bp

__all__ = ["bp"]
