"""The secret in each calendar feed's URL: one per feed, each renewable alone.

A feed's token is ``{user id}.{HMAC-SHA256(user.feed_key, user, feed, generation)}``: 256 bits
nobody can guess or derive from another feed's URL, and nothing to store until a feed is renewed
(``RenewedFeed`` then holds its generation, so its earlier token stops matching). Renewing every
feed at once draws a new ``feed_key``.

URLs subscribed to before each feed had its own token carry the account-wide ``users.feed_token``:
it still opens every feed of its owner that was never renewed, so nobody's subscription broke at
the upgrade, and renewing a feed (or all of them) closes it for that feed (or all).

Either way the feed request costs one indexed query: the user's row (by primary key, or by the
unique older token) joined with that feed's renewal row (by its unique key) and the user's
associations (which scope an organizer's feeds).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from stages.auth.audit import audit
from stages.auth.models import User
from stages.calendar_feeds.models import CachedFeed, FeedKind, RenewedFeed
from stages.extensions import db
from stages.timeutil import now_utc

# Anything else is refused before it reaches the database (a NUL byte, for one, makes PostgreSQL
# raise). The older tokens are secrets.token_urlsafe(32): 43 characters, the column holds 64.
_FEED_TOKEN = re.compile(r"([1-9][0-9]{0,9})\.([A-Za-z0-9_-]{43})")
_OLDER_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
_MAX_ID = 2**31 - 1  # ids are 32-bit integers: a larger one in a URL names nothing


@dataclass(frozen=True)
class Feed:
    """One of a user's feeds: its kind and, for a venue or an organization, its id (else 0)."""

    kind: FeedKind
    target_id: int = 0


def feed_token(user: User, feed: Feed, generation: int) -> str:
    """The token of ``feed`` for ``user`` at ``generation`` (0 until the feed is renewed)."""
    message = f"{user.id}:{feed.kind.value}:{feed.target_id}:{generation}".encode()
    digest = hmac.new(user.feed_key.encode(), message, hashlib.sha256).digest()
    return f"{user.id}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


def feed_generations(user: User) -> dict[Feed, int]:
    """How many times each of ``user``'s feeds was renewed (feeds never renewed are absent)."""
    rows = db.session.scalars(sa.select(RenewedFeed).where(RenewedFeed.user_id == user.id))
    return {Feed(FeedKind(row.kind), row.target_id): row.generation for row in rows}


def user_for_feed(token: str, feed: Feed) -> User | None:
    """The active user whose URL for ``feed`` this token is, or None (malformed, renewed,
    unknown, another feed's token): callers answer 404 whatever the reason."""
    if not 0 <= feed.target_id <= _MAX_ID:
        return None
    where = {"kind": feed.kind.value, "target_id": feed.target_id}
    match = _FEED_TOKEN.fullmatch(token)
    if match is not None:
        row = db.session.execute(_BY_ID, {"user_id": int(match[1]), **where}).unique().first()
        if row is None or not row.User.feed_key:
            return None
        expected = feed_token(row.User, feed, row.generation or 0)
        if not hmac.compare_digest(token.encode(), expected.encode()):
            return None
    elif _OLDER_TOKEN.fullmatch(token):
        row = db.session.execute(_BY_OLDER_TOKEN, {"token": token, **where}).unique().first()
        if row is None or row.generation is not None:  # renewed: the older token is closed
            return None
    else:
        return None
    return row.User if row.User.active else None


def _owner_query() -> sa.Select:
    """The user's row, that feed's renewal row and the user's associations (which scope an
    organizer's feeds), the feed given as parameters: built once, so a calendar app's poll
    neither builds it nor walks it for SQLAlchemy's statement cache again."""
    return sa.select(User, RenewedFeed.generation).outerjoin(
        RenewedFeed,
        sa.and_(
            RenewedFeed.user_id == User.id,
            RenewedFeed.kind == sa.bindparam("kind"),
            RenewedFeed.target_id == sa.bindparam("target_id"),
        ),
    ).options(joinedload(User.organizations))


_BY_ID = _owner_query().where(User.id == sa.bindparam("user_id"))
_BY_OLDER_TOKEN = _owner_query().where(User.feed_token == sa.bindparam("token"))


# How the audit log names each feed (ids only).
AUDIT_NAMES = {
    FeedKind.MINE: "mes stages",
    FeedKind.ALL: "tous les stages",
    FeedKind.VENUE: "lieu n° {}",
    FeedKind.ORGANIZATION: "organisation n° {}",
}


def renew_feed(user: User, feed: Feed) -> None:
    """Give ``feed`` a new token: its earlier URLs (the older account-wide one too) stop working,
    ``user``'s other feeds keep theirs."""
    renewed = db.session.scalar(
        sa.select(RenewedFeed).where(
            RenewedFeed.user_id == user.id,
            RenewedFeed.kind == feed.kind.value,
            RenewedFeed.target_id == feed.target_id,
        )
    )
    if renewed is None:
        db.session.add(
            RenewedFeed(user_id=user.id, kind=feed.kind.value, target_id=feed.target_id)
        )
    else:
        renewed.generation += 1
        renewed.renewed_at = now_utc()
    # Its cached body goes with the old URL (the new one builds it again).
    db.session.execute(sa.delete(CachedFeed).where(
        CachedFeed.user_id == user.id,
        CachedFeed.kind == feed.kind.value,
        CachedFeed.target_id == feed.target_id,
    ))
    db.session.flush()
    audit("calendar.feed_renewed", user, details=AUDIT_NAMES[feed.kind].format(feed.target_id), user=user)


def renew_all_feeds(user: User) -> None:
    """Give every feed of ``user`` a new token: every feed URL they had stops working."""
    user.feed_key = secrets.token_urlsafe(32)
    # The account-wide token of the older URLs is replaced by one that appears in no URL.
    user.feed_token = secrets.token_urlsafe(32)
    db.session.execute(sa.delete(CachedFeed).where(CachedFeed.user_id == user.id))
    db.session.flush()
    audit("calendar.token_regenerated", user, user=user)
