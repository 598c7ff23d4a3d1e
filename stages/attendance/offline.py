"""The day of the course without a network: a service worker scoped to one course's attendance
pages, the list of what it keeps on the device, and the page that prepares the day.

The service worker (``static/js/attendance-sw.js``) is served from inside the scope it controls,
``/stages/<course>/presence/``, so that it may control nothing else. It keeps exactly the URLs
of :func:`offline_manifest` — that course's attendance page of each half-day and the static files
those pages load — and forgets them at ``expires_at`` (the end of the day after the last
half-day) or after the last successful sync once the course is over.

The routes join the attendance blueprint through :func:`register` (called by ``views.py``), so
that this module never imports the views.
"""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, time, timedelta

from flask import Blueprint, current_app, jsonify, render_template, send_from_directory, url_for
from flask_login import login_required

from stages.auth.audit import audit
from stages.auth.permissions import Permission, get_authorized
from stages.extensions import db
from stages.scheduling.models import Course
from stages.timeutil import fr_date, local_to_utc, to_local

WORKER_FILE = "js/attendance-sw.js"
# What the attendance page loads (templates/base.html and attendance/take.html): the worker
# keeps these and nothing more. tests/attendance/test_offline_manifest.py compares this list
# with the page's own <link> and <script> tags.
OFFLINE_STATIC_FILES = (
    "css/stages.css",
    "js/stages.js",
    "js/attendance.js",
    "vendor/signature_pad/signature_pad.umd.min.js",
    "img/favicon.svg",
)


def register(bp: Blueprint) -> None:
    """Add the offline routes to the attendance blueprint."""
    for rule, view in (
        ("/stages/<int:course_id>/presence/sw.js", offline_worker),
        ("/stages/<int:course_id>/presence/hors-ligne.json", offline_manifest_json),
        ("/stages/<int:course_id>/presence/preparer", offline_prepare),
    ):
        bp.add_url_rule(rule, view_func=login_required(view))


def offline_expiry(course: Course) -> datetime:
    """The end of the day after the course's last half-day, in the venue's zone (as UTC)."""
    zone = course.venue.timezone
    last_day = to_local(course.parts[-1].ends_at, zone).date()
    return local_to_utc(last_day + timedelta(days=2), time(0, 0), zone)


def offline_manifest(course: Course) -> dict:
    """What the service worker keeps for ``course``: its attendance pages and their files."""
    pages = [
        url_for("attendance.take_attendance", course_id=course.id, part_id=part.id)
        for part in course.parts
    ]
    files = [url_for("static", filename=name) for name in OFFLINE_STATIC_FILES]
    urls = pages + files + [url_for("favicon")]
    expires_at = offline_expiry(course)
    clear_after = course.parts[-1].ends_at
    version = hashlib.sha256(json.dumps([urls, expires_at.isoformat()]).encode()).hexdigest()[:16]
    return {
        "version": version,
        "course_id": course.id,
        "cache": f"stages-presence-{course.id}",
        "urls": urls,
        "expires_at": _iso(expires_at),
        "clear_after": _iso(clear_after),
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def offline_worker(course_id: int):
    """The service worker script, served inside the scope it controls."""
    get_authorized(Course, course_id, Permission.SESSION_RUN)
    response = send_from_directory(current_app.static_folder, WORKER_FILE, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


def offline_manifest_json(course_id: int):
    """The list of URLs the service worker keeps for this course, with their expiry."""
    course = get_authorized(Course, course_id, Permission.SESSION_RUN)
    return jsonify(offline_manifest(course))


def offline_prepare(course_id: int):
    """« Préparer la journée hors ligne »: registers the worker, which keeps the day's pages."""
    course = get_authorized(Course, course_id, Permission.SESSION_RUN)
    worker_url = url_for("attendance.offline_worker", course_id=course.id)
    html = render_template(
        "attendance/prepare.html", course=course, worker_url=worker_url,
        scope=worker_url.rsplit("/", 1)[0] + "/",  # the worker's own folder: these pages only
        expires_label=fr_date(offline_expiry(course) - timedelta(minutes=1), "long", course.venue.timezone),
    )
    audit("attendance.offline_prepared", course, details=f"{len(course.parts)} demi-journées")
    db.session.commit()
    return html
