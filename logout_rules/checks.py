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
from django.db import router, transaction
from django.utils.module_loading import import_string

from .cache import PER_PROCESS_BACKENDS
from .conf import (
    AUTO_LOGOUT_KEYS,
    MAX_CACHE_HEARTBEAT,
    MAX_CACHE_PREFIX_LENGTH,
    MAX_CACHE_TIMEOUT,
    MAX_DURATION,
    MIN_CACHE_HEARTBEAT,
    cache_heartbeat,
    duration_seconds,
    is_text,
    status_poll_seconds,
    usable_cache_prefix,
)
from .durations import format_duration, seconds_text
from .policy import CEILING_SETTINGS

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
DUMMY_CACHE = "django.core.cache.backends.dummy.DummyCache"
#: Below this poll interval (seconds) ``manage.py check`` warns (W080).
MIN_SENSIBLE_STATUS_POLL = 5
LOCMEM_CACHE = "django.core.cache.backends.locmem.LocMemCache"
DJANGO_REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
#: django-redis: the backend, and the client classes the notification channel supports.
DJANGO_REDIS_PACKAGE_CACHE = "django_redis.cache.RedisCache"
DJANGO_REDIS_CLIENTS = ("django_redis.client.DefaultClient", "django_redis.client.SentinelClient")
_DURATION_HINT = (
    "Use a positive number of seconds (int), a datetime.timedelta or a string with a unit such "
    f"as '15m' or '1h 30m', of at most {MAX_DURATION.days} days."
)
_CEILING_HINT = (
    "Use None (no ceiling), a positive number of seconds (int), a datetime.timedelta or a string "
    f"with a unit such as '15m', of at most {MAX_DURATION.days} days."
)
#: How many of the rules above a ceiling a warning names.
NAMED_RULES = 5

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
    "logout_rules.W024": (
        Warning,
        "The policy cache '{alias}' ({backend}) is per process: a rule changed by a management "
        "command (logout_rules import) or in another process does not reach this server until "
        "it restarts.",
        "Even in development, use a cache your processes share: FileBasedCache or the database "
        "cache for runserver; Redis, Memcached or the database cache in production.",
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
    "logout_rules.E090": (
        Error,
        "LOGOUT_RULES_MAX_IDLE_TIME is invalid: {value!r}. It is ignored: no idle-time ceiling "
        "applies.",
        _CEILING_HINT,
    ),
    "logout_rules.E091": (
        Error,
        "LOGOUT_RULES_MAX_SESSION_TIME is invalid: {value!r}. It is ignored: no session-time "
        "ceiling applies.",
        _CEILING_HINT,
    ),
    "logout_rules.W092": (
        Warning,
        "AUTO_LOGOUT['IDLE_TIME'] ({value}) is above LOGOUT_RULES_MAX_IDLE_TIME ({ceiling}): the "
        "ceiling applies instead.",
        "Lower AUTO_LOGOUT['IDLE_TIME'] to the ceiling or below, or raise the ceiling.",
    ),
    "logout_rules.W093": (
        Warning,
        "AUTO_LOGOUT['SESSION_TIME'] ({value}) is above LOGOUT_RULES_MAX_SESSION_TIME "
        "({ceiling}): the ceiling applies instead.",
        "Lower AUTO_LOGOUT['SESSION_TIME'] to the ceiling or below, or raise the ceiling.",
    ),
    "logout_rules.W094": (
        Warning,
        "{count} enabled logout rule(s) set an idle time above LOGOUT_RULES_MAX_IDLE_TIME "
        "({ceiling}): {rules}. The ceiling applies to them instead.",
        "Lower them in the admin or with a rule-set import (values above the ceiling can no "
        "longer be saved), or raise the ceiling.",
    ),
    "logout_rules.W095": (
        Warning,
        "{count} enabled logout rule(s) set a session time above LOGOUT_RULES_MAX_SESSION_TIME "
        "({ceiling}): {rules}. The ceiling applies to them instead.",
        "Lower them in the admin or with a rule-set import (values above the ceiling can no "
        "longer be saved), or raise the ceiling.",
    ),
    "logout_rules.E085": (
        Error,
        "LOGOUT_RULES_EVENTS must be True or False: {value!r}.",
        "True (the default) records every automatic logout in the audit trail; False records "
        "nothing.",
    ),
    "logout_rules.E086": (
        Error,
        "LOGOUT_RULES_EVENT_RETENTION must be None, a positive number of seconds, a timedelta or "
        "a string with a unit: {value!r}.",
        f"For example: timedelta(days=90) (the default), at most {MAX_DURATION.days} days; "
        "None keeps every event.",
    ),
    "logout_rules.E080": (
        Error,
        "LOGOUT_RULES_REVOKED_MESSAGE must be a string: {value!r}.",
        "Use a string (or a gettext_lazy() text); an empty string means no message after a "
        "revocation ends a session.",
    ),
    "logout_rules.E081": (
        Error,
        "LOGOUT_RULES_STATUS_POLL must be None, a positive number of seconds, a timedelta or a "
        f"string with a unit, of at most {MAX_DURATION.days} days: {{value!r}}.",
        "For example: LOGOUT_RULES_STATUS_POLL = 60. None: open pages ask only at the warning and "
        "at the deadline.",
    ),
    "logout_rules.W080": (
        Warning,
        "LOGOUT_RULES_STATUS_POLL is {value!r}: every open page of every signed-in user asks the "
        f"server more often than every {MIN_SENSIBLE_STATUS_POLL} seconds.",
        "One tab per browser asks, but each browser does: a minute (60) is the default. Lower it "
        "only if revocations must reach open pages within seconds.",
    ),
    "logout_rules.E041": (
        Error,
        "LOGOUT_RULES_IMPORT_MAX_ROWS must be a positive int (rows per file): {value!r}.",
        "For example: LOGOUT_RULES_IMPORT_MAX_ROWS = 10_000 (the default).",
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
    if backend in PER_PROCESS_BACKENDS:
        # Under DEBUG (runserver) the same problem has another face: the commands' changes.
        check_id = "logout_rules.W024" if settings.DEBUG else "logout_rules.W022"
        return [message(check_id, alias=alias, backend=backend), *errors]
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
    errors.extend(_check_revocation_settings())
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
    if hasattr(settings, "LOGOUT_RULES_IMPORT_MAX_ROWS"):
        value = _setting("LOGOUT_RULES_IMPORT_MAX_ROWS")
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            errors.append(message("logout_rules.E041", value=value))
    return errors


def _check_revocation_settings() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if hasattr(settings, "LOGOUT_RULES_REVOKED_MESSAGE"):
        value = _setting("LOGOUT_RULES_REVOKED_MESSAGE")
        if not is_text(value):
            errors.append(message("logout_rules.E080", value=value))
    if hasattr(settings, "LOGOUT_RULES_STATUS_POLL"):
        value = _setting("LOGOUT_RULES_STATUS_POLL")
        try:
            seconds = status_poll_seconds(value)
        except ValueError:
            errors.append(message("logout_rules.E081", value=value))
        else:
            if seconds is not None and seconds < MIN_SENSIBLE_STATUS_POLL:
                errors.append(message("logout_rules.W080", value=value))
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


def check_event_settings(**kwargs: Any) -> list[CheckMessage]:
    """The audit trail's settings (``LOGOUT_RULES_EVENTS``, ``LOGOUT_RULES_EVENT_RETENTION``)."""
    errors: list[CheckMessage] = []
    if hasattr(settings, "LOGOUT_RULES_EVENTS"):
        value = _setting("LOGOUT_RULES_EVENTS")
        if not isinstance(value, bool):
            errors.append(message("logout_rules.E085", value=value))
    if hasattr(settings, "LOGOUT_RULES_EVENT_RETENTION"):
        value = _setting("LOGOUT_RULES_EVENT_RETENTION")
        if value is not None and duration_seconds(value) is None:
            errors.append(message("logout_rules.E086", value=value))
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


_CEILING_IDS = {
    # limit: (invalid setting, AUTO_LOGOUT above it, stored rules above it, AUTO_LOGOUT key)
    "idle_time": ("logout_rules.E090", "logout_rules.W092", "logout_rules.W094", "IDLE_TIME"),
    "session_time": ("logout_rules.E091", "logout_rules.W093", "logout_rules.W095", "SESSION_TIME"),
}


def _ceilings() -> dict[str, float]:
    """The valid ceilings that are set, in seconds, by limit."""
    found = {}
    for name, setting in CEILING_SETTINGS.items():
        seconds = duration_seconds(_setting(setting))
        if seconds is not None:
            found[name] = seconds
    return found


def check_ceilings(**kwargs: Any) -> list[CheckMessage]:
    """Invalid ceilings (errors) and ``AUTO_LOGOUT`` limits above a ceiling (warnings)."""
    errors: list[CheckMessage] = []
    for name, setting in CEILING_SETTINGS.items():
        value = _setting(setting)
        if value is not None and duration_seconds(value) is None:
            errors.append(message(_CEILING_IDS[name][0], value=value))
    raw = _auto_logout()
    if not isinstance(raw, Mapping):
        return errors
    for name, ceiling in _ceilings().items():
        check_id, key = _CEILING_IDS[name][1], _CEILING_IDS[name][3]
        value = duration_seconds(raw.get(key))
        if value is not None and value > ceiling:
            errors.append(
                message(
                    check_id,
                    value=format_duration(value),
                    ceiling=f"{format_duration(ceiling)}, {seconds_text(ceiling)} seconds",
                )
            )
    return errors


def check_stored_rules(**kwargs: Any) -> list[CheckMessage]:
    """Enabled rules above a ceiling (warnings). Queries the database only when a ceiling is set;
    says nothing when the tables do not exist yet or the database cannot be reached."""
    ceilings = _ceilings()
    if not ceilings:
        return []
    from .models import GlobalLogoutRule

    using = router.db_for_read(GlobalLogoutRule)
    try:
        with transaction.atomic(using=using):
            found = {name: _rules_above(name, ceiling) for name, ceiling in ceilings.items()}
    except Exception:
        # No tables yet (before migrate), no database (DatabaseError), or a test runner that
        # forbids queries: nothing to report, and a check never crashes ``manage.py check``.
        return []
    warnings: list[CheckMessage] = []
    for name, (count, labels) in found.items():
        if not count:
            continue
        more = count - len(labels)
        rules = ", ".join(labels) + (f" and {more} more" if more else "")
        ceiling = ceilings[name]
        warnings.append(
            message(
                _CEILING_IDS[name][2],
                count=count,
                ceiling=f"{format_duration(ceiling)}, {seconds_text(ceiling)} seconds",
                rules=rules,
            )
        )
    return warnings


def _rules_above(name: str, ceiling: float) -> tuple[int, list[str]]:
    """How many enabled rules set ``name`` above ``ceiling``, and the first few, named."""
    from django.contrib.auth import get_user_model

    from .models import GlobalLogoutRule, GroupLogoutRule, UserLogoutRule

    above = {"enabled": True, f"{name}__gt": timedelta(seconds=ceiling)}
    username = f"user__{get_user_model().USERNAME_FIELD}"
    count = 0
    labels: list[str] = []
    for model, kind, key in (
        (GlobalLogoutRule, "global rule", None),
        (GroupLogoutRule, "group", "group__name"),
        (UserLogoutRule, "user", username),
    ):
        rows = model.objects.filter(**above)
        count += rows.count()
        wanted = NAMED_RULES - len(labels)
        if wanted <= 0:
            continue
        if key is None:
            labels.extend(kind for _ in rows[:wanted])
        else:
            names = rows.order_by(key).values_list(key, flat=True)[:wanted]
            labels.extend(f'{kind} "{value}"' for value in names)
    return count, labels


ALL_CHECKS: tuple[Callable[..., list[CheckMessage]], ...] = (
    check_middleware,
    check_auto_logout,
    check_apps,
    check_cache,
    check_app_settings,
    check_event_settings,
    check_client_urls,
    check_ceilings,
    check_stored_rules,
)


def register() -> None:
    for check in ALL_CHECKS:
        checks.register(check, "logout_rules")
