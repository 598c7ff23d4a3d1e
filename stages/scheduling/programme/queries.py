"""Read models of the programme: a course's half-days with their modules and speakers, and the
choices of its forms (a constant number of queries whatever the course's size)."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from stages.extensions import db
from stages.scheduling.models import Course, CoursePart
from stages.scheduling.programme.coverage import missing_topics
from stages.scheduling.programme.models import BookingStatus, ProgrammeItem, ProgrammeModule, Speaker, SpeakerBooking
from stages.timeutil import fr_date, fr_time, fr_time_range


@dataclass
class Programme:
    """A course's half-days, each with its modules in order, and the required contents missing."""

    parts: list[CoursePart]
    missing: list

    @property
    def is_empty(self) -> bool:
        return not any(part.programme for part in self.parts)


def programme_of(course: Course) -> Programme:
    """The programme of ``course``: its half-days (the course's own ``parts``, which the page
    reads anyway) and, in one more statement, their items joined with their module, its
    topics and the speaker's booking."""
    parts = list(course.parts)
    items = db.session.scalars(_ITEMS_OF, {"ids": [part.id for part in parts]}).unique().all() if parts else []
    by_part: dict[int, list[ProgrammeItem]] = {part.id: [] for part in parts}
    for item in items:
        by_part[item.part_id].append(item)
    for part in parts:
        set_committed_value(part, "programme", by_part[part.id])
    topics = [link.topic for item in items for link in item.module.topic_links]
    return Programme(parts=parts, missing=missing_topics(topics))


# Built once, with bind parameters (bench/README.md, « Statements built once »).
_ITEMS_OF = (
    sa.select(ProgrammeItem).where(ProgrammeItem.part_id.in_(sa.bindparam("ids", expanding=True)))
    .options(joinedload(ProgrammeItem.module).joinedload(ProgrammeModule.topic_links),
             joinedload(ProgrammeItem.booking).joinedload(SpeakerBooking.speaker))
    .order_by(ProgrammeItem.part_id, ProgrammeItem.position)
)


def part_label(part: CoursePart, zone: str) -> str:
    """« jeudi 12 mars 2026, 9 h 30 – 12 h 30 »."""
    return f"{fr_date(part.starts_at, 'full', zone)}, {fr_time_range(part.starts_at, part.ends_at, zone)}"


def module_choices(course: Course) -> list[tuple[int, str]]:
    """The modules in service of the co-organizers' catalogues."""
    org_ids = [o.id for o in course.organizations]
    rows = db.session.execute(
        sa.select(ProgrammeModule.id, ProgrammeModule.title, ProgrammeModule.duration_minutes)
        .where(ProgrammeModule.organization_id.in_(org_ids), ProgrammeModule.archived_at.is_(None))
        .order_by(ProgrammeModule.default_position.is_(None), ProgrammeModule.default_position, ProgrammeModule.title)
    )
    return [(i, f"{title} ({minutes} min)") for i, title, minutes in rows]


def speaker_choices(course: Course) -> list[tuple[int, str]]:
    """The speakers in service of the co-organizers' directories (names and kinds only)."""
    org_ids = [o.id for o in course.organizations]
    rows = db.session.scalars(
        sa.select(Speaker).where(Speaker.organization_id.in_(org_ids), Speaker.archived_at.is_(None))
        .order_by(Speaker.full_name)
    )
    return [(s.id, f"{s.full_name} — {s.kind.label}") for s in rows]


def printed_programme(course: Course) -> list[tuple[CoursePart, list[str]]]:
    """What the sign-in sheet and the attestation print: per half-day, each module's title with
    its times, and a confirmed outside speaker's kind (never their name or contact)."""
    lines = []
    for part in programme_of(course).parts:
        rows = []
        for item in part.programme:
            text = item.module.title
            if item.start_time is not None:
                text = f"{fr_time(item.start_time)} – {fr_time(item.end_time)} : {text}"
            if item.booking is not None and item.booking.status == BookingStatus.CONFIRMED:
                text += f" (intervention : {item.booking.speaker.kind.label.lower()})"
            rows.append(text)
        lines.append((part, rows))
    return lines
