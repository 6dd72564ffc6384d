"""Query-count guards of the warm and the cold path (issue 5): counts, never timings.

Each test sends the same logged-in request through the same stack with and without our middleware
(``MIDDLEWARE`` is read when a test client builds its handler) and compares the SQL both make,
for the ``db`` and the ``cache`` session engines, through the sync and the async handler. The
timings live in ``make bench``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.sessions.backends import cache as cache_sessions
from django.contrib.sessions.backends import db as db_sessions
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client
from django.test.utils import CaptureQueriesContext
from django.urls import include, path

from logout_rules import cache as policy_cache

from .factories import (
    GroupLogoutRuleFactory,
    UserFactory,
    UserLogoutRuleFactory,
    committed,
    global_rule,
)

BARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
WITH_US = [*BARE, "logout_rules.middleware.AutoLogoutMiddleware"]
ENGINES = {
    "db": "django.contrib.sessions.backends.db",
    "cache": "django.contrib.sessions.backends.cache",
}


def untouched(request: HttpRequest) -> HttpResponse:
    """A page that reads neither the user nor the session."""
    return HttpResponse("ok")


urlpatterns = [
    path("untouched/", untouched),
    path("", include("tests.urls")),
]

Get = Callable[[str], Any]  # a test client's response

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600, "SESSION_TIME": 3600, "MESSAGE": "bye"}
    settings.ROOT_URLCONF = __name__


@pytest.fixture(params=list(ENGINES))
def engine(request, settings) -> str:
    settings.SESSION_ENGINE = ENGINES[request.param]
    return str(request.param)


@pytest.fixture(params=["sync", "async"])
def mode(request) -> str:
    return str(request.param)


def ruled_user(groups: int, username: str = "ruled"):
    """A user under every level: a global rule, ``groups`` group rules and a user rule.

    The rows stay in the test's transaction, but their on-commit invalidations run as after a
    commit: rules with pending (uncommitted) changes are never cached (tested in
    ``test_pending.py``), and these tests measure the cache."""
    with committed():
        global_rule(idle_time=timedelta(minutes=30), message="Signed out.")
        user = UserFactory(username=username)
        for index in range(groups):
            rule = GroupLogoutRuleFactory(
                priority=1 + index % 3,
                idle_time=timedelta(minutes=10 + index),
                message=f"m{index}",
            )
            user.groups.add(rule.group)
        UserLogoutRuleFactory(user=user, session_time=timedelta(hours=8))
    return user


def client_for(settings, middleware: list[str], user, mode: str) -> Get:
    """``get(path)`` as ``user`` through a handler built with ``middleware`` (now, so that a later
    change of ``MIDDLEWARE`` does not reach it)."""
    settings.MIDDLEWARE = middleware
    logged_in = Client()
    logged_in.force_login(user)
    if mode == "sync":
        logged_in.handler.load_middleware()
        return logged_in.get
    async_client = AsyncClient()
    async_client.handler.load_middleware(is_async=True)
    async_client.cookies = logged_in.cookies

    async def fetch(url: str) -> Any:
        return await async_client.get(url)

    def get(url: str) -> Any:
        return async_to_sync(fetch)(url)

    return get


def queries(get: Get, url: str) -> list[str]:
    """The SQL of one request, literals replaced by ``?`` (so the bare stack's session and ours
    compare equal), without the savepoints of the test's own transaction."""
    with CaptureQueriesContext(connection) as captured:
        response = get(url)
    assert response.status_code == 200, response
    return [
        re.sub(r"\b\d+\b", "?", re.sub(r"'[^']*'", "?", query["sql"]))
        for query in captured
        if "SAVEPOINT" not in query["sql"]
    ]


def page_for(mode: str) -> str:
    return "/bare/" if mode == "sync" else "/private-async/"


# --- warm path -----------------------------------------------------------------------------------


@pytest.mark.parametrize("rules", ["settings only", "database rules"])
def test_warm_request_makes_exactly_the_bare_stacks_queries(settings, clock, engine, mode, rules):
    user = ruled_user(20) if rules == "database rules" else UserFactory(username="plain")
    url = page_for(mode)
    bare = queries(client_for(settings, BARE, user, mode), url)
    ours = client_for(settings, WITH_US, user, mode)
    queries(ours, url)  # the first request resolves the policy (cold)
    assert queries(ours, url) == bare
    assert len(bare) == (2 if engine == "db" else 1)  # the session (db engine) and the user


def test_warm_request_does_not_load_the_user(settings, clock, engine, mode):
    """The middleware reads the user id from the session, never the lazy ``request.user``."""
    user = ruled_user(3)
    bare = queries(client_for(settings, BARE, user, mode), "/untouched/")
    ours = client_for(settings, WITH_US, user, mode)
    queries(ours, "/untouched/")
    warm = queries(ours, "/untouched/")
    assert not any("auth_user" in sql for sql in warm)
    # Only the session itself, which the middleware must read to know who is logged in.
    assert len(warm) == len(bare) + (1 if engine == "db" else 0)


# --- cold path -----------------------------------------------------------------------------------


def _clear_policy_cache() -> None:
    """Forget every policy (a new global token) without clearing the cache the sessions live in."""
    policy_cache.invalidate_all()


@pytest.mark.parametrize("groups", [0, 1, 20, 200])
def test_cold_request_adds_four_queries_whatever_the_group_count(settings, clock, engine, groups):
    user = ruled_user(groups)
    bare = queries(client_for(settings, BARE, user, "sync"), "/bare/")
    ours = client_for(settings, WITH_US, user, "sync")
    _clear_policy_cache()
    cold = queries(ours, "/bare/")
    extra = [sql for sql in cold if sql not in bare]
    assert len(cold) == len(bare) + 4
    assert all("logout_rules_" in sql for sql in extra)
    assert queries(ours, "/bare/") == bare


def test_cold_request_after_an_invalidation_adds_four_queries(settings, clock, mode):
    user = ruled_user(5)
    url = page_for(mode)
    bare = queries(client_for(settings, BARE, user, mode), url)
    ours = client_for(settings, WITH_US, user, mode)
    queries(ours, url)
    _clear_policy_cache()
    assert len(queries(ours, url)) == len(bare) + 4
    assert queries(ours, url) == bare


# --- session writes ------------------------------------------------------------------------------


class SaveCounter:
    """Counts session saves of both engines (what reaches the session store)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.saves = 0
        for module in (db_sessions, cache_sessions):
            original = module.SessionStore.save

            def save(store, must_create=False, _original=original):
                self.saves += 1
                return _original(store, must_create=must_create)

            monkeypatch.setattr(module.SessionStore, "save", save)


def test_session_is_written_at_most_once_per_activity_resolution(
    settings, clock, engine, mode, monkeypatch
):
    # IDLE_TIME 600 s: the activity resolution is min(60 s, 5 % of 600 s) = 30 s.
    user = UserFactory(username="writer")
    get = client_for(settings, WITH_US, user, mode)
    url = page_for(mode)
    counter = SaveCounter(monkeypatch)
    writes = []
    for _ in range(90):  # 90 requests, one every 2 s: three minutes
        before = counter.saves
        assert get(url).status_code == 200
        writes.append(counter.saves - before)
        clock.advance(2)
    assert set(writes) <= {0, 1}
    assert sum(writes) == 5  # one per 30 s window (at 30, 60, 90, 120 and 150 s after login)
    # Never two writes within one window.
    written_at = [index * 2 for index, count in enumerate(writes) if count]
    assert all(b - a >= 30 for a, b in itertools.pairwise(written_at))


def test_db_session_write_is_one_update(settings, clock, mode):
    """The write of a due activity: one fresh read of the session, one UPDATE; nothing else."""
    settings.SESSION_ENGINE = ENGINES["db"]
    user = UserFactory(username="updater")
    get = client_for(settings, WITH_US, user, mode)
    url = page_for(mode)
    bare = queries(client_for(settings, BARE, user, mode), url)
    queries(get, url)
    clock.advance(31)
    due = queries(get, url)
    assert [sql for sql in due if sql.startswith("UPDATE")] == [
        sql for sql in due if "django_session" in sql and sql.startswith("UPDATE")
    ]
    assert len([sql for sql in due if sql.startswith("UPDATE")]) == 1
    assert len(due) == len(bare) + 2  # the fresh read and the UPDATE
    assert queries(get, url) == bare  # and the next request is quiet again
