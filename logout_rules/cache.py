"""The policy cache: the only module that knows our cache keys.

Each user's entry holds the database levels already resolved (a ``policy.Layer``); the settings
level is merged at request time. An entry is valid only while two generation tokens still match:

* the global generation, replaced on any change that can affect many users (a global or group rule,
  a bulk write), and
* the user's own generation, replaced when that user's rule or group membership changes.

A request reads the two tokens and the entry in **one** ``get_many`` round trip — unless this
process's memo of the tokens (``memo.py``) may be trusted: always with a per-process cache, and
while the notification channel is healthy with Redis (``notifications.py``); a warm request then
makes no round trip at all. Tokens are replaced (never deleted) and entries carry the tokens they
were computed under, so a request that computed an entry from pre-commit data can never store it
as valid after the invalidation. Nothing resolved while this connection holds uncommitted changes
is stored (``has_pending_changes``).

The cache must be shared by all processes (Redis, Memcached, the database cache): a per-process
cache makes each worker see its own, stale policy (``checks.py`` warns about that).

Cache errors never reach the request: reads become misses, writes are skipped, and the error is
logged at most once per ``ERROR_LOG_INTERVAL`` seconds.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Collection, Iterable, Mapping
from typing import Any, NamedTuple

from django.core.cache import BaseCache, caches
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, transaction

from . import __version__
from . import memo as token_memos
from .conf import conf
from .policy import FIELDS, Layer, Revocation, Rule, Source

logger = logging.getLogger("logout_rules")

#: Seconds between two log records about the same kind of cache failure.
ERROR_LOG_INTERVAL = 60.0
#: The generation tokens live much longer than the entries (they are tiny).
TOKEN_TIMEOUT = 30 * 24 * 3600

_SHAPE = "2"  # bump when the cached value's shape changes (an unknown shape reads as a miss)
#: How many distinct layers the per-process memo keeps (see ``intern_layer``).
LAYER_MEMO_SIZE = 4096
_last_logged: dict[str, float] = {}
_log_lock = threading.Lock()


def log_rate_limited(kind: str, message: str, *args: object, exc_info: bool = True) -> None:
    """Log an operational error at most once per interval per ``kind``."""
    now = time.monotonic()
    with _log_lock:
        last = _last_logged.get(kind)
        if last is not None and now - last < ERROR_LOG_INTERVAL:
            return
        _last_logged[kind] = now
    logger.error(message, *args, exc_info=exc_info)


def get_cache() -> BaseCache:
    return caches[conf.CACHE_ALIAS]


#: Backends whose entries live in one process's memory: a change made in another process (a
#: management command, another worker) never reaches them. ``checks.py`` warns about them, and
#: the commands say so after a change.
PER_PROCESS_BACKENDS = ("django.core.cache.backends.locmem.LocMemCache",)


def per_process_backend() -> str | None:
    """The name of the policy cache's backend class when it is per process, else ``None``."""
    from django.core.cache.backends.locmem import LocMemCache

    try:
        backend = get_cache()
    except Exception:  # an unknown alias: reported by the checks
        return None
    return type(backend).__name__ if isinstance(backend, LocMemCache) else None


def _prefix() -> str:
    return f"{conf.CACHE_PREFIX}:{__version__}:{_SHAPE}"


def global_token_key(prefix: str | None = None) -> str:
    return f"{prefix or _prefix()}:gen"


def user_token_key(user_id: object, prefix: str | None = None) -> str:
    return f"{prefix or _prefix()}:ugen:{user_id}"


def entry_key(user_id: object, prefix: str | None = None) -> str:
    return f"{prefix or _prefix()}:policy:{user_id}"


def sequence_key(prefix: str | None = None) -> str:
    """The number of invalidations published (``notifications``)."""
    return f"{prefix or _prefix()}:seq"


# --- this process's memo of the tokens (memo.py) ------------------------------------------------

_UNSELECTED: Any = object()
_token_memo: Any = _UNSELECTED
_memo_lock = threading.Lock()


def token_memo() -> token_memos.TokenMemo | None:
    """The memo of the tokens for the policy cache's backend (``None``: read them every time)."""
    selected = _token_memo
    if selected is _UNSELECTED:
        selected = _select_token_memo()
    return selected  # type: ignore[no-any-return]


def _select_token_memo() -> token_memos.TokenMemo | None:
    global _token_memo
    with _memo_lock:
        if _token_memo is _UNSELECTED:
            _token_memo = token_memos.select(
                get_cache(),
                notify=conf.CACHE_NOTIFICATIONS,
                heartbeat=conf.CACHE_HEARTBEAT,
                global_key=global_token_key(),
                user_key=user_token_key,
                sequence_key=sequence_key(),
                token_timeout=TOKEN_TIMEOUT,
                log=log_rate_limited,
            )
        return _token_memo  # type: ignore[no-any-return]


def reset_token_memo(**kwargs: Any) -> None:
    """Forget (and stop) the memo: the cache settings changed. Chosen again on next use."""
    global _token_memo
    with _memo_lock:
        selected, _token_memo = _token_memo, _UNSELECTED
    if selected is not _UNSELECTED and selected is not None:
        selected.close()


def _reset_after_fork() -> None:
    """A forked child has the parent's memo but not its thread: start afresh (lazily)."""
    global _token_memo, _memo_lock
    _token_memo = _UNSELECTED
    _memo_lock = threading.Lock()


_MEMO_SETTINGS = frozenset(
    {
        "CACHES",
        "LOGOUT_RULES_CACHE_ALIAS",
        "LOGOUT_RULES_CACHE_PREFIX",
        "LOGOUT_RULES_CACHE_NOTIFICATIONS",
        "LOGOUT_RULES_CACHE_HEARTBEAT",
    }
)


def _on_setting_changed(setting: str = "", **kwargs: Any) -> None:
    if setting in _MEMO_SETTINGS:
        reset_token_memo()


setting_changed.connect(_on_setting_changed, dispatch_uid="logout_rules.cache.token_memo")
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


# --- the cached value ---------------------------------------------------------------------------
#
# An entry is a plain tuple ``(global token, user token, content, expires at)``, where
# ``content`` is the layer as plain values: ``(value per field..., ((source kind, source name) per
# field...), revocation)``, where ``revocation`` is ``None`` or ``(not before, scope, name)``, and
# ``expires at`` the epoch second its cache timeout ends. Plain tuples of
# str/float/bool/None unpickle in about a microsecond, where the dataclasses took about twenty on
# every warm request.
#
# ``content`` → ``Layer`` goes through a per-process memo keyed on the content itself, so equal
# layers are one object (which also lets ``resolver`` memoize the merge with the settings level).
# The memo is content-addressed, never keyed on a user: it cannot go stale, and whether an entry
# is valid is still decided by the generation tokens in the shared cache on every request.

Content = tuple[Any, ...]

_layers: dict[Content, Layer] = {}


def _content(layer: Layer) -> Content:
    revocation = layer.revocation
    return (
        *(getattr(layer.values, name) for name in FIELDS),
        tuple((source.kind, source.name) for source in layer.sources),
        None if revocation is None else (revocation.not_before, revocation.scope, revocation.name),
    )


def _layer(content: Content) -> Layer:
    layer = _layers.get(content)
    if layer is None:
        *values, sources, revocation = content
        layer = Layer(
            values=Rule(**dict(zip(FIELDS, values, strict=True))),
            sources=tuple(Source(kind, name) for kind, name in sources),
            revocation=None if revocation is None else Revocation(*revocation),
        )
        if len(_layers) >= LAYER_MEMO_SIZE:
            _layers.clear()
        _layers[content] = layer
    return layer


def intern_layer(layer: Layer) -> Layer:
    """The memo's object equal to ``layer`` (so equal layers are one object in this process)."""
    return _layer(_content(layer))


class _Seen(NamedTuple):
    global_token: str
    user_token: str
    expires_at: float
    layer: Layer


def _parse_entry(entry: object) -> _Seen | None:
    """An entry's tokens, expiry and layer; ``None`` for any other shape (read as a miss)."""
    if not isinstance(entry, tuple) or len(entry) != 4:
        return None
    global_token, user_token, content, expires_at = entry
    try:
        if len(content) != len(FIELDS) + 2 or len(content[-2]) != len(FIELDS):
            return None
        revocation = content[-1]
        if revocation is not None and (
            not isinstance(revocation, tuple)
            or len(revocation) != 3
            or not isinstance(revocation[0], float)
        ):
            return None
        return _Seen(global_token, user_token, float(expires_at), _layer(content))
    except (TypeError, ValueError):
        return None


# user id → the entry this process last found valid for that user. Every request still reads both
# generation tokens from the shared cache and uses this only while they are the very tokens the
# entry was stored under, so an invalidation by any process (a replaced token) makes it useless at
# once; it expires with the entry. It spares reading and decoding the entry on a warm request: two
# keys read instead of three. When the tokens moved on, the entry is read in a second round trip
# (once per process and user after an invalidation, which is followed by a reload anyway).
_seen: dict[object, _Seen] = {}
SEEN_MEMO_SIZE = 10_000


def _remember(user_id: object, seen: _Seen) -> None:
    if len(_seen) >= SEEN_MEMO_SIZE:
        _seen.clear()
    _seen[user_id] = seen


class Lookup(NamedTuple):
    """What one round trip found: a valid layer, or the tokens to store a fresh one under.

    ``stale`` is an entry computed under older tokens: not to be used normally, but still the best
    answer when the database is down.
    """

    layer: Layer | None
    global_token: str | None
    user_token: str | None
    stale: Layer | None = None
    failed: bool = False
    #: The memo's version before the read (``token_memo().begin()``), for ``tokens_for_store``.
    version: int | None = None


_FAILED = Lookup(None, None, None, failed=True)


def _held(user_id: object) -> _Seen | None:
    """The entry this process holds for the user, when its memo says that the tokens it was
    stored under are still the current ones (no round trip); else ``None``."""
    seen = _seen.get(user_id)
    if seen is None:
        return None
    memo = _token_memo
    if memo is _UNSELECTED:
        memo = _select_token_memo()
    if memo is None or time.time() >= seen.expires_at:
        return None
    if not memo.holds(user_id, seen.global_token, seen.user_token):
        return None
    return seen


def cached_layer(user_id: object) -> Layer | None:
    """The user's layer without any round trip (the warm path), else ``None``: ``lookup``."""
    seen = _held(user_id)
    return None if seen is None else seen.layer


def lookup(user_id: object) -> Lookup:
    """Read the tokens and the user's entry in one round trip.

    No round trip at all when this process's memo knows the current tokens and holds the entry
    stored under them (``_held``). The entry itself is not read when this process already holds
    the one stored under the current tokens; it is read in a second round trip when the tokens
    moved on.
    """
    held = _held(user_id)
    if held is not None:
        return Lookup(held.layer, held.global_token, held.user_token)
    seen = _seen.get(user_id)
    memo = token_memo()
    version = None if memo is None else memo.begin()
    prefix = _prefix()
    global_key = global_token_key(prefix)
    user_key = user_token_key(user_id, prefix)
    entry: object = None
    try:
        cache = get_cache()
        if seen is None:
            found: dict[str, Any] = cache.get_many(
                (global_key, user_key, entry_key(user_id, prefix))
            )
            entry = found.get(entry_key(user_id, prefix))
        else:
            found = cache.get_many((global_key, user_key))
        global_token = found.get(global_key)
        user_token = found.get(user_key)
        if version is not None and global_token is not None and user_token is not None:
            memo.remember(version, user_id, global_token, user_token)  # type: ignore[union-attr]
        if seen is not None:
            if (
                global_token is not None
                and global_token == seen.global_token
                and user_token == seen.user_token
                and time.time() < seen.expires_at
            ):
                return Lookup(seen.layer, global_token, user_token)
            entry = cache.get(entry_key(user_id, prefix))
    except Exception:
        log_rate_limited("read", "logout_rules: the policy cache could not be read")
        return _FAILED
    parsed = None if entry is None else _parse_entry(entry)
    if parsed is None:
        return Lookup(None, global_token, user_token, version=version)
    if (
        global_token is not None
        and parsed.global_token == global_token
        and parsed.user_token == user_token
    ):
        _remember(user_id, parsed)
        return Lookup(parsed.layer, global_token, user_token)
    return Lookup(None, global_token, user_token, stale=parsed.layer, version=version)


def _ensure_token(key: str, current: str | None) -> str | None:
    """Return the token stored at ``key``, creating one when there is none."""
    if current is not None:
        return current
    cache = get_cache()
    cache.add(key, uuid.uuid4().hex, TOKEN_TIMEOUT)
    token = cache.get(key)
    return token if isinstance(token, str) else None


def tokens_for_store(user_id: object, found: Lookup) -> tuple[str, str] | None:
    """The tokens a fresh entry will be stored under. Call this *before* loading the rows.

    Any invalidation that commits after this point replaces a token, so an entry computed from
    rows read before that commit can never be taken for valid.
    """
    if found.failed:
        return None
    try:
        global_token = _ensure_token(global_token_key(), found.global_token)
        user_token = _ensure_token(user_token_key(user_id), found.user_token)
    except Exception:
        log_rate_limited("write", "logout_rules: the policy cache could not be written")
        return None
    if global_token is None or user_token is None:
        return None
    memo = token_memo()
    if memo is not None and found.version is not None:
        memo.remember(found.version, user_id, global_token, user_token)
    return global_token, user_token


def store(user_id: object, tokens: tuple[str, str] | None, layer: Layer) -> None:
    """Store a layer loaded after ``tokens_for_store`` returned ``tokens``."""
    if tokens is None:
        return
    timeout = conf.CACHE_TIMEOUT
    expires_at = time.time() + timeout
    try:
        get_cache().set(
            entry_key(user_id), (tokens[0], tokens[1], _content(layer), expires_at), timeout
        )
    except Exception:
        log_rate_limited("write", "logout_rules: the policy cache could not be written")
        return
    _remember(user_id, _Seen(tokens[0], tokens[1], expires_at, intern_layer(layer)))


def invalidate_all() -> None:
    """Make every user's entry invalid (a new global token)."""
    _replace_tokens({global_token_key(): uuid.uuid4().hex}, True, ())


def invalidate_users(user_ids: Iterable[object]) -> None:
    """Make these users' entries invalid (new per-user tokens)."""
    ids = list(user_ids)
    if ids:
        _replace_tokens({user_token_key(user_id): uuid.uuid4().hex for user_id in ids}, False, ids)


def _replace_tokens(
    tokens: Mapping[str, str], everyone: bool, user_ids: Collection[object]
) -> None:
    """Write new tokens (and notify every process, when the memo publishes); then this process's
    memo forgets the old ones, whether or not the write succeeded."""
    memo = None
    try:
        memo = token_memo()
        if memo is not None and memo.publishes:
            memo.publish(tokens, everyone, user_ids)
        else:
            get_cache().set_many(dict(tokens), TOKEN_TIMEOUT)
    except Exception:
        log_rate_limited("invalidate", "logout_rules: the policy cache could not be invalidated")
    if memo is not None:
        memo.forget(everyone, user_ids)


# --- after commit ------------------------------------------------------------------------------
#
# Within one transaction many rows may change (an import, a bulk update): the invalidations are
# collected in one batch per thread and database alias, and flushed once, after the outermost
# commit. A rollback discards Django's on-commit callbacks, so a rolled-back change leaves the cache
# as it was (what it had queued is flushed with the next committed batch, which is harmless: an
# extra invalidation only costs one cold resolution).


class _Batch:
    __slots__ = ("all", "done", "users")

    def __init__(self) -> None:
        self.all = False
        self.done = False
        self.users: set[object] = set()

    def flush(self) -> None:
        """Run once, by the first of the batch's on-commit callbacks to fire."""
        if self.done:
            return
        self.done = True
        if self.all:
            invalidate_all()
        elif self.users:
            invalidate_users(self.users)


_pending = threading.local()


def _queue(using: str | None, everyone: bool, user_ids: tuple[object, ...] = ()) -> None:
    alias = using or DEFAULT_DB_ALIAS
    if not transaction.get_connection(alias).in_atomic_block:
        # Autocommit: the change is already committed.
        if everyone:
            invalidate_all()
        else:
            invalidate_users(user_ids)
        return
    batch: _Batch | None = getattr(_pending, alias, None)
    if batch is None or batch.done:
        batch = _Batch()
        setattr(_pending, alias, batch)
    if everyone:
        batch.all = True
    else:
        batch.users.update(user_ids)
    # One callback per change (cheap: the first to run flushes the batch, the others do nothing).
    # Registering each time keeps the batch alive when a savepoint that registered an earlier
    # callback is rolled back.
    transaction.on_commit(batch.flush, using=alias)


def invalidate_all_on_commit(using: str | None = None) -> None:
    """Invalidate every user's entry once the current transaction commits."""
    _queue(using, True)


def invalidate_users_on_commit(user_ids: Iterable[object], using: str | None = None) -> None:
    """Invalidate these users' entries once the current transaction commits."""
    ids = tuple(user_ids)
    if ids:
        _queue(using, False, ids)


def has_pending_changes() -> bool:
    """Whether this thread's connections hold uncommitted changes that feed resolution.

    Every change we invalidate for (rules, memberships, group names, bulk writes) queues a batch
    whose ``flush`` waits in ``connection.run_on_commit``. While it waits, this connection reads
    rows that no other connection sees and that a rollback may still discard: a policy resolved
    from them must not be cached. A batch is no longer pending once it ran (commit, or a test's
    ``captureOnCommitCallbacks(execute=True)``) or once Django dropped its callbacks (a rollback,
    or the rollback of the savepoint that held all of them); such a batch is forgotten here.
    """
    batches = _pending.__dict__
    if not batches:
        return False
    pending = False
    for alias, batch in list(batches.items()):
        if batch.done:
            continue
        flush = batch.flush
        if any(entry[1] == flush for entry in transaction.get_connection(alias).run_on_commit):
            pending = True
        else:
            del batches[alias]  # rolled back: what it queued never happened
    return pending
