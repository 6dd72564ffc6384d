"""ASGI entry point of the test server processes (uvicorn): the async middleware stack."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.services.server_settings")
application = get_asgi_application()
