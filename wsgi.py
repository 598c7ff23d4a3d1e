"""WSGI entry point: ``gunicorn wsgi:app``; plain ``flask ...`` finds ``app`` here too."""
import faulthandler
import sys

from stages import create_app
from stages.gc_tuning import tune_for_serving

# A crash in C code (an extension module) prints every thread's Python stack to stderr, which
# gunicorn and systemd keep: the only trace such a crash would otherwise leave is the kernel's.
faulthandler.enable()


def _no_gunicorn_server_header() -> None:
    """Under gunicorn, answer without its ``Server: gunicorn`` header (it names the software).

    gunicorn writes that header itself, before the application's headers, and has no setting to
    leave it out; a ``Server`` header set by the app would only be sent as a second one. So its
    HTTP/1 response class is told to drop that one line. Only when gunicorn is the server (it
    imported its response module before loading this file): ``flask run`` is left alone. A test
    (tests/operations/test_gunicorn.py) starts gunicorn and reads the headers, so that an
    upgrade of gunicorn that changes this class is noticed.
    """
    if not _served_by_gunicorn():
        return
    gunicorn_wsgi = sys.modules["gunicorn.http.wsgi"]
    if getattr(gunicorn_wsgi.Response, "_stages_no_server", False):
        return
    default_headers = gunicorn_wsgi.Response.default_headers

    def without_server(self):
        return [line for line in default_headers(self) if not line.lower().startswith("server:")]

    gunicorn_wsgi.Response.default_headers = without_server
    gunicorn_wsgi.Response._stages_no_server = True


def _served_by_gunicorn() -> bool:
    """gunicorn imports its HTTP module before it loads this file; ``flask``, pytest don't."""
    return "gunicorn.http.wsgi" in sys.modules


def _warn_about_threaded_workers(app) -> None:
    """Say at each worker's start when gunicorn runs the requests in threads (``-k gthread``,
    or ``--threads`` above 1, which makes gunicorn choose that worker): under load, workers of
    several threads died of heap corruption, cause not found (issue 13, README « One thread per
    worker »). gunicorn imports its worker class before it loads this file."""
    if "gunicorn.workers.gthread" in sys.modules:
        app.logger.error(
            "Workers gunicorn à plusieurs threads (-k gthread ou --threads) : sous charge, de "
            "tels workers sont morts de corruption mémoire (cause non trouvée, voir le README, "
            "« One thread per worker »). Servez avec les workers sync par défaut et davantage "
            "de --workers."
        )


_no_gunicorn_server_header()
app = create_app()
_warn_about_threaded_workers(app)
if _served_by_gunicorn() and app.config["GC_TUNING"]:
    # Garbage collection out of the requests' way (stages/gc_tuning.py says why and what was
    # measured): only in the serving process, so the test suite (which imports this module),
    # the scheduler and the ``flask`` commands keep CPython's defaults.
    tune_for_serving(app)
