"""Two-factor authentication with time-based one-time codes (TOTP, RFC 6238, through pyotp).

Enrolment: a secret is generated and kept on the account, unconfirmed (``totp_secret`` set,
``totp_confirmed_at`` empty), until the user types a code from their authenticator app; only a
confirmed secret is asked for at login. The provisioning QR code is drawn here, server-side, as
inline SVG (segno): the secret never leaves for a third-party QR service, and no script runs.

Codes: six digits, 30-second steps, one step of tolerance either side of now (for a code read at
the end of its 30 seconds, or a slightly wrong clock). A code is accepted once: at login, and to
turn 2FA off, the step it matches must be later than the step of the user's last login
(``last_login_at``). That date lives in the database, so the rule holds across browsers, workers
and hosts, where a mark in the Flask session would only stop a replay in the same browser. The
price: someone who logs in twice within the same 30 seconds waits for the next code.
"""
from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
import segno
from flask import current_app, has_app_context
from markupsafe import Markup

from stages.auth.audit import audit
from stages.auth.models import Role, User
from stages.errors import DomainError
from stages.timeutil import now_utc

STEP_SECONDS = 30
DIGITS = 6
VALID_WINDOW = 1  # steps accepted before and after the current one
ROLES_REQUIRING_2FA = (Role.ADMIN, Role.LIAISON)

WRONG_CODE = (
    "Code incorrect ou déjà utilisé. Saisissez le code à 6 chiffres affiché en ce moment par "
    "votre application d'authentification."
)


def is_enabled(user: User) -> bool:
    """Whether login asks ``user`` for a code."""
    return bool(user.totp_secret) and user.totp_confirmed_at is not None


def enrolment_required(user: User) -> bool:
    """Whether ``user`` must enrol before anything else (STAGES_REQUIRE_2FA: admins, liaisons)."""
    return enrolment_required_for_role(user) and not is_enabled(user)


def begin_enrolment(user: User) -> str:
    """The secret to show ``user`` for enrolment, created on first call and kept until confirmed.

    Kept rather than regenerated, so that reloading the page after scanning the QR code does not
    silently invalidate what the phone holds.
    """
    if is_enabled(user):
        raise DomainError("La double authentification est déjà activée sur ce compte.")
    if not user.totp_secret:
        user.totp_secret = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends
    return user.totp_secret


def provisioning_uri(user: User) -> str:
    """The ``otpauth://`` URI that authenticator apps read from the QR code."""
    issuer = current_app.config.get("TOTP_ISSUER", "Stages") if has_app_context() else "Stages"
    return _totp(user.totp_secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_code_svg(data: str) -> Markup:
    """``data`` as a QR code in inline SVG (no style attribute: the CSP allows none)."""
    svg = segno.make(data, error="m").svg_inline(
        scale=5, dark="#000", light="#fff", svgclass="qr-code", title="Code QR à scanner"
    )
    return Markup(svg)


def confirm_enrolment(user: User, code: str) -> None:
    """Turn 2FA on once ``code`` proves the app holds the secret; ends the user's other sessions.

    Sessions opened with the password alone are ended: from now on a login takes both factors.
    """
    if is_enabled(user):
        raise DomainError("La double authentification est déjà activée sur ce compte.")
    if not user.totp_secret or matching_step(user.totp_secret, code) is None:
        raise DomainError(WRONG_CODE)
    user.totp_confirmed_at = now_utc()
    user.session_epoch += 1
    audit("auth.2fa_enabled", user)


def disable(user: User, code: str) -> None:
    """Turn 2FA off, proven by a current code; refused where the role requires it."""
    if not is_enabled(user):
        raise DomainError("La double authentification n'est pas activée sur ce compte.")
    if enrolment_required_for_role(user):
        raise DomainError(
            "La double authentification est obligatoire pour votre rôle : elle ne peut pas être "
            "désactivée."
        )
    if not verify_login_code(user, code):
        raise DomainError(WRONG_CODE)
    user.totp_secret = None
    user.totp_confirmed_at = None
    audit("auth.2fa_disabled", user)


def reset(user: User) -> None:
    """Admin: forget ``user``'s authenticator (lost phone); ends their sessions.

    Where 2FA is required, the user enrols again at their next login.
    """
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.session_epoch += 1
    audit("user.2fa_reset", user)


def enrolment_required_for_role(user: User) -> bool:
    """Whether the configuration requires 2FA for ``user``'s role (enrolled or not)."""
    required = has_app_context() and current_app.config.get("REQUIRE_2FA", False)
    return bool(required) and user.role in ROLES_REQUIRING_2FA


def verify_login_code(user: User, code: str, at: datetime | None = None) -> bool:
    """Whether ``code`` is ``user``'s current code and was not used for their last login."""
    if not is_enabled(user):
        return False
    floor = time_step(user.last_login_at) if user.last_login_at else None
    return matching_step(user.totp_secret, code, at=at, after_step=floor) is not None


def time_step(moment: datetime) -> int:
    """The TOTP counter at ``moment``."""
    return int(moment.timestamp()) // STEP_SECONDS


def matching_step(
    secret: str, code: str, *, at: datetime | None = None, after_step: int | None = None
) -> int | None:
    """The time step, within the window around ``at``, whose code is ``code`` (and later than
    ``after_step``), or None."""
    code = "".join((code or "").split())  # "123 456" as the apps display it
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = _totp(secret)
    current = time_step(at or now_utc())
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if after_step is not None and step <= after_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def current_code(secret: str, at: datetime | None = None) -> str:
    """The code an authenticator app shows at ``at`` (for tests and the CLI)."""
    return _totp(secret).generate_otp(time_step(at or now_utc()))


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
