"""The garbage collector of a process that serves requests (a gunicorn worker, the benchmark).

Why (issue 13, measured on the admin's national calendar at scale 1.0, PostgreSQL, see
bench/README.md): with CPython's default thresholds (700, 10, 10) one such request allocates
~22,000 container objects, so ~30 young collections run in the middle of it, each walking the
request's live ORM graph and promoting it; every fourth request or so a collection of the
oldest generation also walks everything the process has loaded (modules, mappers, templates:
~180,000 objects in the benchmark, more in a worker) and costs 150–750 ms. That made the p95
three to four times the p50. What this module changes:

1. ``gc.freeze()`` once start-up is over: the objects that live as long as the process are moved
   out of the generations, so no collection walks them again (nor writes to their pages, which
   the forked workers then keep sharing with the master).
2. A young-generation threshold of 50,000 instead of 700: a request's own allocations
   (22,000 for the largest page measured) no longer trigger a collection while it runs.
3. A collection after each response has been sent (when the WSGI server closes the response):
   the request's objects are then unreachable (the ORM's parent/child back-references make them
   cycles that only the collector frees), so it frees them without walking anything alive, and
   the client already has its page. Older generations are collected there too, when CPython
   would have, so that nothing grows without bound.

Measured on the admin calendar (thread CPU time, 150 requests): default settings p50 73 ms,
p95 243 ms; freeze alone 71 / 122 ms (the old generation is still walked by the requests'
survivors); freeze and a threshold of 10,000: 66 / 82 ms; 50,000 without collecting after the
response: 59 / 136 ms (one young collection of 50,000 live objects in a request costs ~75 ms);
freeze, 50,000 and the collection after the response: 50 / 58 ms, the collection itself
6–10 ms after the response.

Only serving processes are tuned (``wsgi.py`` under gunicorn, ``bench/run.py``): the test suite,
the scheduler and the ``flask`` commands keep CPython's defaults.
"""
from __future__ import annotations

import gc

# (young, middle, old): see the module docstring for the measurements behind 50,000.
SERVING_THRESHOLDS = (50_000, 20, 20)


def tune_for_serving(app) -> None:
    """Freeze what start-up built, raise the young threshold, collect after each response.

    Call once per process, after the app is built (in a gunicorn worker: when ``wsgi.py`` is
    imported, after the fork unless gunicorn preloads the app, which is fine too: the workers
    then inherit the frozen heap and keep sharing its memory pages).
    """
    gc.collect()  # start-up's own garbage is freed, not frozen
    gc.freeze()
    gc.set_threshold(*SERVING_THRESHOLDS)
    if not isinstance(app.wsgi_app, CollectAfterResponse):
        app.wsgi_app = CollectAfterResponse(app.wsgi_app)


def collect_after_response() -> None:
    """Collect the young generation, and an older one when CPython would have collected it."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    generation = 0
    if counts[1] >= thresholds[1]:
        generation = 1
        if counts[2] >= thresholds[2]:
            generation = 2  # walks only what is not frozen: what requests left behind
    gc.collect(generation)


class CollectAfterResponse:
    """WSGI middleware: runs :func:`collect_after_response` when the server closes the response.

    A WSGI server calls ``close()`` on the response once its last byte is written (PEP 3333),
    so the collection is not part of the time the client waits for the page.
    """

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        from werkzeug.wsgi import ClosingIterator

        response = self.wsgi_app(environ, start_response)
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(response, file_wrapper):
            # A file sent as is (static files, downloads): wrapping it would stop the server
            # from using sendfile(), and sending a file leaves next to no garbage.
            return response
        return ClosingIterator(response, collect_after_response)
