"""Accounts, roles and scopes, login, the permission helper and the audit log."""
