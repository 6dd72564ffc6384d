"""System checks. Every problem has its own id (listed in the README); ``manage.py check`` reports
bad settings at startup instead of a 500 on some later request.

The texts live together in ``CHECKS`` so tests compare whole messages and ids are never reused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.checks import CheckMessage, Error, Warning
from django.utils.module_loading import import_string

from .conf import (
    AUTO_LOGOUT_KEYS,
    MAX_CACHE_HEARTBEAT,
    MAX_CACHE_PREFIX_LENGTH,
    MAX_CACHE_TIMEOUT,
    MAX_DURATION,
    MIN_CACHE_HEARTBEAT,
    cache_heartbeat,
    duration_seconds,
    usable_cache_prefix,
)

MIDDLEWARE_PATH = "logout_rules.middleware.AutoLogoutMiddleware"
CONTEXT_PROCESSOR_PATH = "logout_rules.context_processors.auto_logout_client"
SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
MESSAGE_MIDDLEWARE = "django.contrib.messages.middleware.MessageMiddleware"
REQUIRED_APPS = (
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "solo",
    "import_export",
)
PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.filebased.FileBasedCache",
)
DUMMY_CACHE = "django.core.cache.backends.dummy.DummyCache"
LOCMEM_CACHE = "django.core.cache.backends.locmem.LocMemCache"
DJANGO_REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
#: django-redis: the backend, and the client classes the notification channel supports.
DJANGO_REDIS_PACKAGE_CACHE = "django_redis.cache.RedisCache"
DJANGO_REDIS_CLIENTS = ("django_redis.client.DefaultClient", "django_redis.client.SentinelClient")
_DURATION_HINT = (
    "Use a positive number of seconds (int) or a datetime.timedelta of at most "
    f"{MAX_DURATION.days} days."
)

# id: (level, message, hint). Never reuse an id for another problem.
CHECKS: dict[str, tuple[type[CheckMessage], str, str]] = {
    "logout_rules.E001": (
        Error,
        f"'{MIDDLEWARE_PATH}' is not in MIDDLEWARE: nobody will be logged out.",
        f"Add '{MIDDLEWARE_PATH}' to MIDDLEWARE after the session, authentication and messages "
        "middlewares.",
    ),
    "logout_rules.E002": (
        Error,
        f"'{MIDDLEWARE_PATH}' must come after '{SESSION_MIDDLEWARE}' in MIDDLEWARE.",
        "Move the auto-logout middleware below the session middleware (or add the session "
        "middleware).",
    ),
    "logout_rules.E003": (
        Error,
        f"'{MIDDLEWARE_PATH}' must come after '{AUTH_MIDDLEWARE}' in MIDDLEWARE.",
        "Move the auto-logout middleware below the authentication middleware (or add it).",
    ),
    "logout_rules.W004": (
        Warning,
        f"AUTO_LOGOUT['MESSAGE'] is set but '{MESSAGE_MIDDLEWARE}' is not in MIDDLEWARE: the "
        "logout message cannot be shown.",
        f"Add '{MESSAGE_MIDDLEWARE}' to MIDDLEWARE before the auto-logout middleware.",
    ),
    "logout_rules.W005": (
        Warning,
        f"'{MESSAGE_MIDDLEWARE}' comes after '{MIDDLEWARE_PATH}' in MIDDLEWARE: logout messages "
        "cannot be added.",
        "Move the messages middleware above the auto-logout middleware.",
    ),
    "logout_rules.W006": (
        Warning,
        "AUTO_LOGOUT['REDIRECT_TO_LOGIN_IMMEDIATELY'] is on but no template engine uses "
        f"'{CONTEXT_PROCESSOR_PATH}': pages will not leave by themselves.",
        f"Add '{CONTEXT_PROCESSOR_PATH}' to TEMPLATES[...]['OPTIONS']['context_processors'] and "
        "render {{ redirect_to_login_immediately }} in your base template (or use the "
        "{% logout_rules_script %} tag).",
    ),
    "logout_rules.E010": (
        Error,
        "AUTO_LOGOUT must be a dict.",
        "For example: AUTO_LOGOUT = {'IDLE_TIME': 600, 'SESSION_TIME': 3600}.",
    ),
    "logout_rules.W011": (
        Warning,
        "AUTO_LOGOUT has unknown keys: {keys}.",
        f"Known keys: {', '.join(AUTO_LOGOUT_KEYS)}.",
    ),
    "logout_rules.E012": (Error, "AUTO_LOGOUT['IDLE_TIME'] is invalid: {value!r}.", _DURATION_HINT),
    "logout_rules.E013": (
        Error,
        "AUTO_LOGOUT['SESSION_TIME'] is invalid: {value!r}.",
        _DURATION_HINT,
    ),
    "logout_rules.E014": (
        Error,
        "AUTO_LOGOUT['WARNING_TIME'] is invalid: {value!r}.",
        _DURATION_HINT,
    ),
    "logout_rules.E015": (
        Error,
        "AUTO_LOGOUT['MESSAGE'] must be a string: {value!r}.",
        "Use a string; an empty string means no message.",
    ),
    "logout_rules.E016": (
        Error,
        "AUTO_LOGOUT['REDIRECT_TO_LOGIN_IMMEDIATELY'] must be True or False: {value!r}.",
        "Use True or False.",
    ),
    "logout_rules.W017": (
        Warning,
        "AUTO_LOGOUT['WARNING_TIME'] is not shorter than AUTO_LOGOUT['IDLE_TIME']: the warning "
        "would show as soon as a page loads.",
        "Use a warning time shorter than the idle time.",
    ),
    "logout_rules.E020": (
        Error,
        "'{app}' must be in INSTALLED_APPS for logout_rules.",
        "INSTALLED_APPS += ['solo', 'import_export', 'logout_rules'] (and Django's auth, "
        "contenttypes and sessions apps).",
    ),
    "logout_rules.E021": (
        Error,
        "LOGOUT_RULES_CACHE_ALIAS names an unknown cache: {value!r}.",
        "Use one of the aliases in CACHES: {aliases}.",
    ),
    "logout_rules.W022": (
        Warning,
        "The policy cache '{alias}' ({backend}) is per process: with several worker processes, "
        "rule changes reach only the process that made them.",
        "Point LOGOUT_RULES_CACHE_ALIAS at a shared cache (Redis, Memcached or the database "
        "cache) in production.",
    ),
    "logout_rules.W023": (
        Warning,
        "The policy cache '{alias}' is a DummyCache: every request loads the rules from the "
        "database.",
        "Point LOGOUT_RULES_CACHE_ALIAS at a real, shared cache.",
    ),
    "logout_rules.E030": (
        Error,
        "LOGOUT_RULES_CACHE_TIMEOUT must be a positive int (seconds): {value!r}.",
        "For example: LOGOUT_RULES_CACHE_TIMEOUT = 3600.",
    ),
    "logout_rules.E031": (
        Error,
        "LOGOUT_RULES_CACHE_PREFIX must be a non-empty string: {value!r}.",
        "For example: LOGOUT_RULES_CACHE_PREFIX = 'logout_rules'.",
    ),
    "logout_rules.E032": (
        Error,
        "LOGOUT_RULES_ACTIVITY_RESOLUTION must be None, seconds >= 0 or a timedelta: {value!r}.",
        "Leave it unset for the default, min(60 s, 5 % of the idle limit).",
    ),
    "logout_rules.E033": (
        Error,
        "LOGOUT_RULES_PASSIVE_URLS must be a list of URL names and path patterns: {value!r}.",
        "Items starting with '^' or '/' are regular expressions matched against the path; other "
        "items are URL names such as 'healthcheck' or 'api:status'.",
    ),
    "logout_rules.E034": (
        Error,
        "LOGOUT_RULES_PASSIVE_URLS has an invalid regular expression {value!r}: {error}.",
        "Fix the pattern.",
    ),
    "logout_rules.E060": (
        Error,
        "LOGOUT_RULES_CACHE_TIMEOUT is longer than ten years ({max} seconds): {value!r}.",
        "Cache backends refuse such timeouts (every request would load the rules from the "
        "database). Entries are replaced when rules change, so an hour (3600) is plenty.",
    ),
    "logout_rules.E061": (
        Error,
        "LOGOUT_RULES_CACHE_PREFIX must be at most {max} characters, without spaces or control "
        "characters: {value!r}.",
        "Memcached refuses such keys. For example: LOGOUT_RULES_CACHE_PREFIX = 'site1-rules'.",
    ),
    "logout_rules.E070": (
        Error,
        "LOGOUT_RULES_CACHE_NOTIFICATIONS must be True or False: {value!r}.",
        "True (the default) keeps a Redis policy cache's tokens valid by notifications, so a warm "
        "request makes no round trip; False reads them on every request.",
    ),
    "logout_rules.E071": (
        Error,
        "LOGOUT_RULES_CACHE_HEARTBEAT must be a number of seconds (or a timedelta) from "
        f"{MIN_CACHE_HEARTBEAT:g} to {MAX_CACHE_HEARTBEAT:g}: {{value!r}}.",
        "A lost notification is noticed within two heartbeats. Leave it unset for the default "
        "(1 second).",
    ),
    "logout_rules.W070": (
        Warning,
        "LOGOUT_RULES_CACHE_NOTIFICATIONS is on but the policy cache '{alias}' ({backend}) cannot "
        "send notifications: every request reads the generation tokens from it.",
        "Notifications need Redis (Django's RedisCache, or django-redis with its default or "
        "Sentinel client). Remove the setting to silence this for other caches.",
    ),
    "logout_rules.W071": (
        Warning,
        "The policy cache '{alias}' uses django-redis's {client}, which the notification channel "
        "does not support: every request reads the generation tokens from Redis.",
        "Use django-redis's DefaultClient (or SentinelClient) for the policy cache alias, or set "
        "LOGOUT_RULES_CACHE_NOTIFICATIONS = False to silence this.",
    ),
    "logout_rules.E040": (
        Error,
        "LOGOUT_RULES_IMPORT_MAX_BYTES must be a positive int (bytes): {value!r}.",
        "For example: LOGOUT_RULES_IMPORT_MAX_BYTES = 10 * 1024 * 1024.",
    ),
    "logout_rules.W050": (
        Warning,
        "AUTO_LOGOUT['REDIRECT_TO_LOGIN_IMMEDIATELY'] is on but 'logout_rules.urls' is not "
        "included: pages cannot warn before the logout, nor ask the server (activity in other "
        "tabs) before leaving.",
        "Add path('logout-rules/', include('logout_rules.urls')) to your root URLconf.",
    ),
}


_PLACEHOLDER = re.compile(r"\{(\w+)(!r)?\}")


def _fill(text: str, values: dict[str, Any]) -> str:
    """Fill ``{name}`` / ``{name!r}`` placeholders; other braces (template examples) stay."""

    def replace(match: re.Match[str]) -> str:
        name, as_repr = match.group(1), match.group(2)
        if name not in values:
            return match.group(0)
        return repr(values[name]) if as_repr else str(values[name])

    return _PLACEHOLDER.sub(replace, text)


def message(check_id: str, obj: Any = None, **values: Any) -> CheckMessage:
    """Build the check message for ``check_id`` (placeholders filled from ``values``)."""
    level, text, hint = CHECKS[check_id]
    build: Any = level
    result: CheckMessage = build(
        _fill(text, values), hint=_fill(hint, values), obj=obj, id=check_id
    )
    return result


# --- helpers -----------------------------------------------------------------------------------


def _position(middleware: Sequence[str], target: str) -> int | None:
    """Index of ``target`` (or a subclass of it) in MIDDLEWARE."""
    try:
        wanted = import_string(target)
    except ImportError:  # pragma: no cover - Django's own classes
        wanted = None
    for index, path in enumerate(middleware):
        if path == target:
            return index
        if wanted is None:
            continue
        try:
            found = import_string(path)
        except ImportError:
            continue
        if isinstance(found, type) and issubclass(found, wanted):
            return index
    return None


def _setting(name: str) -> Any:
    return getattr(settings, name, None)


def _auto_logout() -> Any:
    return getattr(settings, "AUTO_LOGOUT", None)


# --- checks ------------------------------------------------------------------------------------


def check_middleware(**kwargs: Any) -> list[CheckMessage]:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    ours = _position(middleware, MIDDLEWARE_PATH)
    if ours is None:
        return [message("logout_rules.E001")]
    errors: list[CheckMessage] = []
    session = _position(middleware, SESSION_MIDDLEWARE)
    if session is None or session > ours:
        errors.append(message("logout_rules.E002"))
    auth = _position(middleware, AUTH_MIDDLEWARE)
    if auth is None or auth > ours:
        errors.append(message("logout_rules.E003"))
    messages = _position(middleware, MESSAGE_MIDDLEWARE)
    raw = _auto_logout()
    configured = isinstance(raw, Mapping) and isinstance(raw.get("MESSAGE"), str)
    if messages is None and configured and raw["MESSAGE"]:
        errors.append(message("logout_rules.W004"))
    elif messages is not None and messages > ours:
        errors.append(message("logout_rules.W005"))
    return errors


def _uses_context_processor() -> bool:
    for engine in getattr(settings, "TEMPLATES", None) or []:
        processors = (engine.get("OPTIONS") or {}).get("context_processors") or []
        if CONTEXT_PROCESSOR_PATH in processors:
            return True
    return False


def check_auto_logout(**kwargs: Any) -> list[CheckMessage]:
    if not hasattr(settings, "AUTO_LOGOUT"):
        return []
    raw = _auto_logout()
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        return [message("logout_rules.E010")]
    errors: list[CheckMessage] = []
    unknown = sorted(str(key) for key in raw if key not in AUTO_LOGOUT_KEYS)
    if unknown:
        errors.append(message("logout_rules.W011", keys=", ".join(unknown)))
    for key, check_id in (
        ("IDLE_TIME", "logout_rules.E012"),
        ("SESSION_TIME", "logout_rules.E013"),
        ("WARNING_TIME", "logout_rules.E014"),
    ):
        if key in raw and duration_seconds(raw[key]) is None:
            errors.append(message(check_id, value=raw[key]))
    if "MESSAGE" in raw and not isinstance(raw["MESSAGE"], str):
        errors.append(message("logout_rules.E015", value=raw["MESSAGE"]))
    flag = raw.get("REDIRECT_TO_LOGIN_IMMEDIATELY")
    if "REDIRECT_TO_LOGIN_IMMEDIATELY" in raw and not isinstance(flag, bool):
        errors.append(message("logout_rules.E016", value=flag))
    idle = duration_seconds(raw.get("IDLE_TIME"))
    warning = duration_seconds(raw.get("WARNING_TIME"))
    if idle is not None and warning is not None and warning >= idle:
        errors.append(message("logout_rules.W017"))
    if flag is True and not _uses_context_processor():
        errors.append(message("logout_rules.W006"))
    return errors


def check_apps(**kwargs: Any) -> list[CheckMessage]:
    return [message("logout_rules.E020", app=app) for app in REQUIRED_APPS if not _installed(app)]


def _installed(app: str) -> bool:
    return apps.is_installed(app)


def check_cache(**kwargs: Any) -> list[CheckMessage]:
    alias = getattr(settings, "LOGOUT_RULES_CACHE_ALIAS", "default")
    caches_setting = getattr(settings, "CACHES", None) or {}
    if not isinstance(alias, str) or alias not in caches_setting:
        return [
            message(
                "logout_rules.E021",
                value=alias,
                aliases=", ".join(repr(name) for name in caches_setting) or "(none)",
            )
        ]
    backend = str(caches_setting[alias].get("BACKEND", ""))
    errors = _check_notifications(alias, caches_setting[alias])
    if backend == DUMMY_CACHE:
        return [message("logout_rules.W023", alias=alias), *errors]
    if backend in PER_PROCESS_CACHES and not settings.DEBUG:
        return [message("logout_rules.W022", alias=alias, backend=backend), *errors]
    return errors


def _check_notifications(alias: str, cache: Mapping[str, Any]) -> list[CheckMessage]:
    """What the notification channel can do with the policy cache (``notifications.py``)."""
    notify = getattr(settings, "LOGOUT_RULES_CACHE_NOTIFICATIONS", None)
    if notify is False or not isinstance(cache, Mapping):
        return []
    backend = str(cache.get("BACKEND", ""))
    if backend == DJANGO_REDIS_PACKAGE_CACHE:
        options = cache.get("OPTIONS") or {}
        client = options.get("CLIENT_CLASS") if isinstance(options, Mapping) else None
        if client is None or client in DJANGO_REDIS_CLIENTS:
            return []
        return [message("logout_rules.W071", alias=alias, client=client)]
    if notify is True and backend not in (DJANGO_REDIS_CACHE, LOCMEM_CACHE):
        return [message("logout_rules.W070", alias=alias, backend=backend)]
    return []


def check_app_settings(**kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if hasattr(settings, "LOGOUT_RULES_CACHE_TIMEOUT"):
        value = _setting("LOGOUT_RULES_CACHE_TIMEOUT")
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            errors.append(message("logout_rules.E030", value=value))
        elif value > MAX_CACHE_TIMEOUT:
            errors.append(message("logout_rules.E060", value=value, max=MAX_CACHE_TIMEOUT))
    if hasattr(settings, "LOGOUT_RULES_CACHE_PREFIX"):
        value = _setting("LOGOUT_RULES_CACHE_PREFIX")
        if not isinstance(value, str) or not value:
            errors.append(message("logout_rules.E031", value=value))
        elif not usable_cache_prefix(value):
            errors.append(message("logout_rules.E061", value=value, max=MAX_CACHE_PREFIX_LENGTH))
    if hasattr(settings, "LOGOUT_RULES_ACTIVITY_RESOLUTION"):
        value = _setting("LOGOUT_RULES_ACTIVITY_RESOLUTION")
        valid = value is None or (isinstance(value, timedelta) and value >= timedelta(0))
        valid = valid or (
            isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
        )
        if not valid:
            errors.append(message("logout_rules.E032", value=value))
    if hasattr(settings, "LOGOUT_RULES_PASSIVE_URLS"):
        errors.extend(_check_passive(_setting("LOGOUT_RULES_PASSIVE_URLS")))
    if hasattr(settings, "LOGOUT_RULES_CACHE_NOTIFICATIONS"):
        value = _setting("LOGOUT_RULES_CACHE_NOTIFICATIONS")
        if not isinstance(value, bool):
            errors.append(message("logout_rules.E070", value=value))
    if hasattr(settings, "LOGOUT_RULES_CACHE_HEARTBEAT"):
        value = _setting("LOGOUT_RULES_CACHE_HEARTBEAT")
        if cache_heartbeat(value) is None:
            errors.append(message("logout_rules.E071", value=value))
    if hasattr(settings, "LOGOUT_RULES_IMPORT_MAX_BYTES"):
        value = _setting("LOGOUT_RULES_IMPORT_MAX_BYTES")
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            errors.append(message("logout_rules.E040", value=value))
    return errors


def _check_passive(value: object) -> Iterable[CheckMessage]:
    if not isinstance(value, list | tuple) or not all(
        isinstance(item, str) and item for item in value
    ):
        return [message("logout_rules.E033", value=value)]
    errors = []
    for item in value:
        if item[0] in "^/":
            try:
                re.compile(item)
            except re.error as exc:
                errors.append(message("logout_rules.E034", value=item, error=exc))
    return errors


def check_client_urls(**kwargs: Any) -> list[CheckMessage]:
    raw = _auto_logout()
    if not isinstance(raw, Mapping) or raw.get("REDIRECT_TO_LOGIN_IMMEDIATELY") is not True:
        return []
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("logout_rules:status")
    except NoReverseMatch:
        return [message("logout_rules.W050")]
    except Exception:  # a broken URLconf: Django's own URL checks report it
        return []
    return []


ALL_CHECKS: tuple[Callable[..., list[CheckMessage]], ...] = (
    check_middleware,
    check_auto_logout,
    check_apps,
    check_cache,
    check_app_settings,
    check_client_urls,
)


def register() -> None:
    for check in ALL_CHECKS:
        checks.register(check, "logout_rules")
