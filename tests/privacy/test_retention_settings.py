"""« Conservation des données »: the admin sets the retention periods, the nightly purge applies
them, the change is audited; bad values get a French message and change nothing."""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
import time_machine

from stages.auth.models import AuditEntry, Role
from stages.enrollment.models import LegalFrame, MeasureStatus, Participant
from stages.extensions import db
from stages.jobs import runner
from stages.privacy.models import RetentionSettings
from stages.privacy.settings import current_retention
from tests.helpers import login

NOW = datetime(2026, 3, 5, 7, 0, tzinfo=timezone.utc)
URL = "/admin/conservation"


def periods(**overrides):
    data = {"measure_days": "1095", "grace_days": "90", "audit_days": "365", "backup_days": "365"}
    data.update({key: str(value) for key, value in overrides.items()})
    return data


def test_the_page_shows_the_environment_defaults_then_the_admins_choice(client, make):
    login(client, make.user(Role.ADMIN))
    page = client.get(URL).get_data(as_text=True)
    assert 'value="1095"' in page and "configuration du serveur" in page
    client.post(URL, data=periods(measure_days=730, backup_days=200))
    assert current_retention().measure_days == 730 and not current_retention().from_environment
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "retention.changed"))
    assert entry.details == "measure_days 1095 → 730, backup_days 365 → 200"
    assert 'value="730"' in client.get(URL).get_data(as_text=True)


def test_bad_periods_are_refused_in_french_and_nothing_changes(client, make):
    login(client, make.user(Role.ADMIN))
    for data, message in (
        (periods(audit_days=30), "Entrées du journal d&#39;audit : indiquez un nombre de jours entre 90 et 1095."),
        (periods(measure_days="trois ans"), "indiquez un nombre de jours entre 180 et 3650"),
        (periods(measure_days=400, backup_days=500), "ne peut pas être gardée plus longtemps que les identités"),
    ):
        html = client.post(URL, data=data).get_data(as_text=True)
        assert message in html, message
    assert db.session.get(RetentionSettings, 1) is None


def test_the_purge_applies_the_periods_set_on_the_page(client, make):
    person = make.participant(surname="ANCIEN")
    make.measure(participant=person, frame=LegalFrame.COMPOSITION_PENALE, status=MeasureStatus.REPORTED,
                 decision_date=(NOW - timedelta(days=500)).date(), closed_at=NOW - timedelta(days=400))
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        assert "personnes anonymisées : 0" in runner.run_job("purge_expired_data").counts_text
    login(client, make.user(Role.ADMIN))
    client.post(URL, data=periods(measure_days=365, backup_days=300))
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        assert "personnes anonymisées : 1" in runner.run_job("purge_expired_data").counts_text
    assert db.session.get(Participant, person.id).anonymized_at is not None


def test_only_admins_set_the_periods(client, make):
    login(client, make.user(Role.ORGANIZER, [make.organization()]))
    assert client.post(URL, data=periods(measure_days=200)).status_code == 403
    assert db.session.get(RetentionSettings, 1) is None
