"""Faults: what happens when the cache, the database, a transaction, a concurrent request or the
session data goes wrong. Each case ends without a 500 and with the limits still enforced.

These run in both stages: SQLite + local memory (``make test``) and PostgreSQL + Redis
(``make test-services``), where the database errors and transactions are PostgreSQL's own.
"""

from __future__ import annotations

import functools
import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from importlib import import_module
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.contrib import auth
from django.contrib.auth import SESSION_KEY
from django.db import OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import path

from logout_rules import cache as policy_cache
from logout_rules import session as session_keys
from logout_rules.models import GroupLogoutRule, UserLogoutRule

from . import urls as test_urls
from .factories import GroupFactory, GroupLogoutRuleFactory, UserLogoutRuleFactory

LOGIN_REDIRECT = "/accounts/login/?next=/private/"
RULE_TABLES = ("logout_rules_globallogoutrule", "logout_rules_grouplogoutrule",
               "logout_rules_userlogoutrule")  # fmt: skip


def async_get(async_client: Any, path: str) -> Any:
    """``async_client.get(path)`` from this sync test."""
    return async_to_sync(async_client.get)(path)


# --- a view that lets a test run another request "in the middle" of this one ------------------

_during: list[Callable[[], None]] = []


def slow(request: HttpRequest) -> HttpResponse:
    """Runs what the test queued, while this request is between its request and response phase."""
    user = request.user.get_username() if request.user.is_authenticated else "anonymous"
    while _during:
        _during.pop(0)()
    return HttpResponse(f"slow {user}")


def slow_writer(request: HttpRequest) -> HttpResponse:
    """Like ``slow``, and the view writes to the session itself (a cart, a preference…)."""
    response = slow(request)
    request.session["cart"] = ["book"]
    return response


def switch_user(request: HttpRequest) -> HttpResponse:
    """Logs another user in (Django flushes the session: a new key) in the middle of the request."""
    bob = auth.get_user_model().objects.get(username="bob")
    auth.login(request, bob, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponse("switched")


urlpatterns = [
    path("slow/", slow),
    path("switch-user/", switch_user),
    path("slow-writer/", slow_writer),
    *test_urls.urlpatterns,
]


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600, "SESSION_TIME": 36000, "MESSAGE": "Bye."}


@pytest.fixture
def errors(caplog) -> Callable[[str], list[logging.LogRecord]]:
    """``errors(text)``: the app's log records at WARNING or above whose message contains text."""
    caplog.set_level(logging.WARNING, logger="logout_rules")

    def find(text: str) -> list[logging.LogRecord]:
        return [
            record
            for record in caplog.records
            if record.name == "logout_rules"
            and record.levelno >= logging.WARNING
            and text in record.getMessage()
        ]

    return find


@pytest.fixture(autouse=True)
def _fresh_rate_limit(monkeypatch):
    """Each test starts with no failure logged yet."""
    monkeypatch.setattr(policy_cache, "_last_logged", {})


def session_engine() -> Any:
    return import_module(django_settings.SESSION_ENGINE)


def stored_session(key: str) -> dict[str, Any]:
    """What the session store holds for ``key`` right now ({} when it does not exist)."""
    return dict(session_engine().SessionStore(key).load())


def session_key(client: Client) -> str:
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


def twin(client: Client) -> Client:
    """A second client presenting the same session cookie (another tab, another worker)."""
    other = Client()
    other.cookies[django_settings.SESSION_COOKIE_NAME] = session_key(client)
    return other


# === Redis (the policy cache) unreachable =====================================================


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def dead_cache(settings):
    """The policy cache alias points at a Redis on a closed port."""
    pytest.importorskip("redis")
    settings.CACHES = {
        **settings.CACHES,
        "policy": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        },
    }
    settings.LOGOUT_RULES_CACHE_ALIAS = "policy"


def test_redis_down_requests_served_and_policy_read_from_the_database(
    dead_cache, logged_in, user, clock, errors, django_capture_on_commit_callbacks
):
    staff = GroupFactory(name="staff")
    rule = GroupLogoutRuleFactory(group=staff, idle_time=timedelta(seconds=60))
    user.groups.add(staff)
    for _ in range(20):
        clock.advance(30)
        assert logged_in.get("/private/").status_code == 200
    # The database rule (60 s), not the settings (600 s), decides: read on every request.
    with django_capture_on_commit_callbacks(execute=True):
        rule.idle_time = timedelta(seconds=40)
        rule.save()  # the invalidation after commit fails too: logged, not raised
    clock.advance(41)
    assert logged_in.get("/private/").status_code == 302
    # One record for 21 failed reads (and one for the failed invalidation after the save).
    assert len(errors("policy cache could not be read")) == 1
    assert len(errors("policy cache could not be invalidated")) == 1


def test_redis_down_logs_again_after_the_interval(
    dead_cache, logged_in, clock, errors, monkeypatch
):
    for _ in range(5):
        assert logged_in.get("/private/").status_code == 200
    assert len(errors("could not be read")) == 1
    monkeypatch.setattr(policy_cache, "ERROR_LOG_INTERVAL", 0.0)  # the interval has passed
    assert logged_in.get("/private/").status_code == 200
    assert len(errors("could not be read")) == 2


def test_redis_down_async_stack(
    dead_cache, logged_in, user, clock, async_client, errors, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # committed: read through the cache
        UserLogoutRuleFactory(user=user, session_time=timedelta(seconds=100))
    async_client.cookies = logged_in.cookies
    get = functools.partial(async_get, async_client)
    assert get("/private-async/").status_code == 200
    clock.advance(101)
    assert get("/private-async/").content == b"anonymous"
    assert len(errors("could not be read")) == 1


def test_redis_down_admin_can_still_save_rules(dead_cache, admin_client, errors):
    group = GroupFactory(name="night")
    response = admin_client.post(
        "/admin/logout_rules/grouplogoutrule/add/",
        {"group": group.pk, "priority": 5, "idle_time": "00:10:00", "message_mode": "inherit",
         "enabled": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    assert GroupLogoutRule.objects.get(group=group).idle_time == timedelta(minutes=10)


# === the database fails while loading rules ===================================================


@contextmanager
def rule_queries_fail() -> Iterator[list[str]]:
    """Every query on the rule tables fails like a dropped connection; other queries work."""
    failed: list[str] = []

    def wrapper(execute, sql, params, many, context):
        if any(table in sql for table in RULE_TABLES):
            failed.append(sql)
            raise OperationalError("server closed the connection unexpectedly (simulated)")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield failed


def test_database_error_falls_back_to_the_cached_value(
    logged_in, user, clock, errors, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # committed: cacheable
        staff = GroupFactory(name="staff")
        rule = GroupLogoutRuleFactory(group=staff, idle_time=timedelta(seconds=60))
        user.groups.add(staff)
    assert logged_in.get("/private/").status_code == 200  # cached: idle 60 s
    with django_capture_on_commit_callbacks(execute=True):
        rule.idle_time = timedelta(seconds=300)
        rule.save()  # the cached entry is now stale
    with rule_queries_fail() as failed:
        clock.advance(50)
        assert logged_in.get("/private/").status_code == 200
        clock.advance(61)
        # The last cached value (60 s) applies, not the settings (600 s).
        assert logged_in.get("/private/").status_code == 302
    assert failed
    assert len(errors("could not be loaded from the database")) == 1


def test_database_error_without_cache_falls_back_to_settings(logged_in, user, clock, errors):
    UserLogoutRuleFactory(user=user, idle_time=timedelta(seconds=60))
    with rule_queries_fail():
        clock.advance(61)
        assert logged_in.get("/private/").status_code == 200  # settings: idle 600 s
        clock.advance(601)
        response = logged_in.get("/private/")
    assert response.status_code == 302
    assert response["Location"] == LOGIN_REDIRECT
    assert len(errors("could not be loaded from the database")) == 1


def test_database_error_on_the_async_stack(logged_in, user, clock, async_client, errors):
    async_client.cookies = logged_in.cookies
    get = functools.partial(async_get, async_client)
    with rule_queries_fail():
        assert get("/private-async/").status_code == 200
        clock.advance(601)
        assert get("/private-async/").content == b"anonymous"
    assert errors("could not be loaded from the database")


def test_real_database_error_inside_a_transaction_does_not_break_the_request(
    logged_in, user, clock, errors
):
    """A genuine error from the database (the table is gone) while the test's transaction is open
    (as with ATOMIC_REQUESTS): on PostgreSQL an error aborts the transaction unless the app
    isolates its query in a savepoint, and the session save at the end would then fail."""
    UserLogoutRuleFactory(user=user, idle_time=timedelta(seconds=60))
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE logout_rules_userlogoutrule RENAME TO logout_rules_userlogoutrule_gone"
        )
    clock.advance(100)  # due: this request records activity, so the session is saved
    assert logged_in.get("/private/").status_code == 200  # settings: idle 600 s
    assert stored_session(session_key(logged_in))[session_keys.ACTIVITY_KEY] == clock.now()
    assert errors("could not be loaded from the database")


@pytest.mark.django_db(transaction=True)
def test_database_error_in_autocommit_mode(client, clock, errors):
    from .factories import UserFactory

    user = UserFactory(username="auto")
    UserLogoutRuleFactory(user=user, idle_time=timedelta(seconds=60))
    client.force_login(user)
    with rule_queries_fail():
        clock.advance(61)
        assert client.get("/private/").status_code == 200
    assert errors("could not be loaded from the database")


# === a rolled-back transaction leaves the cache as it was ======================================


def cache_snapshot(user_id: object) -> dict[str, Any]:
    keys = [
        policy_cache.global_token_key(),
        policy_cache.user_token_key(user_id),
        policy_cache.entry_key(user_id),
    ]
    return policy_cache.get_cache().get_many(keys)


def rule_queries(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "logout_rules_" in q["sql"]]


@pytest.mark.django_db(transaction=True)
def test_rolled_back_rule_change_leaves_the_cache_as_it_was(client, clock):
    from .factories import UserFactory

    user = UserFactory(username="rollback")
    staff = GroupFactory(name="staff")
    other = GroupFactory(name="other")
    rule = GroupLogoutRuleFactory(group=staff, idle_time=timedelta(seconds=60))
    GroupLogoutRuleFactory(group=other, priority=1, idle_time=timedelta(seconds=5))
    user.groups.add(staff)
    client.force_login(user)
    assert client.get("/private/").status_code == 200
    before = cache_snapshot(user.pk)
    assert len(before) == 3

    with pytest.raises(RuntimeError, match="roll back"), transaction.atomic():  # noqa: PT012
        rule.idle_time = timedelta(seconds=5)
        rule.save()
        UserLogoutRule.objects.create(user=user, session_time=timedelta(seconds=1))
        user.groups.add(other)
        GroupLogoutRule.objects.update(enabled=False)
        raise RuntimeError("roll back")

    assert cache_snapshot(user.pk) == before
    with CaptureQueriesContext(connection) as queries:
        clock.advance(30)
        assert client.get("/private/").status_code == 200
    assert rule_queries(queries) == []  # still warm: nothing was invalidated
    clock.advance(61)
    assert client.get("/private/").status_code == 302  # the old rule (60 s) still applies


@pytest.mark.django_db(transaction=True)
def test_rolled_back_savepoint_inside_a_committed_transaction(client, clock):
    from .factories import UserFactory

    user = UserFactory(username="savepoint")
    staff = GroupFactory(name="staff")
    rule = GroupLogoutRuleFactory(group=staff, idle_time=timedelta(seconds=60))
    user.groups.add(staff)
    client.force_login(user)
    assert client.get("/private/").status_code == 200
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012
            UserLogoutRule.objects.create(user=user, idle_time=timedelta(seconds=1))
            raise RuntimeError("inner")
        rule.idle_time = timedelta(seconds=120)
        rule.save()
    assert not UserLogoutRule.objects.filter(user=user).exists()
    clock.advance(100)
    assert client.get("/private/").status_code == 200  # the committed 120 s, not 1 s nor 60 s
    clock.advance(121)
    assert client.get("/private/").status_code == 302


# === two concurrent requests of the same session ==============================================

SESSION_ENGINES = (
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cache",
    "django.contrib.sessions.backends.cached_db",
)


@pytest.fixture(params=SESSION_ENGINES, ids=lambda engine: engine.rsplit(".", 1)[1])
def engine(request, settings):
    settings.SESSION_ENGINE = request.param
    return request.param


pytestmark = pytest.mark.urls(__name__)


def test_recorded_activity_never_moves_backwards(engine, logged_in, clock):
    start = clock.now()
    other = twin(logged_in)
    clock.advance(100)  # activity is due for both requests

    def faster_request() -> None:
        clock.advance(50)
        assert other.get("/private/").status_code == 200  # records start + 150

    _during.append(faster_request)
    assert logged_in.get("/slow/").status_code == 200  # started at start + 100, ends last
    assert stored_session(session_key(logged_in))[session_keys.ACTIVITY_KEY] == start + 150


def test_a_concurrent_logout_is_never_undone_by_a_slower_request(engine, logged_in, clock):
    key = session_key(logged_in)
    other = twin(logged_in)
    clock.advance(100)  # the slow request is alive and due to record activity

    def expiring_request() -> None:
        clock.advance(600)  # the other request finds the session idle for 700 s
        response = other.get("/private/")
        assert response.status_code == 302
        assert response["Location"] == LOGIN_REDIRECT

    _during.append(expiring_request)
    response = logged_in.get("/slow/")
    assert response.status_code == 200  # this app wrote nothing back: no SessionInterrupted (400)
    assert SESSION_KEY not in stored_session(key)
    # Neither the old cookie nor whatever the slow response set logs the user back in.
    for client in (logged_in, twin_with_key(key)):
        assert client.get("/private/").status_code == 302


def test_a_view_writing_the_session_cannot_undo_a_concurrent_logout(engine, logged_in, clock):
    key = session_key(logged_in)
    other = twin(logged_in)

    def logout_elsewhere() -> None:
        assert other.get("/do-logout/").status_code == 200

    _during.append(logout_elsewhere)
    response = logged_in.get("/slow-writer/")
    assert response.status_code in (200, 400)
    assert SESSION_KEY not in stored_session(key)
    for client in (logged_in, twin_with_key(key)):
        assert client.get("/private/").status_code == 302


def test_a_login_during_the_request_is_kept(engine, logged_in, clock):
    """The response phase must not mistake a login made by the view (another user: a flushed,
    new session) for a concurrent logout, nor write the old user's activity into it."""
    from .factories import UserFactory

    UserFactory(username="bob")
    old_key = session_key(logged_in)
    clock.advance(100)  # activity due for alice
    assert logged_in.get("/switch-user/").status_code == 200
    assert session_key(logged_in) != old_key
    response = logged_in.get("/private/")
    assert response.status_code == 200
    assert response.content == b"hello bob"


def twin_with_key(key: str) -> Client:
    other = Client()
    other.cookies[django_settings.SESSION_COOKIE_NAME] = key
    return other


# === garbage in the session ===================================================================

GARBAGE = [
    "yesterday",
    "1800000000",
    -1,
    10**400,  # a JSON integer too large for a float
    float("inf"),
    float("nan"),
    1e300,  # far in the future
    [],
    {"at": 1},
    True,
]


def write_session(client: Client, **values: Any) -> None:
    store = session_engine().SessionStore(session_key(client))
    data = store.load()
    data.update(values)
    store._session_cache = data
    store.modified = True
    store.save()


@pytest.mark.parametrize("value", GARBAGE, ids=repr)
@pytest.mark.parametrize("name", ["LOGIN_KEY", "ACTIVITY_KEY"])
def test_garbage_session_times_fail_closed(logged_in, clock, errors, name, value):
    assert logged_in.get("/private/").status_code == 200
    write_session(logged_in, **{getattr(session_keys, name): value})
    response = logged_in.get("/private/")
    assert response.status_code == 302
    assert response["Location"] == LOGIN_REDIRECT
    assert errors("unusable")


@pytest.mark.parametrize("value", ["not a date", "2024-13-45T99:00:00+00:00", 12, ["x"]], ids=repr)
def test_garbage_from_django_auto_logout_never_500(logged_in, clock, value):
    """A session from before the switch (no keys of ours) with an unusable django-auto-logout
    value: that value is only a hint, so the clocks start at the switch (as for any session that
    predates the app) and the limits apply from there."""
    store = session_engine().SessionStore(session_key(logged_in))
    data = store.load()
    data.pop(session_keys.LOGIN_KEY)
    data.pop(session_keys.ACTIVITY_KEY)
    data[session_keys.LEGACY_ACTIVITY_KEY] = value
    store._session_cache = data
    store.modified = True
    store.save()
    assert logged_in.get("/private/").status_code == 200
    clock.advance(601)
    assert logged_in.get("/private/").status_code == 302


@pytest.mark.parametrize("value", ["abc", "", [], {"id": 1}, 10**400, None, 1.5], ids=repr)
def test_garbage_user_id_in_the_session_never_500(logged_in, clock, value):
    write_session(logged_in, **{SESSION_KEY: value})
    response = logged_in.get("/private/")
    assert response.status_code == 302
    assert logged_in.get("/").status_code == 200


def test_garbage_session_on_the_async_stack(logged_in, clock, async_client, errors):
    write_session(logged_in, **{session_keys.LOGIN_KEY: "garbage"})
    async_client.cookies = logged_in.cookies
    assert async_get(async_client, "/private-async/").content == b"anonymous"
    assert errors("unusable")
