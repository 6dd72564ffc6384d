"""The notification channel: Redis pub/sub on the policy cache's own server, so that a warm request
needs no round trip to learn that the generation tokens are still current.

Every invalidation replaces its tokens, increments a sequence number and publishes that number
with what changed, in **one** Lua script (all or nothing), then makes one more round trip: Redis
has written a published message to every subscriber's socket before it answers a later command,
so when the invalidating request goes on, the message is already on its way to every process.

Each process keeps a memo of the tokens (the global one, and per user) that it read from the cache,
valid while its channel is healthy. A listener thread (started lazily, per process) subscribes,
applies every message to the memo (and bumps the memo's version), and every ``heartbeat`` seconds
reads the sequence number and pings its own subscription: a sequence number it has not received (a
lost message), one that went backwards (Redis was reset) or a dead subscription makes it drop the
memo and start again (reconnect, resynchronise). Until then, and whenever its socket holds data not
yet applied, requests read the tokens from the cache as before: a request never waits on the
channel, and the memo is never trusted for longer than two heartbeats without a successful one.

The memo is written only by the listener (messages), by this process's own invalidations (applied
synchronously, after the cache write) and by requests that read tokens from the cache, under a
lock and only if the memo's version did not move since before their read: a message applied
meanwhile may be the very invalidation that made what they read stale.

Supported clients: Django's ``RedisCache`` and django-redis's default (and Sentinel) client.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger("logout_rules")

#: Longer lists of users in one invalidation make subscribers forget every user's token instead.
MAX_USERS_PER_MESSAGE = 1000
#: How many users' tokens the memo holds (it is cleared when full).
MEMO_SIZE = 10_000
#: The longest pause between two connection attempts after a failure (seconds).
MAX_RECONNECT_DELAY = 2.0

_EVERYONE = "A"  # the global token was replaced
_USERS = "U"  # these users' tokens were replaced (a JSON list follows)
_ALL_USERS = "U*"  # too many users to list: forget every user's token

# KEYS: the token keys, then the sequence key. ARGV: timeout, channel, payload, encoded tokens.
_PUBLISH = """
local last = #KEYS
for i = 1, last - 1 do
  redis.call('SET', KEYS[i], ARGV[i + 3], 'EX', ARGV[1])
end
local sequence = redis.call('INCR', KEYS[last])
redis.call('EXPIRE', KEYS[last], ARGV[1])
redis.call('PUBLISH', ARGV[2], sequence .. '|' .. ARGV[3])
return sequence
"""

Log = Callable[..., None]


@dataclass(frozen=True)
class RedisBackend:
    """What the channel needs from a Redis cache backend: its client and how it writes keys."""

    client: Any  # redis.Redis, on the primary (the server that writes)
    make_key: Callable[[str], str]
    encode: Callable[[object], Any]
    decode: Callable[[Any], object]

    @property
    def db(self) -> int:
        return int(self.client.connection_pool.connection_kwargs.get("db") or 0)


def redis_backend(cache: object) -> RedisBackend | None:
    """The backend of a cache this channel supports, else ``None``."""
    from django.core.cache.backends.redis import RedisCache

    if type(cache) is RedisCache:
        backend: Any = cache
        client = backend._cache
        serializer = client._serializer
        return RedisBackend(
            client.get_client(write=True),
            lambda key: str(backend.make_and_validate_key(key)),
            serializer.dumps,
            serializer.loads,
        )
    client_class = django_redis_client(cache)
    if client_class is not None:
        redis_client: Any = cache.client  # type: ignore[attr-defined]
        return RedisBackend(
            redis_client.get_client(write=True),
            lambda key: str(redis_client.make_key(key)),
            redis_client.encode,
            redis_client.decode,
        )
    return None


def django_redis_client(cache: object) -> type | None:
    """django-redis's client class when it is one the channel supports (the default client and
    the Sentinel client: others, like the shard and herd clients, transform keys or values)."""
    try:
        from django_redis.cache import RedisCache as DjangoRedisCache
        from django_redis.client import DefaultClient, SentinelClient
    except ImportError:
        return None
    if not isinstance(cache, DjangoRedisCache):
        return None
    client_class = type(cache.client)
    return client_class if client_class in (DefaultClient, SentinelClient) else None


class Resync(Exception):
    """The memo can no longer be trusted: reconnect and resynchronise."""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Channel:
    """One process's subscription, and the memo of tokens it keeps valid (see the module)."""

    publishes = True

    def __init__(
        self,
        backend: RedisBackend,
        *,
        global_key: str,
        sequence_key: str,
        token_timeout: int,
        heartbeat: float,
        log: Log,
    ) -> None:
        self.backend = backend
        self.heartbeat = heartbeat
        self._log = log
        self._token_timeout = token_timeout
        self._sequence_key = backend.make_key(sequence_key)
        self._raw_global_key = backend.make_key(global_key)
        #: Pub/sub ignores database numbers: the name carries it (and the cache's key prefix).
        self.name = f"{self._sequence_key}@{backend.db}"
        self._script = backend.client.register_script(_PUBLISH)
        self._timeout = max(0.5, heartbeat)

        # The memo. Written under the lock; read without it.
        self._lock = threading.Lock()
        self.version = 0
        self.global_token: str | None = None
        self.user_tokens: dict[str, str] = {}
        # Health, as seen by requests.
        self.trusted_until = 0.0  # monotonic; trusted while now is before it
        self.busy = False  # the listener is reading its socket
        #: The subscription's socket and a poller registered for it, set together (``_sock``).
        self._watch: tuple[Any, _Poller] | None = None
        # The listener's own state.
        self._connection: Any = None
        self._last_sequence: int | None = None
        self._tracking = False  # sequence numbers are checked (after the first sync)
        self._pongs = 0
        self._applied = 0
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        #: Counters, for tests and logs: connections made, resynchronisations, messages applied.
        self.connects = 0
        self.resyncs = 0

    # --- the request path (never blocks, never touches the network) ---------------------------

    def begin(self) -> int | None:
        """The memo's version when it may be trusted right now, else ``None`` (read the cache).

        Not trusted: no successful heartbeat for two heartbeats, or data on the subscription not
        yet applied (in the socket, or being read by the listener). Checking the socket costs one
        poll with timeout 0 (``epoll`` where there is one: registered once per connection, it is
        the cheapest system call for it); the version is read first and again last, so anything
        applied meanwhile (a reconnection too: the memo is dropped before the socket is closed)
        makes this request read the cache.
        """
        version = self.version
        if time.monotonic() >= self.trusted_until:
            self.start()
            return None
        watch = self._watch
        if watch is None:
            return None
        sock, poller = watch
        try:
            # A closed socket leaves ``epoll`` without a word (``select`` would raise): its
            # ``fileno()`` says so.
            if poller.poll(0) or sock.fileno() < 0:
                return None
        except (OSError, ValueError):  # closed meanwhile
            return None
        if self.busy or self.version != version:
            return None
        return version

    def holds(self, user_id: object, global_token: str, user_token: str) -> bool:
        """Whether these are the user's current tokens: memoized, and the memo trusted now.

        The tokens are compared first (no system call when they differ); ``begin()`` then checks
        that nothing was applied since the comparison.
        """
        version = self.version
        if self.global_token != global_token or self.user_tokens.get(str(user_id)) != user_token:
            return False
        return self.begin() == version

    def remember(self, version: int, user_id: object, global_token: str, user_token: str) -> None:
        """Memoize tokens read from the cache after ``begin()`` returned ``version``."""
        with self._lock:
            if version != self.version or time.monotonic() >= self.trusted_until:
                return
            self.global_token = global_token
            if len(self.user_tokens) >= MEMO_SIZE:
                self.user_tokens.clear()
            self.user_tokens[str(user_id)] = user_token

    @property
    def _sock(self) -> Any:
        """The subscription's socket (``None`` while not subscribed). Setting it registers a new
        poller for requests to check it with (and closes the previous one)."""
        watch = self._watch
        return None if watch is None else watch[0]

    @_sock.setter
    def _sock(self, sock: Any) -> None:
        previous = self._watch
        self._watch = None if sock is None else (sock, _poller(sock))
        if previous is not None:
            previous[1].close()

    # --- invalidation -------------------------------------------------------------------------

    def publish(
        self, tokens: Mapping[str, str], everyone: bool, user_ids: Collection[object]
    ) -> None:
        """Replace the tokens, bump the sequence and notify every process, in one script."""
        payload = _payload(everyone, user_ids)
        keys = [self.backend.make_key(key) for key in tokens]
        args: list[Any] = [self._token_timeout, self.name, payload]
        args.extend(self.backend.encode(token) for token in tokens.values())
        import redis

        try:
            self._script(keys=[*keys, self._sequence_key], args=args)
        except redis.exceptions.ResponseError:
            # Scripts or PUBLISH refused (an ACL, a proxy): write the tokens and still bump the
            # sequence, so that every listener's heartbeat sees a message it never received.
            self._log(
                "notify",
                "logout_rules: the cache refused the notification script; tokens are written "
                "without it (set LOGOUT_RULES_CACHE_NOTIFICATIONS = False if this persists)",
            )
            client = self.backend.client
            pipeline = client.pipeline()
            for key, token in zip(keys, tokens.values(), strict=True):
                pipeline.set(key, self.backend.encode(token), ex=self._token_timeout)
            pipeline.incr(self._sequence_key)
            pipeline.execute()
            return
        # One more round trip: Redis handles it only after it wrote the message to every
        # subscriber's socket (see the module docstring).
        self.backend.client.ping()

    def forget(self, everyone: bool, user_ids: Collection[object]) -> None:
        """This process's own invalidation, applied at once (after the cache write)."""
        with self._lock:
            self.version += 1
            self._forget_locked(_payload(everyone, user_ids))

    def _forget_locked(self, payload: str) -> None:
        if payload == _EVERYONE:
            self.global_token = None
        elif payload == _ALL_USERS:
            self.user_tokens.clear()
        elif payload.startswith(_USERS):
            for user_id in json.loads(payload[len(_USERS) :]):
                self.user_tokens.pop(str(user_id), None)
        else:
            raise Resync(f"unknown notification {payload[:40]!r}")

    def _clear_locked(self) -> None:
        self.version += 1
        self.global_token = None
        self.user_tokens.clear()

    # --- the listener thread ------------------------------------------------------------------

    def start(self) -> None:
        """Start the listener thread unless it runs (cheap when it does)."""
        thread = self._thread
        if (thread is not None and thread.is_alive()) or self._stopping.is_set():
            return
        with self._start_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            if self._thread is None:
                atexit.register(self.close)
            self._thread = threading.Thread(
                target=self._run, name="logout_rules-notifications", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Stop the listener and forget the memo (``atexit``, settings changes, tests)."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._drop()
        for sock in (self._wake_r, self._wake_w):
            sock.close()
        atexit.unregister(self.close)

    def _run(self) -> None:
        delay = 0.05
        while not self._stopping.is_set():
            try:
                self._connect()
                self._sync(initial=True)
                delay = 0.05
                self._listen()
            except Resync as exc:
                self.resyncs += 1
                self._log(
                    "notify-resync",
                    "logout_rules: the cache notification channel resynchronises: %s",
                    exc,
                    exc_info=False,
                )
            except Exception as exc:
                if not self._stopping.is_set():
                    self._log(
                        "notify-failed",
                        "logout_rules: the cache notification channel failed (%s: %s); requests "
                        "read the tokens from the cache until it is back",
                        type(exc).__name__,
                        exc,
                        exc_info=False,
                    )
                    self._stopping.wait(delay)
                    delay = min(delay * 2, MAX_RECONNECT_DELAY)
            finally:
                self._drop()

    def _untrust(self) -> None:
        with self._lock:
            self.trusted_until = 0.0
            self._clear_locked()

    def _drop(self) -> None:
        """Distrust and empty the memo *before* closing the socket that requests poll."""
        self._untrust()
        connection, self._connection = self._connection, None
        self._sock = None
        self.busy = False
        if connection is not None:
            connection.disconnect()

    def _connect(self) -> None:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        pool = self.backend.client.connection_pool
        options = dict(pool.connection_kwargs)
        options.update(
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        connection = pool.connection_class(**options)
        self._connection = connection
        connection.connect()
        connection.send_command("SUBSCRIBE", self.name, check_health=False)
        reply = connection.read_response(push_request=True)
        if not isinstance(reply, list) or _text(reply[0]) != "subscribe":
            raise Resync(f"unexpected answer to SUBSCRIBE: {reply!r}")
        self._sock = connection._sock
        self._last_sequence = None
        self._tracking = False
        self.connects += 1

    def _listen(self) -> None:
        next_beat = time.monotonic() + self.heartbeat
        while not self._stopping.is_set():
            wait = next_beat - time.monotonic()
            if wait <= 0:
                self._sync(initial=False)
                next_beat = time.monotonic() + self.heartbeat
                continue
            ready = select.select((self._sock, self._wake_r), (), (), wait)[0]
            if self._sock in ready:
                self._drain()

    def _drain(self) -> None:
        """Apply everything the socket (and the client's buffer) holds. Requests do not trust
        the memo while this runs."""
        connection = self._connection
        self.busy = True
        try:
            while connection.can_read(0):
                self._handle(connection.read_response(disconnect_on_error=False, push_request=True))
        except BaseException:
            self._untrust()  # before ``busy`` drops: the memo may miss what was not applied
            raise
        finally:
            self.busy = False

    def _handle(self, response: object) -> None:
        if response == b"PONG" or response == "PONG":  # RESP3 answers PING in subscribed mode so
            self._pongs += 1
            return
        if not isinstance(response, list) or not response:
            raise Resync(f"unexpected message {response!r:.80}")
        kind = _text(response[0])
        if kind == "pong":
            self._pongs += 1
        elif kind == "message" and len(response) == 3:
            self._apply(_text(response[2]))
        elif kind not in ("subscribe",):
            raise Resync(f"unexpected message kind {kind!r}")

    def _apply(self, message: str) -> None:
        sequence_text, _, payload = message.partition("|")
        sequence = int(sequence_text)
        with self._lock:
            self._forget_locked(payload)
            self.version += 1
            self._applied += 1
            last = self._last_sequence
            self._last_sequence = sequence if last is None else max(last, sequence)
            if self._tracking and last is not None and sequence != last + 1:
                what = "lost" if sequence > last + 1 else "went backwards (Redis was reset)"
                raise Resync(f"notification {sequence} after {last}: a notification {what}")

    def _sync(self, initial: bool) -> None:
        """The heartbeat (and the first synchronisation after connecting).

        Reads the sequence number (and the global token), then pings the subscription: every
        message published before that read arrives before the answer. Afterwards this process
        must have received every number up to the one read, and no fewer than it had before.
        """
        started = time.monotonic()
        before = self._last_sequence
        applied = self._applied
        raw_sequence, raw_global = self.backend.client.mget(
            self._sequence_key, self._raw_global_key
        )
        pongs = self._pongs
        self._connection.send_command("PING", check_health=False)
        deadline = started + self._timeout
        while self._pongs == pongs:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise TimeoutError("the subscription did not answer PING in time")
            if select.select((self._sock,), (), (), wait)[0]:
                self._drain()
        sequence = int(raw_sequence) if raw_sequence is not None else 0
        with self._lock:
            received = self._last_sequence or 0
            if initial:
                self._clear_locked()
                self._last_sequence = max(sequence, received)
                self._tracking = True
            else:
                if sequence > received:
                    raise Resync(f"notification {sequence} never arrived (last: {received})")
                if sequence < (before or 0):
                    raise Resync(f"the sequence went back from {before} to {sequence}")
                memo = self.global_token
                if memo is not None and self._applied == applied:
                    current = None if raw_global is None else self.backend.decode(raw_global)
                    if current != memo:
                        raise Resync("the global token changed without a notification")
            self.trusted_until = started + 2 * self.heartbeat


class _Poller(Protocol):
    def poll(self, timeout: float) -> list[Any]: ...

    def close(self) -> None: ...


class _SelectPoller:
    """``select`` on one socket, where there is neither ``epoll`` nor ``poll`` (Windows)."""

    def __init__(self, sock: Any) -> None:
        self._socks: tuple[Any, ...] | None = (sock,)

    def poll(self, timeout: float) -> list[Any]:
        if self._socks is None:
            raise ValueError("closed poller")
        return select.select(self._socks, (), (), timeout)[0]

    def close(self) -> None:
        self._socks = None


class _PollPoller:
    """``select.poll`` on one socket (where there is no ``epoll``)."""

    def __init__(self, sock: Any) -> None:
        self._poll: Any = select.poll()
        self._poll.register(sock, select.POLLIN)

    def poll(self, timeout: float) -> list[Any]:
        if self._poll is None:
            raise ValueError("closed poller")
        return self._poll.poll(timeout)  # type: ignore[no-any-return]

    def close(self) -> None:
        self._poll = None


def _poller(sock: Any) -> _Poller:
    """Something whose ``poll(0)`` is non-empty when ``sock`` has data to read (or is closed,
    or failed); ``epoll`` (level-triggered) where there is one."""
    if hasattr(select, "epoll"):
        epoll = select.epoll()
        try:
            epoll.register(sock, select.EPOLLIN)
        except BaseException:
            epoll.close()
            raise
        return epoll
    if hasattr(select, "poll"):
        return _PollPoller(sock)
    return _SelectPoller(sock)


def _payload(everyone: bool, user_ids: Collection[object]) -> str:
    if everyone:
        return _EVERYONE
    if len(user_ids) > MAX_USERS_PER_MESSAGE:
        return _ALL_USERS
    return _USERS + json.dumps([str(user_id) for user_id in user_ids])
