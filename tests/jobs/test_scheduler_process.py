"""The real thing: ``flask stages scheduler`` as a subprocess, a real SMTP server (aiosmtpd)."""
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from aiosmtpd.controller import Controller

from stages import create_app
from stages.enrollment.models import EnrollmentStatus
from stages.extensions import db
from stages.timeutil import today_local
from tests import factories
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]


class Collector:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, course, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


def test_scheduler_process_sends_the_reminder_over_smtp(tmp_path):
    url = f"sqlite:///{tmp_path / 'scheduler.sqlite3'}"
    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with other.app_context():
        from flask_migrate import upgrade

        upgrade()
        assoc = factories.organization(name="APCARS")
        course = factories.course(organizations=[assoc], day=today_local() + timedelta(days=7))
        person = factories.participant(surname="SMTPTEST", email="personne@example.org")
        factories.enrollment(factories.measure(participant=person, handling=assoc), course,
                             status=EnrollmentStatus.SUMMONED)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()

    collector = Collector()
    port = free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "STAGES_INSTANCE_DIR": str(tmp_path),
        "STAGES_MAIL_BACKEND": "smtp",
        "STAGES_SMTP_HOST": "127.0.0.1",
        "STAGES_SMTP_PORT": str(port),
        "SECRET_KEY": "scheduler-test",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "stages", "scheduler", "--run-now", "send_convocation_reminders"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not collector.envelopes and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode(errors="replace")
        controller.stop()
    assert len(collector.envelopes) == 1, output
    envelope = collector.envelopes[0]
    assert envelope.rcpt_tos == ["personne@example.org"]
    content = envelope.content.decode(errors="replace")
    assert "Subject: Rappel : stage de sensibilisation" in content
    assert "invitation.ics" in content
