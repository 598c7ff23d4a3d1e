"""gunicorn settings for hunting a crash in C code under threads (see bench/LOAD.md).

    .venv/bin/python -m bench.load \
        --server-env GUNICORN_CMD_ARGS=--config=python:bench.crash_probe \
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
"""
from __future__ import annotations

import gc
import importlib.abc
import os
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
