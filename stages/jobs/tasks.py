"""The scheduled jobs: thin wrappers that call a domain function and commit.

Each returns its counts (shown in ``flask stages jobs list`` and on the admin page). A job
that could not do part of its work returns ``_error`` so the run is marked failed.
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app

from stages import outbox
from stages.auth.login_sessions import purge_login_sessions
from stages.calendar_feeds.services import purge_feed_cache
from stages.enrollment import deadline_digest
from stages.enrollment.convocation import bounces, reminders, sending  # noqa: F401 (registers its outbox kind)
from stages.enrollment.sms import services as sms
from stages.extensions import db
from stages.jobs.runner import prune_runs
from stages.privacy import retention
from stages.privacy.settings import current_retention
from stages.reports import closing_reminders, monthly_summary, non_execution, non_execution_sending
from stages.reports.transmissions import deliver_transmission
from stages.reports.models import ReportTransmission, TransmissionStatus
from stages.scheduling import services as scheduling
from stages.timeutil import now_utc, today_local
from stages.wording import ngettext


def mark_courses_held() -> dict:
    """Scheduled courses whose last half-day is over become « tenu »."""
    count = scheduling.mark_finished_courses_held()
    db.session.commit()
    return {"stages passés à « tenu »": count}


def send_convocation_reminders() -> dict:
    """Reminders 7 days and 1 day before the course, by email and by SMS."""
    now = now_utc()
    counts = reminders.send_reminders(now) | sms.send_sms_reminders(now)
    return _with_error(_with_error(counts, "rappels SMS non envoyés"), "rappels non envoyés")


def send_deadline_digests() -> dict:
    """The daily digest of deadlines close or passed."""
    return _with_error(deadline_digest.send_deadline_digests(today_local()), "échecs")


def send_closing_reminders() -> dict:
    """Remind organizers to close held courses and send their bilans."""
    return _with_error(closing_reminders.send_closing_reminders(), "échecs")


def draft_non_execution_reports() -> dict:
    """Draft the non-execution reports of the deadlines passed; withdraw the outdated drafts."""
    counts = non_execution.draft_reports(today_local())
    db.session.commit()
    return counts


def send_monthly_summaries() -> dict:
    """The previous month's summary of every authority, made and sent once (an authority
    without a mailbox gets its summary in the application, and by email once one is set)."""
    today = today_local()
    made = monthly_summary.make_summaries(today)
    db.session.commit()
    requested = non_execution_sending.request_summaries(today)
    db.session.commit()
    sent = 0
    for transmission_id in requested["requested"]:
        transmission = deliver_transmission(db.session.get(ReportTransmission, transmission_id))
        sent += transmission.status == TransmissionStatus.SENT
    counts = {"synthèses mensuelles établies": len(made), "synthèses transmises": sent,
              "autorités sans adresse de transmission": requested["without_mailbox"]}
    if sent < len(requested["requested"]):
        counts["_error"] = "Une synthèse n'a pas pu être envoyée : voir la page des transmissions."
    return counts


def deliver_outbox() -> dict:
    """Every outbox message due: refused sends after their back-off, sends a crash interrupted,
    promotions' convocations the web request could not send."""
    return _with_error(outbox.deliver().counts(), "envois refusés")


def read_mail_bounces() -> dict:
    """The DSNs of the convocation emails, from the mailbox configured (none: nothing to do)."""
    messages = bounces.configured_messages(current_app.config)
    if messages is None:
        return {"boîte non configurée": 1}
    return bounces.process_mailbox(messages).counts()


def purge_expired_data() -> dict:
    """Anonymize what passed its retention period; delete old audit entries, backups, job runs,
    login sessions, sent outbox messages and calendar feed bodies no request can be served."""
    periods = current_retention()
    now = now_utc()
    counts = retention.purge(
        now,
        measure_days=periods.measure_days,
        grace_days=periods.grace_days,
        audit_days=periods.audit_days,
        backup_days=periods.backup_days,
    )
    counts["exécutions de tâches oubliées"] = prune_runs()
    counts["sessions de connexion oubliées"] = purge_login_sessions(now - timedelta(days=1))
    counts["courriels envoyés oubliés"] = outbox.purge_sent(now)
    counts["flux d'agenda en cache oubliés"] = purge_feed_cache(now)
    db.session.commit()
    return counts


def _with_error(counts: dict, failures_key: str) -> dict:
    if counts.get(failures_key):
        counts["_error"] = (
            ngettext("%(num)d envoi refusé : il reste en file et sera retenté",
                     "%(num)d envois refusés : ils restent en file et seront retentés",
                     counts[failures_key])
            + " (tâche deliver_outbox)."
        )
    return counts
