"""Calendar feeds behind a secret token per feed, one course's .ics, and renewing the tokens."""
from __future__ import annotations

import gzip
import re
from dataclasses import dataclass

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.http import is_resource_modified

from stages.auth.models import Organization, Role, User
from stages.auth.permissions import Permission, get_authorized
from stages.calendar_feeds.ical import build_calendar, default_uid_domain
from stages.calendar_feeds.models import FeedKind
from stages.calendar_feeds.queries import feed_courses
from stages.calendar_feeds.services import (
    FeedScope,
    cached_feed_body,
    feed_cache_key,
    feed_name,
    feed_targets,
    feed_validator,
    store_feed_body,
)
from stages.calendar_feeds.tokens import (
    Feed,
    feed_generations,
    feed_token,
    renew_all_feeds,
    renew_feed,
    user_for_feed,
)
from stages.errors import render_error
from stages.extensions import db
from stages.public_url import public_base_url
from stages.scheduling.models import Course, CourseStatus, Venue
from stages.scheduling.queries import course_sections

bp = Blueprint("calendar_feeds", __name__)

FEED_CACHE_CONTROL = "private, max-age=300"
FEED_TITLE = "Stages"


@bp.route("/agenda/<token>/mes-stages.ics")
def my_feed(token: str):
    """The courses the token's owner runs (facilitates, or co-organizes for organizers)."""
    user = _feed_owner(token, Feed(FeedKind.MINE))
    return _feed_response(user, FeedKind.MINE, None, f"{FEED_TITLE} — mes stages", "mes-stages")


@bp.route("/agenda/<token>/tous.ics")
def all_feed(token: str):
    """Every course the token's owner may see (organizers and admins only)."""
    user = _feed_owner(token, Feed(FeedKind.ALL))
    return _feed_response(user, FeedKind.ALL, None, f"{FEED_TITLE} — tous les stages", "tous")


@bp.route("/agenda/<token>/lieu/<int:venue_id>.ics")
def venue_feed(token: str, venue_id: int):
    """The courses at one venue that the token's owner may see."""
    user = _feed_owner(token, Feed(FeedKind.VENUE, venue_id))
    venue = db.session.get(Venue, venue_id) or abort(404)
    return _feed_response(
        user, FeedKind.VENUE, venue.id, f"{FEED_TITLE} — {venue.name}", f"lieu-{venue.id}"
    )


@bp.route("/agenda/<token>/organisation/<int:organization_id>.ics")
def organization_feed(token: str, organization_id: int):
    """The courses co-organized by one organization that the token's owner may see."""
    user = _feed_owner(token, Feed(FeedKind.ORGANIZATION, organization_id))
    organization = db.session.get(Organization, organization_id) or abort(404)
    return _feed_response(
        user,
        FeedKind.ORGANIZATION,
        organization.id,
        f"{FEED_TITLE} — {organization.short_name}",
        f"organisation-{organization.id}",
    )


@course_sections.add(template="calendar_feeds/_course_ics.html", slot="actions", position=10)
def course_ics_button(course: Course, **_) -> dict | None:
    """« Ajouter à mon agenda » on the course page, once the course is more than a draft."""
    return None if course.status == CourseStatus.DRAFT else {}


@bp.route("/stages/<int:course_id>/agenda.ics")
@login_required
def course_ics(course_id: int):
    """Download one course's half-days as an .ics file, to add them to a calendar by hand."""
    course = get_authorized(Course, course_id, Permission.SESSION_VIEW)
    if course.status == CourseStatus.DRAFT:
        return render_error(404, "Ce stage est encore en brouillon : il n'a pas d'agenda.")
    body = build_calendar(
        [course], name=f"{FEED_TITLE} — {course.title}", **_builder_settings()
    )
    response = _calendar_response(body, f"stage-{course.id}.ics", "attachment")
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.route("/mon-compte/agenda/regenerer", methods=["POST"])
@login_required
def regenerate_token():
    """Renew every feed token of the user: all their old feed URLs answer 404 from now on."""
    user = current_user._get_current_object()
    renew_all_feeds(user)
    db.session.commit()
    flash("Vos liens d'agenda ont été renouvelés ; les anciens ne fonctionnent plus.", "success")
    return redirect(url_for("auth.profile"))


@bp.route("/mon-compte/agenda/renouveler-un-lien", methods=["POST"])
@login_required
def renew_one_feed():
    """Renew one feed's token (``flux``: « mes-stages », « tous », « lieu-3 »…): its old URL
    answers 404 from now on, the user's other feeds keep theirs."""
    user = current_user._get_current_object()
    feed = _feed_from_choice(request.form.get("flux", ""))
    name = feed_name(user, feed.kind, feed.target_id) if feed else None
    if name is None:
        flash("Ce lien d'agenda n'existe pas.", "error")
        return redirect(url_for("auth.profile"))
    renew_feed(user, feed)
    db.session.commit()
    flash(f"Le lien d'agenda « {name} » a été renouvelé ; l'ancienne adresse ne fonctionne plus.",
          "success")
    return redirect(url_for("auth.profile"))


# The form value naming each feed on the profile.
_CHOICES = {"mes-stages": FeedKind.MINE, "tous": FeedKind.ALL}
_TARGETED_CHOICES = {"lieu": FeedKind.VENUE, "organisation": FeedKind.ORGANIZATION}
_CHOICE_PATTERN = re.compile(r"(lieu|organisation)-([1-9][0-9]{0,9})")


def _feed_from_choice(value: str) -> Feed | None:
    if value in _CHOICES:
        return Feed(_CHOICES[value])
    match = _CHOICE_PATTERN.fullmatch(value)
    return Feed(_TARGETED_CHOICES[match[1]], int(match[2])) if match else None


def _choice(feed: Feed) -> str:
    if feed.kind in (FeedKind.MINE, FeedKind.ALL):
        return next(value for value, kind in _CHOICES.items() if kind == feed.kind)
    prefix = next(value for value, kind in _TARGETED_CHOICES.items() if kind == feed.kind)
    return f"{prefix}-{feed.target_id}"


def _feed_owner(token: str, feed: Feed) -> User:
    """The user whose URL for ``feed`` this is; any bad token is a plain 404, telling nothing
    about why."""
    _read_without_transaction()
    user = user_for_feed(token, feed)
    if user is None:
        abort(404)
    return user


def _read_without_transaction() -> None:
    """Run this request's statements in autocommit when nothing else has begun a transaction.

    A feed request only reads (a cache miss writes its copy with one upsert, atomic by itself),
    and under READ COMMITTED every statement has its own snapshot anyway: a transaction would
    only add a BEGIN and a ROLLBACK round trip, and that ROLLBACK makes psycopg forget its
    prepared statements, so a calendar app's polls would be planned afresh every time."""
    if db.session().get_transaction() is None:
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def _feed_response(user: User, kind: FeedKind, target_id: int | None, name: str, filename: str):
    scope = FeedScope.of(user, kind, target_id)
    # The validator costs one aggregate query: a calendar app polling an unchanged feed gets its
    # 304 before any course is loaded or any iCalendar built. A request that cannot be a 304
    # reads the cached copy with it.
    conditional = bool(request.if_none_match or request.if_modified_since)
    validator = feed_validator(scope, with_cached_key=not conditional)
    if validator is None:
        abort(404)
    if not is_resource_modified(
        request.environ, etag=validator.etag, last_modified=validator.last_modified
    ):
        response = current_app.response_class(status=304)
    else:
        settings = _builder_settings()
        key = feed_cache_key(user, kind, target_id, validator, {"name": name, **settings})
        # Another worker (or an earlier request) may have built this very feed already.
        gzip_ok = bool(request.accept_encodings["gzip"])
        stored = cached_feed_body(user, kind, target_id, key, validator, plain=not gzip_ok)
        if stored is None:
            body = build_calendar(feed_courses(scope.query()), name=name, **settings)
            # The reads were in autocommit: the copy is written in a transaction of its own.
            db.session.commit()
            stored = store_feed_body(scope.id, kind, target_id, key, body), body
            db.session.commit()
        response = _gzipped_response(*stored, f"{filename}.ics", gzip_ok)
    # Weak: a rebuilt body carries its own DTSTAMP, and the body may be sent gzipped or not.
    response.set_etag(validator.etag, weak=True)
    response.last_modified = validator.last_modified
    response.headers["Cache-Control"] = FEED_CACHE_CONTROL
    return response


def _builder_settings() -> dict:
    # The UIDs' domain never follows a request's address: an event must keep its UID.
    return {
        "uid_domain": default_uid_domain(
            current_app.config.get("ICAL_UID_DOMAIN"), current_app.config.get("BASE_URL") or ""
        ),
        "base_url": public_base_url(),
        "default_zone": current_app.config.get("TIMEZONE", "Europe/Paris"),
    }


def _gzipped_response(packed: bytes, body: bytes | None, filename: str, gzip_ok: bool) -> Response:
    """The feed as stored, gzipped, to a client that accepts it (calendar apps do), else plain."""
    if gzip_ok:
        response = _calendar_response(packed, filename, "inline")
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = _calendar_response(body if body is not None else gzip.decompress(packed),
                                      filename, "inline")
    response.vary.add("Accept-Encoding")
    return response


def _calendar_response(body: bytes, filename: str, disposition: str) -> Response:
    response = current_app.response_class(body, mimetype="text/calendar")
    # Filenames carry ids only, never a name.
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


# --- The profile's "Mes agendas" section -------------------------------------------------


@dataclass(frozen=True)
class FeedLink:
    """One feed URL offered on the profile page."""

    key: str  # unique within the page, for the input's id
    label: str
    url: str
    choice: str  # the value that names this feed in the « renouveler ce lien » form

    @property
    def webcal_url(self) -> str:
        """The same URL with the webcal:// scheme, which calendar apps open as a subscription."""
        return "webcal://" + self.url.split("://", 1)[1]


@dataclass(frozen=True)
class FeedLinks:
    """The feeds a user may subscribe to, grouped as the profile shows them."""

    main: list[FeedLink]
    organizations: list[FeedLink]
    venues: list[FeedLink]


_ENDPOINTS = {
    FeedKind.MINE: ("calendar_feeds.my_feed", None),
    FeedKind.ALL: ("calendar_feeds.all_feed", None),
    FeedKind.VENUE: ("calendar_feeds.venue_feed", "venue_id"),
    FeedKind.ORGANIZATION: ("calendar_feeds.organization_feed", "organization_id"),
}


def feed_links(user) -> FeedLinks | None:
    """The feed URLs ``user`` may use, each with its own token, or None when they have none
    (liaisons, inactive)."""
    if not getattr(user, "is_authenticated", False) or not user.active:
        return None
    if user.role == Role.LIAISON:
        return None
    generations = feed_generations(user)

    def link(feed: Feed, key: str, label: str) -> FeedLink:
        endpoint, target_arg = _ENDPOINTS[feed.kind]
        token = feed_token(user, feed, generations.get(feed, 0))
        values = {target_arg: feed.target_id} if target_arg else {}
        return FeedLink(key, label, _external(endpoint, token=token, **values), _choice(feed))

    main = [link(Feed(FeedKind.MINE), "mine", "Mes stages")]
    if user.role in (Role.ADMIN, Role.ORGANIZER):
        main.append(link(Feed(FeedKind.ALL), "all", "Tous les stages"))
    organizations, venues = feed_targets(user)
    return FeedLinks(
        main=main,
        organizations=[
            link(Feed(FeedKind.ORGANIZATION, org.id), f"organization-{org.id}", org.name)
            for org in organizations
        ],
        venues=[
            link(Feed(FeedKind.VENUE, venue.id), f"venue-{venue.id}", venue.name)
            for venue in venues
        ],
    )


def _external(endpoint: str, **values) -> str:
    return url_for(endpoint, _external=True, **values)


@bp.app_context_processor
def _inject_feed_links():
    # A function, not its result: only the profile page calls it, so other pages pay nothing.
    return {"calendar_feed_links": feed_links}
