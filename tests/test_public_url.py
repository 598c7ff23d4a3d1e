"""Links in PDFs, QR codes, emails and feeds: STAGES_BASE_URL when set, else (development) the
address the request was served at, and ``http://127.0.0.1:$PORT`` outside a request."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from stages.auth.models import Role
from stages.certificates.codes import verification_url
from stages.extensions import db
from stages.public_url import public_base_url
from tests.factories import PASSWORD
from tests.helpers import override_config

ROOT = Path(__file__).resolve().parents[1]


def test_the_configured_address_wins_over_the_request(app):
    with override_config(app, BASE_URL="https://stages.example.fr/"):
        with app.test_request_context("/", base_url="http://127.0.0.1:5001"):
            assert public_base_url() == "https://stages.example.fr"
            assert verification_url("ABCDEFGHJK").startswith("https://stages.example.fr/verification/")


def test_without_one_links_follow_the_served_address_and_jobs_the_port(app):
    with override_config(app, BASE_URL=None, DEV_PORT=5001):
        with app.test_request_context("/", base_url="http://127.0.0.1:5001"):
            assert verification_url("ABCDEFGHJK").startswith("http://127.0.0.1:5001/verification/")
        with app.app_context():  # the scheduler: no request
            assert public_base_url() == "http://127.0.0.1:5001"


def test_a_course_invitation_links_to_the_served_address(app, client, make):
    org = make.organization()
    organizer = make.user(Role.ORGANIZER, [org])
    course = make.course(organizations=[org])
    db.session.commit()
    with override_config(app, BASE_URL=None, SERVER_NAME=None):
        served = "http://127.0.0.1:5001"  # as `make run PORT=5001` is reached
        client.post("/connexion", data={"email": organizer.email, "password": PASSWORD}, base_url=served)
        body = client.get(f"/stages/{course.id}/agenda.ics", base_url=served).get_data(as_text=True)
    unfolded = body.replace("\r\n ", "")
    assert f"http://127.0.0.1:5001/stages/{course.id}" in unfolded
    assert "@stages" in unfolded  # the UIDs do not follow the address: an event keeps its UID


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_serves_and_schedules_on_the_port_asked():
    dry = subprocess.run(
        ["make", "-n", "-o", "demo", "run", "PORT=5001"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "--port 5001" in dry and "PORT=5001" in dry.split("scheduler")[0]
