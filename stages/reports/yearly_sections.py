"""The yearly activity report's sections read from other areas (``yearly.report_section``):
« Évaluation » (the anonymous questionnaires, small counts suppressed as on the results pages).

An authority's report has no such section: questionnaires belong to the associations that run
the courses, and an authority's people answered several associations' questionnaires."""
from __future__ import annotations

from datetime import datetime

from stages.auth.models import Organization, OrganizationKind
from stages.evaluation.models import ItemKind
from stages.evaluation.results import MIN_ANSWERS, evaluation_results
from stages.reports.yearly import ReportSection, report_section

SUPPRESSED = f"moins de {MIN_ANSWERS} réponses : non publié"


@report_section
def evaluation_section(organization: Organization, year: int, known_at: datetime) -> ReportSection | None:
    """Per moment, the number of answers; per scale question, its mean out of 5. Free texts are
    never in the report (they may name someone); under MIN_ANSWERS answers, no figure at all."""
    if organization.kind != OrganizationKind.ASSOCIATION:
        return None
    results = evaluation_results(organization.id, year)
    lines: list[tuple[str, str]] = []
    for moment in results.moments:
        if moment.suppressed:
            lines.append((moment.moment.label, SUPPRESSED))
            continue
        lines.append((moment.moment.label, f"{moment.responses} réponses"))
        for item in moment.items:
            if item.kind != ItemKind.LIKERT:
                continue
            value = SUPPRESSED if item.suppressed else (
                f"{item.mean:.1f} / 5 ({item.answers} réponses)".replace(".", ",", 1))
            lines.append((f"{moment.moment.label} — {item.text}", value))
    return ReportSection("Évaluation anonyme", lines)
