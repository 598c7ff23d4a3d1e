"""Who may read which bilans, non-execution reports and monthly summaries, and filter on which
authorities: registered with the permission helper."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from stages.auth.audit import describes
from stages.auth.models import AUTHORITY_KINDS, Organization, OrganizationKind, Role, User
from stages.auth.permissions import Permission, can, exists, object_rule, scope, visible
from stages.enrollment.models import Enrollment, LegalMeasure
from stages.extensions import db
from stages.reports.models import Bilan, MonthlySummary, NonExecutionReport, ReportTransmission, TransmissionKind
from stages.reports.non_execution import transmitted_condition
from stages.scheduling.models import Course
from stages.timeutil import fr_date


@dataclass(frozen=True)
class BilanOf:
    """The bilan of one course for one referring authority, as its URLs name it."""

    course: Course
    authority_id: int


@object_rule(BilanOf)
def bilan_rule(user: User, permission: Permission, bilan: BilanOf) -> bool:
    """The course's organizers may read its bilans; a liaison, the bilan for their own authority
    of a course where that authority referred someone (so that no other course's existence can
    be probed)."""
    if permission != Permission.MEASURE_VIEW:
        return False
    if can(user, Permission.SESSION_EDIT, bilan.course):
        return True
    return (
        user.role == Role.LIAISON
        and bilan.authority_id in user.organization_ids
        and exists(
            sa.select(Enrollment.id)
            .join(LegalMeasure, LegalMeasure.id == Enrollment.measure_id)
            .where(
                Enrollment.course_id == bilan.course.id,
                LegalMeasure.authority_id == bilan.authority_id,
            )
        )
    )


@scope(Bilan)
def visible_bilans(user: User) -> sa.Select:
    """Bilans of the courses the user may see, or, for a liaison, sent to their authorities."""
    query = sa.select(Bilan)
    if user.role == Role.ADMIN:
        return query
    if user.role == Role.LIAISON:
        return query.where(Bilan.authority_id.in_(user.organization_ids))
    return query.where(Bilan.course_id.in_(visible(Course, user).with_only_columns(Course.id)))


@scope("report_authorities")
def authorities_to_filter_on(user: User) -> sa.Select:
    """The authorities a user may filter reports on: a liaison's own, every one for staff."""
    query = sa.select(Organization).where(Organization.kind.in_(AUTHORITY_KINDS))
    if user.role == Role.LIAISON:
        query = query.where(Organization.id.in_(user.organization_ids))
    return query.order_by(Organization.name)


@scope("yearly_report_organizations")
def yearly_report_organizations(user: User) -> sa.Select:
    """Whose yearly activity report a user may produce: every association and authority for
    admins, an organizer's associations, a liaison's authorities; none for facilitators."""
    query = sa.select(Organization).order_by(Organization.name)
    if user.role == Role.ADMIN:
        return query
    if user.role == Role.ORGANIZER:
        kinds = (OrganizationKind.ASSOCIATION,)
    elif user.role == Role.LIAISON:
        kinds = AUTHORITY_KINDS
    else:
        return query.where(sa.false())
    return query.where(Organization.kind.in_(kinds), Organization.id.in_(user.organization_ids))


@describes("Bilan")
def _describe_bilans(ids: list[int]) -> dict[int, str]:
    """How the audit journal names a bilan: its course's date and its authority."""
    rows = db.session.execute(
        sa.select(Bilan.id, Course.starts_at, Organization.name)
        .join(Course, Course.id == Bilan.course_id).join(Organization, Organization.id == Bilan.authority_id)
        .where(Bilan.id.in_(ids))
    )
    return {i: f"Bilan du stage du {fr_date(start, 'medium')} pour {name}" for i, start, name in rows}


@object_rule(NonExecutionReport)
def non_execution_rule(user: User, permission: Permission, report: NonExecutionReport) -> bool:
    """A report is its measure's: the organizers who may see (or change) the measure read (or
    review and transmit) it; a liaison reads, only once transmitted, those for their authority."""
    if user.role == Role.LIAISON:
        return (
            permission == Permission.MEASURE_VIEW
            and report.authority_id in user.organization_ids
            and exists(sa.select(NonExecutionReport.id).where(
                NonExecutionReport.id == report.id, transmitted_condition()))
        )
    return can(user, permission, report.measure)


@scope(NonExecutionReport)
def visible_non_execution_reports(user: User) -> sa.Select:
    """Reports of the measures an organizer may see; a liaison's, once transmitted."""
    query = sa.select(NonExecutionReport)
    if user.role == Role.ADMIN:
        return query
    if user.role == Role.LIAISON:
        return query.where(NonExecutionReport.authority_id.in_(user.organization_ids), transmitted_condition())
    if user.role == Role.ORGANIZER:
        measures = visible(LegalMeasure, user).with_only_columns(LegalMeasure.id)
        return query.where(NonExecutionReport.measure_id.in_(measures))
    return query.where(sa.false())


@object_rule(MonthlySummary)
def monthly_summary_rule(user: User, permission: Permission, summary: MonthlySummary) -> bool:
    """A monthly summary is its authority's: its liaisons (and admins) read it."""
    return (
        permission == Permission.MEASURE_VIEW and user.role == Role.LIAISON
        and summary.authority_id in user.organization_ids
    )


@dataclass(frozen=True)
class SummaryList:
    """The list of the monthly summaries, as its page names it (for the permission helper)."""


SUMMARY_LIST = SummaryList()


@object_rule(SummaryList)
def summary_list_rule(user: User, permission: Permission, _: SummaryList) -> bool:
    """The summaries go to the authorities: their liaisons (and admins) read them, nobody else."""
    return permission == Permission.MEASURE_VIEW and user.role == Role.LIAISON


@scope(MonthlySummary)
def visible_monthly_summaries(user: User) -> sa.Select:
    query = sa.select(MonthlySummary)
    if user.role == Role.ADMIN:
        return query
    if user.role == Role.LIAISON:
        return query.where(MonthlySummary.authority_id.in_(user.organization_ids))
    return query.where(sa.false())


@describes("NonExecutionReport")
def _describe_non_execution(ids: list[int]) -> dict[int, str]:
    """« Rapport de non-exécution n° 4 (date limite du 12 mars 2027) »: never a name."""
    rows = db.session.execute(
        sa.select(NonExecutionReport.id, NonExecutionReport.deadline).where(NonExecutionReport.id.in_(ids))
    )
    return {i: f"Rapport de non-exécution n° {i} (date limite du {fr_date(d, 'medium')})" for i, d in rows}


@describes("MonthlySummary")
def _describe_summaries(ids: list[int]) -> dict[int, str]:
    rows = db.session.execute(
        sa.select(MonthlySummary.id, MonthlySummary.month, Organization.name)
        .join(Organization, Organization.id == MonthlySummary.authority_id).where(MonthlySummary.id.in_(ids))
    )
    return {i: f"Synthèse mensuelle de {fr_date(m, 'MMMM y')} pour {name}" for i, m, name in rows}


@scope(ReportTransmission)
def visible_transmissions(user: User) -> sa.Select:
    """Transmissions an admin sees all of; a liaison, those to their authorities; an organizer,
    those their association sent. Others, none."""
    query = sa.select(ReportTransmission)
    if user.role == Role.ADMIN:
        return query
    if user.role == Role.LIAISON:  # what reached them: not a sending still queued or refused
        return query.where(ReportTransmission.authority_id.in_(user.organization_ids),
                           ReportTransmission.status.in_(("sent", "bounced")))
    if user.role == Role.ORGANIZER:
        return query.where(ReportTransmission.sender_id.in_(user.organization_ids))
    return query.where(sa.false())


@describes("ReportTransmission")
def _describe_transmissions(ids: list[int]) -> dict[int, str]:
    """How the audit journal names a transmission: its number, kind and authority."""
    rows = db.session.execute(
        sa.select(ReportTransmission.id, ReportTransmission.kind, Organization.name)
        .join(Organization, Organization.id == ReportTransmission.authority_id)
        .where(ReportTransmission.id.in_(ids))
    )
    return {i: f"Transmission T-{i:06d} ({TransmissionKind(kind).label}) à {name}" for i, kind, name in rows}
