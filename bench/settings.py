"""Settings for ``make bench``: an on-disk SQLite database in a temporary directory (set by
``bench.run`` through ``LOGOUT_RULES_BENCH_DB``) and a local-memory cache (the Redis sections of
``bench.run`` replace ``CACHES`` while they run).

``MIDDLEWARE`` here is the full stack (used by the admin measurements); each benchmarked variant
builds its own handler with its own middleware list (see ``bench.run.VARIANTS``).
"""

from __future__ import annotations

import os

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "bench.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "solo",
    "import_export",
    "logout_rules",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "logout_rules.middleware.AutoLogoutMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("LOGOUT_RULES_BENCH_DB", ":memory:"),
        # Persistent connections, as a production WSGI site would use them.
        "CONN_MAX_AGE": 600,
    }
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

SESSION_ENGINE = "django.contrib.sessions.backends.db"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STATIC_URL = "/static/"

# The same limits for django-auto-logout and for logout_rules' settings level.
AUTO_LOGOUT = {"IDLE_TIME": 600, "SESSION_TIME": 3600, "MESSAGE": "The session has expired."}

SILENCED_SYSTEM_CHECKS = ["logout_rules.W022"]
