"""The notification channel between real server processes (issue 10, part 2), on PostgreSQL and a
**private** Redis (a ``redis-server`` on a free port that these tests stop, restart and cut; the
shared Redis is never touched).

gunicorn (A, WSGI) and uvicorn (B, ASGI) run on the test database with the policy cache on the
private Redis, through Django's ``RedisCache`` or django-redis. Redis's own command counters show
that a warm request through either makes **no** round trip of ours; a change made by a third
process (this one) still judges the very next request; a killed subscription or a restarted Redis
never lets a stale policy through, and the channel comes back; a notification lost on purpose is
caught by the heartbeat within two heartbeats.

Runs in the services stage (``make test-services``); skipped without PostgreSQL (two processes
cannot share SQLite in memory) or without ``redis-server``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import connection
from django.db.models import QuerySet

from logout_rules import cache as policy_cache
from logout_rules.models import UserLogoutRule

from .services import redis_server
from .services.http import Browser
from .services.servers import Server, gunicorn_and_uvicorn, server_env
from .settings import REDIS_BACKENDS

POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

pytestmark = [
    pytest.mark.multiprocess,
    pytest.mark.skipif(
        not POSTGRES or not redis_server.available(),
        reason="needs PostgreSQL shared by the server processes (LOGOUT_RULES_TEST_DB=postgresql: "
        "`make test-services`) and /usr/bin/redis-server for a private Redis",
    ),
]

PASSWORD = "channel-pw"
LOGIN_REDIRECT = "/accounts/login/?next=/private/"
#: The strict session limit set below, and a wait that passes it.
STRICT = timedelta(seconds=1)
PAST_STRICT = 1.2
#: How long a test waits for what must happen within a bound (far longer than the bound).
PATIENCE = 15.0
#: The heartbeat of the servers that must show no heartbeat traffic during a test.
QUIET_HEARTBEAT = 60.0
#: The heartbeat of the servers whose heartbeat must catch a lost notification.
FAST_HEARTBEAT = 0.3


@dataclass
class Pair:
    a: Server  # gunicorn, sync worker
    b: Server  # uvicorn
    redis: redis_server.PrivateRedis
    backend: str
    prefix: str

    def cache(self) -> dict[str, object]:
        return {
            "BACKEND": REDIS_BACKENDS[self.backend],
            "LOCATION": self.redis.url(0),
            "KEY_PREFIX": self.prefix,
        }

    def lookups(self) -> int:
        """The token and entry reads Redis has answered so far (``MGET`` and ``GET``)."""
        stats = self.redis.client().info("commandstats")
        return sum(
            int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("mget", "get")
        )


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory) -> Iterator[redis_server.PrivateRedis]:
    server = redis_server.PrivateRedis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


def start_pair(private_redis, backend: str, heartbeat: float, tmp_path_factory) -> Iterator[Pair]:
    pytest.importorskip("django_redis")
    prefix = f"channel-{backend}-{heartbeat:g}"
    env = server_env(
        connection.settings_dict["NAME"],
        {
            "LOGOUT_RULES_TEST_CACHE": backend,
            "LOGOUT_RULES_REDIS_URL": private_redis.url(0),
            "LOGOUT_RULES_REDIS_PREFIX": prefix,
            "LOGOUT_RULES_CACHE_HEARTBEAT": str(heartbeat),
        },
    )
    with gunicorn_and_uvicorn(env, tmp_path_factory.mktemp("servers")) as (a, b):
        yield Pair(a, b, private_redis, backend, prefix)
    for server in (a, b):
        assert "Internal Server Error" not in server.output(), server.output()


@pytest.fixture(scope="module", params=list(REDIS_BACKENDS))
def quiet(request, django_db_setup, private_redis, tmp_path_factory) -> Iterator[Pair]:
    """A and B with a one-minute heartbeat: after their first sync, every Redis read is a
    request's own."""
    yield from start_pair(private_redis, request.param, QUIET_HEARTBEAT, tmp_path_factory)


@pytest.fixture(scope="module")
def fast(django_db_setup, private_redis, tmp_path_factory) -> Iterator[Pair]:
    yield from start_pair(private_redis, "redis", FAST_HEARTBEAT, tmp_path_factory)


def share_cache(settings, pair: Pair) -> None:
    """This process (the "third process" that changes rules) on the servers' cache."""
    settings.CACHES = {**settings.CACHES, "default": pair.cache()}


@pytest.fixture
def alice(transactional_db):
    user_model = get_user_model()
    alice = user_model.objects.create_user("alice", "alice@example.com", PASSWORD)
    UserLogoutRule.objects.create(user=alice, session_time=timedelta(hours=1))
    return alice


def set_session_limit(alice, limit: timedelta) -> None:
    """A change made by this process (autocommit: invalidated and notified at once)."""
    rule = UserLogoutRule.objects.get(user=alice)
    rule.session_time = limit
    rule.save()


def until_warm(pair: Pair, browser: Browser) -> None:
    """Request until one is served without any Redis read: the policy is cached, and this
    process's channel is trusted and knows the tokens."""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        before = pair.lookups()
        response = browser.get("/private/")
        assert response.status == 200, response.text[:300]
        if pair.lookups() == before:
            return
        time.sleep(0.02)
    raise AssertionError(f"no warm request without a Redis read within {PATIENCE} s")


def logged_in(port: int) -> Browser:
    browser = Browser("127.0.0.1", port)
    browser.login("alice", PASSWORD)
    return browser


def assert_logged_out(browser: Browser) -> None:
    response = browser.get("/private/")
    assert (response.status, response.location) == (302, LOGIN_REDIRECT), response.text[:300]


def test_warm_requests_through_both_servers_make_no_round_trip(quiet, settings, alice):
    share_cache(settings, quiet)
    on_a, on_b = logged_in(quiet.a.port), logged_in(quiet.b.port)
    until_warm(quiet, on_a)
    until_warm(quiet, on_b)
    before = quiet.lookups()
    for _ in range(20):
        assert on_a.get("/private/").status == 200
        assert on_b.get("/private/").status == 200
    assert quiet.lookups() == before


def test_the_next_request_follows_a_change_made_by_another_process(quiet, settings, alice):
    share_cache(settings, quiet)
    for round_number in range(4):
        server = (quiet.a, quiet.b)[round_number % 2]
        browser = logged_in(server.port)
        until_warm(quiet, browser)  # the memo path, not a read
        time.sleep(PAST_STRICT)
        set_session_limit(alice, STRICT)
        assert_logged_out(browser)
        set_session_limit(alice, timedelta(hours=1))


def test_killed_subscriptions_never_let_a_stale_policy_through(quiet, settings, alice):
    share_cache(settings, quiet)
    channel = policy_cache.token_memo().name  # type: ignore[union-attr]
    for round_number in range(2):
        server = (quiet.b, quiet.a)[round_number]
        browser = logged_in(server.port)
        until_warm(quiet, browser)
        time.sleep(PAST_STRICT)
        assert quiet.redis.kill_pubsub() >= 2
        set_session_limit(alice, STRICT)  # while the subscriptions are gone
        assert_logged_out(browser)
        set_session_limit(alice, timedelta(hours=1))
        deadline = time.monotonic() + PATIENCE
        while quiet.redis.subscribers(channel) < 2:
            assert time.monotonic() < deadline, "the servers did not subscribe again"
            time.sleep(0.05)
        until_warm(quiet, logged_in(server.port))  # trusted again: no round trip


def test_restarted_redis_is_survived_and_resynchronised(quiet, settings, alice):
    share_cache(settings, quiet)
    on_a, on_b = logged_in(quiet.a.port), logged_in(quiet.b.port)
    until_warm(quiet, on_b)
    quiet.redis.stop()
    try:
        for browser in (on_a, on_b):  # served from the database, never a 500
            assert browser.get("/private/").status == 200
        time.sleep(PAST_STRICT)
        set_session_limit(alice, STRICT)  # its invalidation fails: Redis is down (logged)
        assert_logged_out(on_b)
        assert_logged_out(on_a)
    finally:
        quiet.redis.start()
    set_session_limit(alice, timedelta(hours=1))
    browser = logged_in(quiet.b.port)
    until_warm(quiet, browser)  # reconnected, resynchronised, cached again
    time.sleep(PAST_STRICT)
    set_session_limit(alice, STRICT)
    assert_logged_out(browser)


def test_lost_notification_is_caught_by_the_heartbeat(fast, settings, alice):
    share_cache(settings, fast)
    browser = logged_in(fast.b.port)
    until_warm(fast, browser)
    time.sleep(PAST_STRICT)
    # A change whose notification is lost: the row and the user's token change, and the
    # sequence number moves on, but nothing is published.
    rules = UserLogoutRule.objects.filter(user=alice)
    QuerySet.update(rules, session_time=STRICT)  # Django's own update: no invalidation of ours
    caches["default"].set(
        policy_cache.user_token_key(alice.pk), uuid.uuid4().hex, policy_cache.TOKEN_TIMEOUT
    )
    memo = policy_cache.token_memo()
    assert memo is not None
    fast.redis.client().incr(memo._sequence_key)
    deadline = time.monotonic() + PATIENCE
    while True:
        response = browser.get("/private/")
        if response.status == 302:
            break
        assert response.status == 200
        assert time.monotonic() < deadline, "the heartbeat never noticed the lost notification"
        time.sleep(FAST_HEARTBEAT / 3)
    assert response.location == LOGIN_REDIRECT
