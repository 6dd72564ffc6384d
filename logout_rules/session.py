"""The only module that knows our session keys.

Values are JSON-safe floats (epoch seconds), because Django's default session serializer is JSON.

* ``LOGIN_KEY``: when *this* session logged in (set by the ``user_logged_in`` receiver). The
  session limit counts from here, never from ``user.last_login``, which a login on another
  device moves forward.
* ``ACTIVITY_KEY``: the last recorded activity. It is written at most once per activity
  resolution, so it may lag the real last request by up to one resolution (a logout can come
  that much early, never late).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, MutableMapping
from datetime import datetime
from typing import Any, NamedTuple

from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.utils import timezone

logger = logging.getLogger("logout_rules")

LOGIN_KEY = "_logout_rules_login"
ACTIVITY_KEY = "_logout_rules_activity"
#: What django-auto-logout stored (an ISO datetime): read once when migrating from it.
LEGACY_ACTIVITY_KEY = "django_auto_logout_last_request"
#: Clocks of several machines disagree a little; a time further in the future is garbage.
FUTURE_TOLERANCE = 300.0

Session = MutableMapping[str, Any]


class Times(NamedTuple):
    """When the session logged in and was last active.

    ``adopted`` is true when the session had no times of ours yet (it predates the app, or the
    key was lost) and they were just derived; the caller then writes them. ``garbage`` is true
    when a stored value is unusable: such a session is treated as expired (fail closed).

    (A named tuple: read on every request, and five times faster to build than a frozen
    dataclass.)
    """

    login_at: float
    activity_at: float
    adopted: bool = False
    garbage: bool = False


def user_id(session: Session) -> object:
    """The authenticated user's id stored by ``django.contrib.auth`` (``None`` if anonymous)."""
    return session.get(SESSION_KEY)


def usable_user_id(value: object) -> bool:
    """Whether a stored user id can be a user's: ``django.contrib.auth`` stores the primary key as
    a string. Anything else is garbage, and the session is logged out (fail closed) before it
    reaches a query, where it would raise."""
    if not isinstance(value, str):
        return False
    if type(value) is str and value in _usable_ids:
        return True
    try:
        _user_pk_to_python()(value)
    except (ValidationError, ValueError, TypeError, OverflowError):
        return False
    if type(value) is str:
        if len(_usable_ids) >= USABLE_IDS_MEMO_SIZE:
            _usable_ids.clear()
        _usable_ids.add(value)
    return True


#: The user model's ``pk.to_python``, looked up once (``get_user_model()`` costs more than the
#: rest of this check) and forgotten when ``AUTH_USER_MODEL`` changes (``override_settings``).
_pk_to_python: list[Callable[[object], object]] = []
#: The ids already found usable (they would be checked on every request of their sessions), for
#: the same user model: forgotten with it.
_usable_ids: set[str] = set()
USABLE_IDS_MEMO_SIZE = 10_000


def _user_pk_to_python() -> Callable[[object], object]:
    if not _pk_to_python:
        _pk_to_python.append(get_user_model()._meta.pk.to_python)
    return _pk_to_python[0]


def _forget_user_model(*, setting: str, **kwargs: Any) -> None:
    if setting == "AUTH_USER_MODEL":
        _pk_to_python.clear()
        _usable_ids.clear()


setting_changed.connect(_forget_user_model, dispatch_uid="logout_rules.session.user_model")


def forget_user(session: Session) -> None:
    """Drop an unusable user id (logged), so that ``auth.logout`` can run without reading it."""
    logger.warning("logout_rules: unusable user id in a session: %r", session.get(SESSION_KEY))
    session.pop(SESSION_KEY, None)


def fresh_activity(session: SessionBase, expected_user_id: object) -> float | None:
    """The activity time the session store holds for this session *now*: a fresh read, not the
    copy this request loaded when it started (one read of the session store).

    ``None`` when the stored session is gone or is no longer this user's (a concurrent request
    logged it out, it expired, or this request's view logged in as someone else); ``-inf`` when
    it holds no usable activity time.
    """
    key = session.session_key
    if key is None:
        return None
    stored = type(session)(session_key=key).load()
    if stored.get(SESSION_KEY) != expected_user_id:
        return None
    value = stored.get(ACTIVITY_KEY)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return -math.inf
    try:
        return float(value)
    except OverflowError:
        return -math.inf


def _timestamp(value: object, now: float) -> float | None:
    """A valid stored timestamp, or ``None`` when it is garbage."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        stamp = float(value)
    except OverflowError:  # a JSON integer beyond any float
        return None
    if not math.isfinite(stamp) or stamp < 0 or stamp > now + FUTURE_TOLERANCE:
        return None
    return stamp


def _legacy_activity(session: Session, now: float) -> float | None:
    """django-auto-logout's last request (an ISO datetime), or ``None`` when there is none or it
    cannot be read. Under ``USE_TZ = False`` it stored naive local times, which Django's local
    time is ``TIME_ZONE``: they are read in that zone (never replaced by "now", which would bring
    an idle session back to life)."""
    raw = session.get(LEGACY_ACTIVITY_KEY)
    if not isinstance(raw, str):
        return None
    try:
        parsed = datetime.fromisoformat(raw)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.get_default_timezone())
        stamp = parsed.timestamp()
    except (ValueError, OverflowError, OSError):
        return None
    return _timestamp(stamp, now)


def stored_times(session: Session, now: float) -> tuple[float, float] | None:
    """``read_times``'s common case, cheaper: ``(login_at, activity_at)`` when the session holds
    both of our times as valid floats (what this app stores); ``None`` for anything else (then
    ``read_times`` decides: derived, adopted or garbage). The same checks as ``_timestamp``:
    ``0 <= stamp <= now + FUTURE_TOLERANCE`` is false for NaN and the infinities."""
    login = session.get(LOGIN_KEY)
    activity = session.get(ACTIVITY_KEY)
    if type(login) is float and type(activity) is float:
        latest = now + FUTURE_TOLERANCE
        if 0.0 <= login <= latest and 0.0 <= activity <= latest:
            return (login, login if login >= activity else activity)  # max(), as read_times
    return None


def read_times(session: Session, now: float, last_login: Callable[[], float | None]) -> Times:
    """Read (or derive) the session's login and activity times.

    A session without our keys predates the app: its session clock starts at the user's
    ``last_login`` (never earlier than this session's real login, so never too strict) or now, and
    its idle clock at django-auto-logout's last request, or now.
    """
    raw_login = session.get(LOGIN_KEY)
    raw_activity = session.get(ACTIVITY_KEY)
    if raw_login is not None:
        login_at = _timestamp(raw_login, now)
        if login_at is None:
            logger.warning("logout_rules: unusable login time in a session: %r", raw_login)
            return Times(now, now, garbage=True)
        if raw_activity is None:
            return Times(login_at, max(login_at, now), adopted=True)
        activity_at = _timestamp(raw_activity, now)
        if activity_at is None:
            logger.warning("logout_rules: unusable activity time in a session: %r", raw_activity)
            return Times(login_at, now, garbage=True)
        return Times(login_at, max(login_at, activity_at))
    # A session from before the app was installed. Its last request cannot come before the
    # login the session clock starts at (a later login elsewhere moves ``last_login``): the idle
    # clock then starts at that login, never later.
    legacy_login = last_login()
    login_at = now if legacy_login is None else min(now, max(legacy_login, 0.0))
    activity_at = _legacy_activity(session, now)
    if activity_at is None:
        activity_at = now
    return Times(login_at, max(login_at, activity_at), adopted=True)


def record_login(session: Session, now: float) -> None:
    """Start this session's clocks (called at login)."""
    session[LOGIN_KEY] = now
    session[ACTIVITY_KEY] = now
    session.pop(LEGACY_ACTIVITY_KEY, None)


def adopt(session: Session, times: Times) -> None:
    """Store derived times for a session that had none of ours."""
    session[LOGIN_KEY] = times.login_at
    session[ACTIVITY_KEY] = times.activity_at
    session.pop(LEGACY_ACTIVITY_KEY, None)


def record_activity(session: Session, now: float) -> None:
    """Record activity at ``now``; the recorded activity never moves backwards."""
    current = session.get(ACTIVITY_KEY)
    if isinstance(current, int | float) and not isinstance(current, bool) and current >= now:
        return
    session[ACTIVITY_KEY] = now
