"""WSGI entry point: ``gunicorn wsgi:app``; plain ``flask ...`` finds ``app`` here too."""
import gc

from stages import create_app

app = create_app()
# What exists now (modules, mappers, the app) lives as long as the process: move it out of the
# garbage collector's reach, or every full collection walks it again — a pause of ~100 ms in
# the middle of a request on the largest pages (bench/README.md).
gc.freeze()
