"""A revocation posted on its page is saved: when, the reason as typed, the measure reopened."""
from __future__ import annotations

from datetime import date, datetime, timezone

import time_machine

from stages.auth.models import Role
from stages.certificates import issuing
from stages.certificates.models import Certificate
from stages.enrollment.models import MeasureStatus
from stages.extensions import db
from tests.helpers import fresh, login

NOW = datetime(2026, 3, 20, 10, 0, tzinfo=timezone.utc)


def test_a_revocation_is_saved_with_its_reason(client, make):
    apcars = make.organization(name="APCARS")
    organizer = make.user(Role.ORGANIZER, [apcars])
    with time_machine.travel(datetime(2026, 3, 18, 9, 0, tzinfo=timezone.utc), tick=False):
        _course, (enrollment,) = make.closed_course_with(
            people=1, organizations=[apcars], handling=apcars, day=date(2026, 3, 16)
        )
        certificate = issuing.issue_certificate(enrollment, by=organizer)
    db.session.commit()
    reason = "Présence de l'après-midi contestée par l'intervenante : attestation à refaire."
    with time_machine.travel(NOW, tick=False):
        login(client, organizer)
        response = client.post(f"/attestations/{certificate.id}/revoquer", data={"reason": f"  {reason} "})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/personnes/{enrollment.measure.participant_id}")
    saved = fresh(Certificate, certificate.id)
    assert (saved.revoked_at, saved.revocation_reason) == (NOW, reason)
    assert saved.enrollment.measure.status == MeasureStatus.ATTENDED
