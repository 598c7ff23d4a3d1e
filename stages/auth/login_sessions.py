"""Login sessions held by the server.

A login opens a ``LoginSession`` whose random token goes into the user's identity (the session
cookie and, with « rester connecté·e », the remember-me cookie); the database keeps only its
SHA-256. Each request loads the user and the session in one statement, and refuses a session
that is revoked (« Se déconnecter », « Se déconnecter partout », a password change) or past its
absolute end (``SESSION_LIFETIME``, or ``REMEMBER_COOKIE_DURATION`` for a remembered login),
whatever the activity. A replayed cookie is therefore worth nothing once the session ended.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload
from flask import current_app

from stages.auth.models import LoginSession, User
from stages.extensions import db
from stages.timeutil import now_utc


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def lifetime(remember: bool) -> timedelta:
    """How long a login lasts at most, from the moment it was opened."""
    config = current_app.config
    if remember:
        return config["REMEMBER_COOKIE_DURATION"]
    return timedelta(seconds=int(config["SESSION_LIFETIME"]))


def open_login_session(user: User, *, remember: bool = False) -> LoginSession:
    """Start a login session for ``user``; its token becomes part of the user's identity."""
    token = secrets.token_urlsafe(32)
    now = now_utc()
    row = LoginSession(
        user_id=user.id, token_hash=_hash(token), created_at=now, expires_at=now + lifetime(remember)
    )
    db.session.add(row)
    db.session.flush()
    user.login_session, user.login_token = row, token
    return row


# Built once with bind parameters: every signed-in request runs it, and a statement built anew
# each time cost ~0.3 ms more (building it and walking it for SQLAlchemy's cache key), a quarter
# of the statement's whole time in a request (bench/README.md).
_LOGIN = (
    sa.select(User, LoginSession)
    .join(LoginSession, LoginSession.user_id == User.id)
    .where(
        User.id == sa.bindparam("user_id"),
        LoginSession.token_hash == sa.bindparam("token_hash"),
        LoginSession.revoked_at.is_(None),
        LoginSession.expires_at > sa.bindparam("now"),
    )
    .options(joinedload(User.organizations))
)


def load_login(identity: str) -> User | None:
    """The user of a cookie's identity (``id:epoch:token``), if its login session still holds.

    One statement: the user and the session row, joined on the token's hash, with the user's
    organizations (every permission check of the request reads them).
    """
    user_id, epoch, token = (identity.split(":") + ["", ""])[:3]
    if not (user_id.isdigit() and epoch.isdigit() and token) or len(user_id) > 10:
        return None
    row = db.session.execute(
        _LOGIN, {"user_id": int(user_id), "token_hash": _hash(token), "now": now_utc()}
    ).unique().first()
    if row is None:
        return None
    user, login = row
    if user.session_epoch != int(epoch) or not user.active:
        return None
    user.login_session, user.login_token = login, token
    return user


def close_login_session(user: User) -> None:
    """« Se déconnecter »: this login session ends on the server (its cookies with it)."""
    if user.login_session is not None:
        user.login_session.revoked_at = now_utc()
        user.login_session.searches = None


def close_all_login_sessions(user: User) -> None:
    """Every login session of ``user`` ends, on every browser."""
    db.session.execute(
        sa.update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now_utc(), searches=None)
        .execution_options(synchronize_session=False)
    )


def purge_login_sessions(before: datetime) -> int:
    """Forget the login sessions that ended before ``before``; returns how many."""
    return db.session.execute(
        sa.delete(LoginSession).where(
            sa.or_(LoginSession.expires_at < before, LoginSession.revoked_at < before)
        )
    ).rowcount
