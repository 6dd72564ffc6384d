""" "Sign out now" in the admin: the Session revocations pages (add form, read-only rows, delete),
the ``sign_out_now`` action on the rule changelists and on a project's own ``UserAdmin`` and
``GroupAdmin``, their permissions and their escaping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse

from logout_rules.admin.sign_out import subjects
from logout_rules.models import GlobalLogoutRule, SessionRevocation
from logout_rules.policy import SCOPE_EVERYONE, SCOPE_GROUP, SCOPE_USER

from .factories import (
    GroupFactory,
    GroupLogoutRuleFactory,
    SessionRevocationFactory,
    UserFactory,
    UserLogoutRuleFactory,
)
from .test_permissions import client_for
from .test_revocations import at

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:logout_rules_sessionrevocation_changelist"
ADD = "admin:logout_rules_sessionrevocation_add"
EVERYONE_TEXT = "Leave both user and group empty to sign out everyone"
DELETE_TEXT = "Deleting a revocation does not sign anybody back in"
EVIL = '<script>alert("x")</script>'


@pytest.fixture
def root(clock):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(root) -> Client:
    client = Client()
    client.force_login(root)
    return client


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    assert client.get("/private/").status_code == 200
    return client


def is_signed_out(client: Client) -> bool:
    return client.get("/private/").status_code == 302


def change_url(revocation: SessionRevocation) -> str:
    return reverse("admin:logout_rules_sessionrevocation_change", args=[revocation.pk])


def delete_url(revocation: SessionRevocation) -> str:
    return reverse("admin:logout_rules_sessionrevocation_delete", args=[revocation.pk])


def history_url(revocation: SessionRevocation) -> str:
    return reverse("admin:logout_rules_sessionrevocation_history", args=[revocation.pk])


@pytest.fixture
def earlier(clock):
    """``earlier(**subject)``: a revocation from an hour ago (it ends no session of the test)."""

    def make(**subject):
        return SessionRevocationFactory(not_before=at(clock.now() - 3600), **subject)

    return make


# --- the changelist and the "Sign out now" form ------------------------------------------------


def test_the_changelist_offers_sign_out_now(admin_client, earlier):
    earlier(user=UserFactory(username="alice"), reason="lost laptop")
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Session revocations" in content
    assert f'href="{reverse(ADD)}"' in content
    assert "Sign out now" in content
    assert "user &quot;alice&quot;" in content
    assert "lost laptop" in content


def test_the_add_form_is_sign_out_now_and_says_empty_means_everyone(admin_client):
    response = admin_client.get(reverse(ADD))
    assert response.status_code == 200
    content = response.content.decode()
    assert "<title>Sign out now" in content
    assert EVERYONE_TEXT in content
    fields = set(response.context["adminform"].form.fields)
    assert fields == {"user", "group", "reason"}
    assert 'value="Sign out now"' in content
    assert 'name="_addanother"' not in content
    assert 'name="_continue"' not in content


def test_sign_out_a_user(admin_client, root, clock, committed):
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob")
    alice_client, bob_client = signed_in(alice), signed_in(bob)
    response = committed(
        lambda: admin_client.post(reverse(ADD), {"user": alice.pk, "group": "", "reason": "fired"})
    )
    assert response.status_code == 302
    revocation = SessionRevocation.objects.get()
    assert (revocation.scope, revocation.user_id, revocation.reason) == (
        SCOPE_USER,
        alice.pk,
        "fired",
    )
    assert revocation.created_by == root
    assert revocation.not_before == at(clock.now())
    entry = LogEntry.objects.get()
    assert (entry.action_flag, entry.object_id) == (ADDITION, str(revocation.pk))
    assert is_signed_out(alice_client)
    assert not is_signed_out(bob_client)
    assert not is_signed_out(admin_client)


def test_sign_out_a_group(admin_client, committed):
    staff = GroupFactory(name="staff")
    member, outsider = UserFactory(username="member"), UserFactory(username="outsider")
    member.groups.add(staff)
    member_client, outsider_client = signed_in(member), signed_in(outsider)
    committed(lambda: admin_client.post(reverse(ADD), {"user": "", "group": staff.pk}))
    assert SessionRevocation.objects.get().scope == SCOPE_GROUP
    assert is_signed_out(member_client)
    assert not is_signed_out(outsider_client)


def test_both_left_empty_signs_out_everyone_the_admin_included(admin_client, root, committed):
    alice_client = signed_in(UserFactory(username="alice"))
    response = committed(
        lambda: admin_client.post(reverse(ADD), {"user": "", "group": "", "reason": ""})
    )
    assert response.status_code == 302
    revocation = SessionRevocation.objects.get()
    assert revocation.scope == SCOPE_EVERYONE
    assert revocation.created_by == root
    assert is_signed_out(alice_client)
    assert is_signed_out(admin_client)


def test_both_set_is_a_clear_error_and_nothing_is_saved(admin_client, committed):
    alice, staff = UserFactory(username="alice"), GroupFactory(name="staff")
    alice_client = signed_in(alice)
    response = committed(
        lambda: admin_client.post(reverse(ADD), {"user": alice.pk, "group": staff.pk})
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "Choose a user or a group, not both" in content
    assert set(response.context["adminform"].form.errors) == {"user", "group"}
    assert not SessionRevocation.objects.exists()
    assert not is_signed_out(alice_client)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"user": "", "group": "", "reason": "x" * 1001}, "reason"),
        ({"user": "999999", "group": ""}, "user"),
        ({"user": "alice", "group": ""}, "user"),
        ({"user": "", "group": "staff"}, "group"),
    ],
)
def test_bad_input_is_an_error_and_nothing_is_saved(admin_client, data, field):
    response = admin_client.post(reverse(ADD), data)
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not SessionRevocation.objects.exists()


def test_not_before_and_created_by_cannot_be_posted(admin_client, root, clock):
    other = UserFactory(username="other")
    admin_client.post(
        reverse(ADD),
        {"user": "", "group": "", "not_before": "2000-01-01 00:00:00", "created_by": other.pk},
    )
    revocation = SessionRevocation.objects.get()
    assert revocation.not_before == at(clock.now())
    assert revocation.created_by == root


# --- immutable rows --------------------------------------------------------------------------


def test_the_change_page_is_read_only_and_explains_deleting(admin_client, earlier):
    alice = UserFactory(username="alice")
    revocation = earlier(user=alice, reason="lost laptop")
    response = admin_client.get(change_url(revocation))
    assert response.status_code == 200
    content = response.content.decode()
    assert "cannot be changed" in content
    assert DELETE_TEXT in content
    assert "user &quot;alice&quot;" in content
    assert "lost laptop" in content
    assert 'name="reason"' not in content
    assert 'name="_save"' not in content
    assert response.context["adminform"].form.fields == {}


def test_a_revocation_cannot_be_changed_by_a_post(admin_client, committed, earlier):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    revocation = earlier(user=alice, reason="original")
    response = committed(
        lambda: admin_client.post(
            change_url(revocation), {"user": bob.pk, "group": "", "reason": "changed"}
        )
    )
    assert response.status_code == 403
    assert SessionRevocation.objects.values_list("user", "reason").get() == (alice.pk, "original")


def test_the_delete_page_explains_what_deleting_does(admin_client, earlier):
    revocation = earlier()
    response = admin_client.get(delete_url(revocation))
    assert response.status_code == 200
    assert DELETE_TEXT in response.content.decode()
    response = admin_client.post(
        reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [revocation.pk]}
    )
    assert response.status_code == 200
    assert DELETE_TEXT in response.content.decode()


def test_deleting_a_revocation_spares_the_sessions_it_had_not_ended_yet(
    admin_client, clock, committed
):
    staff = GroupFactory(name="staff")
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    alice.groups.add(staff)
    bob.groups.add(staff)
    alice_client, bob_client = signed_in(alice), signed_in(bob)
    revocation = committed(
        lambda: SessionRevocationFactory(group=staff, not_before=at(clock.now()))
    )
    assert is_signed_out(alice_client)  # alice's next request came: ended
    response = committed(lambda: admin_client.post(delete_url(revocation), {"post": "yes"}))
    assert response.status_code == 302
    assert not SessionRevocation.objects.exists()
    assert not is_signed_out(bob_client)  # bob's had not: it goes on
    assert is_signed_out(alice_client)  # and alice stays signed out


def test_names_and_reasons_are_escaped(admin_client, earlier):
    evil_group = GroupFactory(name=EVIL)
    evil_user = UserFactory(username="evil<b>user</b>")
    revocation = earlier(group=evil_group, reason=EVIL)
    earlier(user=evil_user, reason="<i>why</i>")
    for url in (reverse(CHANGELIST), change_url(revocation), delete_url(revocation)):
        content = admin_client.get(url).content.decode()
        assert EVIL not in content, url
        assert "&lt;script&gt;" in content, url
    content = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "<b>user</b>" not in content
    assert "<i>why</i>" not in content


def test_the_changelist_filters_and_searches(admin_client, earlier):
    alice, staff = UserFactory(username="alice"), GroupFactory(name="staff")
    earlier(user=alice, reason="laptop")
    earlier(group=staff, reason="incident")
    earlier(reason="breach")
    url = reverse(CHANGELIST)

    def shown(query) -> list[str]:
        return [row.scope for row in admin_client.get(url, query).context["cl"].result_list]

    assert shown({"scope": "user"}) == [SCOPE_USER]
    assert shown({"scope": "group"}) == [SCOPE_GROUP]
    assert shown({"scope": "everyone"}) == [SCOPE_EVERYONE]
    assert shown({"q": "alice"}) == [SCOPE_USER]
    assert shown({"q": "staff"}) == [SCOPE_GROUP]
    assert shown({"q": "breach"}) == [SCOPE_EVERYONE]


# --- permissions -------------------------------------------------------------------------------


def revocation_pages(revocation: SessionRevocation) -> dict[str, str]:
    return {
        "changelist": reverse(CHANGELIST),
        "add": reverse(ADD),
        "change": change_url(revocation),
        "delete": delete_url(revocation),
        "history": history_url(revocation),
    }


def test_without_permissions_every_page_is_403_and_nothing_is_written(clock, earlier):
    revocation = earlier(user=UserFactory(username="alice"))
    staff = client_for("staffer", "view_grouplogoutrule", "view_userlogoutrule")
    for name, url in revocation_pages(revocation).items():
        assert staff.get(url).status_code == 403, name
        assert staff.post(url, {"user": "", "group": "", "post": "yes"}).status_code == 403, name
    assert list(SessionRevocation.objects.values_list("pk", flat=True)) == [revocation.pk]


def test_view_permission_shows_the_rows_only(clock, earlier):
    revocation = earlier()
    viewer = client_for("viewer", "view_sessionrevocation")
    pages = revocation_pages(revocation)
    for name in ("changelist", "change", "history"):
        assert viewer.get(pages[name]).status_code == 200, name
    for name in ("add", "delete"):
        assert viewer.get(pages[name]).status_code == 403, name
    assert viewer.post(pages["add"], {"user": "", "group": ""}).status_code == 403
    assert viewer.post(pages["delete"], {"post": "yes"}).status_code == 403
    assert SessionRevocation.objects.count() == 1
    assert "Sign out now" not in viewer.get(pages["changelist"]).content.decode()


def test_add_permission_is_what_signs_out(clock):
    adder = client_for("adder", "add_sessionrevocation")
    assert adder.get(reverse(ADD)).status_code == 200
    assert adder.post(reverse(ADD), {"user": "", "group": ""}).status_code == 302
    assert SessionRevocation.objects.values_list("created_by__username").get() == ("adder",)


def test_delete_permission_deletes(clock, earlier):
    revocation = earlier()
    deleter = client_for("deleter", "view_sessionrevocation", "delete_sessionrevocation")
    assert deleter.post(delete_url(revocation), {"post": "yes"}).status_code == 302
    assert not SessionRevocation.objects.exists()


# --- the sign_out_now action on the rule changelists -------------------------------------------


def action_post(client: Client, url: str, pks: list[object], **extra: object):
    return client.post(
        url, {"action": "sign_out_now", "_selected_action": pks, "index": 0, **extra}
    )


def confirm_post(client: Client, url: str, pks: list[object], **extra: object):
    return client.post(
        url, {"action": "sign_out_now", "_selected_action": pks, "post": "yes", **extra}
    )


def action_names(client: Client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200
    form = response.context["action_form"]  # None: no action at all
    return [] if form is None else [name for name, _ in form.fields["action"].choices]


def test_the_action_is_offered_on_both_rule_changelists(admin_client):
    for model in ("grouplogoutrule", "userlogoutrule"):
        url = reverse(f"admin:logout_rules_{model}_changelist")
        assert "sign_out_now" in action_names(admin_client, url), model


def test_group_rules_action_asks_first_then_signs_out_the_members(admin_client, root, committed):
    staff, other = GroupFactory(name="staff"), GroupFactory(name="other")
    rule = GroupLogoutRuleFactory(group=staff, idle_time=timedelta(minutes=5))
    GroupLogoutRuleFactory(group=other)
    members = [UserFactory(username=f"member{number}") for number in range(2)]
    for member in members:
        member.groups.add(staff)
    outsider = UserFactory(username="outsider")
    outsider.groups.add(other)
    clients = [signed_in(user) for user in (*members, outsider)]
    url = reverse("admin:logout_rules_grouplogoutrule_changelist")

    asked = action_post(admin_client, url, [rule.pk])
    assert asked.status_code == 200
    content = asked.content.decode()
    assert "staff" in content
    assert "2 members now" in content
    assert 'name="post" value="yes"' in content
    assert f'name="_selected_action" value="{rule.pk}"' in content
    assert "This includes your own sessions" not in content
    assert not SessionRevocation.objects.exists()

    done = committed(lambda: confirm_post(admin_client, url, [rule.pk], reason="incident 7"))
    assert done.status_code == 302
    revocation = SessionRevocation.objects.get()
    assert (revocation.group_id, revocation.reason) == (staff.pk, "incident 7")
    assert revocation.created_by_id == root.pk
    assert LogEntry.objects.get().object_id == str(revocation.pk)
    assert [is_signed_out(client) for client in clients] == [True, True, False]
    messages = [str(message) for message in admin_client.get(url).context["messages"]]
    assert messages == [
        "Signed out the members of 1 group: their sessions end on their next request."
    ]


def test_user_rules_action_makes_one_revocation_per_user(admin_client, committed):
    alice, bob, carol = (UserFactory(username=name) for name in ("alice", "bob", "carol"))
    rules = [UserLogoutRuleFactory(user=user) for user in (alice, bob, carol)]
    clients = [signed_in(user) for user in (alice, bob, carol)]
    url = reverse("admin:logout_rules_userlogoutrule_changelist")
    asked = action_post(admin_client, url, [rules[0].pk, rules[1].pk])
    assert asked.status_code == 200
    assert "2 users" in asked.content.decode()
    committed(lambda: confirm_post(admin_client, url, [rules[0].pk, rules[1].pk]))
    assert sorted(SessionRevocation.objects.values_list("user__username", flat=True)) == [
        "alice",
        "bob",
    ]
    assert len({row.not_before for row in SessionRevocation.objects.all()}) == 1
    assert [is_signed_out(client) for client in clients] == [True, True, False]


def test_the_confirmation_warns_when_the_admin_is_among_them(admin_client, root):
    rule = UserLogoutRuleFactory(user=root)
    url = reverse("admin:logout_rules_userlogoutrule_changelist")
    content = action_post(admin_client, url, [rule.pk]).content.decode()
    assert "This includes your own sessions" in content


def test_the_confirmation_escapes_names(admin_client):
    rule = GroupLogoutRuleFactory(group=GroupFactory(name=EVIL))
    url = reverse("admin:logout_rules_grouplogoutrule_changelist")
    content = action_post(admin_client, url, [rule.pk]).content.decode()
    assert EVIL not in content
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in content


def test_a_reason_too_long_is_asked_again_and_nothing_is_written(admin_client):
    rule = UserLogoutRuleFactory(user=UserFactory(username="alice"))
    url = reverse("admin:logout_rules_userlogoutrule_changelist")
    response = confirm_post(admin_client, url, [rule.pk], reason="x" * 1001)
    assert response.status_code == 200
    assert "at most 1000 characters" in response.content.decode()
    assert not SessionRevocation.objects.exists()


def test_without_the_permission_the_rule_admins_do_not_offer_the_action(clock):
    editor = client_for(
        "editor",
        "view_grouplogoutrule",
        "change_grouplogoutrule",
        "delete_grouplogoutrule",
        "view_sessionrevocation",
    )
    rule = GroupLogoutRuleFactory(group=GroupFactory(name="staff"))
    url = reverse("admin:logout_rules_grouplogoutrule_changelist")
    names = action_names(editor, url)
    assert "delete_selected" in names
    assert "sign_out_now" not in names
    for post in (action_post, confirm_post):
        response = post(editor, url, [rule.pk])
        assert response.status_code == 302  # "No action selected": back to the list
    assert not SessionRevocation.objects.exists()


def test_with_the_permission_a_rule_editor_may_sign_out(clock):
    editor = client_for("editor", "view_userlogoutrule", "add_sessionrevocation")
    rule = UserLogoutRuleFactory(user=UserFactory(username="alice"))
    url = reverse("admin:logout_rules_userlogoutrule_changelist")
    assert "sign_out_now" in action_names(editor, url)
    assert confirm_post(editor, url, [rule.pk]).status_code == 302
    assert SessionRevocation.objects.values_list("user__username").get() == ("alice",)


# --- the reusable action on a project's own UserAdmin and GroupAdmin ----------------------------

PROJECT_USERS = "/project-admin/auth/user/"
PROJECT_GROUPS = "/project-admin/auth/group/"


def test_a_projects_user_admin_signs_out_the_selected_users(admin_client, committed):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    alice_client, bob_client = signed_in(alice), signed_in(bob)
    assert "sign_out_now" in action_names(admin_client, PROJECT_USERS)
    asked = action_post(admin_client, PROJECT_USERS, [alice.pk])
    assert asked.status_code == 200
    assert "alice" in asked.content.decode()
    assert not SessionRevocation.objects.exists()
    done = committed(lambda: confirm_post(admin_client, PROJECT_USERS, [alice.pk]))
    assert done.status_code == 302
    assert done["Location"] == PROJECT_USERS
    assert SessionRevocation.objects.get().user_id == alice.pk
    assert is_signed_out(alice_client)
    assert not is_signed_out(bob_client)


def test_a_projects_group_admin_signs_out_the_members(admin_client, committed):
    staff = GroupFactory(name="staff")  # no logout rule: a revocation applies all the same
    member = UserFactory(username="member")
    member.groups.add(staff)
    member_client = signed_in(member)
    assert action_post(admin_client, PROJECT_GROUPS, [staff.pk]).status_code == 200
    committed(lambda: confirm_post(admin_client, PROJECT_GROUPS, [staff.pk]))
    assert SessionRevocation.objects.get().group_id == staff.pk
    assert is_signed_out(member_client)


def test_a_projects_user_admin_refuses_without_the_permission(clock):
    alice = UserFactory(username="alice")
    user_editor = client_for("editor", "view_user", "change_user")
    # No SignOutNowMixin on this admin: the action is listed, and refused when used.
    assert "sign_out_now" in action_names(user_editor, PROJECT_USERS)
    assert action_post(user_editor, PROJECT_USERS, [alice.pk]).status_code == 403
    assert confirm_post(user_editor, PROJECT_USERS, [alice.pk]).status_code == 403
    assert not SessionRevocation.objects.exists()


def test_a_projects_group_admin_with_the_mixin_hides_the_action(clock):
    staff = GroupFactory(name="staff")
    group_editor = client_for("editor", "view_group", "change_group")
    assert "sign_out_now" not in action_names(group_editor, PROJECT_GROUPS)
    confirm_post(group_editor, PROJECT_GROUPS, [staff.pk])
    assert not SessionRevocation.objects.exists()
    allowed = client_for("allowed", "view_group", "add_sessionrevocation")
    assert "sign_out_now" in action_names(allowed, PROJECT_GROUPS)
    assert confirm_post(allowed, PROJECT_GROUPS, [staff.pk]).status_code == 302
    assert SessionRevocation.objects.get().group_id == staff.pk


def test_subjects_of_each_kind_of_queryset(db):
    alice, staff = UserFactory(username="alice"), GroupFactory(name="staff")
    UserLogoutRuleFactory(user=alice)
    GroupLogoutRuleFactory(group=staff)
    from django.contrib.auth import get_user_model

    from logout_rules.models import GroupLogoutRule, UserLogoutRule

    assert subjects(get_user_model().objects.filter(pk=alice.pk)) == ([alice], [])
    assert subjects(Group.objects.all()) == ([], [Group.objects.get(pk=staff.pk)])
    assert subjects(UserLogoutRule.objects.all()) == ([alice], [])
    assert subjects(GroupLogoutRule.objects.all()) == ([], [Group.objects.get(pk=staff.pk)])
    with pytest.raises(ImproperlyConfigured):
        subjects(GlobalLogoutRule.objects.all())
