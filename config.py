"""Configuration read from the environment.

The embedded default needs no server: SQLite under ``instance/`` and a secret key generated once and
kept in ``instance/secret_key``. Production sets ``DATABASE_URL`` (PostgreSQL through psycopg 3)
and ``SECRET_KEY``.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("STAGES_INSTANCE_DIR", BASE_DIR / "instance"))


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{INSTANCE_DIR / 'stages.sqlite3'}"
    # Accept the URLs hosting providers hand out and route them to psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _secret_key() -> str:
    """Return SECRET_KEY from the environment, or a key generated once and persisted in instance/."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        # O_EXCL: two workers starting together must not write two different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """Settings for every environment; each can be overridden by an environment variable."""

    SECRET_KEY = _secret_key()
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    TIMEZONE = os.environ.get("STAGES_TIMEZONE", "Europe/Paris")
    BABEL_DEFAULT_LOCALE = "fr_FR"
    # Public base URL, used in emails, PDFs (QR codes) and calendar feeds.
    BASE_URL = os.environ.get("STAGES_BASE_URL", "http://127.0.0.1:5000")
    # Domain part of calendar event UIDs: set once, never change (calendars would duplicate).
    ICAL_UID_DOMAIN = os.environ.get("STAGES_ICAL_UID_DOMAIN")

    # WTForms' built-in messages come from its own French catalogue (see stages.forms.BaseForm).
    WTF_I18N_ENABLED = False
    WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the login session
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("STAGES_SECURE_COOKIES", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    PERMANENT_SESSION_LIFETIME = int(os.environ.get("STAGES_SESSION_LIFETIME", 8 * 3600))

    # Rate limits: memory for the embedded default; set redis://... or similar for several workers.
    RATELIMIT_STORAGE_URI = os.environ.get("STAGES_RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = os.environ.get("STAGES_LOGIN_RATE_LIMIT", "10 per minute")

    # Email: "file" writes .eml files under instance/mail (embedded default), "smtp" sends.
    MAIL_BACKEND = os.environ.get("STAGES_MAIL_BACKEND", "file")
    MAIL_SENDER = os.environ.get("STAGES_MAIL_SENDER", "stages@localhost")
    SMTP_HOST = os.environ.get("STAGES_SMTP_HOST", "localhost")
    SMTP_PORT = int(os.environ.get("STAGES_SMTP_PORT", 25))
    SMTP_USER = os.environ.get("STAGES_SMTP_USER")
    SMTP_PASSWORD = os.environ.get("STAGES_SMTP_PASSWORD")
    SMTP_STARTTLS = _bool("STAGES_SMTP_STARTTLS", False)

    # Data retention (see README, "Opérations").
    RETENTION_MEASURE_DAYS = int(os.environ.get("STAGES_RETENTION_MEASURE_DAYS", 3 * 365))
    RETENTION_AUDIT_DAYS = int(os.environ.get("STAGES_RETENTION_AUDIT_DAYS", 365))

    ITEMS_PER_PAGE = 25
