"""Calendar feeds behind a per-user secret token, one course's .ics, and renewing the token."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

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

from stages.auth.audit import audit
from stages.auth.models import Role, User
from stages.auth.permissions import Permission, get_authorized
from stages.calendar_feeds.ical import build_calendar
from stages.calendar_feeds.services import (
    FeedKind,
    feed_query,
    feed_targets,
    feed_validator,
    load_feed_courses,
    regenerate_feed_token,
    user_for_feed_token,
)
from stages.errors import render_error
from stages.extensions import db
from stages.scheduling.queries import course_sections
from stages.scheduling.models import Course, CourseStatus, Venue
from stages.auth.models import Organization

bp = Blueprint("calendar_feeds", __name__)

FEED_CACHE_CONTROL = "private, max-age=300"
FEED_TITLE = "Stages"


@bp.route("/agenda/<token>/mes-stages.ics")
def my_feed(token: str):
    """The courses the token's owner runs (facilitates, or co-organizes for organizers)."""
    user = _feed_owner(token)
    return _feed_response(user, FeedKind.MINE, None, f"{FEED_TITLE} — mes stages", "mes-stages")


@bp.route("/agenda/<token>/tous.ics")
def all_feed(token: str):
    """Every course the token's owner may see (organizers and admins only)."""
    user = _feed_owner(token)
    return _feed_response(user, FeedKind.ALL, None, f"{FEED_TITLE} — tous les stages", "tous")


@bp.route("/agenda/<token>/lieu/<int:venue_id>.ics")
def venue_feed(token: str, venue_id: int):
    """The courses at one venue that the token's owner may see."""
    user = _feed_owner(token)
    venue = db.session.get(Venue, venue_id) or abort(404)
    return _feed_response(
        user, FeedKind.VENUE, venue.id, f"{FEED_TITLE} — {venue.name}", f"lieu-{venue.id}"
    )


@bp.route("/agenda/<token>/organisation/<int:organization_id>.ics")
def organization_feed(token: str, organization_id: int):
    """The courses co-organized by one organization that the token's owner may see."""
    user = _feed_owner(token)
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
    """Renew the user's feed token: the old feed URLs answer 404 from now on."""
    user = current_user._get_current_object()
    regenerate_feed_token(user)
    audit("calendar.token_regenerated", user)
    db.session.commit()
    flash("Vos liens d'agenda ont été renouvelés ; les anciens ne fonctionnent plus.", "success")
    return redirect(url_for("auth.profile"))


def _feed_owner(token: str) -> User:
    """The token's owner; any bad token is a plain 404, telling nothing about why."""
    user = user_for_feed_token(token)
    if user is None:
        abort(404)
    return user


def _feed_response(user: User, kind: FeedKind, target_id: int | None, name: str, filename: str):
    query = feed_query(user, kind, target_id)
    if query is None:
        abort(404)
    # The validator costs one aggregate query: a calendar app polling an unchanged feed gets its
    # 304 before any course is loaded or any iCalendar built.
    validator = feed_validator(query, kind, target_id)
    if not is_resource_modified(
        request.environ, etag=validator.etag, last_modified=validator.last_modified
    ):
        response = current_app.response_class(status=304)
    else:
        body = build_calendar(load_feed_courses(query), name=name, **_builder_settings())
        response = _calendar_response(body, f"{filename}.ics", "inline")
    # Weak: each body carries its own DTSTAMP, so equal content is not byte-for-byte equal.
    response.set_etag(validator.etag, weak=True)
    response.last_modified = validator.last_modified
    response.headers["Cache-Control"] = FEED_CACHE_CONTROL
    return response


def _builder_settings() -> dict:
    base_url = current_app.config["BASE_URL"]
    return {
        "uid_domain": current_app.config.get("ICAL_UID_DOMAIN")
        or urlsplit(base_url).hostname
        or "stages",
        "base_url": base_url,
        "default_zone": current_app.config.get("TIMEZONE", "Europe/Paris"),
    }


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


def feed_links(user) -> FeedLinks | None:
    """The feed URLs ``user`` may use, or None when they have none (liaisons, inactive)."""
    if not getattr(user, "is_authenticated", False) or not user.active:
        return None
    if user.role == Role.LIAISON:
        return None
    token = user.feed_token
    main = [FeedLink("mine", "Mes stages", _external("calendar_feeds.my_feed", token=token))]
    if user.role in (Role.ADMIN, Role.ORGANIZER):
        main.append(
            FeedLink("all", "Tous les stages", _external("calendar_feeds.all_feed", token=token))
        )
    organizations, venues = feed_targets(user)
    return FeedLinks(
        main=main,
        organizations=[
            FeedLink(
                f"org-{org.id}",
                org.name,
                _external("calendar_feeds.organization_feed", token=token, organization_id=org.id),
            )
            for org in organizations
        ],
        venues=[
            FeedLink(
                f"venue-{venue.id}",
                venue.name,
                _external("calendar_feeds.venue_feed", token=token, venue_id=venue.id),
            )
            for venue in venues
        ],
    )


def _external(endpoint: str, **values) -> str:
    return url_for(endpoint, _external=True, **values)


@bp.app_context_processor
def _inject_feed_links():
    # A function, not its result: only the profile page calls it, so other pages pay nothing.
    return {"calendar_feed_links": feed_links}
