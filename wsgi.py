"""WSGI entry point: ``gunicorn wsgi:app``; plain ``flask ...`` finds ``app`` here too."""
import faulthandler

from stages import create_app

# A crash in C code (an extension module) prints every thread's Python stack to stderr, which
# gunicorn and systemd keep: the only trace such a crash would otherwise leave is the kernel's.
faulthandler.enable()

app = create_app()
