"""Referral import, step 3: ``create_from_plan`` writes the plan; ``run_import`` plans, then writes.

All or nothing: nothing is created when a row has an error, and the caller commits once.
"""
from __future__ import annotations

from collections.abc import Mapping

from stages.auth.audit import audit
from stages.enrollment.importer.common import Progress
from stages.enrollment.importer.plan import ImportReport, plan_import
from stages.enrollment.importer.reading import RawTable
from stages.enrollment.ledger.services import open_accounts
from stages.enrollment.models import Participant
from stages.enrollment.services import add_measure, create_participant
from stages.errors import DomainError
from stages.extensions import db
from stages.auth.models import Organization

def create_from_plan(
    report: ImportReport, *, by=None, progress: Progress | None = None
) -> ImportReport:
    """Create the planned people and measures in the caller's transaction; the caller commits.

    Two imports of the same rows at once: the second one's flush breaks the unique
    ``import_key`` and raises ``IntegrityError``; the caller rolls back.
    """
    if not report.ok:
        raise DomainError("La liste contient des erreurs : rien n'a été importé.")
    people: dict[tuple, Participant] = {}
    measures = []
    for row in report.to_create:
        person = people.get(row.identity)
        if person is None:
            person = (
                db.session.get(Participant, row.participant_id)
                if row.participant_id else create_participant(row.participant)
            )
            people[row.identity] = person
        measures.append(add_measure(person, row.measure, import_key=row.import_key, open_account=False))
        report.created += 1
        if progress:
            progress(1)
    open_accounts(measures, by=by)  # their fees in the ledger, in one statement
    if report.created:
        audit(
            "referrals.imported", report.association, user=by,
            details=f"{report.created} mesures ({len(report.attached)} rattachées à une personne "
            f"existante, {len(report.already_imported)} déjà importées)",
        )
    return report


def run_import(
    table: RawTable,
    association: Organization,
    by=None,
    *,
    authority: Organization | None = None,
    columns: Mapping[int, str] | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Plan (see ``plan_import`` for ``authority`` and ``columns``) then, only if no row has an
    error, create everything (all or nothing)."""
    report = plan_import(table, association, authority=authority, columns=columns,
                         progress=progress)
    if report.ok:
        create_from_plan(report, by=by)
    return report
