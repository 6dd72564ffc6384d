"""No round trip of ours on a warm request (issue 10, part 2): the per-process memo of the tokens.

* ``LocMemCache``: the memo compares the cache's own stored objects, so no read of the cache at all,
  and any write to the token keys (an invalidation, ``clear()``) is seen at once.
* Redis (Django's ``RedisCache`` and django-redis): the memo is kept valid by notifications on the
  cache's own server. These tests run a **private** ``redis-server`` (a free port, stopped at the
  end; the shared one is never touched): a change made by "another process" (a second channel on
  the same server, which is what another process has) judges the very next lookup; the memo's own
  logic (versions, sequence gaps, a busy listener) is tested on its own; a killed subscription, a
  restarted Redis, a notification lost on purpose and a refused script are each noticed within the
  bound (two heartbeats) and never serve a stale policy afterwards.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from logout_rules import cache as policy_cache
from logout_rules import checks, notifications
from logout_rules.memo import LocalTokens
from logout_rules.policy import Layer, Rule

from .factories import UserLogoutRuleFactory, committed
from .services import redis_server

HEARTBEAT = 0.1
#: Far longer than two heartbeats: how long a test waits for something the channel must do.
PATIENCE = 10.0

needs_redis = pytest.mark.skipif(
    not redis_server.available(),
    reason="needs /usr/bin/redis-server and the redis client (pip install -e '.[services]') for "
    "a private Redis",
)

BACKENDS = {
    "django": "django.core.cache.backends.redis.RedisCache",
    "django-redis": "django_redis.cache.RedisCache",
}


@pytest.fixture(autouse=True)
def _log_every_error():
    """Errors are logged once a minute per kind: each test sees its own."""
    policy_cache._last_logged.clear()


def eventually(condition: Callable[[], bool], what: str, timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.01)


def store_layer(user_id: object, idle: float) -> Layer:
    """Resolve-and-store as the resolver does, with a layer of our own (no database)."""
    found = policy_cache.lookup(user_id)
    tokens = policy_cache.tokens_for_store(user_id, found)
    assert tokens is not None
    layer = Layer(values=Rule(idle_time=idle))
    policy_cache.store(user_id, tokens, layer)
    return policy_cache.intern_layer(layer)


class CommandCounter:
    """Counts the Redis commands sent from the calling thread (the listener's are not counted)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import redis

        self.commands: list[str] = []
        thread = threading.get_ident()
        original = redis.Redis.execute_command

        def execute_command(client: Any, *args: Any, **options: Any) -> Any:
            if threading.get_ident() == thread:
                self.commands.append(str(args[0]))
            return original(client, *args, **options)

        monkeypatch.setattr(redis.Redis, "execute_command", execute_command)


# --- a per-process cache: no read at all -------------------------------------------------------


@pytest.fixture
def locmem(settings) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def test_locmem_warm_lookup_reads_nothing_from_the_cache(locmem, db, monkeypatch):
    cache = caches["default"]
    store_layer(1, 60)
    assert isinstance(policy_cache.token_memo(), LocalTokens)
    reads: list[object] = []
    for name in ("get", "get_many"):
        original = getattr(type(cache), name)

        def counted(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            reads.append(args)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(type(cache), name, counted)
    assert policy_cache.lookup(1).layer is not None
    assert reads == []


@pytest.mark.parametrize(
    "change",
    [
        lambda cache: policy_cache.invalidate_all(),
        lambda cache: policy_cache.invalidate_users([1]),
        lambda cache: cache.clear(),
        lambda cache: cache.delete(policy_cache.user_token_key(1)),
        lambda cache: cache.set(policy_cache.global_token_key(), "other", 60),
    ],
    ids=["invalidate_all", "invalidate_users", "clear", "delete", "set-by-anyone"],
)
def test_locmem_memo_sees_every_write_to_the_tokens(locmem, db, change):
    layer = store_layer(1, 60)
    assert policy_cache.lookup(1).layer is layer
    change(caches["default"])
    assert policy_cache.lookup(1).layer is None


def test_locmem_memo_ignores_other_users_writes(locmem, db):
    layer = store_layer(1, 60)
    store_layer(2, 30)
    policy_cache.invalidate_users([2])
    assert policy_cache.lookup(1).layer is layer


# --- the channel's logic, without a server ------------------------------------------------------


class FakePool:
    connection_kwargs = {"db": 4}


class FakeClient:
    connection_pool = FakePool()

    def register_script(self, source: str) -> object:
        return object()


def fake_channel() -> notifications.Channel:
    backend = notifications.RedisBackend(FakeClient(), lambda key: f"p:{key}", str, str)
    channel = notifications.Channel(
        backend,
        global_key="gen",
        sequence_key="seq",
        token_timeout=60,
        heartbeat=HEARTBEAT,
        log=lambda *args, **kwargs: None,
    )
    channel.trusted_until = time.monotonic() + 3600
    channel._tracking = True
    channel._last_sequence = 10
    return channel


@pytest.fixture
def fake() -> Iterator[notifications.Channel]:
    channel = fake_channel()
    yield channel
    channel.close()


def test_channel_name_carries_the_prefix_and_the_database(fake):
    assert fake.name == "p:seq@4"


def test_untrusted_or_unsubscribed_memo_is_not_used(fake, monkeypatch):
    monkeypatch.setattr(fake, "start", lambda: None)
    assert fake.begin() is None  # no subscription socket
    a, b = socket.socketpair()
    try:
        fake._sock = a
        assert fake.begin() == fake.version
        fake.remember(fake.version, 7, "g", "u")
        assert fake.holds(7, "g", "u")
        assert not fake.holds(7, "g", "other")
        assert not fake.holds(8, "g", "u")
        b.send(b"*3\r\n")  # a message not yet read by the listener
        assert fake.begin() is None
        assert not fake.holds(7, "g", "u")
        a.recv(10)
        fake.busy = True  # the listener is reading one
        assert fake.begin() is None
        fake.busy = False
        fake.trusted_until = time.monotonic() - 1  # no heartbeat for two heartbeats
        assert fake.begin() is None
    finally:
        a.close()
        b.close()


def _epoll(sock: Any) -> Any:
    if not hasattr(__import__("select"), "epoll"):
        pytest.skip("no epoll here")
    return notifications._poller(sock)


@pytest.mark.parametrize(
    "make", [_epoll, notifications._PollPoller, notifications._SelectPoller],
    ids=["epoll", "poll", "select"],
)  # fmt: skip
def test_every_poller_sees_unread_data_and_refuses_once_closed(make):
    """The socket check of ``begin``, whichever system call the platform has: unread data (or a
    hang-up) is seen; a closed poller raises (``begin`` then reads the cache)."""
    a, b = socket.socketpair()
    try:
        poller = make(a)
        assert not poller.poll(0)
        b.send(b"*3\r\n")
        assert poller.poll(0)
        a.recv(10)
        assert not poller.poll(0)
        b.close()  # the server went away: readable (end of file)
        assert poller.poll(0)
        poller.close()
        with pytest.raises((ValueError, OSError)):
            poller.poll(0)
    finally:
        a.close()
        b.close()


def test_a_replaced_socket_closes_the_previous_poller(fake, monkeypatch):
    monkeypatch.setattr(fake, "start", lambda: None)
    a, b = socket.socketpair()
    try:
        fake._sock = a
        assert fake._watch is not None
        poller = fake._watch[1]
        assert fake.begin() == fake.version
        fake._sock = None  # dropped (the memo was distrusted first)
        assert fake._watch is None
        assert fake.begin() is None
        with pytest.raises((ValueError, OSError)):
            poller.poll(0)
    finally:
        a.close()
        b.close()


def test_a_socket_closed_under_the_poller_is_never_trusted(fake, monkeypatch):
    """``epoll`` forgets a closed socket silently: the check does not take that for "no data"."""
    monkeypatch.setattr(fake, "start", lambda: None)
    a, b = socket.socketpair()
    try:
        fake._sock = a
        assert fake.begin() == fake.version
        a.close()  # closed without the channel knowing (its memo not distrusted)
        assert fake.begin() is None
    finally:
        fake._sock = None
        a.close()
        b.close()


def test_tokens_read_before_a_message_was_applied_are_not_remembered(fake):
    version = fake.version
    fake._apply('11|U["7"]')  # arrived while the request read the (now stale) tokens
    fake.remember(version, 7, "g-old", "u-old")
    assert "7" not in fake.user_tokens
    fake.remember(fake.version, 7, "g", "u")
    assert (fake.global_token, fake.user_tokens["7"]) == ("g", "u")


def test_untrusted_memo_remembers_nothing(fake):
    fake.trusted_until = 0.0
    fake.remember(fake.version, 7, "g", "u")
    assert "7" not in fake.user_tokens


@pytest.mark.parametrize(
    ("message", "forgotten", "kept"),
    [
        ("11|A", ["global"], ["1", "2"]),
        ('11|U["1"]', ["1"], ["global", "2"]),
        ("11|U*", ["1", "2"], ["global"]),
    ],
)
def test_messages_forget_what_they_name(fake, message, forgotten, kept):
    fake.remember(fake.version, 1, "g", "u1")
    fake.remember(fake.version, 2, "g", "u2")
    fake._apply(message)
    known = {"global": fake.global_token, "1": fake.user_tokens.get("1"),
             "2": fake.user_tokens.get("2")}  # fmt: skip
    assert [name for name in known if known[name] is None] == forgotten
    assert [name for name in known if known[name] is not None] == kept


@pytest.mark.parametrize("sequence", [12, 10, 3])
def test_a_gap_or_a_sequence_going_back_forces_a_resync(fake, sequence):
    with pytest.raises(notifications.Resync):
        fake._apply(f"{sequence}|A")


def test_own_invalidation_is_applied_at_once(fake):
    fake.remember(fake.version, 1, "g", "u1")
    version = fake.version
    fake.forget(False, [1])
    assert "1" not in fake.user_tokens
    assert fake.version != version


def test_large_invalidations_forget_every_user():
    many = list(range(notifications.MAX_USERS_PER_MESSAGE + 1))
    assert notifications._payload(False, many) == "U*"
    assert notifications._payload(False, [1, "x"]) == 'U["1", "x"]'
    assert notifications._payload(True, []) == "A"


def test_unknown_message_forces_a_resync(fake):
    with pytest.raises(notifications.Resync):
        fake._apply("11|?")


# --- on a private Redis -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory) -> Iterator[redis_server.PrivateRedis]:
    if not redis_server.available():
        pytest.skip("no redis-server")
    server = redis_server.PrivateRedis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


def redis_caches(url: str, backend: str, prefix: str = "tests") -> dict[str, Any]:
    return {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "policy": {"BACKEND": BACKENDS[backend], "LOCATION": url, "KEY_PREFIX": prefix},
    }


def trusted(channel: Any) -> bool:
    return channel.begin() is not None


@pytest.fixture(params=list(BACKENDS))
def channel(request, settings, private_redis) -> Iterator[notifications.Channel]:
    """The policy cache on the private Redis (db 3), through Django's client or django-redis, with
    notifications on (the default) and a short heartbeat; trusted before the test starts."""
    pytest.importorskip("django_redis")
    settings.CACHES = redis_caches(private_redis.url(3), request.param)
    settings.LOGOUT_RULES_CACHE_ALIAS = "policy"
    settings.LOGOUT_RULES_CACHE_HEARTBEAT = HEARTBEAT
    caches["policy"].clear()
    memo = policy_cache.token_memo()
    assert isinstance(memo, notifications.Channel)
    eventually(lambda: trusted(memo), "the channel is trusted")
    yield memo
    policy_cache.reset_token_memo()


@pytest.fixture
def other_process(channel) -> Iterator[notifications.Channel]:
    """A second channel on the same server and keys: what another process publishes with."""
    other = notifications.Channel(
        channel.backend,
        global_key=policy_cache.global_token_key(),
        sequence_key=policy_cache.sequence_key(),
        token_timeout=policy_cache.TOKEN_TIMEOUT,
        heartbeat=HEARTBEAT,
        log=policy_cache.log_rate_limited,
    )
    yield other
    other.close()


def other_invalidates(other: notifications.Channel, user_id: object) -> None:
    import uuid

    other.publish({policy_cache.user_token_key(user_id): uuid.uuid4().hex}, False, [user_id])


@needs_redis
def test_warm_lookup_makes_no_round_trip(channel, monkeypatch):
    layer = store_layer(1, 60)
    counter = CommandCounter(monkeypatch)
    for _ in range(20):
        assert policy_cache.lookup(1).layer is layer
    assert counter.commands == []


@needs_redis
def test_without_notifications_every_lookup_reads_the_tokens(channel, settings, monkeypatch):
    settings.LOGOUT_RULES_CACHE_NOTIFICATIONS = False
    assert policy_cache.token_memo() is None
    assert not channel._thread.is_alive()  # the setting change stopped the old channel
    layer = store_layer(1, 60)
    counter = CommandCounter(monkeypatch)
    for _ in range(3):
        assert policy_cache.lookup(1).layer is layer
    assert counter.commands == ["MGET"] * 3


@needs_redis
def test_own_invalidation_applies_to_the_next_lookup(channel):
    store_layer(1, 60)
    policy_cache.invalidate_users([1])
    assert policy_cache.lookup(1).layer is None
    store_layer(1, 30)
    policy_cache.invalidate_all()
    assert policy_cache.lookup(1).layer is None


@needs_redis
def test_change_by_another_process_judges_the_very_next_lookup(channel, other_process):
    """The strict guarantee: once the other process's invalidation returned, no lookup here is
    served the old entry, however soon it comes (each round: warm, change, look up at once)."""
    for round_number in range(100):
        layer = store_layer(1, round_number + 1)
        assert policy_cache.lookup(1).layer is layer  # warm again
        other_invalidates(other_process, 1)
        assert policy_cache.lookup(1).layer is None, f"stale in round {round_number}"
    assert channel.resyncs == 0


@needs_redis
def test_memo_is_used_again_after_a_change(channel, other_process, monkeypatch):
    store_layer(1, 60)
    other_invalidates(other_process, 1)
    layer = store_layer(1, 30)
    counter = CommandCounter(monkeypatch)

    def warm_without_a_round_trip() -> bool:
        counter.commands.clear()
        return policy_cache.lookup(1).layer is layer and counter.commands == []

    # Once the message is applied, the next read memoizes the new tokens again.
    eventually(warm_without_a_round_trip, "warm again without a round trip")


@needs_redis
def test_lost_notification_is_caught_by_the_heartbeat(channel, other_process, monkeypatch):
    store_layer(1, 60)
    resyncs = channel.resyncs
    # The other process's notification is lost: the tokens and the sequence move, no message.
    client = other_process.backend.client
    client.set(other_process.backend.make_key(policy_cache.user_token_key(1)),
               other_process.backend.encode("new-token"))  # fmt: skip
    client.incr(other_process._sequence_key)
    eventually(lambda: channel.resyncs > resyncs, "the heartbeat notices the lost notification")
    assert policy_cache.lookup(1).layer is None


@needs_redis
def test_refused_script_still_reaches_every_process(channel, other_process, monkeypatch, caplog):
    import redis

    store_layer(1, 60)

    def refused(*args: Any, **kwargs: Any) -> None:
        raise redis.exceptions.ResponseError("NOPERM this user has no permissions to run 'eval'")

    monkeypatch.setattr(other_process, "_script", refused)
    resyncs = channel.resyncs
    other_invalidates(other_process, 1)
    assert "refused the notification script" in caplog.text
    eventually(lambda: channel.resyncs > resyncs, "the heartbeat notices the bumped sequence")
    assert policy_cache.lookup(1).layer is None


@needs_redis
def test_global_change_without_notification_is_caught_by_the_heartbeat(channel):
    store_layer(1, 60)
    assert channel.global_token is not None
    resyncs = channel.resyncs
    # A process with notifications off replaces the global token through the cache only.
    caches["policy"].set(policy_cache.global_token_key(), "replaced", 60)
    eventually(lambda: channel.resyncs > resyncs, "the heartbeat notices the global token")
    assert policy_cache.lookup(1).layer is None


@needs_redis
def test_sequence_going_back_is_a_reset(channel, private_redis):
    store_layer(1, 60)
    resyncs = channel.resyncs
    private_redis.client().publish(channel.name, b"1|A")  # after a reset, numbering restarts
    eventually(lambda: channel.resyncs > resyncs, "a resync")
    eventually(lambda: trusted(channel), "trusted again")


@needs_redis
def test_killed_subscription_is_never_trusted_and_comes_back(channel, other_process, private_redis):
    for round_number in range(5):
        layer = store_layer(1, round_number + 1)
        connects = channel.connects
        assert private_redis.kill_pubsub() >= 1
        other_invalidates(other_process, 1)  # while the subscription is gone
        assert policy_cache.lookup(1).layer is not layer
        eventually(lambda c=connects: channel.connects > c and trusted(channel), "resubscribed")
        assert private_redis.subscribers(channel.name) >= 1


@needs_redis
def test_restarted_redis_is_resynchronised(channel, private_redis, settings):
    layer = store_layer(1, 60)
    connects = channel.connects
    private_redis.stop()
    eventually(lambda: not trusted(channel), "distrusted once Redis is gone")
    found = policy_cache.lookup(1)
    assert found.failed  # read as a failure: the database takes over
    private_redis.start()
    eventually(lambda: channel.connects > connects and trusted(channel), "reconnected")
    assert policy_cache.lookup(1).layer is not layer  # the restarted Redis is empty
    layer = store_layer(1, 30)
    assert policy_cache.lookup(1).layer is layer


@needs_redis
def test_thread_starts_lazily_and_stops_with_the_settings(settings, private_redis):
    pytest.importorskip("django_redis")
    settings.CACHES = redis_caches(private_redis.url(3), "django")
    settings.LOGOUT_RULES_CACHE_ALIAS = "policy"
    settings.LOGOUT_RULES_CACHE_HEARTBEAT = HEARTBEAT
    memo = policy_cache.token_memo()
    assert isinstance(memo, notifications.Channel)
    assert memo._thread is None  # nothing runs until a request asks
    policy_cache.invalidate_all()  # publishing needs no thread
    assert memo._thread is None
    memo.begin()
    assert memo._thread is not None
    assert memo._thread.daemon
    eventually(lambda: trusted(memo), "trusted")
    settings.LOGOUT_RULES_CACHE_HEARTBEAT = 0.2  # any cache setting: a new channel
    assert not memo._thread.is_alive()
    assert policy_cache.token_memo() is not memo
    policy_cache.reset_token_memo()


@needs_redis
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")
def test_forked_child_starts_its_own_channel(channel):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's channel (and its thread) is not inherited
        try:
            fresh = policy_cache._token_memo is policy_cache._UNSELECTED
            memo = policy_cache.token_memo()
            ok = fresh and memo is not channel and isinstance(memo, notifications.Channel)
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == b"1"
    assert channel._thread.is_alive()  # the parent's goes on


@needs_redis
def test_channels_of_other_sites_do_not_mix(settings, private_redis):
    pytest.importorskip("django_redis")
    names = set()
    for db, prefix in ((3, "a"), (4, "a"), (3, "b")):
        settings.CACHES = redis_caches(private_redis.url(db), "django", prefix)
        settings.LOGOUT_RULES_CACHE_ALIAS = "policy"
        memo = policy_cache.token_memo()
        assert isinstance(memo, notifications.Channel)
        names.add(memo.name)
    assert len(names) == 3
    policy_cache.reset_token_memo()


# --- through the middleware -------------------------------------------------------------------


@needs_redis
def test_warm_request_through_the_middleware_makes_no_round_trip(
    channel, user, logged_in, clock, monkeypatch
):
    with committed():
        UserLogoutRuleFactory(user=user, idle_time=timedelta(minutes=10))
    assert logged_in.get("/private/").status_code == 200  # cold
    eventually(lambda: trusted(channel), "trusted")
    assert logged_in.get("/private/").status_code == 200  # remembers the tokens
    counter = CommandCounter(monkeypatch)
    with CaptureQueriesContext(connection) as queries:
        assert logged_in.get("/private/").status_code == 200
    assert counter.commands == []
    assert not any("logout_rules" in query["sql"] for query in queries)


@needs_redis
def test_requests_survive_a_redis_restart_without_a_500(
    channel, user, logged_in, clock, private_redis, caplog
):
    with committed():
        rule = UserLogoutRuleFactory(user=user, idle_time=timedelta(minutes=10))
    assert logged_in.get("/private/").status_code == 200
    private_redis.stop()
    try:
        with committed():  # a change while Redis is down: its invalidation fails (logged)
            rule.idle_time = timedelta(seconds=30)
            rule.save()
        clock.advance(40)
        assert logged_in.get("/private/").status_code == 302  # from the database, at once
    finally:
        private_redis.start()
    assert "could not be invalidated" in caplog.text


# --- checks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("LOGOUT_RULES_CACHE_NOTIFICATIONS", True, []),
        ("LOGOUT_RULES_CACHE_NOTIFICATIONS", False, []),
        ("LOGOUT_RULES_CACHE_NOTIFICATIONS", "false", ["logout_rules.E070"]),
        ("LOGOUT_RULES_CACHE_NOTIFICATIONS", 0, ["logout_rules.E070"]),
        ("LOGOUT_RULES_CACHE_HEARTBEAT", 1, []),
        ("LOGOUT_RULES_CACHE_HEARTBEAT", 0.5, []),
        ("LOGOUT_RULES_CACHE_HEARTBEAT", timedelta(seconds=5), []),
        ("LOGOUT_RULES_CACHE_HEARTBEAT", 0, ["logout_rules.E071"]),
        ("LOGOUT_RULES_CACHE_HEARTBEAT", -1, ["logout_rules.E071"]),
        ("LOGOUT_RULES_CACHE_HEARTBEAT", 3600, ["logout_rules.E071"]),
        ("LOGOUT_RULES_CACHE_HEARTBEAT", "1", ["logout_rules.E071"]),
        ("LOGOUT_RULES_CACHE_HEARTBEAT", True, ["logout_rules.E071"]),
        ("LOGOUT_RULES_CACHE_HEARTBEAT", float("nan"), ["logout_rules.E071"]),
    ],
)
def test_notification_settings_checks(settings, name, value, expected):
    setattr(settings, name, value)
    assert [m.id for m in checks.check_app_settings()] == expected


REDIS = {"BACKEND": BACKENDS["django"], "LOCATION": "redis://127.0.0.1:6379/0"}
MEMCACHED = {
    "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
    "LOCATION": "127.0.0.1:11211",
}


@pytest.mark.parametrize(
    ("cache", "notify", "expected"),
    [
        (REDIS, None, []),
        (REDIS, True, []),
        ({**REDIS, "BACKEND": BACKENDS["django-redis"]}, True, []),
        (
            {**REDIS, "BACKEND": BACKENDS["django-redis"],
             "OPTIONS": {"CLIENT_CLASS": "django_redis.client.SentinelClient"}},
            None,
            [],
        ),
        (
            {**REDIS, "BACKEND": BACKENDS["django-redis"],
             "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"}},
            None,
            ["logout_rules.W071"],
        ),
        (
            {**REDIS, "BACKEND": BACKENDS["django-redis"],
             "OPTIONS": {"CLIENT_CLASS": "django_redis.client.HerdClient"}},
            False,
            [],
        ),
        (MEMCACHED, None, []),
        (MEMCACHED, True, ["logout_rules.W070"]),
        (MEMCACHED, False, []),
        ({"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}, True, []),
    ],
)  # fmt: skip
def test_notification_cache_checks(settings, cache, notify, expected):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
                       "policy": cache}  # fmt: skip
    settings.LOGOUT_RULES_CACHE_ALIAS = "policy"
    if notify is not None:
        settings.LOGOUT_RULES_CACHE_NOTIFICATIONS = notify
    # Only this range: the per-process and dummy cache warnings are tested in test_checks.
    assert [
        m.id for m in checks.check_cache() if (m.id or "").startswith("logout_rules.W07")
    ] == expected


def test_bad_notification_settings_fail_check_and_never_500(settings, logged_in, clock):
    settings.LOGOUT_RULES_CACHE_NOTIFICATIONS = "yes"
    settings.LOGOUT_RULES_CACHE_HEARTBEAT = "often"
    with pytest.raises(Exception, match=r"logout_rules\.E070"):
        call_command("check")
    assert logged_in.get("/private/").status_code == 200


def test_notification_settings_are_read_live(settings):
    from logout_rules.conf import conf

    assert conf.CACHE_NOTIFICATIONS is True
    assert conf.CACHE_HEARTBEAT == 1.0
    settings.LOGOUT_RULES_CACHE_NOTIFICATIONS = False
    settings.LOGOUT_RULES_CACHE_HEARTBEAT = timedelta(milliseconds=250)
    assert conf.CACHE_NOTIFICATIONS is False
    assert conf.CACHE_HEARTBEAT == 0.25
    settings.LOGOUT_RULES_CACHE_HEARTBEAT = "bad"
    assert conf.CACHE_HEARTBEAT == 1.0


def test_settings_are_documented() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for name in ("LOGOUT_RULES_CACHE_NOTIFICATIONS", "LOGOUT_RULES_CACHE_HEARTBEAT"):
        assert f"`{name}`" in readme
