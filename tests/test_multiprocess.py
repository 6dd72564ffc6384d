"""Several processes: two real servers share PostgreSQL and Redis, and a change made through one
(or through a third process, the rule-set import) judges the very next request through the other.

Process A is gunicorn with a sync worker (the WSGI stack); process B is uvicorn (the ASGI stack,
the middleware in async mode). The user is logged in on both, each with its own session, and B has
the old policy in the shared cache before each change. The last tests run two requests of one
session at the same time, one through each process, in real time.

Runs in the services stage (``make test-services``); skipped when the tests are not configured
for PostgreSQL and Redis, since two processes cannot share SQLite in memory or a local-memory cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import caches
from django.db import connection

from logout_rules import cache as policy_cache
from logout_rules import session as session_keys
from logout_rules.models import GroupLogoutRule, UserLogoutRule
from logout_rules.resources import format_duration_cell

from .services.http import Browser
from .services.servers import ROOT, Server, gunicorn_and_uvicorn, server_env

SERVICES = (
    settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    and settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
)

pytestmark = [
    pytest.mark.multiprocess,
    pytest.mark.skipif(
        not SERVICES,
        reason="needs the PostgreSQL database and the Redis cache shared by the server processes "
        "(LOGOUT_RULES_TEST_DB=postgresql LOGOUT_RULES_TEST_CACHE=redis: `make test-services`)",
    ),
]

PASSWORD = "multi-process-pw"
LOGIN_REDIRECT = "/accounts/login/?next=/private/"
#: Longer than the strict limits set below (1 s), far shorter than the lenient ones (1 h).
PAST_STRICT_LIMIT = 1.3


@pytest.fixture(scope="module")
def servers(django_db_setup, tmp_path_factory) -> Iterator[tuple[Server, Server]]:
    env = server_env(connection.settings_dict["NAME"])
    with gunicorn_and_uvicorn(env, tmp_path_factory.mktemp("servers")) as (a, b):
        yield a, b
    for server in (a, b):
        assert "Traceback" not in server.output(), server.output()


@pytest.fixture
def site(transactional_db):
    """An admin, alice in "staff" (a lenient rule: idle 1 h) and an unused "strict" group."""
    user_model = get_user_model()
    user_model.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    alice = user_model.objects.create_user("alice", "alice@example.com", PASSWORD)
    staff = Group.objects.create(name="staff")
    alice.groups.add(staff)
    GroupLogoutRule.objects.create(group=staff, priority=10, idle_time=timedelta(hours=1))
    strict = Group.objects.create(name="strict")
    GroupLogoutRule.objects.create(group=strict, priority=1, session_time=timedelta(seconds=1))
    return alice


def log_in_on_both(servers: tuple[Server, Server], alice) -> tuple[Browser, Browser, Browser]:
    """alice logged in on A and on B (two sessions), B's policy cached; the admin on A."""
    a, b = servers
    alice_a = Browser("127.0.0.1", a.port)
    alice_a.login("alice", PASSWORD)
    alice_b = Browser("127.0.0.1", b.port)
    alice_b.login("alice", PASSWORD)
    for browser in (alice_a, alice_b):
        response = browser.get("/private/")
        assert (response.status, response.body) == (200, b"hello alice")
    # The cross-check: each session also works through the other process.
    assert alice_a.at(b.port).get("/private/").status == 200
    # B (and A) put alice's current, lenient policy in the shared cache.
    assert caches[policy_cache.conf.CACHE_ALIAS].get(policy_cache.entry_key(alice.pk)) is not None
    admin = Browser("127.0.0.1", a.port)
    admin.login("admin", PASSWORD)
    time.sleep(PAST_STRICT_LIMIT)  # both sessions are now older, and idle longer, than 1 s
    return alice_a, alice_b, admin


def assert_next_request_logged_out(browser: Browser) -> None:
    response = browser.get("/private/")
    assert response.status == 302, response.text[:300]
    assert response.location == LOGIN_REDIRECT
    assert browser.get("/private/").status == 302  # and it stays logged out


def admin_post(admin: Browser, path: str, fields: dict[str, object]) -> None:
    token = admin.csrf_form_token(path)
    response = admin.post(path, {**fields, "csrfmiddlewaretoken": token, "_save": "Save"})
    assert response.status == 302, response.text[:2000]


def test_tightened_group_rule_through_a_applies_to_the_next_request_through_b(servers, site):
    alice = site
    alice_a, alice_b, admin = log_in_on_both(servers, alice)
    rule = GroupLogoutRule.objects.get(group__name="staff")
    admin_post(
        admin,
        f"/admin/logout_rules/grouplogoutrule/{rule.pk}/change/",
        {
            "group": rule.group_id,
            "priority": 10,
            "idle_time": "00:00:01",
            "confirm_under_a_minute": "on",  # one second: the admin asks for this
            "session_time": "",
            "warning_time": "",
            "message_mode": "custom",
            "message": "Idle for too long.",
            "redirect_to_login_immediately": "unknown",
            "enabled": "on",
        },
    )
    assert GroupLogoutRule.objects.get(pk=rule.pk).idle_time == timedelta(seconds=1)
    assert_next_request_logged_out(alice_b)  # B: uvicorn, async middleware
    assert_next_request_logged_out(alice_a)  # and A


def test_user_added_to_a_stricter_group_through_a_is_judged_by_it_through_b(servers, site):
    alice = site
    alice_a, alice_b, admin = log_in_on_both(servers, alice)
    alice.refresh_from_db()
    joined = alice.date_joined
    admin_post(
        admin,
        f"/admin/auth/user/{alice.pk}/change/",
        {
            "username": "alice",
            "email": alice.email,
            "first_name": "",
            "last_name": "",
            "is_active": "on",
            "groups": [group.pk for group in Group.objects.filter(name__in=["staff", "strict"])],
            "date_joined_0": joined.strftime("%Y-%m-%d"),
            "date_joined_1": joined.strftime("%H:%M:%S"),
            "initial-date_joined_0": joined.strftime("%Y-%m-%d"),
            "initial-date_joined_1": joined.strftime("%H:%M:%S"),
        },
    )
    assert set(alice.groups.values_list("name", flat=True)) == {"staff", "strict"}
    assert_next_request_logged_out(alice_b)
    assert_next_request_logged_out(alice_a)


def manage(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``manage.py`` in a third process, on the same database and cache as the servers."""
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=ROOT,
        env=server_env(connection.settings_dict["NAME"]),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_rule_set_import_in_another_process_applies_to_the_next_request_through_b(
    servers, site, tmp_path: Path
):
    alice = site
    alice_a, alice_b, _admin = log_in_on_both(servers, alice)
    exported = manage("logout_rules", "export", "--format", "json")
    assert exported.returncode == 0, exported.stderr
    ruleset = json.loads(exported.stdout)
    (staff,) = [row for row in ruleset["groups"] if "staff" in json.dumps(row)]
    staff["session_time"] = format_duration_cell(timedelta(seconds=1))
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(ruleset))
    imported = manage("logout_rules", "import", str(path), "--user", "admin")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert GroupLogoutRule.objects.get(group__name="staff").session_time == timedelta(seconds=1)
    assert_next_request_logged_out(alice_b)
    assert_next_request_logged_out(alice_a)


# --- two concurrent requests of one session, through the two processes, in real time -----------


def log_in_with_user_rule(servers: tuple[Server, Server], alice, idle_seconds: int) -> Browser:
    """alice with a user rule of ``idle_seconds`` idle time (resolution: 5 %, so every request
    below records activity), logged in on A."""
    UserLogoutRule.objects.create(user=alice, idle_time=timedelta(seconds=idle_seconds))
    browser = Browser("127.0.0.1", servers[0].port)
    browser.login("alice", PASSWORD)
    return browser


def stored_session(browser: Browser) -> dict[str, object]:
    return dict(SessionStore(browser.cookies["sessionid"]).load())


def in_background(browser: Browser, path: str) -> tuple[threading.Thread, list[object]]:
    answers: list[object] = []
    thread = threading.Thread(target=lambda: answers.append(browser.get(path)))
    thread.start()
    return thread, answers


def test_a_slower_request_through_a_never_undoes_a_logout_made_through_b(servers, site):
    alice = site
    _, b = servers
    on_a = log_in_with_user_rule(servers, alice, idle_seconds=2)
    time.sleep(1.5)  # alive (1.5 s idle), and due to record activity
    slow, answers = in_background(on_a, "/slow/?seconds=2")  # holds A for 2 s
    time.sleep(1.1)  # 2.6 s since the last recorded activity: B logs the session out
    expired = on_a.at(b.port).get("/private/")
    assert (expired.status, expired.location) == (302, LOGIN_REDIRECT)
    slow.join(timeout=30)
    (late,) = answers
    # The slow request started while the session was alive; it writes nothing back (so it is
    # not even turned into Django's SessionInterrupted 400).
    assert late.status == 200, late
    assert SESSION_KEY not in stored_session(on_a)
    after = on_a.get("/private/")
    assert (after.status, after.location) == (302, LOGIN_REDIRECT)


def test_recorded_activity_never_moves_backwards_across_processes(servers, site):
    alice = site
    _, b = servers
    on_a = log_in_with_user_rule(servers, alice, idle_seconds=20)  # resolution 1 s
    time.sleep(1.2)  # due
    slow, answers = in_background(on_a, "/slow/?seconds=2")  # records its start time, later
    time.sleep(1.2)  # due again
    sent = time.time()
    assert on_a.at(b.port).get("/private/").status == 200  # records a later activity
    recorded_by_b = stored_session(on_a)[session_keys.ACTIVITY_KEY]
    assert isinstance(recorded_by_b, float)
    assert recorded_by_b >= sent - 0.01
    slow.join(timeout=30)
    (late,) = answers
    assert late.status == 200, late
    assert stored_session(on_a)[session_keys.ACTIVITY_KEY] >= recorded_by_b
