"""The WSGI entry point: ``gunicorn wsgi:app``."""

from widget import create_app

app = create_app()
