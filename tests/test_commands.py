"""``manage.py logout_rules explain``."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from .factories import (
    GroupFactory,
    GroupLogoutRuleFactory,
    UserFactory,
    UserLogoutRuleFactory,
    global_rule,
)


def explain(username: str) -> str:
    out = StringIO()
    call_command("logout_rules", "explain", username, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_explain_names_every_source(settings):
    settings.AUTO_LOGOUT = {"MESSAGE": "from settings", "REDIRECT_TO_LOGIN_IMMEDIATELY": True}
    user = UserFactory(username="alice")
    staff = GroupFactory(name="staff")
    everyone = GroupFactory(name="everyone")
    GroupLogoutRuleFactory(group=staff, priority=10, idle_time=timedelta(minutes=5))
    GroupLogoutRuleFactory(group=everyone, priority=100, idle_time=timedelta(minutes=30))
    user.groups.add(staff, everyone)
    UserLogoutRuleFactory(user=user, session_time=timedelta(hours=2))
    global_rule(warning_time=timedelta(seconds=30))
    lines = explain("alice").splitlines()
    assert lines[0] == "Effective logout policy for alice:"
    by_field = {line.split()[0]: line for line in lines[1:]}
    assert "5m (0:05:00, 300 s)" in by_field["idle_time"]
    assert by_field["idle_time"].endswith('[group "staff"]')
    assert by_field["session_time"].endswith("[user rule]")
    assert by_field["warning_time"].endswith("[global rule]")
    assert "'from settings'" in by_field["message"]
    assert by_field["message"].endswith("[settings]")
    assert by_field["redirect_to_login_immediately"].endswith("[settings]")


@pytest.mark.django_db
def test_explain_no_limit(settings):
    settings.AUTO_LOGOUT = {}
    UserFactory(username="bob")
    output = explain("bob")
    assert "idle_time                      no limit  [no limit]" in output
    assert "session_time                   no limit  [no limit]" in output


@pytest.mark.django_db
def test_explain_unknown_user():
    with pytest.raises(CommandError, match="No user with username 'ghost'"):
        explain("ghost")


def test_subcommand_required():
    with pytest.raises(CommandError):
        call_command("logout_rules")


ESCAPES = "\x1b[2J\x1b]0;owned\x07\x9b31m\u202e\r"


@pytest.mark.django_db
def test_explain_never_sends_terminal_escapes(settings):
    """Group names and messages come from the database: the command shows their control
    characters as escapes instead of sending them to the terminal."""
    settings.AUTO_LOGOUT = {}
    user = UserFactory(username="alice")
    group = GroupFactory(name=f"staff{ESCAPES}")
    GroupLogoutRuleFactory(group=group, idle_time=timedelta(minutes=5), message=f"bye{ESCAPES}")
    user.groups.add(group)
    output = explain("alice")
    assert not any(char in output for char in "\x1b\x07\x9b\u202e\r")
    assert '[group "staff\\x1b[2J\\x1b]0;owned\\x07\\x9b31m\\u202e\\x0d"]' in output
    assert "bye\\x1b[2J" in output


@pytest.mark.django_db
def test_explain_says_when_a_running_server_may_not_see_changes(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    UserFactory(username="alice")
    err = StringIO()
    call_command("logout_rules", "explain", "alice", stdout=StringIO(), stderr=err)
    assert "per process" in err.getvalue()
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    settings.LOGOUT_RULES_CACHE_ALIAS = "shared"
    err = StringIO()
    call_command("logout_rules", "explain", "alice", stdout=StringIO(), stderr=err)
    assert err.getvalue() == ""
