"""What the law makes of each legal frame: how the documents name it, what it leaves on the
criminal record, what not doing the course leads to, and the deadline the law sets.

DOMAIN.md's frame table, in one place: the measure page, the convocation, the attestation and the
bilan read it here. The texts are the fixed legal core of the documents (tests compare the
convocation of each frame with a reviewed text, tests/fixtures/convocations/).
"""
from __future__ import annotations

import calendar
from datetime import date, timedelta

from stages.enrollment.models import DecisionProcedure, LegalFrame, LegalMeasure
from stages.i18n import N_

# The criminal-record consequence of each frame (DOMAIN.md, « on the B1 »), as the convocation
# states it: it is what the people summoned ask first. Bulletin n° 1 is read by judicial
# authorities only (art. 774 CPP); none of these frames is said to reach bulletins 2 or 3 here.
CRIMINAL_RECORD = {
    LegalFrame.ALTERNATIVE_POURSUITES: N_(
        "Cette mesure alternative aux poursuites n'est pas inscrite au casier judiciaire."
    ),
    LegalFrame.COMPOSITION_PENALE: N_(
        "Une fois exécutée, la composition pénale est inscrite au bulletin n° 1 du casier "
        "judiciaire, que seules les autorités judiciaires peuvent consulter."
    ),
    LegalFrame.STAGE_CONTRAVENTION: N_(
        "La condamnation est inscrite au bulletin n° 1 du casier judiciaire, que seules les "
        "autorités judiciaires peuvent consulter, pendant trois ans."
    ),
    LegalFrame.PEINE_STAGE: N_(
        "La condamnation est inscrite au bulletin n° 1 du casier judiciaire, que seules les "
        "autorités judiciaires peuvent consulter."
    ),
    LegalFrame.SURSIS_PROBATOIRE: N_(
        "La condamnation est inscrite au bulletin n° 1 du casier judiciaire, que seules les "
        "autorités judiciaires peuvent consulter."
    ),
}

# Art. 434-41 CP: violating the obligation of a penalty pronounced under 131-5-1 or 131-16.
OFFENCE_434_41 = (
    "constitue en lui-même un délit (article 434-41 du code pénal), puni de deux ans "
    "d'emprisonnement et de 30 000 € d'amende."
)

# The frames' texts are the message ids of the convocation's translations (N_, stages.i18n):
# each literal whole, so that the catalogs' extraction finds it.
# What not doing the course leads to (DOMAIN.md, « if not attended »), after « Si vous ne vous
# présentez pas … ». The peine de stage depends on the judgment: see ``absence_consequence``.
_ABSENCE = {
    LegalFrame.ALTERNATIVE_POURSUITES: N_(
        "Le procureur de la République pourra alors mettre en œuvre une composition pénale ou "
        "engager des poursuites pénales à votre encontre."
    ),
    LegalFrame.COMPOSITION_PENALE: N_(
        "La composition pénale n'étant pas exécutée, le procureur de la République pourra alors "
        "engager des poursuites pénales à votre encontre."
    ),
    LegalFrame.STAGE_CONTRAVENTION: N_(
        "Ce stage est une peine : ne pas l'accomplir constitue en lui-même un délit (article "
        "434-41 du code pénal), puni de deux ans d'emprisonnement et de 30 000 € d'amende."
    ),
    LegalFrame.SURSIS_PROBATOIRE: N_(
        "Le juge de l'application des peines pourra alors révoquer tout ou partie du sursis et "
        "ordonner l'exécution de la peine d'emprisonnement prononcée. Cette révocation n'est "
        "pas automatique : le juge en décide."
    ),
}
_PEINE_STAGE_PENALTY_SET = N_(
    "Le juge de l'application des peines pourra alors faire exécuter, en tout ou partie, la "
    "peine d'emprisonnement ou d'amende que le tribunal a fixée par avance (article 131-9 du "
    "code pénal)."
)
_PEINE_STAGE_NO_PENALTY = N_(
    "Le tribunal n'ayant pas fixé de peine par avance, ne pas accomplir le stage constitue en "
    "lui-même un délit (article 434-41 du code pénal), puni de deux ans d'emprisonnement et de "
    "30 000 € d'amende."
)
_PEINE_STAGE_UNKNOWN = N_(
    "Si le tribunal a fixé par avance une peine d'emprisonnement ou d'amende, le juge de "
    "l'application des peines pourra la faire exécuter en tout ou partie (article 131-9 du code "
    "pénal) ; sinon, ne pas accomplir le stage constitue en lui-même un délit (article 434-41 du "
    "code pénal), puni de deux ans d'emprisonnement et de 30 000 € d'amende."
)

# Art. 131-5-1 CP: a peine de stage is carried out within six months of the decision becoming
# final. A judgment becomes final when the time to appeal has run out: ten days for the parties
# (art. 498 CPP) when it was given in their presence. Without the date it became final, it is
# approximated as the decision date plus those ten days; the organizer corrects the deadline, with
# a reason, when the decision became final later (a judgment served afterwards, an appeal, the
# prosecutor general's longer time limit of art. 505 CPP).
PEINE_STAGE_MONTHS = 6
APPEAL_DAYS = 10
PEINE_STAGE_BASIS = N_(
    "six mois à compter du jour où la décision est devenue définitive (article 131-5-1 du code "
    "pénal)"
)
# How each frame's deadline is set, shown next to it (DOMAIN.md, « deadline »).
DEADLINE_BASIS = {
    LegalFrame.ALTERNATIVE_POURSUITES: "fixée par le procureur de la République",
    LegalFrame.COMPOSITION_PENALE: "fixée par la décision de composition pénale",
    LegalFrame.STAGE_CONTRAVENTION: "fixée par la décision",
    LegalFrame.PEINE_STAGE: PEINE_STAGE_BASIS,
    LegalFrame.SURSIS_PROBATOIRE: "dans le délai d'épreuve fixé par le tribunal",
}


def frame_title(measure: LegalMeasure) -> str:
    """The frame as an official document names it, with the procedure that pronounced it:
    « Peine complémentaire de stage, … (art. 611-1 et 131-16 9° bis CP), prononcée par
    ordonnance pénale »."""
    title = measure.frame.label
    if measure.procedure == DecisionProcedure.ORDONNANCE_PENALE:
        return f"{title}, prononcée par ordonnance pénale"
    if measure.procedure == DecisionProcedure.POLICE_COURT_JUDGMENT:
        return f"{title}, prononcée par jugement du tribunal de police"
    return title


def absence_consequence(measure: LegalMeasure) -> str:
    """What not doing the course leads to under ``measure``'s frame, in a participant's words."""
    if measure.frame != LegalFrame.PEINE_STAGE:
        return _ABSENCE[measure.frame]
    if measure.penalty_set_in_advance is None:
        return _PEINE_STAGE_UNKNOWN
    return _PEINE_STAGE_PENALTY_SET if measure.penalty_set_in_advance else _PEINE_STAGE_NO_PENALTY


def approximate_final_date(decision_date: date) -> date:
    """When a decision is taken to have become final, its true date unknown (see above)."""
    return decision_date + timedelta(days=APPEAL_DAYS)


def legal_deadline(frame: LegalFrame, decision_date: date | None, final_date: date | None) -> date | None:
    """The deadline the law sets, for a frame whose deadline the law computes (the peine de
    stage); None for the others, whose deadline the decision sets."""
    if frame != LegalFrame.PEINE_STAGE or decision_date is None:
        return None
    final = final_date or approximate_final_date(decision_date)
    return add_months(final, PEINE_STAGE_MONTHS)


def add_months(day: date, months: int) -> date:
    """The same date ``months`` later, or that month's last day when it has no such date
    (31 August + 6 months: 28 or 29 February)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def deadline_basis(measure: LegalMeasure) -> str:
    """How the measure's deadline was set, with its legal basis: « six mois à compter du jour
    où … (article 131-5-1 du code pénal) », and whether the date it became final was estimated,
    or why the organizer set another date."""
    basis = DEADLINE_BASIS[measure.frame]
    if measure.frame != LegalFrame.PEINE_STAGE:
        return basis
    if measure.deadline_reason:
        return f"date fixée par l'association : {measure.deadline_reason} (délai légal : {basis})"
    if measure.final_date is None:
        return f"{basis} ; date où la décision est devenue définitive estimée à {APPEAL_DAYS} jours après la décision"
    return basis
