"""Accounts: password hashing and policy, authentication with progressive lockout, creation, and
their management by admins.

Changes to an account (lockout, password, role, scope, activation) are audited here, by the
service that makes them, so that the CLI and every view leave the same trail; events of a request
(login, logout) are audited by the view. Audit details never carry personal data: role codes,
organization short names and counts only.
"""
from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from sqlalchemy.orm.attributes import set_committed_value
from zxcvbn import zxcvbn

from stages.auth.audit import audit
from stages.auth.login_sessions import close_all_login_sessions
from stages.auth.models import Role, User
from stages.errors import DomainError
from stages.extensions import db
from stages.auth.models import AUTHORITY_KINDS, Organization, OrganizationKind
from stages.timeutil import now_utc

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 12
# zxcvbn scores 0 to 4; 3 means "safely unguessable: moderate protection from offline attacks".
MIN_PASSWORD_SCORE = 3
WEAK_PASSWORD = (
    "Ce mot de passe est trop courant ou trop facile à deviner (mot courant, suite de touches, "
    "nom, date…). Choisissez plutôt une phrase de plusieurs mots sans rapport entre eux."
)
WRONG_CURRENT_PASSWORD = "Le mot de passe actuel est incorrect."
# zxcvbn's dictionaries are English: add the French passwords and the words of this field that
# an attacker would try first.
COMMON_WORDS = (
    "motdepasse", "azerty", "azertyuiop", "qsdfghjklm", "bonjour", "bonsoir", "soleil", "doudou",
    "loulou", "chouchou", "coucou", "jetaime", "marseille", "france", "paris", "stages", "stage",
    "sensibilisation", "parquet", "procureur", "justice", "tribunal", "prefecture", "apcars",
    "fondation", "scelles", "association", "administrateur", "organisateur", "intervenant",
)

# Lockout defaults, for code running without an app (the settings live in config.py).
_LOCKOUT_DEFAULTS = {
    "LOGIN_LOCKOUT_THRESHOLD": 5,
    "LOGIN_LOCKOUT_SECONDS": 60,
    "LOGIN_LOCKOUT_MAX_SECONDS": 3600,
}


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def check_password(user: User | None, password: str) -> bool:
    """Whether ``password`` is ``user``'s; takes the same time when ``user`` is None."""
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return user is not None


def normalize_email(email: str) -> str:
    return email.strip().lower()


# --- Authentication and lockout --------------------------------------------------------------


def authenticate(email: str, password: str) -> User | None:
    """First factor: the active, unlocked user with this email and password, or None.

    Every path verifies one argon2 hash (a dummy one for an unknown email), so the answer takes
    the same time whether the email exists, the account is locked or the password is wrong.
    A wrong password counts towards the lockout. A locked account refuses even the right
    password, and attempts made while it is locked are not counted: hammering cannot stretch a
    lock forever (the per-IP rate limit is there for hammering). The counter is reset by
    :func:`complete_login`, once every factor has been checked.
    """
    user = db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))
    password_ok = check_password(user, password)
    if user is None or is_locked(user):
        return None
    if not password_ok:
        record_failed_login(user)
        return None
    if not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def is_locked(user: User, now: datetime | None = None) -> bool:
    """Whether ``user`` is in a lockout period."""
    return user.locked_until is not None and user.locked_until > (now or now_utc())


def lockout_seconds(failures: int) -> int:
    """How long ``failures`` failed logins in a row lock an account (0: not locked).

    The threshold-th failure locks for the base period, each further one doubles it, up to the
    maximum: 1, 2, 4, … minutes, then 1 hour with the defaults.
    """
    threshold = _setting("LOGIN_LOCKOUT_THRESHOLD")
    if failures < threshold:
        return 0
    base, ceiling = _setting("LOGIN_LOCKOUT_SECONDS"), _setting("LOGIN_LOCKOUT_MAX_SECONDS")
    # Bound the exponent: 2**10 minutes already exceeds any sensible ceiling.
    return min(base * 2 ** min(failures - threshold, 20), ceiling)


def record_failed_login(user: User) -> bool:
    """Count a failed first or second factor for ``user``; True when this failure locks it.

    The counter is incremented in SQL, not read and rewritten in Python, so that two workers
    receiving failures at the same moment both count.
    """
    failures = db.session.execute(
        sa.update(User)
        .where(User.id == user.id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins),
        execution_options={"synchronize_session": False},
    ).scalar_one()
    # Known to the database already: record it without scheduling another write.
    set_committed_value(user, "failed_logins", failures)
    seconds = lockout_seconds(failures)
    if not seconds:
        return False
    user.locked_until = now_utc() + timedelta(seconds=seconds)
    audit("auth.locked", user, details=f"{failures} échecs consécutifs, blocage de {seconds} s")
    return True


def complete_login(user: User) -> None:
    """Every factor is right: reset the failure counter and note the time of this login."""
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now_utc()


def unlock_user(user: User) -> None:
    """Admin: lift a lockout before it ends (someone proved who they are another way)."""
    user.failed_logins = 0
    user.locked_until = None
    audit("user.unlocked", user)


def end_all_sessions(user: User) -> None:
    """"Log out everywhere": every login session and remember-me cookie of ``user`` stops working.

    The user loader compares the session epoch stored at login with the account's.
    """
    user.session_epoch += 1
    close_all_login_sessions(user)
    audit("auth.logout_everywhere", user)


def _setting(name: str) -> int:
    if has_app_context():
        return int(current_app.config.get(name, _LOCKOUT_DEFAULTS[name]))
    return _LOCKOUT_DEFAULTS[name]


# --- Password policy ---------------------------------------------------------------------------


def password_inputs(full_name: str = "", email: str = "") -> list[str]:
    """What an attacker knows about the account holder, for the password policy."""
    name = _fold(full_name)
    local = _fold(email).partition("@")[0]
    words = [w for w in re.split(r"[\W_]+", f"{name} {local}") if len(w) >= 3]
    return [v for v in {name, name.replace(" ", ""), _fold(email), local, *words} if v]


def validate_password(password: str, user_inputs: Iterable[str] = ()) -> None:
    """Refuse a password shorter than 12 characters, common, or easy to guess for this user.

    ``user_inputs`` are the holder's name and email (see :func:`password_inputs`). zxcvbn is run
    on the password as typed and without its separators ("jean-dupont-2024" hides nothing), and
    a password made only of the holder's name parts, digits and punctuation is refused whatever
    its score.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            f"Le mot de passe doit comporter au moins {MIN_PASSWORD_LENGTH} caractères."
        )
    inputs = list(user_inputs)
    if _built_from_inputs(password, inputs) or _score(password, inputs) < MIN_PASSWORD_SCORE:
        raise DomainError(WEAK_PASSWORD)


def _score(password: str, inputs: list[str]) -> int:
    dictionary = [*inputs, *COMMON_WORDS]
    joined = re.sub(r"[\W_]+", "", password)
    candidates = [password, joined] if joined and joined != password else [password]
    return min(zxcvbn(candidate, user_inputs=dictionary)["score"] for candidate in candidates)


def _built_from_inputs(password: str, inputs: list[str]) -> bool:
    rest = _fold(password)
    for word in sorted((w for w in inputs if len(w) >= 3), key=len, reverse=True):
        rest = rest.replace(word, "")
    return len(re.sub(r"[\W\d_]+", "", rest)) < 4


def _fold(text: str) -> str:
    """Lower case without accents, so "Hélène" and "helene" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower().strip()


# Temporary passwords are read aloud or copied by hand: no 0/o, 1/l/i.
_TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def generate_temporary_password(user_inputs: Iterable[str] = ()) -> str:
    """A random password of four groups of four characters (about 79 bits), passing the policy."""
    inputs = list(user_inputs)
    while True:
        password = "-".join(
            "".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(4)) for _ in range(4)
        )
        try:
            validate_password(password, inputs)
        except DomainError:  # astronomically rare with 79 random bits, but never hand one out
            continue
        return password


def change_password(user: User, current: str, new: str) -> None:
    """Change ``user``'s password after checking the current one; ends their other sessions."""
    if not check_password(user, current):
        raise DomainError(WRONG_CURRENT_PASSWORD)
    validate_password(new, password_inputs(user.full_name, user.email))
    if new == current:
        raise DomainError("Choisissez un mot de passe différent du mot de passe actuel.")
    user.password_hash = hash_password(new)
    user.password_change_required = False
    user.session_epoch += 1
    audit("auth.password_changed", user)


def reset_password(user: User) -> str:
    """Admin: give ``user`` a new temporary password (returned, to be shown once).

    Ends the user's login sessions and lifts any lockout: the old password may be known to someone else.
    """
    password = generate_temporary_password(password_inputs(user.full_name, user.email))
    user.password_hash = hash_password(password)
    user.password_change_required = True
    user.session_epoch += 1
    user.failed_logins = 0
    user.locked_until = None
    audit("user.password_reset", user)
    return password


# --- Accounts ----------------------------------------------------------------------------------


def create_user(
    email: str,
    full_name: str,
    role: Role,
    password: str,
    organizations: list[Organization] = (),
    *,
    temporary: bool = False,
) -> User:
    """Create an account with a role and a scope; liaisons must be scoped to an authority.

    ``temporary``: the password was chosen by someone else (an admin), the user must replace it
    at their first login.
    """
    email = normalize_email(email)
    validate_password(password, password_inputs(full_name, email))
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise DomainError("Un compte existe déjà avec cette adresse électronique.")
    _check_scope(role, list(organizations))
    user = User(
        email=email,
        full_name=full_name.strip(),
        role=role,
        password_hash=hash_password(password),
        organizations=list(organizations),
        password_change_required=temporary,
    )
    db.session.add(user)
    db.session.flush()
    audit("user.created", user, details=f"rôle : {role.value}")
    return user


def update_user(
    user: User, *, role: Role, organizations: Iterable[Organization], active: bool
) -> list[str]:
    """Admin: change ``user``'s role, scope and active flag; returns the French list of changes.

    Each change writes its own audit entry (``user.role_changed`` "organizer → liaison",
    ``user.scope_changed``, ``user.deactivated``/``user.activated``). Accounts are never
    deleted: the audit trail points at them. The last active admin can be neither demoted nor
    deactivated, or nobody could manage accounts any more.
    """
    organizations = sorted(set(organizations), key=lambda o: (o.name, o.id))
    _check_scope(role, organizations)
    if user.role == Role.ADMIN and user.active and not (role == Role.ADMIN and active):
        _check_not_last_admin(user)
    changes = []
    if role != user.role:
        audit("user.role_changed", user, details=f"{user.role.value} → {role.value}")
        changes.append(f"rôle : {user.role.label} → {role.label}")
        user.role = role
    before = {o.id: o for o in user.organizations}
    after = {o.id: o for o in organizations}
    if before.keys() != after.keys():
        audit(
            "user.scope_changed",
            user,
            details=f"{_short_names(before.values())} → {_short_names(after.values())}",
        )
        changes.append("rattachement")
        user.organizations = organizations
    if active != user.active:
        audit("user.activated" if active else "user.deactivated", user)
        changes.append("compte réactivé" if active else "compte désactivé")
        user.active = active
    db.session.flush()
    return changes


def _short_names(organizations: Iterable[Organization]) -> str:
    return ", ".join(sorted(o.short_name for o in organizations)) or "aucun"


def _check_not_last_admin(user: User) -> None:
    # Lock every active admin row (PostgreSQL; SQLite serialises writers anyway): two admins
    # demoting each other at the same moment must not both succeed.
    admins = db.session.scalars(
        sa.select(User.id)
        .where(User.role == Role.ADMIN, User.active.is_(True))
        .with_for_update()
    ).all()
    if not set(admins) - {user.id}:
        raise DomainError(
            "Ce compte est le dernier compte administrateur actif : il ne peut être ni "
            "désactivé ni changer de rôle. Nommez d'abord un·e autre administrateur·rice."
        )


def _check_scope(role: Role, organizations: list[Organization]) -> None:
    if role == Role.LIAISON:
        if not organizations or any(o.kind not in AUTHORITY_KINDS for o in organizations):
            raise DomainError(
                "Un·e référent·e doit être rattaché·e à au moins une autorité prescriptrice "
                "(parquet, tribunal ou SPIP), et seulement à des autorités."
            )
    elif role in (Role.ORGANIZER, Role.FACILITATOR):
        if not organizations or any(o.kind != OrganizationKind.ASSOCIATION for o in organizations):
            raise DomainError(
                "Un·e organisateur·rice ou un·e intervenant·e doit être rattaché·e à au moins "
                "une association, et seulement à des associations."
            )
