"""Which courses each calendar feed holds, its HTTP validator, and its cached body (tokens:
``tokens``)."""
from __future__ import annotations

import functools
import gzip
import hashlib
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from stages.auth.models import Organization, OrganizationKind, Role, User
from stages.auth.permissions import visible
from stages.calendar_feeds.models import CachedFeed, FeedKind
from stages.extensions import db
from stages.scheduling.models import (
    Course,
    CourseStatus,
    Venue,
    course_facilitators,
    course_organizations,
)
from stages.timeutil import local_to_utc, now_utc, to_local, today_local

# Feeds show the past year (for bilans and memory) and everything ahead.
HISTORY_DAYS = 365
# Bump when the builder's output changes, so clients holding an old ETag download again.
FEED_FORMAT = "2"
# Fast rather than small: level 1 writes the busiest feed in ~2 ms (6 would take ~5 ms for a
# quarter less), and the stored body is read back in well under a millisecond either way.
FEED_GZIP_LEVEL = 1


@dataclass(frozen=True)
class FeedValidator:
    """What a conditional GET compares: a weak ETag and a Last-Modified date; with them, when
    asked for, the key of the feed's cached copy, read by the same query."""

    etag: str
    last_modified: datetime
    cache_read: bool = False
    cached_key: str | None = None


def feed_query(
    user: User | FeedScope, kind: FeedKind, target_id: int | None = None,
    window_start: datetime | None = None,
) -> sa.Select | None:
    """A SELECT of the courses in one of ``user``'s feeds, or None if they have no such feed.

    Every feed stays within ``visible(Course, user)``, except that "my courses" also holds the
    courses the user facilitates. Drafts never appear. It reads the user's id, role, activity
    and associations only: a ``FeedScope`` stands for the user.
    """
    if not user.active or user.role == Role.LIAISON:
        return None
    if kind == FeedKind.MINE:
        query = _my_courses(user)
    elif kind == FeedKind.ALL:
        if user.role not in (Role.ADMIN, Role.ORGANIZER):
            return None
        query = visible(Course, user)
    elif kind == FeedKind.VENUE:
        query = visible(Course, user).where(Course.venue_id == target_id)
    elif kind == FeedKind.ORGANIZATION:
        query = visible(Course, user).where(
            Course.id.in_(
                sa.select(course_organizations.c.session_id).where(
                    course_organizations.c.organization_id == target_id
                )
            )
        )
    else:  # pragma: no cover - every kind is handled above
        return None
    return query.where(
        Course.status != CourseStatus.DRAFT,
        Course.ends_at >= (window_start or feed_window_start()),
    )


def _my_courses(user: User) -> sa.Select:
    if user.role == Role.ADMIN:
        return visible(Course, user)
    facilitated = Course.id.in_(
        sa.select(course_facilitators.c.session_id).where(
            course_facilitators.c.user_id == user.id
        )
    )
    if user.role == Role.ORGANIZER:
        # Their associations' courses, as the permission helper defines them.
        return sa.select(Course).where(
            sa.or_(facilitated, visible(Course, user).whereclause)
        )
    return sa.select(Course).where(facilitated)


def feed_window_start() -> datetime:
    """Local midnight ``HISTORY_DAYS`` ago: the window moves once a day, not every second."""
    return local_to_utc(today_local() - timedelta(days=HISTORY_DAYS), time(0))


@dataclass(frozen=True)
class FeedScope:
    """Everything the SELECT of one feed's courses depends on (``feed_query``): its owner's id,
    role, activity and associations, the feed, and the window's start (it moves daily)."""

    id: int
    role: Role
    active: bool
    organization_ids: frozenset[int]
    kind: FeedKind
    target_id: int | None
    window_start: datetime

    @classmethod
    def of(cls, user: User, kind: FeedKind, target_id: int | None = None) -> FeedScope:
        return cls(user.id, user.role, user.active, frozenset(user.organization_ids), kind,
                   target_id, feed_window_start())

    def query(self) -> sa.Select | None:
        return feed_query(self, self.kind, self.target_id, self.window_start)


def feed_validator(scope: FeedScope, with_cached_key: bool = True) -> FeedValidator | None:
    """The feed's validator, from one aggregate query, before anything is loaded or built;
    None when ``scope``'s owner has no such feed.

    Services bump ``updated_at`` (and ``ical_sequence``) on each change, so these aggregates move
    whenever the feed's content does; the window's start covers courses leaving the past year.
    Renaming a venue or an organization does not touch its courses: a client holding the
    ETag sees it the next day, when the window moves (the cached copies are dropped at once,
    see ``models``). With ``with_cached_key``, the same query also reads the key of the feed's
    cached copy: a worker that holds that copy in memory serves it without a further round trip
    (``cached_feed_body``).
    """
    statements = _validator_statements(scope)
    if statements is None:
        return None
    count, id_sum, newest, sequence_sum, seats_sum, cached_key = db.session.execute(
        statements[with_cached_key]
    ).one()
    key = ":".join(
        str(value)
        for value in (
            FEED_FORMAT, scope.kind, scope.target_id, scope.window_start.isoformat(), count,
            id_sum, newest.isoformat() if newest else "", sequence_sum, seats_sum,
        )
    )
    # The window moved last at local midnight today: that is a change too.
    moved_at = scope.window_start + timedelta(days=HISTORY_DAYS)
    last_modified = max(newest, moved_at) if newest else moved_at
    return FeedValidator(
        hashlib.sha256(key.encode()).hexdigest()[:32], last_modified, with_cached_key, cached_key,
    )


@functools.lru_cache(maxsize=256)
def _validator_statements(scope: FeedScope) -> tuple[sa.Select, sa.Select] | None:
    """The validator's statement without and with the cached copy's key, built once per scope
    and process: a calendar app's poll then neither builds them nor walks them again for
    SQLAlchemy's statement cache (a statement keeps its cache key). The values are in the
    statements, so a scope's statements serve that scope only."""
    query = scope.query()
    if query is None:
        return None
    # Only the columns the aggregates read: a smaller statement to key, compile and run.
    feed = query.with_only_columns(
        Course.id, Course.updated_at, Course.ical_sequence, Course.seats_taken
    ).subquery()
    aggregates = sa.select(
        sa.func.count().label("count"),
        sa.func.coalesce(sa.func.sum(feed.c.id), 0).label("id_sum"),
        sa.func.max(feed.c.updated_at).label("newest"),
        sa.func.coalesce(sa.func.sum(feed.c.ical_sequence), 0).label("sequence_sum"),
        sa.func.coalesce(sa.func.sum(feed.c.seats_taken), 0).label("seats_sum"),
    ).select_from(feed)
    # One aggregate row, joined with the key of the feed's cache row if there is one.
    totals = aggregates.subquery()
    cached = sa.select(CachedFeed.cache_key).where(
        *_cache_row(scope.id, scope.kind, scope.target_id)
    ).subquery()
    return (
        aggregates.add_columns(sa.null()),
        sa.select(totals, cached.c.cache_key).select_from(totals.outerjoin(cached, sa.true())),
    )


def feed_cache_key(
    user: User, kind: FeedKind, target_id: int | None, validator: FeedValidator, built_with: dict
) -> str:
    """What a cached body must have been built for to be served again: the feed's validator,
    the owner and everything the SELECT of its courses depends on (``feed_query``: the user,
    their role and organizations, the kind, the target, the window in the validator — so a body
    is never served to another scope, whatever the aggregates), the builder's format and
    everything else the builder was given."""
    material = "\x1f".join((
        FEED_FORMAT,
        validator.etag,
        repr((user.id, user.role.value, sorted(user.organization_ids), kind.value, target_id)),
        repr(sorted(built_with.items())),
    ))
    return hashlib.sha256(material.encode()).hexdigest()[:KEY_LENGTH]


# A stored copy's key is the feed's key, a dot and a nonce drawn at each build: a copy built
# again for the same key (after a venue's renaming dropped it) is another copy, which no
# worker's memory holds yet.
KEY_LENGTH = 40


def _same_feed(stored_key: str | None, key: str) -> bool:
    return stored_key is not None and stored_key.startswith(key + ".")


class _Bodies:
    """This process's copies of recently served feed bodies, by cache key (least recently
    used dropped first, at most ``budget`` bytes). The database copy stays the one shared by
    every worker and host; this only spares a worker reading (and unpacking) the same bytes
    again while the feed's key has not changed."""

    def __init__(self, budget: int):
        self.budget, self.used = budget, 0
        self._items: OrderedDict[str, tuple[bytes, bytes | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[bytes, bytes | None] | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: str, packed: bytes, plain: bytes | None = None) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.used -= len(old[0]) + len(old[1] or b"")
            size = len(packed) + len(plain or b"")
            if size > self.budget:
                return
            self._items[key] = (packed, plain)
            self.used += size
            while self.used > self.budget:
                _, (dropped_packed, dropped_plain) = self._items.popitem(last=False)
                self.used -= len(dropped_packed) + len(dropped_plain or b"")

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.used = 0


# At most a few dozen busy feeds per worker (the busiest, 1,230 half-days, is ~0.6 MB plain).
FEED_MEMORY_BYTES = 32 * 1024 * 1024
_bodies = _Bodies(FEED_MEMORY_BYTES)


def cached_feed_body(
    user: User, kind: FeedKind, target_id: int | None, key: str, validator: FeedValidator,
    *, plain: bool = False,
) -> tuple[bytes, bytes | None] | None:
    """The feed's stored body if it was built for ``key``, else None: ``(gzipped, plain)``,
    ``plain`` unpacked only when asked for (a client that does not accept gzip).

    Only a key that the database's copy still has is served (the validator read it, or one
    query does): a copy dropped there (a renamed venue, a renewed token, the nightly purge) is
    dropped here too. This worker's memory then spares reading the bytes again."""
    stored_key = validator.cached_key if validator.cache_read else db.session.scalar(
        sa.select(CachedFeed.cache_key).where(*_cache_row(user.id, kind, target_id))
    )
    if not _same_feed(stored_key, key):
        return None
    held = _bodies.get(stored_key)
    packed = held[0] if held else db.session.scalar(
        sa.select(CachedFeed.body_gzip).where(
            *_cache_row(user.id, kind, target_id), CachedFeed.cache_key == stored_key
        )
    )
    if packed is None:  # replaced between the two statements
        return None
    unpacked = held[1] if held else None
    if plain and unpacked is None:
        unpacked = gzip.decompress(packed)
    if held is None or unpacked is not held[1]:
        _bodies.put(stored_key, packed, unpacked)
    return packed, unpacked


def _cache_row(user_id: int, kind: FeedKind, target_id: int | None) -> tuple:
    return (
        CachedFeed.user_id == user_id,
        CachedFeed.kind == kind.value,
        CachedFeed.target_id == (target_id or 0),
    )


def store_feed_body(
    user_id: int, kind: FeedKind, target_id: int | None, key: str, body: bytes
) -> bytes:
    """Keep ``body`` as this feed's cached body, replacing any earlier one; returns it gzipped.
    Call it in a transaction (not in autocommit: ``SET LOCAL`` would then do nothing).

    An upsert on the feed's unique key: two identical requests that both missed write in
    turn, and neither fails (PostgreSQL makes the second wait for the first's row).
    """
    packed = gzip.compress(body, compresslevel=FEED_GZIP_LEVEL, mtime=0)
    stored_key = f"{key}.{secrets.token_hex(8)}"
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        # A copy lost in a crash is only built again: the commit need not wait for the disk.
        db.session.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(CachedFeed).values(
        user_id=user_id, kind=kind.value, target_id=target_id or 0,
        cache_key=stored_key, body_gzip=packed, built_at=now_utc(),
    )
    db.session.execute(statement.on_conflict_do_update(
        index_elements=["user_id", "kind", "target_id"],
        set_={name: statement.excluded[name] for name in ("cache_key", "body_gzip", "built_at")},
    ))
    # Kept here only once committed would be exact; a copy of a rolled-back build is never
    # asked for: no stored key names it.
    _bodies.put(stored_key, packed, body)
    return packed


def purge_feed_cache(now: datetime) -> int:
    """Delete the cached bodies no request can be served any more; returns how many.

    Those built before the last local midnight (the feed's window moved then, so its validator
    changed), and those of accounts that no longer have feeds (deactivated, or liaisons).
    Renewing a feed's token deletes its row at once (``tokens``).
    """
    last_midnight = local_to_utc(to_local(now).date(), time(0))
    closed = sa.select(User.id).where(sa.or_(User.active.is_(False), User.role == Role.LIAISON))
    return db.session.execute(
        sa.delete(CachedFeed).where(
            sa.or_(CachedFeed.built_at < last_midnight, CachedFeed.user_id.in_(closed))
        )
    ).rowcount


def feed_targets(user: User) -> tuple[list[Organization], list[Venue]]:
    """The organizations and venues ``user`` is offered a feed for on their profile."""
    if user.role == Role.ADMIN:
        organizations = db.session.scalars(
            sa.select(Organization)
            .where(
                Organization.kind == OrganizationKind.ASSOCIATION,
                Organization.archived_at.is_(None),
            )
            .order_by(Organization.name)
        ).all()
    else:
        organizations = [org for org in user.organizations if org.archived_at is None]
    venues = db.session.scalars(
        sa.select(Venue).where(Venue.archived_at.is_(None)).order_by(Venue.name)
    ).all()
    return list(organizations), list(venues)


def feed_name(user: User, kind: FeedKind, target_id: int = 0) -> str | None:
    """What one of ``user``'s feeds is called on their profile, or None when they have no such
    feed (a liaison, « all courses » for a facilitator, an unknown venue or organization)."""
    if feed_query(user, kind, target_id) is None:
        return None
    if kind == FeedKind.MINE:
        return "Mes stages"
    if kind == FeedKind.ALL:
        return "Tous les stages"
    target = db.session.get(Venue if kind == FeedKind.VENUE else Organization, target_id)
    return target.name if target is not None else None
