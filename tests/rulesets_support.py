"""Shared by the import/export tests: the sample files, the people they name, a snapshot of every
rule, and a counter of cache invalidations."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from logout_rules import cache
from logout_rules.models import GlobalLogoutRule, GroupLogoutRule, UserLogoutRule

from .factories import GroupFactory, UserFactory

SAMPLES = Path(__file__).resolve().parent / "samples"
FIELDS = (
    "idle_time",
    "session_time",
    "warning_time",
    "message",
    "redirect_to_login_immediately",
    "enabled",
)


def make_population():
    """The groups and users the sample files name, and an admin account for the history."""
    for name in ("staff", "contractors", "everyone"):
        GroupFactory(name=name)
    for username in ("sam", "olivia", "-dash"):
        UserFactory(username=username)
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


def _values(rule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in FIELDS}


def snapshot() -> dict[str, Any]:
    """Every rule's values, keyed by natural keys (comparable across databases and imports)."""
    global_rule = GlobalLogoutRule.objects.get(pk=GlobalLogoutRule.singleton_instance_id)
    return {
        "global": _values(global_rule),
        "groups": {
            rule.group.name: {**_values(rule), "priority": rule.priority}
            for rule in GroupLogoutRule.objects.select_related("group")
        },
        "users": {
            rule.user.username: _values(rule)
            for rule in UserLogoutRule.objects.select_related("user")
        },
    }


def _rule(**values) -> dict[str, Any]:
    rule: dict[str, Any] = dict.fromkeys(FIELDS)
    rule["enabled"] = True
    rule.update(values)
    return rule


#: What every sample rule set (tests/samples/ruleset.*) describes.
SAMPLE_RULES = {
    "global": _rule(session_time=timedelta(hours=4)),
    "groups": {
        "staff": _rule(
            priority=10,
            idle_time=timedelta(minutes=2),
            session_time=timedelta(minutes=30),
            warning_time=timedelta(seconds=30),
            message="Staff sessions end after 2 idle minutes.",
            redirect_to_login_immediately=True,
        ),
        "contractors": _rule(
            priority=50,
            idle_time=timedelta(minutes=15),
            session_time=timedelta(days=30),
            message="",
            redirect_to_login_immediately=False,
            enabled=False,
        ),
        "everyone": _rule(priority=100, idle_time=timedelta(minutes=30)),
    },
    "users": {
        "-dash": _rule(idle_time=timedelta(seconds=1.5), message="(no message)"),
        "olivia": _rule(
            session_time=timedelta(hours=8),
            message='Ünïcode, "quotes", commas and\nnew lines',
        ),
        "sam": _rule(
            idle_time=timedelta(minutes=5),
            session_time=timedelta(hours=1),
            warning_time=timedelta(minutes=1),
            message='=HYPERLINK("http://evil.example")',
            redirect_to_login_immediately=True,
        ),
    },
}


def count_invalidations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every call that really invalidates the policy cache ("all" / "users:<count>")."""
    calls: list[str] = []
    invalidate_all, invalidate_users = cache.invalidate_all, cache.invalidate_users

    def counting_all() -> None:
        calls.append("all")
        invalidate_all()

    def counting_users(user_ids) -> None:
        ids = list(user_ids)
        calls.append(f"users:{len(ids)}")
        invalidate_users(ids)

    monkeypatch.setattr(cache, "invalidate_all", counting_all)
    monkeypatch.setattr(cache, "invalidate_users", counting_users)
    return calls
