"""WSGI entry point of the test server processes (gunicorn)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.services.server_settings")
application = get_wsgi_application()
