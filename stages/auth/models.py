"""Users, their role and scope (the organizations they belong to), and the append-only audit log."""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import ClassVar

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stages.enums import LabelledEnum, enum_column_type
from stages.extensions import db
from stages.timeutil import now_utc


class Role(LabelledEnum):
    ADMIN = "admin", "Administrateur·rice"
    ORGANIZER = "organizer", "Organisateur·rice"
    FACILITATOR = "facilitator", "Intervenant·e"
    LIAISON = "liaison", "Référent·e du parquet"


class OrganizationKind(LabelledEnum):
    ASSOCIATION = "association", "Association"
    PARQUET = "parquet", "Parquet"
    TRIBUNAL = "tribunal", "Tribunal judiciaire"
    SPIP = "spip", "SPIP"


AUTHORITY_KINDS = (OrganizationKind.PARQUET, OrganizationKind.TRIBUNAL, OrganizationKind.SPIP)


class Organization(db.Model):
    """An association that runs courses, or a referring authority (parquet, tribunal, SPIP)."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    short_name: Mapped[str] = mapped_column(sa.String(60))
    kind: Mapped[OrganizationKind] = mapped_column(enum_column_type(OrganizationKind, "org_kind"))
    address: Mapped[str | None] = mapped_column(sa.String(300))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    # An association's rule at closing: whether a half-day where the person came late or left
    # early counts as attended (DOMAIN.md leaves it to the organizer). True was the only
    # behaviour before migration 0020.
    lateness_counts_as_attended: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    # An association's consent to count in the public, anonymized open statistics
    # (stages.reports.open_statistics): off until an admin or its organizer ticks it.
    open_statistics: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now_utc)

    __table_args__ = (sa.Index("ix_organizations_kind", "kind"),)

    @property
    def is_authority(self) -> bool:
        return self.kind in AUTHORITY_KINDS

    def __repr__(self) -> str:
        return f"<Organization {self.short_name}>"


# A user's scope: the associations an organizer or facilitator works for, or the referring
# authorities (parquet, tribunal, SPIP) a liaison may see.
user_organizations = sa.Table(
    "user_organizations",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "organization_id", sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Index("ix_user_organizations_organization_id", "organization_id"),
)


class User(UserMixin, db.Model):
    """A staff account. Participants never have accounts."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(enum_column_type(Role, "role"))
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    # Bumped by "log out everywhere" and password changes: older login sessions stop working.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    # Set when someone else chose the password (an admin creating or resetting the account):
    # until the user picks their own, "Mon compte" is the only page they may use.
    password_change_required: Mapped[bool] = mapped_column(
        default=False, server_default=sa.false()
    )
    # Failed logins in a row and the lockout they earned (progressive: held in the database
    # so that it holds across workers and hosts).
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None]
    # TOTP second factor (pyotp): the shared secret, and when the user confirmed it.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_confirmed_at: Mapped[datetime | None]
    # The one secret that every calendar feed URL carried before each feed had its own: those
    # URLs keep working, each until its feed is renewed (stages.calendar_feeds.tokens).
    feed_token: Mapped[str] = mapped_column(
        sa.String(64), unique=True, default=lambda: secrets.token_urlsafe(32)
    )
    # The key each feed's own token is derived from (HMAC); a new key renews every feed at once.
    # The server default only lets the migration add the column: it then fills every row.
    feed_key: Mapped[str] = mapped_column(
        sa.String(64), default=lambda: secrets.token_urlsafe(32), server_default=""
    )

    organizations: Mapped[list[Organization]] = relationship(
        secondary=user_organizations, order_by="Organization.name"
    )

    __table_args__ = (sa.CheckConstraint("email = lower(email)", name="email_lowercase"),)

    # The login session this request runs in (set when logging in or loading the user): its
    # token goes in the identity, so that ending it on the server ends the cookie too.
    login_session: ClassVar["LoginSession | None"] = None
    login_token: ClassVar[str | None] = None

    def get_id(self) -> str:
        """Flask-Login identity, kept in the session and "remember me" cookies: the id, the
        account's session epoch ("log out everywhere") and the login session's token."""
        return f"{self.id}:{self.session_epoch}:{self.login_token or ''}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    @property
    def role_label(self) -> str:
        return self.role.label

    @property
    def organization_ids(self) -> set[int]:
        return {org.id for org in self.organizations}

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class LoginSession(db.Model):
    """One login, on one browser: revoked at logout, over at its absolute end whatever the
    activity. The cookies carry its token; the database keeps only the token's SHA-256.

    What the app remembers for this login (the names searched, kept out of URLs) is kept here
    too, not in the cookie, which is signed but readable.
    """

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    searches: Mapped[dict | None] = mapped_column(sa.JSON)

    __table_args__ = (
        sa.Index("ix_login_sessions_user_id", "user_id"),
        sa.Index("ix_login_sessions_expires_at", "expires_at"),
    )


class AuditEntry(db.Model):
    """One read, export or change of protected data.

    Append-only: a trigger created by the initial migration makes the database refuse updates.
    """

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(default=now_utc)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(sa.String(60))
    object_type: Mapped[str | None] = mapped_column(sa.String(40))
    object_id: Mapped[int | None]
    # Not a foreign key: the trail must outlive the participant's anonymisation.
    participant_id: Mapped[int | None]
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    details: Mapped[str | None] = mapped_column(sa.String(500))

    user: Mapped[User | None] = relationship()

    __table_args__ = (
        sa.Index("ix_audit_entries_at", "at"),
        sa.Index("ix_audit_entries_user_id_at", "user_id", "at"),
        sa.Index("ix_audit_entries_participant_id_at", "participant_id", "at"),
        sa.Index("ix_audit_entries_action_at", "action", "at"),
    )

