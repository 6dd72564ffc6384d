"""The only module that reads our settings.

Every value is read from ``django.conf.settings`` when it is asked for, so ``override_settings`` and
pytest-django's ``settings`` fixture always apply (the ``LOGOUT_RULES_*`` values the warm path
reads are parsed once and forgotten on ``setting_changed``). Values are parsed leniently here (a
wrong type is ignored and logged, never a 500): ``checks.py`` reports wrong types with an id at
startup.

``AUTO_LOGOUT`` keeps django-auto-logout's meaning; our own settings are named ``LOGOUT_RULES_*``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from . import durations
from .policy import CEILING_SETTINGS, NO_CEILINGS, Ceilings, Rule

logger = logging.getLogger("logout_rules")

AUTO_LOGOUT_KEYS = (
    "IDLE_TIME",
    "SESSION_TIME",
    "WARNING_TIME",
    "MESSAGE",
    "REDIRECT_TO_LOGIN_IMMEDIATELY",
)
AUTO_LOGOUT_DURATION_KEYS = ("IDLE_TIME", "SESSION_TIME", "WARNING_TIME")

#: The longest duration accepted anywhere (settings, admin, imports): ten years.
MAX_DURATION = durations.MAX_DURATION
#: The longest message accepted (admin, imports).
MAX_MESSAGE_LENGTH = 1000

DEFAULT_CACHE_ALIAS = "default"
DEFAULT_CACHE_TIMEOUT = 3600
DEFAULT_CACHE_PREFIX = "logout_rules"
#: The longest cache timeout accepted (ten years): Redis refuses expiry times past 2**63 ms.
MAX_CACHE_TIMEOUT = int(MAX_DURATION.total_seconds())
#: The longest cache prefix accepted: our keys add about 60 characters, and memcached refuses keys
#: longer than 250 or with spaces or control characters.
MAX_CACHE_PREFIX_LENGTH = 100
#: What a session ended by a revocation is told (translated when shown).
DEFAULT_REVOKED_MESSAGE = gettext_lazy("You have been signed out.")
#: How often an open page asks the status endpoint whether its session was ended (seconds).
DEFAULT_STATUS_POLL = 60.0
#: Seconds between two heartbeats of the cache notification channel (``notifications``).
DEFAULT_CACHE_HEARTBEAT = 1.0
#: The accepted heartbeats: a lost notification is noticed within two heartbeats.
MIN_CACHE_HEARTBEAT = 0.05
MAX_CACHE_HEARTBEAT = 60.0
#: The largest rule-set file an import reads (admin upload or ``logout_rules import``): 10 MiB.
DEFAULT_IMPORT_MAX_BYTES = 10 * 1024 * 1024
#: How long the audit trail keeps logout events by default (``logout_rules prune``): 90 days.
DEFAULT_EVENT_RETENTION = timedelta(days=90).total_seconds()
#: The most rows (rules) one file of an import may hold.
DEFAULT_IMPORT_MAX_ROWS = 10_000


def duration_seconds(value: object) -> float | None:
    """``int``/``float`` seconds, a ``timedelta`` or a string with units (``"15m"``) → float
    seconds; anything else → ``None``.

    Booleans are not durations, and neither are zero, negative or non-finite values, nor a string
    without a unit (``"15"``: 15 what?). The parser is ``durations.parse_duration``.
    """
    return durations.seconds_or_none(value)


def parse_auto_logout(raw: object) -> Rule:
    """``settings.AUTO_LOGOUT`` → the settings level. Invalid entries are ignored (see checks)."""
    if not isinstance(raw, Mapping):
        return Rule()
    values: dict[str, Any] = {}
    for key, name in (
        ("IDLE_TIME", "idle_time"),
        ("SESSION_TIME", "session_time"),
        ("WARNING_TIME", "warning_time"),
    ):
        if key in raw:
            values[name] = duration_seconds(raw[key])
    message = raw.get("MESSAGE")
    values["message"] = message if isinstance(message, str) else None
    flag = raw.get("REDIRECT_TO_LOGIN_IMMEDIATELY")
    values["redirect_to_login_immediately"] = flag if isinstance(flag, bool) else None
    return Rule(**values)


def parse_ceilings(idle: object, session: object) -> Ceilings:
    """``LOGOUT_RULES_MAX_IDLE_TIME`` / ``_SESSION_TIME`` → the ceilings (``None``: no ceiling).

    An invalid value (``manage.py check`` reports it as logout_rules.E090/E091) is ignored and
    logged, like every wrong setting at request time: it never causes a 500.
    """
    values: dict[str, float | None] = {}
    for name, raw in (("idle_time", idle), ("session_time", session)):
        seconds = None if raw is None else duration_seconds(raw)
        if raw is not None and seconds is None:
            logger.error(
                "logout_rules: %s = %r is not a valid duration and is ignored "
                "(run manage.py check).",
                CEILING_SETTINGS[name],
                raw,
            )
        values[name] = seconds
    if values["idle_time"] is None and values["session_time"] is None:
        return NO_CEILINGS
    return Ceilings(**values)


@dataclass(frozen=True, slots=True)
class PassivePatterns:
    names: frozenset[str]
    regexes: tuple[re.Pattern[str], ...]


T = TypeVar("T")
_UNSET: Any = object()


def _cache_alias(value: object) -> str:
    return value if isinstance(value, str) else DEFAULT_CACHE_ALIAS


def _cache_timeout(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return DEFAULT_CACHE_TIMEOUT
    return value if value <= MAX_CACHE_TIMEOUT else DEFAULT_CACHE_TIMEOUT


def _cache_notifications(value: object) -> bool:
    return value if isinstance(value, bool) else True


def cache_heartbeat(value: object) -> float | None:
    """A heartbeat in seconds (int, float or ``timedelta``) within the accepted range, else
    ``None``."""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not MIN_CACHE_HEARTBEAT <= value <= MAX_CACHE_HEARTBEAT:
        return None
    return float(value)


def _cache_heartbeat(value: object) -> float:
    heartbeat = cache_heartbeat(value)
    return DEFAULT_CACHE_HEARTBEAT if heartbeat is None else heartbeat


def usable_cache_prefix(value: str) -> bool:
    """A prefix every cache backend accepts in a key: short, no spaces or control characters."""
    return len(value) <= MAX_CACHE_PREFIX_LENGTH and all(32 < ord(char) != 127 for char in value)


def _cache_prefix(value: object) -> str:
    if isinstance(value, str) and value and usable_cache_prefix(value):
        return value
    return DEFAULT_CACHE_PREFIX


def _positive_int(default: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            return default
        return value

    return parse


_import_max_bytes = _positive_int(DEFAULT_IMPORT_MAX_BYTES)
_import_max_rows = _positive_int(DEFAULT_IMPORT_MAX_ROWS)


def _activity_resolution(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, int | float) and value >= 0:
        try:
            return float(value)
        except OverflowError:  # an int beyond any float: longer than any idle limit allows
            return math.inf
    return None


def is_text(value: object) -> bool:
    """A string, or a lazy translation (``gettext_lazy``) that becomes one when shown."""
    return isinstance(value, str | Promise)


def _revoked_message(value: object) -> str | Promise | None:
    """The configured text; ``None`` (the translated default) when unset or not text."""
    return value if is_text(value) else None  # type: ignore[return-value]


def status_poll_seconds(value: object) -> float | None:
    """``LOGOUT_RULES_STATUS_POLL`` → seconds; ``None`` means "do not poll". ``ValueError`` when
    it is neither ``None`` nor a positive number of seconds (or ``timedelta``) of at most
    ``MAX_DURATION``."""
    if value is None:
        return None
    seconds = duration_seconds(value)
    if seconds is None:
        raise ValueError(value)
    return seconds


def _status_poll(value: object) -> float | None:
    if value is _UNSET:
        return DEFAULT_STATUS_POLL
    try:
        return status_poll_seconds(value)
    except ValueError:
        logger.warning("logout_rules: LOGOUT_RULES_STATUS_POLL is invalid: %r", value)
        return DEFAULT_STATUS_POLL


def _events(value: object) -> bool:
    """Recording is on unless the setting is exactly ``False`` (another type: see the checks)."""
    return value is not False


def _event_retention(value: object) -> float | None:
    """Seconds to keep events; ``None`` keeps them. Unset (``_UNSET``) or invalid: the default
    (90 days)."""
    if value is None:
        return None
    seconds = duration_seconds(value)
    return DEFAULT_EVENT_RETENTION if seconds is None else seconds


def _passive_urls(raw: object) -> PassivePatterns:
    names: set[str] = set()
    regexes: list[re.Pattern[str]] = []
    if isinstance(raw, Sequence) and not isinstance(raw, str):
        for item in raw:
            if not isinstance(item, str) or not item:
                continue
            if item[0] in "^/":
                try:
                    regexes.append(re.compile(item))
                except re.error:
                    continue
            else:
                names.add(item)
    return PassivePatterns(frozenset(names), tuple(regexes))


class Settings:
    """Typed, live access to the settings. Use the module-level ``conf`` instance."""

    def __init__(self) -> None:
        # One-entry memo for the parsed AUTO_LOGOUT: the warm path asks for it on every request.
        # It is keyed by an equal copy of the raw value, so a changed setting is seen at once.
        self._auto_logout_key: object = object()
        self._auto_logout_rule = Rule()
        # The parsed LOGOUT_RULES_* values of the warm path, forgotten whenever a setting changes
        # (``setting_changed``, sent by ``override_settings`` and pytest-django's ``settings``
        # fixture). Reading an *unset* setting raises and catches an AttributeError inside
        # ``django.conf`` (about 3 µs): doing that five times per request cost more than all of
        # the policy work.
        self._parsed: dict[str, Any] = {}

    def clear(self, **kwargs: Any) -> None:
        """Forget the parsed values (connected to ``setting_changed``)."""
        self._parsed.clear()

    def _read(self, name: str, parse: Callable[[object], T]) -> T:
        try:
            value: T = self._parsed[name]
        except KeyError:
            value = parse(getattr(settings, name, _UNSET))
            self._parsed[name] = value
        return value

    @property
    def settings_rule(self) -> Rule:
        """The ``AUTO_LOGOUT`` level, parsed (memoized on the raw value)."""
        raw = getattr(settings, "AUTO_LOGOUT", None)
        if raw is self._auto_logout_key or raw == self._auto_logout_key:
            return self._auto_logout_rule
        rule = parse_auto_logout(raw)
        self._auto_logout_rule = rule
        self._auto_logout_key = dict(raw) if isinstance(raw, Mapping) else raw
        return rule

    @property
    def ceilings(self) -> Ceilings:
        """``LOGOUT_RULES_MAX_IDLE_TIME`` and ``LOGOUT_RULES_MAX_SESSION_TIME``, parsed.

        The same object until a setting changes, so the resolver can memoize merges by identity.
        """
        try:
            found: Ceilings = self._parsed["ceilings"]
        except KeyError:
            found = parse_ceilings(
                getattr(settings, CEILING_SETTINGS["idle_time"], None),
                getattr(settings, CEILING_SETTINGS["session_time"], None),
            )
            self._parsed["ceilings"] = found
        return found

    @property
    def MAX_IDLE_TIME(self) -> float | None:
        """The idle-time ceiling in seconds (``None``: none)."""
        return self.ceilings.idle_time

    @property
    def MAX_SESSION_TIME(self) -> float | None:
        """The session-time ceiling in seconds (``None``: none)."""
        return self.ceilings.session_time

    @property
    def CACHE_ALIAS(self) -> str:
        return self._read("LOGOUT_RULES_CACHE_ALIAS", _cache_alias)

    @property
    def CACHE_TIMEOUT(self) -> int:
        return self._read("LOGOUT_RULES_CACHE_TIMEOUT", _cache_timeout)

    @property
    def CACHE_PREFIX(self) -> str:
        return self._read("LOGOUT_RULES_CACHE_PREFIX", _cache_prefix)

    @property
    def CACHE_NOTIFICATIONS(self) -> bool:
        """Whether a Redis policy cache keeps the tokens valid by notifications (default on)."""
        return self._read("LOGOUT_RULES_CACHE_NOTIFICATIONS", _cache_notifications)

    @property
    def CACHE_HEARTBEAT(self) -> float:
        """Seconds between two heartbeats of the notification channel."""
        return self._read("LOGOUT_RULES_CACHE_HEARTBEAT", _cache_heartbeat)

    @property
    def IMPORT_MAX_BYTES(self) -> int:
        """The largest file a rule import accepts, in bytes."""
        return self._read("LOGOUT_RULES_IMPORT_MAX_BYTES", _import_max_bytes)

    @property
    def IMPORT_MAX_ROWS(self) -> int:
        """The most rows (rules) one imported file may hold."""
        return self._read("LOGOUT_RULES_IMPORT_MAX_ROWS", _import_max_rows)

    @property
    def ACTIVITY_RESOLUTION(self) -> float | None:
        """Seconds between activity writes; ``None`` means the default (see ``policy``)."""
        return self._read("LOGOUT_RULES_ACTIVITY_RESOLUTION", _activity_resolution)

    @property
    def REVOKED_MESSAGE(self) -> str:
        """The message shown once after a revocation ended a session (``""``: none)."""
        value = self._read("LOGOUT_RULES_REVOKED_MESSAGE", _revoked_message)
        return str(DEFAULT_REVOKED_MESSAGE if value is None else value)

    @property
    def STATUS_POLL(self) -> float | None:
        """Seconds between two status requests of an open page (``None``: no polling)."""
        return self._read("LOGOUT_RULES_STATUS_POLL", _status_poll)

    @property
    def EVENTS(self) -> bool:
        """Whether automatic logouts are recorded as ``LogoutEvent`` rows (the audit trail)."""
        return self._read("LOGOUT_RULES_EVENTS", _events)

    @property
    def EVENT_RETENTION(self) -> float | None:
        """Seconds ``logout_rules prune`` keeps logout events; ``None``: keep them all."""
        return self._read("LOGOUT_RULES_EVENT_RETENTION", _event_retention)

    @property
    def PASSIVE_URLS(self) -> PassivePatterns:
        """URL names and path regexes (items starting with ``^`` or ``/``) that are not activity."""
        return self._read("LOGOUT_RULES_PASSIVE_URLS", _passive_urls)


conf = Settings()
setting_changed.connect(conf.clear, dispatch_uid="logout_rules.conf.clear")
