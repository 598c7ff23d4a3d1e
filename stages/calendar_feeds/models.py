"""The calendar feeds a user renewed: each such feed's token is derived with a higher generation,
so its earlier URLs (and the account-wide token of the older URLs) no longer open it."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from stages.extensions import db
from stages.timeutil import now_utc


class FeedKind(StrEnum):
    """The four feeds a user may subscribe to."""

    MINE = "mine"
    ALL = "all"
    VENUE = "venue"
    ORGANIZATION = "organization"


class RenewedFeed(db.Model):
    """One feed of one user that was renewed ``generation`` times (no row: never renewed)."""

    __tablename__ = "renewed_calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(20))
    # The venue's or organization's id; 0 for "my courses" and "all courses".
    target_id: Mapped[int] = mapped_column(default=0, server_default="0")
    generation: Mapped[int] = mapped_column(default=1, server_default="1")
    renewed_at: Mapped[datetime] = mapped_column(default=now_utc)

    __table_args__ = (
        # The feed request reads its row through this index, with the user's, in one query.
        sa.UniqueConstraint("user_id", "kind", "target_id"),
        sa.CheckConstraint("generation >= 1", name="generation_positive"),
        sa.CheckConstraint(
            "kind IN (" + ", ".join(f"'{kind.value}'" for kind in FeedKind) + ")", name="known_kind"
        ),
    )


class CachedFeed(db.Model):
    """The last body built for one of a user's feeds, with the key it was built for.

    Kept in the database so that every worker serves it: a calendar app polling an unchanged
    feed without a validator (or another subscriber's first request) costs two small queries,
    not a rebuild. ``cache_key`` covers the feed's HTTP validator, what the statement that
    selects its courses depends on (its scope) and what the builder is given (name, URLs,
    zone), followed by a nonce drawn at each build; a request whose key differs builds the feed
    again and replaces the row. Each worker keeps the bodies it served last in memory, by that
    full key, so an unchanged feed costs one query and no transfer of its body. The body is kept gzipped (a twentieth of
    its size: the busiest feed's 0.9 MB read in a fraction of a millisecond) and sent as such to
    the clients that accept it. Holds what the feed holds: no participant's data.
    """

    __tablename__ = "calendar_feed_cache"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(20))
    target_id: Mapped[int] = mapped_column(default=0, server_default="0")
    cache_key: Mapped[str] = mapped_column(sa.String(64))
    body_gzip: Mapped[bytes] = mapped_column(sa.LargeBinary)
    built_at: Mapped[datetime] = mapped_column(default=now_utc)

    __table_args__ = (
        # One row per feed: a rebuild replaces it (an upsert on this key).
        sa.UniqueConstraint("user_id", "kind", "target_id"),
        sa.Index("ix_calendar_feed_cache_built_at", "built_at"),
    )


# What feeds show of rows whose changes do not touch their courses' ``updated_at``, the
# validator's input: renaming a venue, an association or a facilitator drops every cached copy
# (rare, and a copy is only built again), rather than serving the old name until midnight.
_SHOWN_IN_FEEDS = {
    "Venue": ("name", "room", "address", "postal_code", "city", "timezone"),
    "Organization": ("name",),
    "User": ("full_name",),
}


@sa.event.listens_for(sa.orm.Session, "before_flush")
def _forget_copies_showing_old_names(session, _flush_context, _instances) -> None:
    """Whatever path renames something a feed shows (form, import, demo), the copies go."""
    for obj in session.dirty:
        fields = _SHOWN_IN_FEEDS.get(type(obj).__name__)
        if fields is None:
            continue
        state = sa.inspect(obj)
        if any(state.attrs[name].history.has_changes() for name in fields):
            # On the flush's connection, in its transaction: no ORM event, no autoflush.
            session.connection().execute(sa.delete(CachedFeed.__table__))
            return
