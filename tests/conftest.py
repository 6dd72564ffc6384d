from __future__ import annotations

import time

import pytest
from django.core.cache import caches
from django.test import TestCase

from logout_rules import cache as policy_cache
from logout_rules import clock as app_clock
from logout_rules.models import GlobalLogoutRule

from .factories import UserFactory

#: Django's own CSP middleware: ``tests/settings.py`` installs it from Django 6.0 on.
CSP_MIDDLEWARE = "django.middleware.csp.ContentSecurityPolicyMiddleware"


class FakeClock:
    """A controllable clock for the app (``logout_rules.clock.now``)."""

    def __init__(self) -> None:
        # Start at the real time, so Django's own timestamps (last_login) agree with ours.
        self.value = float(int(time.time()))

    def now(self) -> float:
        return self.value

    def advance(self, seconds: float) -> float:
        self.value += seconds
        return self.value


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(app_clock, "now", fake.now)
    return fake


@pytest.fixture(autouse=True)
def _clean_caches():
    for alias in caches:
        caches[alias].clear()
    policy_cache._pending.__dict__.clear()
    # A cleared Redis sends no notification: start each test with a fresh memo of the tokens.
    policy_cache.reset_token_memo()
    yield
    for alias in caches:
        caches[alias].clear()
    policy_cache.reset_token_memo()


@pytest.fixture(autouse=True)
def _global_rule_row(request: pytest.FixtureRequest) -> None:
    """The global row of the data migration (``0002_create_global_rule``), as a freshly migrated
    database has it: a transactional test empties every table at its end, and under pytest-xdist a
    worker can run one before any other test."""
    for name in ("transactional_db", "db"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
            break
    else:
        if request.node.get_closest_marker("django_db") is None:
            return
    if not GlobalLogoutRule.objects.filter(pk=1).exists():
        # As if committed: the invalidation it queues runs now, and nothing is left pending.
        with TestCase.captureOnCommitCallbacks(execute=True):
            GlobalLogoutRule.objects.create(pk=1)


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def logged_in(client, user, clock):
    """``client`` logged in as ``user`` at ``clock``'s current time."""
    client.force_login(user)
    return client


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``committed(make)``: run ``make()`` and then the on-commit callbacks of what it wrote (the
    invalidations), as a commit would."""

    def run(make):
        with django_capture_on_commit_callbacks(execute=True):
            return make()

    return run


@pytest.fixture
def without_csp_middleware(settings):
    """The test settings minus Django's CSP middleware: no request nonce, whatever the version."""
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != CSP_MIDDLEWARE]
