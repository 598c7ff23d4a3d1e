"""WSGI entry point: ``gunicorn wsgi:app``; plain ``flask ...`` finds ``app`` here too."""
from stages import create_app

app = create_app()
