"""Personal access tokens: what opens the API for a script, on behalf of one user."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stages.auth.models import User
from stages.extensions import db
from stages.timeutil import now_utc


class ApiToken(db.Model):
    """One personal access token of a user: a name, an expiry, and only the SHA-256 of its secret.

    The token carries no scope of its own: each request reads its user's role and organizations,
    so a user who loses an organization (or is deactivated) loses it in the API at once.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(100))
    # The public part of the token (« stg_AbCdEfGh »): finds the row, shown in the list.
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    __table_args__ = (
        sa.Index("ix_api_tokens_user_id", "user_id"),
        sa.CheckConstraint("expires_at > created_at", name="expires_after_creation"),
    )
