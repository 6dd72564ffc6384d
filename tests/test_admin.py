"""The rule admins: pages, permissions, validation, the effective-policy panel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from logout_rules.models import GlobalLogoutRule, GroupLogoutRule, UserLogoutRule

from .factories import GroupFactory, GroupLogoutRuleFactory, UserFactory, UserLogoutRuleFactory
from .test_durations import ISSUE_SPELLINGS


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


# --- durations people can type ------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "stored"), ISSUE_SPELLINGS)
def test_the_admin_reads_durations_people_type(superuser_client, db, typed, stored):
    group = GroupFactory(name="staff")
    response = superuser_client.post(
        reverse("admin:logout_rules_grouplogoutrule_add"),
        group_form(group, idle_time=typed, session_time=typed),
    )
    assert response.status_code == 302
    rule = GroupLogoutRule.objects.get()
    assert (rule.idle_time, rule.session_time) == (stored, stored)


@pytest.mark.parametrize("kind", ["global", "group", "user"])
@pytest.mark.parametrize("field", ["idle_time", "session_time", "warning_time"])
def test_a_bare_number_is_an_error_that_names_the_fix(superuser_client, db, kind, field):
    url, data = form_for(kind)
    response = superuser_client.post(url, {**data, field: "15"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field] == ["Add a unit, e.g. 15m or 15s."]
    assert not GroupLogoutRule.objects.exists()
    assert not UserLogoutRule.objects.exists()
    assert GlobalLogoutRule.get_solo().idle_time is None


def form_for(kind: str) -> tuple[str, dict[str, object]]:
    data = group_form(GroupFactory(name="staff"), idle_time="")
    if kind == "group":
        return reverse("admin:logout_rules_grouplogoutrule_add"), data
    data.pop("group")
    data.pop("priority")
    if kind == "global":
        return reverse("admin:logout_rules_globallogoutrule_change"), data
    data["user"] = UserFactory(username="target").pk
    return reverse("admin:logout_rules_userlogoutrule_add"), data


def test_months_are_refused_with_their_own_message(superuser_client, db):
    url, data = form_for("group")
    response = superuser_client.post(url, {**data, "session_time": "1 month"})
    assert response.context["adminform"].form.errors["session_time"] == [
        "Months and years are not units (their length varies): use days or weeks, e.g. 30d or 4w."
    ]


@pytest.mark.parametrize("kind", ["global", "group", "user"])
@pytest.mark.parametrize("field", ["idle_time", "session_time"])
def test_under_a_minute_needs_the_confirmation_box(superuser_client, db, kind, field):
    url, data = form_for(kind)
    response = superuser_client.post(url, {**data, field: "45s"})
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors[field] == [
        '45s is under a minute: is that what you meant? Tick "Yes, under a minute" below to '
        "save it."
    ]
    content = response.content.decode()
    assert 'type="checkbox" name="confirm_under_a_minute"' in content
    assert "Yes, under a minute" in content
    model = {"global": GlobalLogoutRule, "group": GroupLogoutRule, "user": UserLogoutRule}[kind]
    assert not model.objects.filter(**{field: timedelta(seconds=45)}).exists()
    response = superuser_client.post(url, {**data, field: "45s", "confirm_under_a_minute": "on"})
    assert response.status_code == 302
    assert model.objects.filter(**{field: timedelta(seconds=45)}).exists()


def test_the_confirmation_box_is_hidden_until_needed(superuser_client, db):
    content = superuser_client.get(reverse("admin:logout_rules_grouplogoutrule_add")).content
    assert b'type="hidden" name="confirm_under_a_minute"' in content
    assert b'type="checkbox" name="confirm_under_a_minute"' not in content


def test_a_warning_under_a_minute_and_a_minute_need_no_confirmation(superuser_client, db):
    url, data = form_for("group")
    response = superuser_client.post(url, {**data, "idle_time": "1m", "warning_time": "30s"})
    assert response.status_code == 302


def test_an_unchanged_short_limit_needs_no_new_confirmation(superuser_client, db):
    group = GroupFactory(name="staff")
    rule = GroupLogoutRuleFactory(group=group, priority=10, idle_time=timedelta(seconds=30))
    url = reverse("admin:logout_rules_grouplogoutrule_change", args=[rule.pk])
    response = superuser_client.post(url, group_form(group, idle_time="30s", priority=5))
    assert response.status_code == 302
    assert GroupLogoutRule.objects.get().priority == 5
    response = superuser_client.post(url, group_form(group, idle_time="20s"))
    assert response.status_code == 200  # a new short value asks again


@pytest.mark.parametrize(
    "stored",
    [
        timedelta(minutes=15),
        timedelta(hours=1, minutes=30),
        timedelta(days=1, hours=12),
        timedelta(seconds=90.5),
        timedelta(hours=1, microseconds=1),
        timedelta(days=3650),
    ],
)
def test_the_form_shows_what_the_list_shows_and_it_can_be_typed_back(superuser_client, db, stored):
    from logout_rules.durations import format_duration

    group = GroupFactory(name="staff")
    rule = GroupLogoutRuleFactory(
        group=group, priority=10, idle_time=stored, session_time=stored, warning_time=stored
    )
    change = reverse("admin:logout_rules_grouplogoutrule_change", args=[rule.pk])
    form = superuser_client.get(change).context["adminform"].form
    shown = form["idle_time"].value()
    shown = form.fields["idle_time"].prepare_value(shown)
    assert shown == format_duration(stored)
    listed = superuser_client.get(reverse("admin:logout_rules_grouplogoutrule_changelist"))
    assert f">{shown}<" in listed.content.decode()
    response = superuser_client.post(
        change,
        group_form(
            group,
            idle_time=shown,
            session_time=shown,
            warning_time=shown,
            confirm_under_a_minute="on",
        ),
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.idle_time, rule.session_time, rule.warning_time) == (stored, stored, stored)


def test_the_rendered_form_shows_the_list_notation(superuser_client, db):
    rule = GroupLogoutRuleFactory(group=GroupFactory(name="staff"), idle_time=timedelta(hours=1.5))
    content = superuser_client.get(
        reverse("admin:logout_rules_grouplogoutrule_change", args=[rule.pk])
    ).content.decode()
    assert 'name="idle_time" value="1h 30m"' in content
    assert "e.g. 15m, 1h 30m or 2 hours" in content  # every help text has an example


# --- "Inherit", as the README says ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["global", "group", "user"])
def test_the_redirect_flag_says_inherit_not_unknown(superuser_client, db, kind):
    url, _ = form_for(kind)
    response = superuser_client.get(url)
    form = response.context["adminform"].form
    widget = form.fields["redirect_to_login_immediately"].widget
    assert [str(label) for _, label in widget.choices] == ["Inherit", "Yes", "No"]
    content = response.content.decode()
    assert '<option value="unknown" selected>Inherit</option>' in content
    assert "Unknown" not in content
    assert "Inherit: the level below decides." in content


def test_the_lists_say_inherit_for_the_redirect_flag(superuser_client, db):
    GroupLogoutRuleFactory(group=GroupFactory(name="a"), redirect_to_login_immediately=None)
    GroupLogoutRuleFactory(group=GroupFactory(name="b"), redirect_to_login_immediately=True)
    content = superuser_client.get(
        reverse("admin:logout_rules_grouplogoutrule_changelist")
    ).content.decode()
    assert '<td class="field-redirect_display">(inherit)</td>' in content
    assert '<td class="field-redirect_display">Yes</td>' in content
    assert "icon-unknown" not in content


def test_the_duration_field_takes_timedeltas_and_empty_values():
    from django.core.exceptions import ValidationError

    from logout_rules.admin.forms import HumanDurationField

    field = HumanDurationField(required=False)
    assert field.clean(timedelta(minutes=5)) == timedelta(minutes=5)
    assert field.clean("   ") is None
    assert field.prepare_value(timedelta(hours=2)) == "2h"
    assert field.prepare_value("typed") == "typed"
    with pytest.raises(ValidationError, match="at most 3650 days"):
        field.clean("3651d")
