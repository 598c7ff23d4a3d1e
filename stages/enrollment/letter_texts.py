"""The paragraphs an association writes into its convocations, around a legal core that stays
fixed in code (``LEGAL_CORE``): each change is a new version, kept, and every letter says which
versions of both it used (« Modèle : … » under the signature).
"""
from __future__ import annotations

import sqlalchemy as sa

from stages.auth.audit import audit
from stages.auth.models import Organization, User
from stages.enrollment.models import LetterText
from stages.errors import DomainError
from stages.extensions import db
from stages.timeutil import fr_date

# The version of the fixed texts of the convocation (frames, consequences, criminal record,
# deadlines: stages.enrollment.frames and convocation.letter). Raise it when they change.
LEGAL_CORE = "socle légal v2 (décembre 2026)"

# slot → (label on the page, where it goes in the letter, maximum length)
SLOTS = {
    "welcome": ("Présentation du stage", "après le paragraphe d'introduction", 1500),
    "practical": ("Informations pratiques", "après « À apporter »", 1500),
    "closing": ("Mot de la fin", "avant la formule de politesse", 800),
}


def current_texts(organization: Organization | None) -> dict[str, LetterText]:
    """The latest version of each paragraph the association wrote (one query)."""
    if organization is None:
        return {}
    latest = (
        sa.select(LetterText.slot, sa.func.max(LetterText.version).label("version"))
        .where(LetterText.organization_id == organization.id).group_by(LetterText.slot).subquery()
    )
    rows = db.session.scalars(
        sa.select(LetterText).join(latest, sa.and_(
            LetterText.slot == latest.c.slot, LetterText.version == latest.c.version))
        .where(LetterText.organization_id == organization.id)
    )
    return {row.slot: row for row in rows}


def save_texts(organization: Organization, values: dict[str, str], *, by: User) -> list[str]:
    """A new version of each paragraph whose text changed; returns their labels (audited)."""
    current = current_texts(organization)
    changed = []
    for slot, (label, _where, length) in SLOTS.items():
        raw = values.get(slot) or ""
        text = "\n".join(" ".join(line.split()) for line in raw.strip().splitlines()).strip()
        if len(text) > length:
            raise DomainError(f"{label} : {length} caractères au plus.")
        before = current.get(slot)
        if (before.text if before else "") == text:
            continue
        version = (before.version if before else 0) + 1
        db.session.add(LetterText(organization_id=organization.id, slot=slot, version=version,
                                  text=text, created_by_id=by.id))
        changed.append(f"{label} v{version}")
    db.session.flush()
    if changed:
        audit("letter.texts_changed", organization, details=", ".join(changed), user=by)
    return changed


def version_line(texts: dict[str, LetterText]) -> str:
    """« Modèle : socle légal v2 (décembre 2026) ; textes de l'association : présentation v3
    du 04/12/2026 … »: what a letter was made from."""
    own = [
        f"{SLOTS[slot][0].lower()} v{texts[slot].version} du {fr_date(texts[slot].created_at, 'short')}"
        for slot in SLOTS if slot in texts
    ]
    return f"Modèle : {LEGAL_CORE} ; textes de l'association : {', '.join(own) if own else 'aucun'}."
