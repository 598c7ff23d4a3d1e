"""Configuration read from the environment.

The embedded default needs no server: SQLite under ``instance/`` and a secret key generated once and
kept in ``instance/secret_key``. Production sets ``DATABASE_URL`` (PostgreSQL through psycopg 3)
and ``SECRET_KEY``.
"""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
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
    # hide_parameters: a logged database error never shows names or case numbers.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}
    # --- Database time limits (PostgreSQL; create_app adds them to the engine options) ---------
    # Without them a server that accepts connections but never answers (a network partition, a
    # frozen host) held every request about 130 s, the worker's threads with it, static files
    # included. With them such a request gets the French 503 page within a few seconds.
    # Seconds to wait for the server while opening a connection (libpq's connect_timeout; 2 at
    # least, libpq rounds lower values up), and while checking a pooled one as a request takes
    # it (stages/database.py).
    DB_CONNECT_TIMEOUT = int(os.environ.get("STAGES_DB_CONNECT_TIMEOUT", 3))
    # Seconds one SQL statement may run before the server cancels it (statement_timeout; 0 turns
    # the limit off). Pages need milliseconds: this stops a statement stuck behind a lock or a
    # runaway query. Migrations (flask db upgrade) run without it.
    DB_STATEMENT_TIMEOUT = int(os.environ.get("STAGES_DB_STATEMENT_TIMEOUT", 30))
    # Seconds after which a connection whose server no longer answers at all (a partition: no
    # packet comes back) is dropped by the operating system, waiting for a statement's answer
    # or idle in the pool: TCP keepalives and libpq's tcp_user_timeout. 0 leaves the system's
    # defaults: two hours of silence and more. A live server answers the probes, however long
    # its statement runs.
    DB_SILENCE_TIMEOUT = int(os.environ.get("STAGES_DB_SILENCE_TIMEOUT", 20))
    # Seconds a request waits for a free connection of its worker's pool (SQLAlchemy's
    # pool_timeout) before getting the 503 page. The pool holds 5 connections, 10 more on
    # demand: a worker with fewer threads than that never waits (the README's set-up has one
    # thread per worker). With more threads, a burst queues for connections: 30 s, SQLAlchemy's
    # own default, lets it through (at 5 or 10 s, 30 simultaneous logins in one process, each
    # holding its connection while the password is hashed, got 503 pages on a busy machine).
    DB_POOL_TIMEOUT = int(os.environ.get("STAGES_DB_POOL_TIMEOUT", 30))
    # The garbage collector's settings for gunicorn workers (stages/gc_tuning.py): on by default;
    # 0 keeps CPython's defaults, e.g. to rule them out when chasing a crash in C code.
    GC_TUNING = _bool("STAGES_GC_TUNING", True)
    TIMEZONE = os.environ.get("STAGES_TIMEZONE", "Europe/Paris")
    BABEL_DEFAULT_LOCALE = "fr_FR"
    # Public base URL, used in emails, PDFs (QR codes) and calendar feeds. Production sets it;
    # unset, links follow the address each request was served at (development: make run
    # PORT=5001), and jobs use http://127.0.0.1:$PORT (stages/public_url.py).
    BASE_URL = os.environ.get("STAGES_BASE_URL") or None
    DEV_PORT = int(os.environ.get("PORT") or 5000)
    # Domain part of calendar event UIDs: set once, never change (calendars would duplicate).
    ICAL_UID_DOMAIN = os.environ.get("STAGES_ICAL_UID_DOMAIN")

    # WTForms' built-in messages come from its own French catalogue (see stages.forms.BaseForm).
    WTF_I18N_ENABLED = False
    WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the login session (renewed at each login and logout)

    # --- HTTPS, cookies and sessions (stages/security.py) ---------------------------------------
    # STAGES_HSTS: the site is only ever served over HTTPS. Requests seen as HTTPS
    # (request.is_secure) always get Strict-Transport-Security; behind a TLS-terminating proxy the
    # app sees plain HTTP, so set this to send the header on every response.
    HSTS = _bool("STAGES_HSTS", False)
    # Cookies only travel over HTTPS. Defaults to STAGES_HSTS; create_app also turns it on
    # whenever HSTS is set, so the two cannot disagree. Off by default so the embedded
    # http://127.0.0.1 setup can log in at all.
    SESSION_COOKIE_SECURE = _bool("STAGES_SECURE_COOKIES", HSTS)
    # Scripts never need the cookies; Lax still lets a link from an email open the app logged in.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # "Rester connecté·e" survives closing the browser, not the idle timeout below; Flask-Login's
    # default of a year is far too long for criminal-offence data.
    REMEMBER_COOKIE_DURATION = timedelta(days=int(os.environ.get("STAGES_REMEMBER_DAYS", 7)))
    # A login lasts at most this long (seconds), however active: the server ends it
    # (stages/auth/login_sessions.py). A remembered login lasts REMEMBER_COOKIE_DURATION.
    SESSION_LIFETIME = int(os.environ.get("STAGES_SESSION_LIFETIME", 8 * 3600))
    PERMANENT_SESSION_LIFETIME = SESSION_LIFETIME
    # Seconds without a request after which a login session ends (0 turns the check off).
    IDLE_TIMEOUT = int(os.environ.get("STAGES_IDLE_TIMEOUT", 30 * 60))

    # --- Login protection (stages/auth/services.py) ---------------------------------------------
    # Rate limits per IP address, counted in a store shared by every worker and host: Redis when
    # the deployment has one (STAGES_RATELIMIT_STORAGE_URI, or else STAGES_REDIS_URL, e.g.
    # redis://127.0.0.1:6379/0). Without one, each worker counts on its own (memory://): with
    # 3 workers a limit lets about 3 times more through, and create_app says so at start-up.
    RATELIMIT_STORAGE_URI = (
        os.environ.get("STAGES_RATELIMIT_STORAGE_URI") or os.environ.get("STAGES_REDIS_URL") or "memory://"
    )
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = os.environ.get("STAGES_LOGIN_RATE_LIMIT", "10 per minute")
    # A tablet sends its queue on every save and when the network returns: a few a minute.
    # Requests per API token (stages.api), counted in the same store as the other limits.
    API_RATE_LIMIT = os.environ.get("STAGES_API_RATE_LIMIT", "120 per minute")
    SYNC_RATE_LIMIT = os.environ.get("STAGES_SYNC_RATE_LIMIT", "60 per minute")
    # The person's confirmation page (the link of a summons) and its two forms, per address.
    CONFIRMATION_RATE_LIMIT = os.environ.get("STAGES_CONFIRMATION_RATE_LIMIT", "20 per minute")
    # Progressive lockout per account, kept in the database so that it holds across workers and
    # hosts: after LOGIN_LOCKOUT_THRESHOLD failures in a row (wrong password or wrong second-factor
    # code), the account is locked for LOGIN_LOCKOUT_SECONDS, doubled at each further failure, up
    # to LOGIN_LOCKOUT_MAX_SECONDS.
    LOGIN_LOCKOUT_THRESHOLD = int(os.environ.get("STAGES_LOGIN_LOCKOUT_THRESHOLD", 5))
    LOGIN_LOCKOUT_SECONDS = int(os.environ.get("STAGES_LOGIN_LOCKOUT_SECONDS", 60))
    LOGIN_LOCKOUT_MAX_SECONDS = int(os.environ.get("STAGES_LOGIN_LOCKOUT_MAX_SECONDS", 3600))

    # --- Two-factor authentication (stages/auth/totp.py) ----------------------------------------
    # When true, admins and liaisons must enrol a TOTP authenticator app before they can do
    # anything else; every other role may enable it from "Mon compte".
    REQUIRE_2FA = _bool("STAGES_REQUIRE_2FA", False)
    # Name shown for the account in the authenticator app.
    TOTP_ISSUER = os.environ.get("STAGES_TOTP_ISSUER", "Stages")
    # Seconds allowed between a correct password and the code of the second step.
    TOTP_LOGIN_TIMEOUT = int(os.environ.get("STAGES_TOTP_LOGIN_TIMEOUT", 5 * 60))

    # Email: "file" writes .eml files under instance/mail (embedded default), "smtp" sends.
    MAIL_BACKEND = os.environ.get("STAGES_MAIL_BACKEND", "file")
    MAIL_SENDER = os.environ.get("STAGES_MAIL_SENDER", "stages@localhost")
    SMTP_HOST = os.environ.get("STAGES_SMTP_HOST", "localhost")
    SMTP_PORT = int(os.environ.get("STAGES_SMTP_PORT", 25))
    SMTP_USER = os.environ.get("STAGES_SMTP_USER")
    SMTP_PASSWORD = os.environ.get("STAGES_SMTP_PASSWORD")
    SMTP_STARTTLS = _bool("STAGES_SMTP_STARTTLS", False)

    # Bounces (`flask stages mail-bounces`, and the read_mail_bounces job when one is set): the
    # DSNs the mail server returns to MAIL_SENDER, read from a Maildir folder or an IMAP folder
    # over TLS. The IMAP password is read from the environment variable named here, never kept
    # in the configuration.
    BOUNCE_MAILDIR = os.environ.get("STAGES_BOUNCE_MAILDIR")
    BOUNCE_IMAP_HOST = os.environ.get("STAGES_BOUNCE_IMAP_HOST")
    BOUNCE_IMAP_PORT = int(os.environ.get("STAGES_BOUNCE_IMAP_PORT", 993))
    BOUNCE_IMAP_USER = os.environ.get("STAGES_BOUNCE_IMAP_USER")
    BOUNCE_IMAP_PASSWORD_ENV = os.environ.get("STAGES_BOUNCE_IMAP_PASSWORD_ENV", "STAGES_BOUNCE_IMAP_PASSWORD")
    BOUNCE_IMAP_FOLDER = os.environ.get("STAGES_BOUNCE_IMAP_FOLDER", "INBOX")
    # Where a message read is moved (else it is only flagged \Seen).
    BOUNCE_IMAP_MOVE_TO = os.environ.get("STAGES_BOUNCE_IMAP_MOVE_TO")
    # SMS (stages/sms.py; README, « SMS »): "file" writes .txt files under instance/sms (the
    # embedded default), "brevo" sends through Brevo's transactional SMS API with the key below.
    SMS_BACKEND = os.environ.get("STAGES_SMS_BACKEND", "file")
    # The sender shown on the phone: at most 11 letters or digits (operators' rule).
    SMS_SENDER = os.environ.get("STAGES_SMS_SENDER", "STAGES")
    SMS_BREVO_API_KEY = os.environ.get("STAGES_SMS_BREVO_API_KEY")
    SMS_BREVO_API_URL = os.environ.get("STAGES_SMS_BREVO_API_URL", "https://api.brevo.com/v3")
    # No SMS leaves between these local times (TIMEZONE); empty: no quiet hours.
    SMS_QUIET_HOURS = os.environ.get("STAGES_SMS_QUIET_HOURS", "20:00-08:00")
    # The key of the HMAC in the addresses the gateway calls back (receipts, « STOP » replies);
    # SECRET_KEY when unset. Changing it changes the addresses to give the gateway.
    SMS_CALLBACK_SECRET = os.environ.get("STAGES_SMS_CALLBACK_SECRET")
    # Calls of the gateway per address (its servers): far above its real pace.
    SMS_CALLBACK_RATE_LIMIT = os.environ.get("STAGES_SMS_CALLBACK_RATE_LIMIT", "300 per minute")

    # Data retention (see README, "Operations", and stages/privacy/retention.py for when each
    # measure's clock starts). Identity is kept RETENTION_MEASURE_DAYS after the measure closes;
    # a measure left without a closing event closes RETENTION_GRACE_DAYS after its deadline (or
    # the end of its last course, if later).
    RETENTION_MEASURE_DAYS = int(os.environ.get("STAGES_RETENTION_MEASURE_DAYS", 3 * 365))
    RETENTION_GRACE_DAYS = int(os.environ.get("STAGES_RETENTION_GRACE_DAYS", 90))
    RETENTION_AUDIT_DAYS = int(os.environ.get("STAGES_RETENTION_AUDIT_DAYS", 365))
    # Backups hold the people and the audit log: by default the purge job deletes them after
    # the shorter of the two periods.
    RETENTION_BACKUP_DAYS = int(
        os.environ.get(
            "STAGES_RETENTION_BACKUP_DAYS", min(RETENTION_MEASURE_DAYS, RETENTION_AUDIT_DAYS)
        )
    )
    # Where `flask stages backup` writes by default, and what the purge job prunes
    # (instance/backups when unset).
    BACKUP_DIR = os.environ.get("STAGES_BACKUP_DIR")

    # Behind a reverse proxy (nginx, Apache) that sets X-Forwarded-For/-Proto: trust one hop,
    # so that HTTPS is seen as such (Secure cookies, HSTS) and the audit log has real addresses.
    PROXY_FIX = _bool("STAGES_PROXY_FIX", False)

    ITEMS_PER_PAGE = 25
