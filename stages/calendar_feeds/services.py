"""Which courses each calendar feed holds, its HTTP validator, and its cached body (tokens:
``tokens``)."""
from __future__ import annotations

import gzip
import hashlib
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
    asked for, the key and gzipped body of the feed's cached copy, read by the same query."""

    etag: str
    last_modified: datetime
    cache_read: bool = False
    cached_key: str | None = None
    cached_body: bytes | None = None


def feed_query(user: User, kind: FeedKind, target_id: int | None = None) -> sa.Select | None:
    """A SELECT of the courses in one of ``user``'s feeds, or None if they have no such feed.

    Every feed stays within ``visible(Course, user)``, except that "my courses" also holds the
    courses the user facilitates. Drafts never appear.
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
        Course.ends_at >= feed_window_start(),
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


def feed_validator(
    query: sa.Select, kind: FeedKind, target_id: int | None = None, cached_for: User | None = None
) -> FeedValidator:
    """The feed's validator, from one aggregate query, before anything is loaded or built.

    Services bump ``updated_at`` (and ``ical_sequence``) on each change, so these aggregates move
    whenever the feed's content does; the window's start covers courses leaving the past year.
    Renaming a venue or an organization does not touch its courses: a client holding the
    ETag sees it the next day, when the window moves (the cached copies are dropped at once,
    see ``models``). With ``cached_for`` (the feed's owner), the same query also reads the
    feed's cached copy, so that serving it costs no further round trip.
    """
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
    if cached_for is None:
        count, id_sum, newest, sequence_sum, seats_sum = db.session.execute(aggregates).one()
        cached_key = cached_body = None
    else:
        # One aggregate row, joined with the feed's cache row if there is one.
        totals = aggregates.subquery()
        cached = sa.select(CachedFeed.cache_key, CachedFeed.body_gzip).where(
            *_cache_row(cached_for, kind, target_id)
        ).subquery()
        count, id_sum, newest, sequence_sum, seats_sum, cached_key, cached_body = (
            db.session.execute(
                sa.select(totals, cached.c.cache_key, cached.c.body_gzip)
                .select_from(totals.outerjoin(cached, sa.true()))
            ).one()
        )
    window_start = feed_window_start()
    key = ":".join(
        str(value)
        for value in (
            FEED_FORMAT, kind, target_id, window_start.isoformat(), count, id_sum,
            newest.isoformat() if newest else "", sequence_sum, seats_sum,
        )
    )
    # The window moved last at local midnight today: that is a change too.
    moved_at = window_start + timedelta(days=HISTORY_DAYS)
    last_modified = max(newest, moved_at) if newest else moved_at
    return FeedValidator(
        hashlib.sha256(key.encode()).hexdigest()[:32], last_modified,
        cached_for is not None, cached_key, cached_body,
    )


def feed_cache_key(query: sa.Select, validator: FeedValidator, built_with: dict) -> str:
    """What a cached body must have been built for to be served again: the feed's validator,
    the statement selecting its courses with its parameters (so a body is never served to
    another scope, whatever the aggregates), and everything else the builder was given."""
    compiled = query.compile(dialect=db.session.get_bind().dialect)
    material = "\x1f".join((
        validator.etag,
        str(compiled),
        repr(sorted(compiled.params.items())),
        repr(sorted(built_with.items())),
    ))
    return hashlib.sha256(material.encode()).hexdigest()


def cached_feed_body(
    user: User, kind: FeedKind, target_id: int | None, key: str, validator: FeedValidator
) -> bytes | None:
    """The gzipped body stored for this feed if it was built for ``key``, else None: from the
    validator when it read the cached copy, else by one query."""
    if validator.cache_read:
        return validator.cached_body if validator.cached_key == key else None
    return db.session.scalar(
        sa.select(CachedFeed.body_gzip).where(
            *_cache_row(user, kind, target_id), CachedFeed.cache_key == key
        )
    )


def _cache_row(user: User, kind: FeedKind, target_id: int | None) -> tuple:
    return (
        CachedFeed.user_id == user.id,
        CachedFeed.kind == kind.value,
        CachedFeed.target_id == (target_id or 0),
    )


def store_feed_body(
    user: User, kind: FeedKind, target_id: int | None, key: str, body: bytes
) -> bytes:
    """Keep ``body`` as this feed's cached body, replacing any earlier one; returns it gzipped.

    An upsert on the feed's unique key: two identical requests that both missed write in
    turn, and neither fails (PostgreSQL makes the second wait for the first's row).
    """
    packed = gzip.compress(body, compresslevel=FEED_GZIP_LEVEL, mtime=0)
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        # A copy lost in a crash is only built again: the commit need not wait for the disk.
        db.session.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(CachedFeed).values(
        user_id=user.id, kind=kind.value, target_id=target_id or 0,
        cache_key=key, body_gzip=packed, built_at=now_utc(),
    )
    db.session.execute(statement.on_conflict_do_update(
        index_elements=["user_id", "kind", "target_id"],
        set_={name: statement.excluded[name] for name in ("cache_key", "body_gzip", "built_at")},
    ))
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
