"""The WSGI entry point: ``gunicorn wsgi:app``."""

import sys

from widget import create_app, settings

try:
    app = create_app()
except settings.SettingsError as e:  # one line for the operator, not a traceback
    e.show()
    sys.exit(e.exit_code)
