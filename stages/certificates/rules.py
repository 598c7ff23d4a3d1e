"""Who may download, revoke and replace which attestations: registered with the permission
helper."""
from __future__ import annotations

import sqlalchemy as sa

from stages.auth.audit import describes
from stages.auth.models import User
from stages.auth.permissions import Permission, object_rule, scope, visible
from stages.certificates.models import Certificate
from stages.enrollment.models import Enrollment, LegalMeasure
from stages.enrollment.rules import measure_rule
from stages.extensions import db


@object_rule(Certificate)
def certificate_rule(user: User, permission: Permission, certificate: Certificate) -> bool:
    """An attestation is its measure's: whoever may do ``permission`` on the measure (the
    liaisons of its authority read it, its organizers revoke and replace it)."""
    return measure_rule(user, permission, certificate.enrollment.measure)


@scope(Certificate)
def visible_certificates(user: User) -> sa.Select:
    """The attestations of the measures ``user`` may see (the same reach as ``certificate_rule``:
    facilitators, who see no measure, see none)."""
    measures = visible(LegalMeasure, user).with_only_columns(LegalMeasure.id)
    return (
        sa.select(Certificate).join(Enrollment, Enrollment.id == Certificate.enrollment_id)
        .where(Enrollment.measure_id.in_(measures))
    )


@describes("Certificate")
def _describe_certificates(ids: list[int]) -> dict[int, str]:
    """How the audit journal names an attestation: by its number."""
    rows = db.session.execute(sa.select(Certificate.id, Certificate.number).where(Certificate.id.in_(ids)))
    return {i: f"Attestation n° {number}" for i, number in rows}
