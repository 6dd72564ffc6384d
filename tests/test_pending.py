"""Nothing resolved from uncommitted changes is cached (issue 10, part 1).

A connection that holds uncommitted changes of what feeds resolution (rules, memberships, group
names, bulk writes) resolves from the database for that request alone: the layer reflects rows
that a rollback may discard and that other connections do not see, so it is neither stored in the
shared cache (nor in this process's memos) nor taken from it. A transaction without such a change
(``ATOMIC_REQUESTS``, a test's own transaction) still caches, and keeps its warm path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, connections, transaction
from django.http import HttpRequest, HttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import include, path

from logout_rules import cache as policy_cache
from logout_rules import resolver
from logout_rules.models import GroupLogoutRule, UserLogoutRule

from .factories import GroupFactory, GroupLogoutRuleFactory, UserLogoutRuleFactory, committed

RULE_TABLES = ("logout_rules_userlogoutrule", "logout_rules_grouplogoutrule", "logout_rules_global")


@contextmanager
def rolled_back() -> Iterator[None]:
    """A transaction (a savepoint inside the test's own) that rolls back at its end."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def entry(user) -> object:
    """The user's entry in the shared cache (what other requests and processes would use)."""
    return caches["default"].get(policy_cache.entry_key(user.pk))


def rule_queries(capture: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in capture if any(table in q["sql"] for table in RULE_TABLES)]


def cold_cache() -> None:
    """The policy cache happens to be cold (evicted, restarted: as a restarted Redis would, this
    also ends the notification channel and so this process's memo of the tokens)."""
    caches["default"].clear()
    policy_cache.reset_token_memo()


@pytest.fixture(params=["sync", "async"])
def served(request, logged_in, async_client) -> Callable[[], bool]:
    """``served()``: one request of the logged-in user; whether the page was served (``False``
    once logged out). Through the sync or the async stack, on this test's connection."""
    if request.param == "sync":
        return lambda: logged_in.get("/private/").status_code == 200
    async_client.cookies = logged_in.cookies

    async def get() -> Any:
        return await async_client.get("/private-async/")

    def served_async() -> bool:
        # The request's sync part must run in this thread, on this test's connection and
        # transaction (thread-sensitive code runs in the thread that called async_to_sync).
        loop = asyncio._get_running_loop()
        if loop is None:
            return bool(async_to_sync(get)().status_code == 200)
        # The browser tests' playwright (a session fixture) leaves its idle event loop registered
        # in this thread: async_to_sync refuses that, and Django keeps this thread's connections
        # per context while it is there. Unregister it for the request, and give the request the
        # connection the test has been using.
        connection = connections[DEFAULT_DB_ALIAS]
        asyncio._set_running_loop(None)
        try:
            connections[DEFAULT_DB_ALIAS] = connection
            return bool(async_to_sync(get, force_new_loop=True)().status_code == 200)
        finally:
            asyncio._set_running_loop(loop)

    return served_async


@pytest.fixture
def lenient(settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 7200}


# --- the case: a rolled-back rule must not stay in force --------------------------------


def check_rolled_back_rule_is_not_in_force_afterwards(user, served, clock) -> None:
    assert served()
    cold_cache()
    with rolled_back():
        UserLogoutRuleFactory(user=user, idle_time=timedelta(minutes=10))
        assert policy_cache.has_pending_changes()
        clock.advance(1)
        assert served()  # judged on this connection, by what it sees
        assert entry(user) is None  # but nothing was stored for the others
    assert not UserLogoutRule.objects.exists()
    assert not policy_cache.has_pending_changes()  # a rolled-back batch is not pending forever
    clock.advance(1000)  # idle longer than the rolled-back 10 minutes, far less than 2 hours
    assert served()
    assert entry(user) is not None  # committed data is cached again


@pytest.mark.django_db(transaction=True)
def test_rolled_back_rule_served_inside_its_transaction_is_not_in_force_afterwards(
    lenient, user, served, clock
):
    check_rolled_back_rule_is_not_in_force_afterwards(user, served, clock)


def test_rule_rolled_back_with_its_savepoint_is_not_in_force_afterwards(
    lenient, user, served, clock
):
    """The same inside the test's own transaction: the savepoint's rollback drops its callbacks."""
    check_rolled_back_rule_is_not_in_force_afterwards(user, served, clock)


@pytest.mark.django_db(transaction=True)
def test_request_inside_the_transaction_is_judged_by_what_its_connection_sees(
    lenient, user, served, clock
):
    """A tightened rule applies to a request on the connection that made it, before the commit,
    without being taken from, or put in, the shared cache."""
    with committed():
        rule = UserLogoutRuleFactory(user=user, idle_time=timedelta(hours=1))
    assert served()
    cached = entry(user)
    assert cached is not None
    clock.advance(120)
    with transaction.atomic():
        rule.idle_time = timedelta(seconds=60)
        rule.save()
        assert not served()  # idle 120 s > 60 s: this connection's own (uncommitted) rule
        assert entry(user) == cached  # the others still get the committed policy
    assert resolver.get_policy(user.pk).idle_time == 60  # committed: everyone, from the cache
    assert entry(user) != cached


@pytest.mark.django_db(transaction=True)
def test_pending_membership_change_is_not_cached(lenient, user, clock):
    group = GroupLogoutRuleFactory(idle_time=timedelta(seconds=30)).group
    assert resolver.get_policy(user.pk).idle_time == 7200
    with rolled_back():
        user.groups.add(group)
        cold_cache()
        assert resolver.get_policy(user.pk).idle_time == 30
        assert entry(user) is None
    assert resolver.get_policy(user.pk).idle_time == 7200


@pytest.mark.django_db(transaction=True)
def test_pending_bulk_write_is_not_cached(lenient, user):
    with committed():
        rule = GroupLogoutRuleFactory(idle_time=timedelta(seconds=30))
        user.groups.add(rule.group)
    assert resolver.get_policy(user.pk).idle_time == 30
    with rolled_back():
        GroupLogoutRule.objects.update(idle_time=timedelta(seconds=5))
        assert resolver.get_policy(user.pk).idle_time == 5
    assert resolver.get_policy(user.pk).idle_time == 30


@pytest.mark.django_db(transaction=True)
def test_pending_group_rename_is_not_cached(settings, user):
    settings.AUTO_LOGOUT = {}
    with committed():
        group = GroupLogoutRuleFactory(message="hi").group
        user.groups.add(group)
    name = group.name
    assert resolver.get_policy(user.pk).source("message").name == name
    with rolled_back():
        group.name = "renamed"
        group.save()
        assert resolver.get_policy(user.pk).source("message").name == "renamed"
    assert resolver.get_policy(user.pk).source("message").name == name


# --- transactions without a pending change keep the warm path ----------------------------------


def test_test_transaction_without_a_pending_change_caches(lenient, user, served):
    with committed():
        UserLogoutRuleFactory(user=user, idle_time=timedelta(minutes=10))
    assert not policy_cache.has_pending_changes()
    assert served()  # cold: loads and stores
    assert entry(user) is not None
    with CaptureQueriesContext(connection) as warm:
        assert served()
    assert rule_queries(warm) == []


def test_pending_change_is_resolved_from_the_database_every_time(lenient, user):
    UserLogoutRuleFactory(user=user, idle_time=timedelta(minutes=10))
    assert policy_cache.has_pending_changes()
    for _ in range(2):
        with CaptureQueriesContext(connection) as uncached:
            assert resolver.get_policy(user.pk).idle_time == 600
        assert len(rule_queries(uncached)) == 3  # every time: never cached
    assert entry(user) is None


def test_executed_on_commit_callbacks_resume_caching(
    lenient, user, django_capture_on_commit_callbacks
):
    UserLogoutRuleFactory(user=user, idle_time=timedelta(minutes=10))
    assert policy_cache.has_pending_changes()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        user.groups.add(GroupFactory())  # joins the pending batch, which now runs
    assert callbacks  # the invalidation ran, as after a commit
    assert not policy_cache.has_pending_changes()
    assert resolver.get_policy(user.pk).idle_time == 600
    assert entry(user) is not None
    with CaptureQueriesContext(connection) as warm:
        assert resolver.get_policy(user.pk).idle_time == 600
    assert rule_queries(warm) == []


@pytest.mark.django_db(transaction=True)
def test_atomic_block_without_changes_caches(lenient, user):
    with committed():
        UserLogoutRuleFactory(user=user, idle_time=timedelta(minutes=10))
    with transaction.atomic():
        assert not policy_cache.has_pending_changes()
        assert resolver.get_policy(user.pk).idle_time == 600
        with CaptureQueriesContext(connection) as warm:
            assert resolver.get_policy(user.pk).idle_time == 600
        assert rule_queries(warm) == []
    assert entry(user) is not None


def policy_view(request: HttpRequest) -> HttpResponse:
    """A view that resolves a policy itself (inside its transaction with ``ATOMIC_REQUESTS``)."""
    in_transaction = connection.in_atomic_block
    idle = resolver.get_policy(request.user.pk).idle_time
    return HttpResponse(f"{in_transaction} {idle:g}")


urlpatterns = [path("policy/", policy_view), path("", include("tests.urls"))]


@pytest.mark.django_db(transaction=True)
def test_atomic_requests_keep_the_warm_path(lenient, user, logged_in, monkeypatch, settings):
    """With ``ATOMIC_REQUESTS`` a view resolves inside its transaction: the policy is cached, and
    the view's second resolution reads no rule."""
    settings.ROOT_URLCONF = __name__
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    UserLogoutRuleFactory(user=user, idle_time=timedelta(minutes=10))
    cold_cache()
    assert logged_in.get("/policy/").content == b"True 600"
    assert entry(user) is not None
    with CaptureQueriesContext(connection) as warm:
        assert logged_in.get("/policy/").content == b"True 600"
    assert rule_queries(warm) == []


# --- failures while a change is pending -------------------------------------------------------


def test_database_failure_while_pending_uses_the_committed_cached_policy(lenient, user, clock):
    with committed():
        UserLogoutRuleFactory(user=user, idle_time=timedelta(minutes=10))
    assert resolver.get_policy(user.pk).idle_time == 600  # cached
    GroupFactory(name="pending").user_set.add(user)  # a pending change on this connection

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if any(table in sql for table in RULE_TABLES):
            raise OperationalError("server closed the connection unexpectedly (simulated)")
        return execute(sql, params, many, context)

    assert policy_cache.has_pending_changes()
    with connection.execute_wrapper(wrapper):
        assert resolver.get_policy(user.pk).idle_time == 600
