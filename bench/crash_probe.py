"""gunicorn settings for hunting a crash in C code under threads (see bench/LOAD.md).

bench/load.py always loads this module (``--config python:bench.crash_probe``); without the
variables below it changes nothing, except the stacks of a worker slow to stop (last item).

    .venv/bin/python -m bench.load --server-env PYTHONMALLOC=debug \
        --server-env STAGES_PROBE_SWITCH_INTERVAL=0.00001 \
        --server-env STAGES_PROBE_BLOCK=greenlet,markupsafe._speedups

Read in each worker right after the fork, before the app is loaded, from the environment:

- ``STAGES_PROBE_SWITCH_INTERVAL`` (seconds): ``sys.setswitchinterval``. The interpreter hands the
  GIL to another thread every 5 ms by default; at 10 µs threads interleave 500 times as often, so
  that a race between threads shows up in one run rather than one run in three.
- ``STAGES_PROBE_GC_THRESHOLD``: ``gc.set_threshold`` of the youngest generation (700 by
  default): a smaller one collects far more often, for bugs that a collection at the wrong time
  reveals.
- ``STAGES_PROBE_BLOCK``: modules (comma-separated) that cannot be imported in the worker, to run
  without an optional C extension: ``greenlet`` (SQLAlchemy then runs without it, as it does for
  any synchronous driver), ``markupsafe._speedups`` (markupsafe falls back to its Python code).
  SQLAlchemy's own extensions are turned off with ``DISABLE_SQLALCHEMY_CEXT_RUNTIME=1`` and
  psycopg's with ``PSYCOPG_IMPL=python``, both read by those libraries.

Each worker writes what it applied to gunicorn's log, so that a run shows its own settings.
- ``STAGES_PROBE_HANG_DIR``: 3 s after a worker is asked to stop (SIGINT/SIGQUIT), gdb attaches
  to it if it is still there and writes the C stacks of its threads to ``hang-<pid>.txt`` in that
  folder: where a worker that hangs while exiting (and is then killed) is stuck.
"""
from __future__ import annotations

import gc
import importlib.abc
import os
import subprocess
import sys


class _Blocked(importlib.abc.MetaPathFinder):
    def __init__(self, names: set[str]):
        self.names = names

    def find_spec(self, fullname, path=None, target=None):
        if fullname in self.names:
            raise ImportError(f"{fullname} blocked by bench.crash_probe")
        return None


def post_fork(server, worker):
    """gunicorn hook: runs in the new worker, before it loads the application."""
    applied = []
    interval = os.environ.get("STAGES_PROBE_SWITCH_INTERVAL")
    if interval:
        sys.setswitchinterval(float(interval))
        applied.append(f"switchinterval={sys.getswitchinterval()}")
    threshold = os.environ.get("STAGES_PROBE_GC_THRESHOLD")
    if threshold:
        gc.set_threshold(int(threshold))
        applied.append(f"gc_threshold={gc.get_threshold()}")
    blocked = {name.strip() for name in os.environ.get("STAGES_PROBE_BLOCK", "").split(",") if name.strip()}
    if blocked:
        sys.meta_path.insert(0, _Blocked(blocked))
        applied.append("blocked=" + ",".join(sorted(blocked)))
    server.log.info("crash_probe (pid %s): %s", worker.pid, " ".join(applied) or "nothing")


def worker_int(worker):
    """gunicorn hook, in the worker on SIGINT/SIGQUIT: its C stacks, should it hang."""
    folder = os.environ.get("STAGES_PROBE_HANG_DIR")
    if not folder:
        return
    pid = os.getpid()
    script = (f"sleep 3; kill -0 {pid} 2>/dev/null && gdb -p {pid} -batch -ex 'thread apply all bt 30'"
              f" > {folder}/hang-{pid}.txt 2>&1")
    subprocess.Popen(["bash", "-c", script], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
