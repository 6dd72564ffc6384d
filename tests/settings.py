"""Test settings. SQLite + local memory by default; environment variables select the real
services for the production stage (``make test-services``)."""

from __future__ import annotations

import os
from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "solo",
    "import_export",
    "logout_rules",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "logout_rules.middleware.AutoLogoutMiddleware",
]
if django.VERSION >= (6, 0):
    # Django's own CSP middleware: without a policy (SECURE_CSP is empty) it sends no header, but
    # every request gets a nonce; the browser test of nonce-based policies sets SECURE_CSP.
    MIDDLEWARE.insert(1, "django.middleware.csp.ContentSecurityPolicyMiddleware")

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "logout_rules.context_processors.auto_logout_client",
            ],
        },
    }
]

DATABASE_URL_ENGINE = os.environ.get("LOGOUT_RULES_TEST_DB", "sqlite")
if DATABASE_URL_ENGINE == "postgresql":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("PGDATABASE", "test"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "TEST": {"NAME": os.environ.get("LOGOUT_RULES_TEST_DB_NAME", "test_logout_rules")},
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

#: ``redis``: Django's RedisCache; ``django-redis``: django-redis's client (both on the same URL).
REDIS_BACKENDS = {
    "redis": "django.core.cache.backends.redis.RedisCache",
    "django-redis": "django_redis.cache.RedisCache",
}
REDIS_URL = os.environ.get("LOGOUT_RULES_REDIS_URL", "redis://127.0.0.1:6379/1")
#: ``pytest -n`` (pytest-xdist) runs the suite in worker processes ``gw0``, ``gw1``, ...: each
#: gets a test database of its own (pytest-django adds the suffix) and the Redis database after
#: the previous worker's, because clearing a Redis cache empties its whole database (FLUSHDB).
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if XDIST_WORKER.startswith("gw"):
    _server, _, _number = REDIS_URL.rpartition("/")
    REDIS_URL = f"{_server}/{int(_number or 0) + int(XDIST_WORKER[2:])}"
if os.environ.get("LOGOUT_RULES_TEST_CACHE") in REDIS_BACKENDS:
    CACHES = {
        "default": {
            "BACKEND": REDIS_BACKENDS[os.environ["LOGOUT_RULES_TEST_CACHE"]],
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("LOGOUT_RULES_REDIS_PREFIX", "logout_rules_tests"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("LOGOUT_RULES_CACHE_HEARTBEAT"):  # the server processes of the channel tests
    LOGOUT_RULES_CACHE_HEARTBEAT = float(os.environ["LOGOUT_RULES_CACHE_HEARTBEAT"])
if os.environ.get("LOGOUT_RULES_CACHE_NOTIFICATIONS") == "off":  # the load test's comparison
    LOGOUT_RULES_CACHE_NOTIFICATIONS = False

SESSION_ENGINE = "django.contrib.sessions.backends.db"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "/accounts/login/"
STATIC_URL = "/static/"
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

AUTO_LOGOUT = {"IDLE_TIME": 600, "SESSION_TIME": 3600, "MESSAGE": "The session has expired."}

# The tests run one process with a local-memory cache on purpose.
SILENCED_SYSTEM_CHECKS = ["logout_rules.W022"]
