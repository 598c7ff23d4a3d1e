"""The app as production serves it: gunicorn with ``wsgi:app``, on a free port of 127.0.0.1."""
from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def serving(tmp_path: Path, *options: str):
    """gunicorn with ``options`` on SQLite in a temporary instance folder; yields its port.
    Its output goes to ``tmp_path / "gunicorn.log"``, complete once the block has ended."""
    port = free_port()
    env = dict(os.environ, STAGES_INSTANCE_DIR=str(tmp_path), SECRET_KEY="gunicorn-test-key")
    env.pop("DATABASE_URL", None)
    log_path = tmp_path / "gunicorn.log"
    log = open(log_path, "w")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), *options, "-b", f"127.0.0.1:{port}",
         "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not listen within 30 s"
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn (1 worker, 2 threads) on SQLite; yields its port."""
    with serving(tmp_path, "-w", "1", "-k", "gthread", "--threads", "2") as port:
        yield port


def get(port: int, path: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_responses_do_not_name_the_server(gunicorn):
    """No ``Server: gunicorn`` (wsgi.py drops the header gunicorn writes itself), on a page, a
    static file and an error page."""
    for path, status in (("/connexion", 200), ("/static/css/stages.css", 200), ("/introuvable", 404)):
        response = get(gunicorn, path)
        assert response.status == status, path
        assert response.getheader("Date")  # gunicorn's other headers are still written
        assert response.msg.get_all("Server") is None, path


THREADS_WARNING = "Workers gunicorn à plusieurs threads"


@pytest.mark.parametrize(
    ("options", "warned"),
    [
        (("-w", "1"), False),  # the deployment the README gives: sync workers
        (("-w", "1", "--threads", "2"), True),  # gunicorn then picks its threaded worker
        (("-w", "1", "-k", "gthread"), True),
    ],
)
def test_threaded_workers_are_warned_about_at_start(tmp_path, options, warned):
    """The README's deployment runs one thread per worker (workers with several died of heap
    corruption under load, issue 13): a threaded worker says so in gunicorn's log as it starts."""
    with serving(tmp_path, *options) as port:
        assert get(port, "/connexion").status == 200
    assert (THREADS_WARNING in (tmp_path / "gunicorn.log").read_text()) is warned
