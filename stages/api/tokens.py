"""Personal access tokens: creating one (shown once), listing, revoking, and recognising one in
a request's ``Authorization: Bearer`` header.

A token reads ``stg_<prefix>_<secret>``: the prefix (48 random bits, hex) finds the row and is
shown in the list; the secret (256 bits from ``secrets``) is never stored, only its SHA-256.
A plain hash, not argon2 as for passwords: argon2 is there to make guessing a *low-entropy*
secret slow, and nobody guesses 256 random bits, slow hash or not; while argon2 would cost each
API request tens of milliseconds of CPU (and memory) by design.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import date, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from stages.api.models import ApiToken
from stages.auth.audit import audit
from stages.auth.models import Role, User
from stages.errors import DomainError
from stages.extensions import db
from stages.timeutil import local_to_utc, now_utc, today_local

# Facilitators hold no token: what they do happens on the day, on a tablet, and the one thing
# the API could give them (their courses) their calendar feeds already give, without a
# long-lived key to a staff account that sees people's names.
TOKEN_ROLES = (Role.ADMIN, Role.ORGANIZER, Role.LIAISON)
MAX_LIFETIME_DAYS = 365
DEFAULT_LIFETIME_DAYS = 90
MAX_TOKENS_PER_USER = 20
TOKEN_PATTERN = re.compile(r"stg_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class NewToken:
    """A token just created: its row, and the one time its full value is known."""

    token: ApiToken
    value: str


def may_hold_tokens(user: User) -> bool:
    """Whether ``user``'s role may create and use API tokens."""
    return bool(user.active) and user.role in TOKEN_ROLES


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(user: User, name: str, expires_on: date) -> NewToken:
    """Create a token named ``name`` for ``user``, valid to the end of ``expires_on`` (Paris
    time); the returned value is shown once and never again."""
    if not may_hold_tokens(user):
        raise DomainError("Votre rôle ne permet pas de créer de jeton d'accès à l'API.")
    today = today_local()
    if not today < expires_on <= today + timedelta(days=MAX_LIFETIME_DAYS):
        raise DomainError(
            f"La date d'expiration doit être après aujourd'hui et au plus dans {MAX_LIFETIME_DAYS} jours."
        )
    live = db.session.scalar(
        sa.select(sa.func.count()).select_from(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now_utc())
    )
    if live >= MAX_TOKENS_PER_USER:
        raise DomainError(f"Vous avez déjà {MAX_TOKENS_PER_USER} jetons actifs : révoquez-en un d'abord.")
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    token = ApiToken(
        user=user, name=name, prefix=prefix, secret_hash=_hash(secret),
        created_at=now_utc(), expires_at=local_to_utc(expires_on + timedelta(days=1), time(0)),
    )
    db.session.add(token)
    db.session.flush()
    audit("api_token.created", token, user=user)
    return NewToken(token, f"stg_{prefix}_{secret}")


def revoke_token(user: User, token: ApiToken) -> None:
    """Revoke ``user``'s own ``token``: it answers 401 from the next request on."""
    if token.user_id != user.id:
        raise DomainError("Ce jeton n'est pas le vôtre.")
    if token.revoked_at is None:
        token.revoked_at = now_utc()
        audit("api_token.revoked", token, user=user)


def user_tokens(user: User) -> list[ApiToken]:
    """``user``'s tokens, the newest first (revoked and expired ones included, marked)."""
    return list(db.session.scalars(
        sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ))


def token_from_header(header: str | None) -> ApiToken | None:
    """The live token an ``Authorization: Bearer …`` header carries, with its user loaded; None
    when it is missing, malformed, unknown, wrong, revoked, expired, or its user may no longer
    hold one (deactivated, or now a facilitator)."""
    scheme, _, value = (header or "").partition(" ")
    match = TOKEN_PATTERN.fullmatch(value.strip()) if scheme.lower() == "bearer" else None
    if match is None:
        return None
    prefix, secret = match.groups()
    # The user's associations with it, as a login loads them: every scope check reads them.
    token = db.session.scalar(
        sa.select(ApiToken)
        .options(joinedload(ApiToken.user).joinedload(User.organizations))
        .where(ApiToken.prefix == prefix)
    )
    if token is None or not hmac.compare_digest(token.secret_hash, _hash(secret)):
        return None
    if token.revoked_at is not None or token.expires_at <= now_utc() or not may_hold_tokens(token.user):
        return None
    return token


def token_state(token: ApiToken) -> str:
    """« active », « revoked » or « expired », for the list on « Mon compte »."""
    if token.revoked_at is not None:
        return "revoked"
    return "expired" if token.expires_at <= now_utc() else "active"
