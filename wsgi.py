"""WSGI entry point: ``gunicorn wsgi:app``; plain ``flask ...`` finds ``app`` here too."""
import faulthandler
import sys

from stages import create_app

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
    gunicorn_wsgi = sys.modules.get("gunicorn.http.wsgi")
    if gunicorn_wsgi is None or getattr(gunicorn_wsgi.Response, "_stages_no_server", False):
        return
    default_headers = gunicorn_wsgi.Response.default_headers

    def without_server(self):
        return [line for line in default_headers(self) if not line.lower().startswith("server:")]

    gunicorn_wsgi.Response.default_headers = without_server
    gunicorn_wsgi.Response._stages_no_server = True


_no_gunicorn_server_header()
app = create_app()
