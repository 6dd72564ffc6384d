"""Permissions: who may see and change the rules (admin pages, import/export), and who the client
endpoints answer for (only the session's own user; POST only with a CSRF token, same origin)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Permission
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.urls import reverse

from logout_rules import session as session_keys
from logout_rules.models import GlobalLogoutRule, GroupLogoutRule, UserLogoutRule

from .factories import GroupFactory, GroupLogoutRuleFactory, UserFactory, UserLogoutRuleFactory

MODELS = ("grouplogoutrule", "userlogoutrule")


@pytest.fixture
def rules(db):
    group_rule = GroupLogoutRuleFactory(
        group=GroupFactory(name="staff"), priority=10, idle_time=timedelta(minutes=5)
    )
    user_rule = UserLogoutRuleFactory(
        user=UserFactory(username="bob"), session_time=timedelta(hours=1)
    )
    return group_rule, user_rule


def client_for(username: str, *permissions: str, is_staff: bool = True) -> Client:
    user = UserFactory(username=username, is_staff=is_staff)
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client


def every_rule_page(rules) -> dict[str, str]:
    """Every admin URL of this app (name → path), import and export included."""
    global_pk = GlobalLogoutRule.singleton_instance_id
    pages = {
        "global change": reverse("admin:logout_rules_globallogoutrule_change"),
        "global history": reverse("admin:logout_rules_globallogoutrule_history"),
        "global add": reverse("admin:logout_rules_globallogoutrule_add"),
        "global delete": f"/admin/logout_rules/globallogoutrule/{global_pk}/delete/",
    }
    for model, obj in zip(MODELS, rules, strict=True):
        pages.update(
            {
                f"{model} changelist": reverse(f"admin:logout_rules_{model}_changelist"),
                f"{model} add": reverse(f"admin:logout_rules_{model}_add"),
                f"{model} change": reverse(f"admin:logout_rules_{model}_change", args=[obj.pk]),
                f"{model} delete": reverse(f"admin:logout_rules_{model}_delete", args=[obj.pk]),
                f"{model} history": reverse(f"admin:logout_rules_{model}_history", args=[obj.pk]),
                f"{model} import": reverse(f"admin:logout_rules_{model}_import"),
                f"{model} process_import": reverse(f"admin:logout_rules_{model}_process_import"),
                f"{model} export": reverse(f"admin:logout_rules_{model}_export"),
            }
        )
    return pages


def snapshot() -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for model in (GlobalLogoutRule, GroupLogoutRule, UserLogoutRule):
        rows += model.objects.order_by("pk").values_list(
            "pk", "idle_time", "session_time", "message", "enabled"
        )
    return rows


# === the admin ================================================================================


def test_staff_without_model_permissions_get_403_on_every_rule_page(rules, clock):
    staff = client_for("staffer")
    before = snapshot()
    for name, url in every_rule_page(rules).items():
        # process_import answers only POST (405 to a GET, before any permission check).
        expected_get = 405 if name.endswith("process_import") else 403
        assert staff.get(url).status_code == expected_get, name
        assert staff.post(url, {"idle_time": "00:00:01", "post": "yes"}).status_code == 403, name
    assert snapshot() == before


def test_staff_with_view_permission_may_view_and_export_only(rules, clock):
    viewer = client_for("viewer", "view_grouplogoutrule")
    group_rule, _ = rules
    pages = every_rule_page(rules)
    for name in ("changelist", "change", "history", "export"):
        assert viewer.get(pages[f"grouplogoutrule {name}"]).status_code == 200, name
    for name in ("add", "delete", "import"):
        assert viewer.get(pages[f"grouplogoutrule {name}"]).status_code == 403, name
    assert viewer.post(pages["grouplogoutrule process_import"], {}).status_code == 403
    before = snapshot()
    change = viewer.post(pages["grouplogoutrule change"], {"group": group_rule.group_id})
    assert change.status_code == 403
    assert viewer.post(pages["grouplogoutrule delete"], {"post": "yes"}).status_code == 403
    assert snapshot() == before
    # Nothing of the other rule admins.
    for name, url in pages.items():
        if not name.startswith("grouplogoutrule"):
            assert viewer.get(url).status_code in (403, 405), name


def test_import_needs_both_add_and_change_permissions(rules, clock):
    url = reverse("admin:logout_rules_userlogoutrule_import")
    only_change = client_for("changer", "view_userlogoutrule", "change_userlogoutrule")
    assert only_change.get(url).status_code == 403
    only_add = client_for("adder", "view_userlogoutrule", "add_userlogoutrule")
    assert only_add.get(url).status_code == 403
    both = client_for("importer", "add_userlogoutrule", "change_userlogoutrule")
    assert both.get(url).status_code == 200


def test_global_rule_needs_its_own_permission(rules, clock):
    group_editor = client_for("editor", "view_grouplogoutrule", "change_grouplogoutrule")
    assert (
        group_editor.get(reverse("admin:logout_rules_globallogoutrule_change")).status_code == 403
    )
    global_editor = client_for("global", "view_globallogoutrule", "change_globallogoutrule")
    assert (
        global_editor.get(reverse("admin:logout_rules_globallogoutrule_change")).status_code == 200
    )


@pytest.mark.parametrize("who", ["anonymous", "not staff"])
def test_non_staff_are_sent_to_the_admin_login(rules, clock, who):
    client = Client() if who == "anonymous" else client_for("plain", is_staff=False)
    for name, url in every_rule_page(rules).items():
        response = client.get(url)
        assert response.status_code == 302, name
        assert response["Location"].startswith("/admin/login/"), name


# === the client endpoints =====================================================================

STATUS = "/logout-rules/status/"
EXTEND = "/logout-rules/extend/"


@pytest.fixture
def alice_and_bob(db, clock, settings):
    """alice (idle 10 min from the settings) and bob (a strict user rule), each logged in."""
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600, "SESSION_TIME": 3600, "MESSAGE": "Bye."}
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob")
    UserLogoutRuleFactory(user=bob, idle_time=timedelta(seconds=90))
    alice_client = Client(enforce_csrf_checks=True)
    alice_client.force_login(alice)
    bob_client = Client(enforce_csrf_checks=True)
    bob_client.force_login(bob)
    return alice, bob, alice_client, bob_client


def csrf_token(client: Client) -> str:
    """A CSRF token for ``client`` (the cookie is set by a page that uses the token)."""
    client.get("/accounts/login/")
    return client.cookies["csrftoken"].value


def test_status_answers_for_the_sessions_own_user_only(alice_and_bob):
    _, bob, alice_client, _ = alice_and_bob
    own = alice_client.get(STATUS).json()
    assert own["authenticated"] is True
    assert own["idle_seconds_left"] == 600
    # Whatever names another user, the answer is about this session.
    for query in (
        {"user": bob.pk},
        {"user_id": bob.pk},
        {"username": "bob"},
        {"session_key": "x"},
    ):
        assert alice_client.get(STATUS, query).json() == own
    other_cookie = Client().get(STATUS, HTTP_X_USER=str(bob.pk)).json()
    assert other_cookie["authenticated"] is False


def test_status_is_read_only(alice_and_bob):
    _, _, alice_client, _ = alice_and_bob
    token = csrf_token(alice_client)
    assert alice_client.post(STATUS, HTTP_X_CSRFTOKEN=token).status_code == 405


def test_extend_requires_post_and_a_csrf_token(alice_and_bob, clock):
    _, _, alice_client, _ = alice_and_bob
    key = alice_client.cookies["sessionid"].value
    # Less than one activity resolution (30 s here): only a successful extend records activity.
    clock.advance(10)
    assert alice_client.get(EXTEND).status_code == 405
    assert alice_client.post(EXTEND).status_code == 403  # no token
    assert alice_client.post(EXTEND, HTTP_X_CSRFTOKEN="x" * 32).status_code == 403
    stored = SessionStore(key).load()
    assert stored[session_keys.ACTIVITY_KEY] == clock.now() - 10  # not extended
    token = csrf_token(alice_client)
    cross_site = alice_client.post(
        EXTEND, HTTP_X_CSRFTOKEN=token, HTTP_ORIGIN="https://evil.example"
    )
    assert cross_site.status_code == 403
    response = alice_client.post(EXTEND, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert response.json()["idle_seconds_left"] == 600
    assert SessionStore(key).load()[session_keys.ACTIVITY_KEY] == clock.now()


def test_extend_only_touches_the_callers_own_session(alice_and_bob, clock):
    _, bob, alice_client, bob_client = alice_and_bob
    bob_key = bob_client.cookies["sessionid"].value
    before = SessionStore(bob_key).load()
    clock.advance(60)
    token = csrf_token(alice_client)
    response = alice_client.post(
        EXTEND,
        {"user": bob.pk, "session_key": bob_key},
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200
    assert response.json()["idle_seconds_left"] == 600  # alice's own limit, not bob's 90 s
    assert SessionStore(bob_key).load() == before
    clock.advance(31)  # bob idle for 91 s: alice's call did not keep him signed in
    assert bob_client.get("/private/").status_code == 302


def test_extend_without_a_session_user_is_401_and_writes_nothing(db, clock):
    client = Client(enforce_csrf_checks=True)
    token = csrf_token(client)
    response = client.post(EXTEND, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 401
    assert response.json()["authenticated"] is False
    assert SESSION_KEY not in client.session.load()


def test_extend_cannot_revive_an_expired_session(alice_and_bob, clock):
    _, _, alice_client, _ = alice_and_bob
    token = csrf_token(alice_client)
    clock.advance(601)
    response = alice_client.post(EXTEND, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 401
    body = json.loads(response.content)
    assert body["authenticated"] is False
    assert alice_client.get("/private/").status_code == 302
