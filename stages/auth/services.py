"""Accounts: password hashing, authentication, creation."""
from __future__ import annotations

import secrets

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from stages.auth.models import Role, User
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import AUTHORITY_KINDS, Organization, OrganizationKind
from stages.timeutil import now_utc

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 12


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


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None (same cost either way)."""
    user = db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))
    if not check_password(user, password) or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now_utc()
    return user


def validate_password(password: str) -> None:
    """Refuse passwords too short to resist guessing."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            f"Le mot de passe doit comporter au moins {MIN_PASSWORD_LENGTH} caractères."
        )


def create_user(
    email: str,
    full_name: str,
    role: Role,
    password: str,
    organizations: list[Organization] = (),
) -> User:
    """Create an account with a role and a scope; liaisons must be scoped to an authority."""
    email = normalize_email(email)
    validate_password(password)
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise DomainError("Un compte existe déjà avec cette adresse électronique.")
    _check_scope(role, list(organizations))
    user = User(
        email=email,
        full_name=full_name.strip(),
        role=role,
        password_hash=hash_password(password),
        organizations=list(organizations),
    )
    db.session.add(user)
    db.session.flush()
    return user


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


def change_password(user: User, current: str, new: str) -> None:
    """Change ``user``'s password after checking the current one; ends their other sessions."""
    if not check_password(user, current):
        raise DomainError("Le mot de passe actuel est incorrect.")
    validate_password(new)
    user.password_hash = hash_password(new)
    user.session_epoch += 1
