"""The one permission helper: every view asks it, and it checks role **and** scope.

What a role may do at all is decided here (``ROLE_PERMISSIONS``). Whether a user may do it on one
object, and which objects a user may see in a list, is decided by rules that each area registers
next to its models, in its ``rules.py`` (as pretalx keeps ``rules.py`` beside each app):

- ``@object_rule(Model)``: ``rule(user, permission, obj) -> bool`` for objects of that type;
- ``@scope(Model)`` (or a name): ``scope(user) -> SELECT`` of what the user may see.

Nothing outside this helper and the rules registered with it reads a user's organizations to
decide access: views call ``can``, ``authorize``, ``get_authorized`` and ``visible``.

Scope rules (DOMAIN.md, "Who uses the software"):
- admin: everything;
- organizer: courses co-organized by one of their associations, measures their association
  handles, and the people enrolled in their courses;
- facilitator: the courses they run and the people enrolled in them (names only, no legal data);
- liaison: read-only, the measures referred by their authorities and those people.
"""
from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import sqlalchemy as sa
from flask import abort, has_request_context, request
from flask_login import current_user

from stages.auth.models import Role, User
from stages.extensions import db


class Permission(StrEnum):
    ADMIN = "admin"  # accounts, organizations, retention
    SCHEDULE = "schedule"  # create courses, venues, series
    VENUE_EDIT = "venue.edit"  # a venue's details, its archiving
    SESSION_VIEW = "session.view"
    SESSION_EDIT = "session.edit"
    SESSION_RUN = "session.run"  # roster, attendance
    MEASURE_VIEW = "measure.view"
    MEASURE_EDIT = "measure.edit"
    PARTICIPANT_VIEW = "participant.view"
    PARTICIPANT_LEGAL_VIEW = "participant.legal_view"  # measures, case references
    PARTICIPANT_EDIT = "participant.edit"
    FEES_RECORD = "fees.record"  # the fee ledger of a measure, receipts, invoices, accounting


# What each role may do at all, before any object is looked at (admins may do everything).
ROLE_PERMISSIONS = {
    Role.ORGANIZER: set(Permission) - {Permission.ADMIN},
    Role.FACILITATOR: {Permission.SESSION_VIEW, Permission.SESSION_RUN, Permission.PARTICIPANT_VIEW},
    Role.LIAISON: {
        Permission.MEASURE_VIEW, Permission.PARTICIPANT_VIEW, Permission.PARTICIPANT_LEGAL_VIEW,
    },
}

ObjectRule = Callable[[User, Permission, object], bool]
Scope = Callable[[User], sa.Select]
_object_rules: dict[type, ObjectRule] = {}
_scopes: dict[object, Scope] = {}
# The rules whose answer is the same for every permission (a page asks them several times).
_per_object: set[type] = set()
_MEMO = "stages.rule_answers"


def object_rule(model: type, *, same_for_every_permission: bool = False):
    """Register ``rule(user, permission, obj)`` for objects of ``model`` (decorator).

    With ``same_for_every_permission``, the rule ignores ``permission`` (the role's permissions
    were checked before it): its answer for a user and an object is asked of the database once
    per request, however many permissions the page checks (see, edit, legal view…)."""

    def register(rule: ObjectRule) -> ObjectRule:
        _object_rules[model] = rule
        if same_for_every_permission:
            _per_object.add(model)
        return rule

    return register


def scope(key):
    """Register ``scope(user) -> SELECT`` of what ``user`` may see of ``key`` (decorator)."""

    def register(func: Scope) -> Scope:
        _scopes[key] = func
        return func

    return register


def can(user, permission: Permission, obj=None) -> bool:
    """Whether ``user`` may do ``permission`` on ``obj`` (or in general when ``obj`` is None)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.active:
        return False
    if user.role == Role.ADMIN:
        return True
    if permission not in ROLE_PERMISSIONS.get(user.role, ()):
        return False
    if obj is None:
        return True
    rule = _object_rules.get(type(obj))
    if rule is None:
        return False
    key = _memo_key(user, obj)
    if key is None:
        return bool(rule(user, permission, obj))
    # Kept in the request's environ: one request, never an app context a test may keep open.
    answers = request.environ.setdefault(_MEMO, {})
    if key not in answers:
        answers[key] = bool(rule(user, permission, obj))
    return answers[key]


def _memo_key(user, obj) -> tuple | None:
    """The key of a rule's answer kept for the request, or None when it must be asked each time:
    a rule that depends on the permission, an object not yet in the database, no request."""
    if type(obj) not in _per_object or not has_request_context():
        return None
    identity = sa.inspect(obj).identity
    return None if identity is None else (type(obj).__name__, identity, user.id)


def authorize(permission: Permission, obj=None) -> None:
    """Abort with 403 unless the current user may do ``permission`` on ``obj``."""
    if not can(current_user, permission, obj):
        abort(403)


def get_or_refuse(model, object_id: int | None, options: tuple = ()):
    """Load ``model`` #``object_id`` (with these loader ``options``); a missing one is a 404 for
    admins and a 403 for everyone else, as someone else's object is, so that ids cannot be
    probed for existence."""
    # An id no row can have (the URL converter bounds path ids; a form's or a query's may be
    # anything) is no row: the database would refuse it rather than find nothing.
    in_range = object_id is not None and 0 < object_id < 2**31
    obj = db.session.get(model, object_id, options=options) if in_range else None
    if obj is None:
        abort(404 if can(current_user, Permission.ADMIN) else 403)
    return obj


def get_authorized(model, object_id: int | None, permission: Permission, options: tuple = ()):
    """Load ``model`` #``object_id`` if the current user may do ``permission`` on it (403 if
    not, or if it is missing: see ``get_or_refuse``); ``options``: what to load with it."""
    obj = get_or_refuse(model, object_id, options)
    authorize(permission, obj)
    return obj


def visible(key, user: User) -> sa.Select:
    """A SELECT of what ``user`` may see of ``key`` (a model or a named scope), to filter and
    paginate lists in SQL."""
    return _scopes[key](user)


def built_per_user(build: Callable[[User], sa.Select]) -> Callable[[User], sa.Select]:
    """Decorator: ``build(user)``, a statement of what the user may see with bind parameters for
    the rest, built once per user and process and then reused.

    A statement built anew at each request costs its building and SQLAlchemy's walk of it for
    the cache key (a statement object keeps its key): ~0.6 ms for a person's measures with their
    loader options (bench/README.md). The scopes read the user's role and organizations; the
    statement is kept under both and the user's id, so a change of either builds a new one and
    no user ever runs another's.
    """
    built: dict[tuple, sa.Select] = {}

    def statement(user: User) -> sa.Select:
        key = (user.id, user.role, frozenset(user.organization_ids))
        found = built.get(key)
        if found is None:
            if len(built) >= _BUILT_PER_USER:
                built.clear()
            found = built[key] = build(user)
        return found

    return statement


_BUILT_PER_USER = 512


def exists(select: sa.Select) -> bool:
    """Whether ``select`` finds a row: the rules' way to ask the database, in one statement."""
    return db.session.scalar(sa.select(select.exists())) is True
