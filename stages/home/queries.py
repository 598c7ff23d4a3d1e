"""What the home page lists."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from stages.auth.models import User
from stages.auth.permissions import visible
from stages.scheduling.models import Course, CourseStatus
from stages.timeutil import now_utc


def upcoming_courses(user: User) -> sa.Select:
    """The courses ``user`` may see that are not over nor cancelled, soonest first."""
    return (
        visible(Course, user)
        .where(Course.ends_at >= now_utc(), Course.status != CourseStatus.CANCELLED)
        .options(
            selectinload(Course.venue),
            selectinload(Course.parts),
            selectinload(Course.organizations),
            selectinload(Course.facilitators),
        )
        .order_by(Course.starts_at, Course.id)
    )
