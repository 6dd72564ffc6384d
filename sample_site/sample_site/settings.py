"""Settings of the demo site: a small real site using logout_rules like a real one would."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "demo-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

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
    "demo",
]

MIDDLEWARE = [
    # A strict Content-Security-Policy on every page (no inline script or style anywhere).
    "demo.csp.StrictCSPMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # After the session, authentication and messages middlewares:
    "logout_rules.middleware.AutoLogoutMiddleware",
]
if django.VERSION >= (6, 0):
    # Django's own CSP middleware: the same strict policy, and scripts and styles may also carry
    # the request's nonce (logout_rules' script tag and the stylesheet it adds do).
    from demo.csp import DIRECTIVES
    from django.utils.csp import CSP

    MIDDLEWARE[0] = "django.middleware.csp.ContentSecurityPolicyMiddleware"
    SECURE_CSP = {
        **DIRECTIVES,
        "script-src": [CSP.SELF, CSP.NONCE],
        "style-src": [CSP.SELF, CSP.NONCE],
    }

ROOT_URLCONF = "sample_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "logout_rules.context_processors.auto_logout_client",
                # Django >= 6.0: the ``csp_nonce`` variable (Django's check security.W027 asks
                # for it with a nonce policy; logout_rules reads the nonce from the request).
                *(["django.template.context_processors.csp"] if django.VERSION >= (6, 0) else []),
            ],
        },
    },
]

WSGI_APPLICATION = "sample_site.wsgi.application"
ASGI_APPLICATION = "sample_site.asgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
    }
}

# A cache the demo's processes share (runserver, and `manage.py logout_rules import` run in
# another terminal), so a rule changed by a command applies on the server's next request. A
# per-process LocMemCache would keep the server's cached policies (check logout_rules.W024).
# Production: Redis, Memcached or the database cache (see the README).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": BASE_DIR / ".cache",
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# The bottom layer of every resolution: everybody is logged out after 10 idle minutes or 8 hours.
AUTO_LOGOUT = {
    "IDLE_TIME": timedelta(minutes=10),
    "SESSION_TIME": timedelta(hours=8),
    # A dialog with "Stay signed in" a minute before the idle limit.
    "WARNING_TIME": timedelta(minutes=1),
    "MESSAGE": "Your session has expired. Please log in again to continue.",
    "REDIRECT_TO_LOGIN_IMMEDIATELY": True,
}

# The loosest rule anyone may set (in the admin or by an import): no idle time above 30 minutes
# and no session above 12 hours; an empty rule ("no limit") gets the ceiling.
LOGOUT_RULES_MAX_IDLE_TIME = "30m"
LOGOUT_RULES_MAX_SESSION_TIME = timedelta(hours=12)
