"""The garbage collector's settings (stages/gc_tuning.py): applied in gunicorn workers by wsgi.py,
never in the test suite or the ``flask`` commands, and a collection after each response."""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import weakref
from pathlib import Path
from types import SimpleNamespace

import pytest

from stages import gc_tuning
from stages.gc_tuning import (
    SERVING_THRESHOLDS,
    CollectAfterResponse,
    collect_after_response,
)

ROOT = Path(__file__).resolve().parents[2]

# Prints what the interpreter's collector looks like once wsgi.py has been imported.
PROBE = """
import gc, json, sys
{before}
import wsgi
from stages.gc_tuning import CollectAfterResponse
print(json.dumps({{"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count(),
                  "middleware": isinstance(wsgi.app.wsgi_app, CollectAfterResponse)}}))
"""


def _import_wsgi(tmp_path, before: str = "", **env) -> dict:
    environment = dict(os.environ, STAGES_INSTANCE_DIR=str(tmp_path), SECRET_KEY="gc-test-key")
    for name in ("DATABASE_URL", "STAGES_GC_TUNING"):
        environment.pop(name, None)
    environment.update(env)
    result = subprocess.run([sys.executable, "-c", PROBE.format(before=before)], cwd=ROOT,
                            env=environment, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_gunicorn_worker_gets_the_tuning(tmp_path):
    """Under gunicorn (its HTTP module is imported before the app), wsgi.py freezes the heap,
    raises the thresholds and collects after each response."""
    state = _import_wsgi(tmp_path, before="import gunicorn.http.wsgi")
    assert state["threshold"] == list(SERVING_THRESHOLDS)
    assert state["frozen"] > 10_000  # the modules, mappers and the app
    assert state["middleware"] is True


def test_plain_import_keeps_cpython_defaults(tmp_path):
    """pytest and the ``flask`` commands import wsgi.py too: nothing is changed there."""
    state = _import_wsgi(tmp_path)
    assert state == {"threshold": [700, 10, 10], "frozen": 0, "middleware": False}


def test_tuning_can_be_turned_off(tmp_path):
    """STAGES_GC_TUNING=0 keeps CPython's defaults in gunicorn workers too."""
    state = _import_wsgi(tmp_path, before="import gunicorn.http.wsgi", STAGES_GC_TUNING="0")
    assert state == {"threshold": [700, 10, 10], "frozen": 0, "middleware": False}


def test_test_apps_are_not_tuned(app):
    assert gc.get_threshold() != SERVING_THRESHOLDS
    assert not isinstance(app.wsgi_app, CollectAfterResponse)


class _Cycle:
    """An object in a reference cycle: only the garbage collector frees it."""

    def __init__(self):
        self.me = self


def test_request_garbage_is_collected_when_the_response_is_closed():
    """The request's cyclic garbage survives until the server closes the response (its last
    byte sent), then the collection frees it."""
    refs = []

    def application(environ, start_response):
        refs.append(weakref.ref(_Cycle()))  # unreachable at once, but a cycle
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    enabled = gc.isenabled()
    gc.disable()  # no automatic collection may free it in between
    try:
        response = CollectAfterResponse(application)({}, lambda *args: None)
        assert b"".join(response) == b"ok"
        assert refs[0]() is not None
        response.close()
        assert refs[0]() is None
    finally:
        if enabled:
            gc.enable()


def test_files_are_sent_as_they_are():
    """A file wrapper goes back to the server untouched, so that it can still use sendfile()."""

    class FileWrapper:
        def __init__(self, data):
            self.data = data

    sent = FileWrapper(b"static")
    middleware = CollectAfterResponse(lambda environ, start_response: sent)
    assert middleware({"wsgi.file_wrapper": FileWrapper}, None) is sent


@pytest.mark.parametrize(("counts", "expected"), [
    ((12_000, 3, 1), 0),
    ((12_000, 20, 4), 1),
    ((12_000, 20, 20), 2),
])
def test_older_generations_are_collected_when_cpython_would(monkeypatch, counts, expected):
    collected = []
    fake = SimpleNamespace(get_count=lambda: counts, get_threshold=lambda: SERVING_THRESHOLDS,
                           collect=collected.append)
    monkeypatch.setattr(gc_tuning, "gc", fake)
    collect_after_response()
    assert collected == [expected]
