"""What the API answers, declared once with marshmallow: the same schemas serialize each
response and describe it in the OpenAPI document (stages.api.openapi)."""
from __future__ import annotations

from marshmallow import Schema, fields, pre_dump

from stages.enrollment.models import EnrollmentStatus

# Enrollment statuses that are the outcome of a course (what the referring authority acts on).
OUTCOME_STATUSES = (
    EnrollmentStatus.ATTENDED, EnrollmentStatus.PARTLY_ATTENDED,
    EnrollmentStatus.ABSENT_EXCUSED, EnrollmentStatus.ABSENT_UNEXCUSED,
)


class Labelled(Schema):
    """A code and its French wording (« composition_penale », « Composition pénale (art. 41-2
    CPP) »)."""

    code = fields.String(required=True, attribute="value")
    label = fields.String(required=True)


class OrganizationRef(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class ParticipantRef(Schema):
    """The person a measure is about (« Personne anonymisée » once anonymized)."""

    id = fields.Integer(required=True)
    name = fields.String(required=True, attribute="display_name")


class Measure(Schema):
    """A legal measure: its frame, authority, case reference, deadline, status and outcome."""

    id = fields.Integer(required=True)
    participant = fields.Nested(ParticipantRef, required=True)
    frame = fields.Nested(Labelled, required=True)
    authority = fields.Nested(OrganizationRef, required=True)
    handling_organization = fields.Nested(OrganizationRef, required=True, allow_none=True)
    case_reference = fields.String(required=True)
    decision_date = fields.Date(required=True)
    deadline = fields.Date(required=True)
    status = fields.Nested(Labelled, required=True)
    status_changed_at = fields.AwareDateTime(required=True)
    outcome = fields.Nested(
        Labelled, required=True, allow_none=True,
        metadata={"description": "Issue du dernier stage suivi (présent, partiellement, absent), "
                                 "null tant qu'aucun stage n'est passé."},
    )

    @pre_dump
    def _outcome(self, measure, **_):
        outcomes = [e for e in sorted(measure.enrollments, key=lambda e: e.id) if e.status in OUTCOME_STATUSES]
        return {**{key: getattr(measure, key) for key in self.fields if key != "outcome"},
                "outcome": outcomes[-1].status if outcomes else None}


class HalfDay(Schema):
    id = fields.Integer(required=True)
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)


class Session(Schema):
    """A course (« stage ») and its half-days."""

    id = fields.Integer(required=True)
    title = fields.String(required=True)
    status = fields.Nested(Labelled, required=True)
    starts_at = fields.AwareDateTime(required=True, allow_none=True)
    ends_at = fields.AwareDateTime(required=True, allow_none=True)
    venue = fields.Nested(OrganizationRef, required=True)
    capacity = fields.Integer(required=True)
    seats_taken = fields.Integer(required=True)
    organizations = fields.List(fields.Nested(OrganizationRef), required=True)
    half_days = fields.List(fields.Nested(HalfDay), required=True, attribute="parts")


class HalfDayAttendance(Schema):
    half_day_id = fields.Integer(required=True, attribute="part_id")
    starts_at = fields.AwareDateTime(required=True, attribute="part.starts_at")
    status = fields.Nested(Labelled, required=True)


class EnrollmentOutcome(Schema):
    """One enrollment of the measure in a course, its status (the outcome once the course is
    over) and the attendance of each half-day."""

    id = fields.Integer(required=True)
    session_id = fields.Integer(required=True, attribute="course_id")
    session_starts_at = fields.AwareDateTime(required=True, allow_none=True, attribute="course.starts_at")
    status = fields.Nested(Labelled, required=True)
    half_days = fields.List(fields.Nested(HalfDayAttendance), required=True)


class MeasureAttendance(Schema):
    measure_id = fields.Integer(required=True)
    enrollments = fields.List(fields.Nested(EnrollmentOutcome), required=True)


class Certificate(Schema):
    """An attestation: its number, its validity, what it replaces."""

    id = fields.Integer(required=True)
    number = fields.String(required=True)
    measure_id = fields.Integer(required=True, attribute="enrollment.measure_id")
    session_id = fields.Integer(required=True, attribute="enrollment.course_id")
    issued_at = fields.AwareDateTime(required=True)
    valid = fields.Boolean(required=True, metadata={"description": "Faux une fois révoquée."})
    revoked_at = fields.AwareDateTime(required=True, allow_none=True)
    replaces_id = fields.Integer(required=True, allow_none=True)
    hours_attended_minutes = fields.Integer(required=True)

    @pre_dump
    def _valid(self, certificate, **_):
        values = {key: getattr(certificate, key) for key in ("id", "number", "issued_at", "revoked_at",
                                                              "replaces_id", "hours_attended_minutes")}
        return {**values, "enrollment": certificate.enrollment, "valid": certificate.revoked_at is None}


class TransmittedFile(Schema):
    """One file exactly as it was attached to the email."""

    filename = fields.String(required=True)
    size = fields.Integer(required=True)
    sha256 = fields.String(required=True)


class Transmission(Schema):
    """Where the bilan stands with its authority: « not_sent », « queued » (being sent),
    « sent » (accepted by the mail server, or handed over otherwise), « acknowledged » (receipt
    confirmed by the authority), « failed » (the latest sending was refused) or « bounced »."""

    state = fields.String(required=True, metadata={
        "enum": ["not_sent", "queued", "sent", "acknowledged", "failed", "bounced"],
        "examples": ["not_sent", "sent", "acknowledged"]})
    sent_at = fields.AwareDateTime(required=True, allow_none=True)
    reference = fields.String(required=True, allow_none=True, metadata={
        "description": "Le numéro de la dernière transmission par courriel (« T-000123 »)."})
    acknowledged_at = fields.AwareDateTime(required=True, allow_none=True)
    files = fields.List(fields.Nested(TransmittedFile), required=True)


def transmission_state(bilan) -> dict:
    """The API's view of a bilan's latest transmission (none: marked handed over, or not sent)."""
    latest = bilan.transmission
    if latest is None:
        return {"state": "sent" if bilan.sent_at else "not_sent", "sent_at": bilan.sent_at,
                "reference": None, "acknowledged_at": None, "files": []}
    state = latest.status.value
    if state == "sent" and latest.acknowledged_at is not None:
        state = "acknowledged"
    return {"state": state, "sent_at": latest.sent_at or bilan.sent_at, "reference": latest.reference,
            "acknowledged_at": latest.acknowledged_at, "files": list(latest.files)}


class Bilan(Schema):
    """The bilan of one course for one referring authority."""

    id = fields.Integer(required=True)
    session_id = fields.Integer(required=True, attribute="course_id")
    session_starts_at = fields.AwareDateTime(required=True, allow_none=True, attribute="course.starts_at")
    authority = fields.Nested(OrganizationRef, required=True)
    created_at = fields.AwareDateTime(required=True)
    transmission = fields.Nested(Transmission, required=True)

    @pre_dump
    def _transmission(self, bilan, **_):
        return {"id": bilan.id, "course_id": bilan.course_id, "course": bilan.course,
                "authority": bilan.authority, "created_at": bilan.created_at,
                "transmission": transmission_state(bilan)}


class NonExecutionReport(Schema):
    """A rapport de non-exécution: a measure whose deadline passed without a completed course."""

    id = fields.Integer(required=True)
    measure_id = fields.Integer(required=True)
    authority = fields.Nested(OrganizationRef, required=True)
    deadline = fields.Date(required=True)
    reason = fields.String(required=True, metadata={
        "enum": ["never_enrolled", "unreachable", "absent", "refused", "withdrawn", "late_course"]})
    state = fields.String(required=True, metadata={
        "enum": ["draft", "ready", "withdrawn", "transmitted", "acknowledged"],
        "description": "Brouillon, relu, retiré (avec son motif), transmis, réception accusée."})
    drafted_at = fields.AwareDateTime(required=True)
    withdrawn_reason = fields.String(required=True, allow_none=True)
    transmitted_at = fields.AwareDateTime(required=True, allow_none=True)
    acknowledged_at = fields.AwareDateTime(required=True, allow_none=True)

    @pre_dump
    def _state(self, report, **_):
        state = report.status.value
        if state != "withdrawn" and report.acknowledged_at is not None:
            state = "acknowledged"
        elif state != "withdrawn" and report.transmitted_at is not None:
            state = "transmitted"
        return {"id": report.id, "measure_id": report.measure_id, "authority": report.authority,
                "deadline": report.deadline, "reason": report.reason.value, "state": state,
                "drafted_at": report.drafted_at, "withdrawn_reason": report.withdrawn_reason,
                "transmitted_at": report.transmitted_at, "acknowledged_at": report.acknowledged_at}


def page_of(item: type[Schema]) -> type[Schema]:
    """The schema of a page of ``item``: the rows, and the link to the next page."""
    return type(f"{item.__name__}Page", (Schema,), {
        "__doc__": f"A page of {item.__name__} rows, the oldest first.",
        "items": fields.List(fields.Nested(item), required=True),
        "next": fields.String(required=True, allow_none=True, metadata={
            "description": "L'adresse de la page suivante (curseur opaque), null à la dernière."}),
    })


class Problem(Schema):
    """An error (RFC 9457), in French."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)


MeasurePage, SessionPage, CertificatePage, BilanPage, NonExecutionReportPage = (
    page_of(s) for s in (Measure, Session, Certificate, Bilan, NonExecutionReport)
)
