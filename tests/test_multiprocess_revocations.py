""" "Sign out now" across processes: a revocation made through process A (gunicorn, WSGI) — the
admin's form, the ``sign_out_now`` action — or by ``manage.py logout_rules revoke`` in a third
process ends the session on its very next request through process B (uvicorn, ASGI), which had the
user's policy in the shared cache before. Reuses the servers of ``test_multiprocess.py``.

Runs in the services stage; skipped, with the reason, without PostgreSQL and Redis.
"""

from __future__ import annotations

import json

import pytest
from django.core.cache import caches
from django.core.management import call_command

from logout_rules import cache as policy_cache
from logout_rules.models import GroupLogoutRule, SessionRevocation

from .services.http import Browser
from .services.servers import Server
from .test_multiprocess import (
    LOGIN_REDIRECT,
    PASSWORD,
    admin_post,
    assert_next_request_logged_out,
    manage,
    pytestmark,
    servers,
    site,
)

# The fixtures and the marks (multiprocess; skipped, with the reason, without the services) are
# those of test_multiprocess.py.
__all__ = ["pytestmark", "servers", "site"]


def signed_in(servers: tuple[Server, Server], alice) -> tuple[Browser, Browser, Browser, Browser]:
    """alice and bob logged in on A and B (alice's policy cached by B); the admin on A."""
    a, b = servers
    alice_a = Browser("127.0.0.1", a.port)
    alice_a.login("alice", PASSWORD)
    alice_b = Browser("127.0.0.1", b.port)
    alice_b.login("alice", PASSWORD)
    bob_b = Browser("127.0.0.1", b.port)
    bob_b.login("bob", PASSWORD)
    for browser, name in ((alice_a, b"alice"), (alice_b, b"alice"), (bob_b, b"bob")):
        response = browser.get("/private/")
        assert (response.status, response.body) == (200, b"hello " + name)
    assert caches[policy_cache.conf.CACHE_ALIAS].get(policy_cache.entry_key(alice.pk)) is not None
    admin = Browser("127.0.0.1", a.port)
    admin.login("admin", PASSWORD)
    return alice_a, alice_b, bob_b, admin


@pytest.fixture
def fresh_ids(transactional_db):
    """Empty the database with its sequences restarted, so that the content types the server
    processes cached (for the admin history) have the same ids in every test of this module
    (the flush after each test recreates them under new ids otherwise)."""
    call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def people(fresh_ids, site, django_user_model):
    """``site``'s alice (in "staff"), and bob, in no group."""
    django_user_model.objects.create_user("bob", "bob@example.com", PASSWORD)
    return site


def assert_still_signed_in(browser: Browser, name: str) -> None:
    response = browser.get("/private/")
    assert (response.status, response.body) == (200, f"hello {name}".encode())


def test_sign_out_now_through_a_ends_the_session_on_its_next_request_through_b(servers, people):
    alice_a, alice_b, bob_b, admin = signed_in(servers, people)
    staff = people.groups.get(name="staff")
    admin_post(
        admin,
        "/admin/logout_rules/sessionrevocation/add/",
        {"user": "", "group": staff.pk, "reason": "incident 7"},
    )
    assert SessionRevocation.objects.get().reason == "incident 7"
    assert_next_request_logged_out(alice_b)  # B: uvicorn, async middleware
    assert_next_request_logged_out(alice_a)  # and A
    assert_still_signed_in(bob_b, "bob")


def test_the_action_through_a_is_found_by_the_status_poll_through_b(servers, people):
    alice_a, alice_b, bob_b, admin = signed_in(servers, people)
    rule = GroupLogoutRule.objects.get(group__name="staff")
    changelist = "/admin/logout_rules/grouplogoutrule/"
    token = admin.csrf_form_token(changelist)
    response = admin.post(
        changelist,
        {
            "action": "sign_out_now",
            "_selected_action": rule.pk,
            "post": "yes",
            "csrfmiddlewaretoken": token,
        },
    )
    assert response.status == 302, response.text[:2000]
    assert SessionRevocation.objects.get().group_id == rule.group_id
    # An open page's poll, through B: the session ends now, with the reason.
    status = alice_b.get("/logout-rules/status/")
    assert status.status == 200
    payload = json.loads(status.body)
    assert (payload["authenticated"], payload["reason"]) == (False, "revoked")
    assert payload["message"] == "You have been signed out."
    assert_next_request_logged_out(alice_a)
    assert_still_signed_in(bob_b, "bob")


def test_the_revoke_command_in_another_process_applies_to_the_next_request_through_b(
    servers, people
):
    alice_a, alice_b, bob_b, _admin = signed_in(servers, people)
    done = manage("logout_rules", "revoke", "--user", "alice", "--reason", "lost laptop")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith('Signed out user "alice"')
    assert_next_request_logged_out(alice_b)
    assert_next_request_logged_out(alice_a)
    assert_still_signed_in(bob_b, "bob")
    # Signing in again works at once, through either process.
    alice_b.login("alice", PASSWORD)
    assert_still_signed_in(alice_b, "alice")
    assert_still_signed_in(alice_b.at(servers[0].port), "alice")


def test_an_unknown_user_exits_2_and_ends_nothing(servers, people):
    _alice_a, alice_b, _bob_b, _admin = signed_in(servers, people)
    done = manage("logout_rules", "revoke", "--user", "nobody")
    assert done.returncode == 2
    assert "No user with username 'nobody'" in done.stderr
    assert not SessionRevocation.objects.exists()
    assert_still_signed_in(alice_b, "alice")
    assert alice_b.get("/private/").location != LOGIN_REDIRECT
