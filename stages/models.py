"""Every area's models in one import, so Alembic and ``flask shell`` see them all."""
from stages.api.models import ApiToken
from stages.attendance.models import AttendanceMark, AttendanceRevision, AttendanceStatus
from stages.auth.models import AuditEntry, Role, User, user_organizations
from stages.calendar_feeds.models import CachedFeed, RenewedFeed
from stages.certificates.models import Certificate
from stages.enrollment.confirmation.models import SummonsLink, SummonsReply
from stages.enrollment.models import (
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    InvitationUpdate,
    LegalFrame,
    LegalMeasure,
    MeasureStatus,
    Participant,
    Payer,
    PaymentStatus,
)
from stages.enrollment.convocation.delivery import SummonsDelivery
from stages.enrollment.sms.models import SmsConsent, SmsMessage
from stages.jobs.models import JobRun
from stages.outbox import OutboxMessage
from stages.privacy.models import RetentionSettings
from stages.reports.models import Bilan, ReportTransmission, TransmittedFile
from stages.scheduling.models import (
    Course,
    FacilitatorBooking,
    CourseChange,
    CoursePart,
    CourseStatus,
    Venue,
)
from stages.auth.models import Organization, OrganizationKind

__all__ = [
    "ApiToken", "ReportTransmission", "TransmittedFile", "AttendanceMark", "AttendanceRevision", "AttendanceStatus", "AuditEntry", "Bilan",
    "CachedFeed", "Certificate", "Course", "FacilitatorBooking", "CourseChange", "Enrollment", "EnrollmentEvent", "EnrollmentStatus",
    "InvitationUpdate", "JobRun", "LegalFrame", "LegalMeasure", "MeasureStatus", "Organization",
    "OrganizationKind", "OutboxMessage", "Participant", "Payer", "PaymentStatus", "RenewedFeed",
    "RetentionSettings", "Role", "SmsConsent", "SmsMessage", "SummonsDelivery", "SummonsLink", "SummonsReply",
    "CoursePart", "CourseStatus", "User",
    "Venue", "user_organizations",
]
