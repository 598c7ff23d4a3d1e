"""The one list of scheduled jobs and when they run (Europe/Paris wall-clock time).

Nothing runs between 02:00 and 03:00: that hour is skipped or repeated when the clocks change.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from apscheduler.triggers.cron import CronTrigger

TIMEZONE = "Europe/Paris"


@dataclass(frozen=True)
class Job:
    name: str  # verb_noun, as its function in stages.jobs.tasks
    target: str  # "module:function" — imported when the job runs, so the registry stays light
    description: str
    cron: dict = field(default_factory=dict)
    period: str = "daily"  # the slot size: "daily" or "hourly"

    def trigger(self) -> CronTrigger:
        return CronTrigger(timezone=TIMEZONE, **self.cron)

    @property
    def func(self) -> Callable[[], dict]:
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)

    @property
    def schedule_label(self) -> str:
        if self.period == "hourly":
            return f"toutes les heures à {int(self.cron.get('minute', 0)):02d}"
        return f"chaque jour à {int(self.cron['hour']):02d} h {int(self.cron.get('minute', 0)):02d}"


JOBS: dict[str, Job] = {
    job.name: job
    for job in [
        Job(
            "mark_courses_held",
            "stages.jobs.tasks:mark_courses_held",
            "Passe au statut « tenu » les stages programmés dont la dernière demi-journée est finie.",
            {"hour": "0-1,3-23", "minute": "5"},
            period="hourly",
        ),
        Job(
            "send_convocation_reminders",
            "stages.jobs.tasks:send_convocation_reminders",
            "Rappels de convocation par courriel et par SMS (aux personnes qui y consentent), 7 jours et 1 jour avant le stage.",
            {"hour": "8", "minute": "0"},
        ),
        Job(
            "send_deadline_digests",
            "stages.jobs.tasks:send_deadline_digests",
            "Récapitulatif quotidien des dates limites proches ou dépassées, aux organisateurs et aux référents.",
            {"hour": "7", "minute": "30"},
        ),
        Job(
            "send_closing_reminders",
            "stages.jobs.tasks:send_closing_reminders",
            "Rappelle aux organisateurs de clôturer les stages tenus et d'envoyer les bilans.",
            {"hour": "9", "minute": "0"},
        ),
        Job(
            "deliver_outbox",
            "stages.jobs.tasks:deliver_outbox",
            "Envoie les courriels et SMS restés en file : envois refusés (après un délai), envois "
            "interrompus par un arrêt, convocations après une place libérée.",
            {"hour": "0-1,3-23", "minute": "20"},
            period="hourly",
        ),
        Job(
            "read_mail_bounces",
            "stages.jobs.tasks:read_mail_bounces",
            "Lit les avis de non-remise des convocations envoyées par courriel (boîte Maildir ou "
            "IMAP configurée) : un courriel rejeté remet la convocation « à convoquer ».",
            {"hour": "0-1,3-23", "minute": "40"},
            period="hourly",
        ),
        Job(
            "draft_non_execution_reports",
            "stages.jobs.tasks:draft_non_execution_reports",
            "Établit un rapport de non-exécution pour chaque mesure dont la date limite est passée "
            "sans stage effectué, et retire ceux devenus sans objet (stage effectué, date reportée).",
            {"hour": "6", "minute": "0"},
        ),
        Job(
            "send_monthly_summaries",
            "stages.jobs.tasks:send_monthly_summaries",
            "Établit et transmet à chaque autorité la synthèse du mois précédent (une fois par "
            "mois et par autorité ; la tâche quotidienne rattrape un mois manqué).",
            {"hour": "6", "minute": "30"},
        ),
        Job(
            "purge_expired_data",
            "stages.jobs.tasks:purge_expired_data",
            "Anonymise les données personnelles des mesures closes depuis la durée de conservation "
            "et supprime le journal d'accès et les sauvegardes anciens.",
            {"hour": "3", "minute": "30"},
        ),
    ]
}
