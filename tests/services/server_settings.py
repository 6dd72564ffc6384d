"""Settings of the real server processes (gunicorn, uvicorn) started by the multi-process test and
the load test: the test settings, on the database those tests created (its name is passed in
``LOGOUT_RULES_SERVER_DB_NAME``) and the same Redis cache (``LOGOUT_RULES_TEST_CACHE=redis``)."""

from __future__ import annotations

import os
from typing import Any

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES as TEST_DATABASES
from tests.settings import MIDDLEWARE as TEST_MIDDLEWARE

_default: dict[str, Any] = dict(TEST_DATABASES["default"])
_default.update(NAME=os.environ["LOGOUT_RULES_SERVER_DB_NAME"], CONN_MAX_AGE=60)
DATABASES = {"default": _default}
DEBUG = False
ROOT_URLCONF = "tests.services.urls"
# Which worker served a response, and when a rule change committed (the load test's timings).
MIDDLEWARE = ["tests.services.stamps.StampMiddleware", *TEST_MIDDLEWARE]
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django.request": {"handlers": ["stderr"], "level": "ERROR"},
        "logout_rules": {"handlers": ["stderr"], "level": "WARNING"},
    },
}
