"""The rule admins: pages, permissions, validation, the effective-policy panel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from logout_rules.models import GlobalLogoutRule, GroupLogoutRule, UserLogoutRule

from .factories import GroupFactory, GroupLogoutRuleFactory, UserFactory, UserLogoutRuleFactory


@pytest.fixture
def superuser_client(db, clock) -> Client:
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    return client


@pytest.fixture
def staff_client(db, clock) -> Client:
    staff = UserFactory(username="staffer", is_staff=True)
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def rules(db):
    group_rule = GroupLogoutRuleFactory(group=GroupFactory(name="staff"), priority=10)
    user_rule = UserLogoutRuleFactory(user=UserFactory(username="bob"))
    return group_rule, user_rule


def admin_urls(rules) -> list[str]:
    group_rule, user_rule = rules
    urls = [reverse("admin:logout_rules_globallogoutrule_change")]
    for model, obj in (("grouplogoutrule", group_rule), ("userlogoutrule", user_rule)):
        urls += [
            reverse(f"admin:logout_rules_{model}_changelist"),
            reverse(f"admin:logout_rules_{model}_add"),
            reverse(f"admin:logout_rules_{model}_change", args=[obj.pk]),
            reverse(f"admin:logout_rules_{model}_delete", args=[obj.pk]),
            reverse(f"admin:logout_rules_{model}_history", args=[obj.pk]),
        ]
    return urls


def test_superuser_sees_every_page(superuser_client, rules):
    for url in admin_urls(rules):
        assert superuser_client.get(url).status_code == 200, url


def test_staff_without_permission_gets_403(staff_client, rules):
    for url in admin_urls(rules):
        assert staff_client.get(url).status_code == 403, url


def test_staff_with_view_permission_can_view_not_change(staff_client, rules):
    staff = UserFactory(username="staffer")
    staff.user_permissions.add(Permission.objects.get(codename="view_grouplogoutrule"))
    url = reverse("admin:logout_rules_grouplogoutrule_changelist")
    assert staff_client.get(url).status_code == 200
    assert staff_client.get(reverse("admin:logout_rules_grouplogoutrule_add")).status_code == 403


def test_changelists_show_readable_limits(superuser_client, db):
    GroupLogoutRuleFactory(
        group=GroupFactory(name="staff"),
        priority=10,
        idle_time=timedelta(minutes=5),
        session_time=timedelta(hours=1, minutes=30),
    )
    response = superuser_client.get(reverse("admin:logout_rules_grouplogoutrule_changelist"))
    content = response.content.decode()
    assert "staff" in content
    assert "5m" in content
    assert "1h 30m" in content


def test_search(superuser_client, db):
    UserLogoutRuleFactory(user=UserFactory(username="carol", email="carol@corp.example"))
    UserLogoutRuleFactory(user=UserFactory(username="dave"))
    url = reverse("admin:logout_rules_userlogoutrule_changelist")
    assert b"carol" in superuser_client.get(url, {"q": "corp.example"}).content
    assert b"dave" not in superuser_client.get(url, {"q": "carol"}).content
    GroupLogoutRuleFactory(group=GroupFactory(name="auditors"))
    url = reverse("admin:logout_rules_grouplogoutrule_changelist")
    assert b"auditors" in superuser_client.get(url, {"q": "audit"}).content


def group_form(group, **overrides) -> dict[str, object]:
    data: dict[str, object] = {
        "group": group.pk,
        "priority": 10,
        "idle_time": "00:05:00",
        "session_time": "",
        "warning_time": "",
        "message_mode": "inherit",
        "message": "",
        "redirect_to_login_immediately": "unknown",
        "enabled": "on",
    }
    data.update(overrides)
    return data


def test_add_group_rule(superuser_client, db):
    group = GroupFactory(name="staff")
    response = superuser_client.post(
        reverse("admin:logout_rules_grouplogoutrule_add"), group_form(group)
    )
    assert response.status_code == 302
    rule = GroupLogoutRule.objects.get(group=group)
    assert rule.idle_time == timedelta(minutes=5)
    assert rule.message is None
    assert rule.redirect_to_login_immediately is None


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("idle_time", "00:00:00", "longer than zero"),
        ("idle_time", "-00:05:00", "longer than zero"),
        ("session_time", "4000 00:00:00", "at most 3650 days"),
        ("idle_time", "ten minutes", "Enter a valid duration"),
        ("idle_time", "15", "Add a unit, e.g. 15m or 15s."),
        ("idle_time", "999999999 00:00:00", "at most 3650 days"),
        ("idle_time", "1000000000 00:00:00", "at most 3650 days"),
        ("priority", "0", "greater than or equal to 1"),
        ("priority", "-3", "greater than or equal to"),
    ],
)
def test_invalid_values_are_rejected_and_nothing_is_saved(
    superuser_client, db, field, value, error
):
    group = GroupFactory(name="staff")
    response = superuser_client.post(
        reverse("admin:logout_rules_grouplogoutrule_add"), group_form(group, **{field: value})
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not GroupLogoutRule.objects.exists()


def test_message_modes(superuser_client, db):
    group = GroupFactory(name="staff")
    url = reverse("admin:logout_rules_grouplogoutrule_add")
    superuser_client.post(url, group_form(group, message_mode="none"))
    assert GroupLogoutRule.objects.get().message == ""
    rule = GroupLogoutRule.objects.get()
    change = reverse("admin:logout_rules_grouplogoutrule_change", args=[rule.pk])
    superuser_client.post(change, group_form(group, message_mode="custom", message=" Bye "))
    assert GroupLogoutRule.objects.get().message == "Bye"
    response = superuser_client.post(change, group_form(group, message_mode="custom"))
    assert b"Enter the message" in response.content
    # Switching back to "Inherit" with the stored text still in the box drops it.
    superuser_client.post(change, group_form(group, message_mode="inherit", message="Bye"))
    assert GroupLogoutRule.objects.get().message is None


@pytest.mark.parametrize(("mode", "choice"), [("inherit", "Inherit"), ("none", "Explicitly")])
def test_a_typed_message_is_never_thrown_away_silently(superuser_client, db, mode, choice):
    group = GroupFactory(name="staff")
    url = reverse("admin:logout_rules_grouplogoutrule_add")
    response = superuser_client.post(url, group_form(group, message_mode=mode, message="Bye!"))
    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.errors["message"])
    assert f'You typed a message but chose "{choice}' in errors
    assert 'Choose "This message:" to use it, or clear the text.' in errors
    assert not GroupLogoutRule.objects.exists()
    # On a stored rule too: new text with "Inherit" is refused, nothing changes.
    rule = GroupLogoutRuleFactory(group=group, message="Old")
    change = reverse("admin:logout_rules_grouplogoutrule_change", args=[rule.pk])
    response = superuser_client.post(change, group_form(group, message_mode=mode, message="New"))
    assert response.status_code == 200
    assert GroupLogoutRule.objects.get().message == "Old"


def test_overlong_message_rejected(superuser_client, db):
    group = GroupFactory(name="staff")
    response = superuser_client.post(
        reverse("admin:logout_rules_grouplogoutrule_add"),
        group_form(group, message_mode="custom", message="x" * 1001),
    )
    assert response.status_code == 200
    assert not GroupLogoutRule.objects.exists()


def test_global_rule_admin_saves(superuser_client, db):
    url = reverse("admin:logout_rules_globallogoutrule_change")
    data = group_form(GroupFactory(), idle_time="00:20:00")
    data.pop("group")
    data.pop("priority")
    response = superuser_client.post(url, data)
    assert response.status_code == 302
    assert GlobalLogoutRule.get_solo().idle_time == timedelta(minutes=20)


def test_effective_policy_panel_explains_and_escapes(superuser_client, db, settings):
    settings.AUTO_LOGOUT = {"SESSION_TIME": 3600}
    user = UserFactory(username="erin")
    group = GroupFactory(name='<b>"evil"</b>')
    GroupLogoutRuleFactory(group=group, idle_time=timedelta(minutes=5), message="<i>bye</i>")
    user.groups.add(group)
    rule = UserLogoutRuleFactory(user=user, warning_time=timedelta(seconds=30))
    response = superuser_client.get(
        reverse("admin:logout_rules_userlogoutrule_change", args=[rule.pk])
    )
    content = response.content.decode()
    assert "logout-rules-effective" in content
    assert "<b>" not in content.split("logout-rules-effective")[1].split("</table>")[0]
    assert "&lt;b&gt;&quot;evil&quot;&lt;/b&gt;" in content
    assert "&lt;i&gt;bye&lt;/i&gt;" in content
    assert "user rule" in content
    assert "settings" in content


def test_add_user_rule_uses_autocomplete(superuser_client, db):
    response = superuser_client.get(reverse("admin:logout_rules_userlogoutrule_add"))
    assert b"admin-autocomplete" in response.content
    assert b"Save the rule to see the effective policy" in response.content


def test_admin_delete_action_invalidates(superuser_client, db, django_capture_on_commit_callbacks):
    rule = UserLogoutRuleFactory(user=UserFactory(username="frank"), idle_time=timedelta(1))
    from logout_rules import resolver

    assert resolver.get_policy(rule.user_id).idle_time == 86400
    with django_capture_on_commit_callbacks(execute=True):
        superuser_client.post(
            reverse("admin:logout_rules_userlogoutrule_changelist"),
            {"action": "delete_selected", "_selected_action": [rule.pk], "post": "yes"},
        )
    assert not UserLogoutRule.objects.exists()
    assert resolver.get_policy(rule.user_id).idle_time == 600  # back to tests.settings
