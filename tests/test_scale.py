"""Query counts that must not grow with the number of rules (issue 5): the admin changelists
(no N+1, paginated, searchable) and a cold resolution among many rules. Counts only: the 100,000-row
timings are measured by ``make bench``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from logout_rules import cache as policy_cache
from logout_rules import resolver
from logout_rules.models import GroupLogoutRule, UserLogoutRule

from .factories import UserFactory

PER_PAGE = 10

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(clock, monkeypatch) -> Client:
    for model in (GroupLogoutRule, UserLogoutRule):
        monkeypatch.setattr(admin.site._registry[model], "list_per_page", PER_PAGE)
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def add_rules(count: int, start: int = 0) -> None:
    """``count`` users with user rules and ``count`` groups with group rules (bulk, fast)."""
    users = User.objects.bulk_create(
        User(username=f"member{i:05d}", email=f"member{i:05d}@example.com", password="!")
        for i in range(start, start + count)
    )
    groups = Group.objects.bulk_create(
        Group(name=f"team{i:05d}") for i in range(start, start + count)
    )
    UserLogoutRule.objects.bulk_create(
        UserLogoutRule(user=user, idle_time=timedelta(minutes=5), message="bye") for user in users
    )
    GroupLogoutRule.objects.bulk_create(
        GroupLogoutRule(group=group, priority=1 + i % 7, session_time=timedelta(hours=1))
        for i, group in enumerate(groups)
    )
    User.groups.through.objects.bulk_create(
        User.groups.through(user=user, group=group)
        for user, group in zip(users, groups, strict=True)
    )


def statements(captured: CaptureQueriesContext) -> list[str]:
    """The queries, without the savepoints of the test's own transaction."""
    return [query["sql"] for query in captured if "SAVEPOINT" not in query["sql"]]


def page(client: Client, url: str) -> tuple[int, int]:
    """(queries, rows shown) of one admin page, the admin's own policy already cached (adding
    rules invalidated it)."""
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(statements(captured)), len(response.context["cl"].result_list)


CHANGELISTS = [
    ("userlogoutrule", "member00003"),
    ("grouplogoutrule", "team00003"),
]


@pytest.mark.parametrize(("model", "search"), CHANGELISTS)
def test_changelist_queries_do_not_grow_with_the_rows(superuser_client, model, search):
    url = reverse(f"admin:logout_rules_{model}_changelist")
    add_rules(3)
    small, shown = page(superuser_client, url)
    assert shown == 3
    add_rules(4 * PER_PAGE, start=3)
    large, shown = page(superuser_client, url)
    assert shown == PER_PAGE  # paginated
    assert large == small
    last, shown = page(superuser_client, f"{url}?p=5")
    assert (last, shown) == (small, 3)


@pytest.mark.parametrize(("model", "search"), CHANGELISTS)
def test_search_queries_do_not_grow_with_the_rows(superuser_client, model, search):
    url = reverse(f"admin:logout_rules_{model}_changelist")
    add_rules(5)
    small, shown = page(superuser_client, f"{url}?q={search}")
    assert shown == 1
    add_rules(4 * PER_PAGE, start=5)
    assert page(superuser_client, f"{url}?q={search}") == (small, 1)


def test_cold_resolution_among_many_rules_is_four_queries(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # as committed (see test_pending)
        add_rules(200)
        user = User.objects.get(username="member00042")
        # The user in all 200 groups with rules, among 200 user rules.
        user.groups.set(Group.objects.filter(name__startswith="team"))
    policy_cache.invalidate_all()
    with CaptureQueriesContext(connection) as cold:
        effective = resolver.get_policy(user.pk)
    assert len(statements(cold)) == 4
    assert effective.idle_time == 300  # the user rule
    assert effective.session_time == 3600  # the groups
    with CaptureQueriesContext(connection) as warm:
        assert resolver.get_policy(user.pk) == effective
    assert statements(warm) == []
