"""The per-process memo of the generation tokens: when a warm request may skip reading them.

``cache.lookup`` asks the memo chosen for the policy cache's backend:

* a per-process cache (Django's ``LocMemCache``): the tokens live in this process's memory anyway.
  The memo keeps, per user, the very objects the cache holds for the two token keys, and a warm
  request compares them by identity (two dictionary look-ups: no lock, no unpickling). Any write
  to those keys — an invalidation, ``cache.clear()``, an eviction — replaces or removes the object,
  so it is seen at once;
* Redis (Django's ``RedisCache``, django-redis) with ``LOGOUT_RULES_CACHE_NOTIFICATIONS`` on:
  ``notifications.Channel``, kept valid by change notifications;
* any other cache (Memcached, the database or file cache — shared by processes that cannot tell
  this one of a change —, the dummy cache), or Redis with notifications off: no memo; every
  request reads the tokens (one round trip, as before).

This module knows cache entries only as the keys and tokens that ``cache`` hands it.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol

from . import notifications

#: How many users the per-process memo holds (it is cleared when full).
MEMO_SIZE = 10_000


class TokenMemo(Protocol):
    #: Whether invalidations go through ``publish`` (else the cache's own ``set_many``).
    publishes: bool

    def begin(self) -> int | None:
        """A version to pass to ``remember`` when the memo may be trusted now, else ``None``."""

    def holds(self, user_id: object, global_token: str, user_token: str) -> bool:
        """Whether these are the user's current tokens, known without a round trip."""

    def remember(self, version: int, user_id: object, global_token: str, user_token: str) -> None:
        """Tokens read from the cache after ``begin()`` returned ``version``."""

    def publish(
        self, tokens: Mapping[str, str], everyone: bool, user_ids: Collection[object]
    ) -> None:
        """Write replaced tokens and tell every process."""

    def forget(self, everyone: bool, user_ids: Collection[object]) -> None:
        """This process replaced these tokens (called after the write)."""

    def close(self) -> None:
        """Stop whatever runs for this memo."""


class LocalTokens:
    """The memo for ``LocMemCache``: identity of the objects the cache holds (see the module)."""

    publishes = False

    def __init__(
        self, data: dict[str, Any], make_key: Callable[[str], str], global_key: str,
        user_key: Callable[[object], str],
    ) -> None:  # fmt: skip
        self._data = data
        self._make_key = make_key
        self._global_key = make_key(global_key)
        self._user_key = user_key
        #: user id → (made user key, stored global object, stored user object, tokens).
        self._known: dict[object, tuple[str, object, object, str, str]] = {}

    def begin(self) -> int:
        return 0

    def holds(self, user_id: object, global_token: str, user_token: str) -> bool:
        known = self._known.get(user_id)
        if known is None or known[3] != global_token or known[4] != user_token:
            return False
        data = self._data
        return data.get(self._global_key) is known[1] and data.get(known[0]) is known[2]

    def remember(self, version: int, user_id: object, global_token: str, user_token: str) -> None:
        key = self._make_key(self._user_key(user_id))
        stored_global = self._data.get(self._global_key)
        stored_user = self._data.get(key)
        if stored_global is None or stored_user is None:
            return
        try:  # the objects are what was read, unless a write came in between
            if (
                pickle.loads(stored_global) != global_token
                or pickle.loads(stored_user) != user_token
            ):
                return
        except Exception:
            return
        if len(self._known) >= MEMO_SIZE:
            self._known.clear()
        self._known[user_id] = (key, stored_global, stored_user, global_token, user_token)

    def publish(
        self, tokens: Mapping[str, str], everyone: bool, user_ids: Collection[object]
    ) -> None:
        raise NotImplementedError  # publishes is False: the cache writes the tokens itself

    def forget(self, everyone: bool, user_ids: Collection[object]) -> None:
        return None  # a replaced token is a new object: ``tokens`` sees it

    def close(self) -> None:
        self._known.clear()


def select(
    cache: object,
    *,
    notify: bool,
    heartbeat: float,
    global_key: str,
    user_key: Callable[[object], str],
    sequence_key: str,
    token_timeout: int,
    log: notifications.Log,
) -> TokenMemo | None:
    """The memo for this cache backend and these settings (``None``: read the tokens)."""
    from django.core.cache.backends.locmem import LocMemCache

    if type(cache) is LocMemCache:
        data = getattr(cache, "_cache", None)
        if isinstance(data, dict):
            return LocalTokens(data, cache.make_key, global_key, user_key)
        return None  # pragma: no cover - a Django whose LocMemCache stores differently
    if not notify:
        return None
    backend = notifications.redis_backend(cache)
    if backend is None:
        return None
    return notifications.Channel(
        backend,
        global_key=global_key,
        sequence_key=sequence_key,
        token_timeout=token_timeout,
        heartbeat=heartbeat,
        log=log,
    )
