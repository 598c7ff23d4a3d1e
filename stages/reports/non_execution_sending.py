"""« Transmettre » a non-execution report, and the monthly summaries, through
``stages.reports.transmissions``: one email to the authority's mailbox (its legal frame's when
it set one) with the PDF, its SHA-256 recorded from the bytes attached, acknowledged by the
liaison in the application or by the email's signed link.

A report goes out as a PDF whatever the authority's preferred format: it is a letter about one
person, not a table (a CSV of one row would say less). A monthly summary too.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from stages.auth.models import Organization, OrganizationKind, User
from stages.errors import DomainError
from stages.extensions import db
from stages.reports.models import (
    MonthlySummary,
    NonExecutionReport,
    NonExecutionStatus,
    ReportTransmission,
    TransmissionKind,
)
from stages.reports.monthly_summary import month_label, people_to_act_on, previous_month
from stages.reports.non_execution import report_content
from stages.reports.non_execution_pdf import report_pdf, summary_pdf
from stages.reports.transmissions import (
    ReportDocument,
    ReportFile,
    register_document,
    request_transmission,
)
from stages.timeutil import now_utc


def report_refs(report: NonExecutionReport) -> dict:
    return {"report": report.id}


def transmit_report(report: NonExecutionReport, *, by: User, number: int | None) -> ReportTransmission:
    """Queue a reviewed report for its authority (the caller commits, then delivers)."""
    if report.status != NonExecutionStatus.READY:
        raise DomainError("Relisez le rapport (« Marquer comme relu ») avant de le transmettre."
                          if report.status == NonExecutionStatus.DRAFT else
                          "Ce rapport est retiré : il n'y a plus lieu de le transmettre.")
    handling = report.measure.handling_organization
    sender = handling if handling is not None and handling.kind == OrganizationKind.ASSOCIATION else None
    if sender is None:
        sender = db.session.scalar(sa.select(Organization).where(
            Organization.id.in_(by.organization_ids or [0]), Organization.kind == OrganizationKind.ASSOCIATION))
    return request_transmission(report.authority, TransmissionKind.NON_EXECUTION, report_refs(report), by=by,
                                sender=sender, number=number)


def build_report(transmission: ReportTransmission, formats: tuple[str, ...]) -> ReportDocument | None:
    """The report as it stands now, in PDF; None when it is gone or was withdrawn meanwhile."""
    report = db.session.get(NonExecutionReport, transmission.refs.get("report"))
    if report is None or report.status == NonExecutionStatus.WITHDRAWN:
        return None
    content = report_pdf(report_content(report), now_utc())
    return ReportDocument(
        title=f"Rapport de non-exécution n° {report.id}",
        files=[ReportFile(f"rapport-non-execution-{report.id}.pdf", content, "application/pdf")],
        frame=report.measure.frame,
        lines=["", "Il porte sur une mesure orientée par votre juridiction dont la date limite est "
                   "passée sans que le stage ait été effectué."],
    )


# ---------------------------------------------------------------------------------------------
# Monthly summaries


def summary_refs(summary: MonthlySummary) -> dict:
    return {"period": f"{summary.month:%Y-%m}"}


def _summary_of(transmission: ReportTransmission) -> MonthlySummary | None:
    period = str(transmission.refs.get("period", ""))
    try:
        year, month = (int(part) for part in period.split("-"))
    except ValueError:
        return None
    if not (1 <= month <= 12 and 2000 <= year <= 9999):
        return None
    return db.session.scalar(sa.select(MonthlySummary).where(
        MonthlySummary.authority_id == transmission.authority_id, MonthlySummary.month == date(year, month, 1)))


def build_summary(transmission: ReportTransmission, formats: tuple[str, ...]) -> ReportDocument | None:
    """The summary's PDF, from the figures counted when it was made."""
    summary = _summary_of(transmission)
    if summary is None:
        return None
    content = summary_pdf(summary, summary.authority, people_to_act_on(summary), now_utc())
    return ReportDocument(
        title=f"Synthèse mensuelle des stages de sensibilisation — {month_label(summary.month)}",
        files=[ReportFile(f"synthese-{summary.month:%Y-%m}.pdf", content, "application/pdf")],
        lines=["", "Elle donne les chiffres du mois et la liste des personnes dont la date limite est "
                   "passée sans stage effectué."],
    )


def _link_summary(transmission: ReportTransmission) -> None:
    summary = _summary_of(transmission)
    if summary is not None:
        summary.transmission_id = transmission.id


def request_summaries(today) -> dict[str, int]:
    """Request the transmission of the previous month's summaries not requested yet: number 1,
    so that two schedulers (or a run after a mailbox was set) request each once. Flushes; the
    caller commits, then delivers ``ids``."""
    month = previous_month(today)
    summaries = db.session.scalars(
        sa.select(MonthlySummary).where(MonthlySummary.month == month, MonthlySummary.transmission_id.is_(None))
        .options(sa.orm.joinedload(MonthlySummary.authority))
    ).all()
    requested, without_mailbox = [], 0
    for summary in summaries:  # one per authority (≈ 160)
        try:
            with db.session.begin_nested():
                transmission = request_transmission(summary.authority, TransmissionKind.MONTHLY_SUMMARY,
                                                    summary_refs(summary), by=None, number=1)
        except DomainError:
            without_mailbox += 1
            continue
        summary.transmission_id = transmission.id
        requested.append(transmission.id)
    db.session.flush()
    return {"requested": requested, "without_mailbox": without_mailbox}


register_document(TransmissionKind.NON_EXECUTION, build=build_report)
register_document(TransmissionKind.MONTHLY_SUMMARY, build=build_summary, on_requested=_link_summary)
