"""The policy cache: what is cached, and invalidation only after commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import caches
from django.db import transaction

from logout_rules import cache as policy_cache
from logout_rules import resolver
from logout_rules.models import GlobalLogoutRule, GroupLogoutRule, UserLogoutRule

from .factories import (
    GroupFactory,
    GroupLogoutRuleFactory,
    UserFactory,
    UserLogoutRuleFactory,
    global_rule,
)


def global_token() -> object:
    return caches["default"].get(policy_cache.global_token_key())


def user_token(user) -> object:
    return caches["default"].get(policy_cache.user_token_key(user.pk))


def idle(user) -> float | None:
    return resolver.get_policy(user.pk).idle_time


def cached_idle(user) -> float | None:
    """The idle time in the shared cache: what a request on another connection is served."""
    layer = policy_cache.lookup(user.pk).layer
    assert layer is not None
    return layer.values.idle_time


@pytest.fixture(autouse=True)
def _no_settings_limits(settings):
    settings.AUTO_LOGOUT = {}


@pytest.fixture
def calls(monkeypatch):
    """Record the invalidations that actually reach the cache."""
    seen: list[tuple[str, frozenset[object]]] = []
    real_all, real_users = policy_cache.invalidate_all, policy_cache.invalidate_users

    def invalidate_all():
        seen.append(("all", frozenset()))
        real_all()

    def invalidate_users(user_ids):
        seen.append(("users", frozenset(user_ids)))
        real_users(user_ids)

    monkeypatch.setattr(policy_cache, "invalidate_all", invalidate_all)
    monkeypatch.setattr(policy_cache, "invalidate_users", invalidate_users)
    return seen


@pytest.mark.django_db(transaction=True)  # no test transaction: no savepoints to count
def test_policy_is_served_from_the_cache(django_assert_num_queries, settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 60}
    user = UserFactory()
    with django_assert_num_queries(4):
        assert idle(user) == 60
    with django_assert_num_queries(0):
        assert idle(user) == 60


@pytest.mark.django_db
def test_settings_change_applies_without_invalidation(settings):
    user = UserFactory()
    settings.AUTO_LOGOUT = {"IDLE_TIME": 60}
    assert idle(user) == 60
    settings.AUTO_LOGOUT = {"IDLE_TIME": 120}
    assert idle(user) == 120


@pytest.mark.django_db(transaction=True)
def test_group_rule_change_applies_after_commit(calls):
    user = UserFactory()
    rule = GroupLogoutRuleFactory(idle_time=timedelta(seconds=100))
    user.groups.add(rule.group)
    assert idle(user) == 100
    calls.clear()
    with transaction.atomic():
        rule.idle_time = timedelta(seconds=50)
        rule.save()
        assert calls == []  # nothing before the commit
        assert cached_idle(user) == 100  # other requests keep the committed value meanwhile
        assert idle(user) == 50  # this connection sees its own change (never cached)
        assert cached_idle(user) == 100
    assert calls == [("all", frozenset())]
    assert idle(user) == 50


@pytest.mark.django_db(transaction=True)
def test_rolled_back_change_leaves_the_cache_alone(calls):
    user = UserFactory()
    rule = UserLogoutRuleFactory(user=user, idle_time=timedelta(seconds=100))
    assert idle(user) == 100
    before = (global_token(), user_token(user))
    calls.clear()

    def change_then_fail() -> None:
        with transaction.atomic():
            rule.idle_time = timedelta(seconds=5)
            rule.save()
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert calls == []
    assert (global_token(), user_token(user)) == before
    assert idle(user) == 100


@pytest.mark.django_db(transaction=True)
def test_many_changes_in_one_transaction_invalidate_once(calls):
    users = [UserFactory() for _ in range(20)]
    calls.clear()
    with transaction.atomic():
        for user in users:
            UserLogoutRuleFactory(user=user, idle_time=timedelta(seconds=30))
    assert calls == [("users", frozenset(user.pk for user in users))]


@pytest.mark.django_db(transaction=True)
def test_savepoint_rollback_keeps_the_outer_changes(calls):
    first, second = UserFactory(), UserFactory()
    calls.clear()
    with transaction.atomic():
        UserLogoutRuleFactory(user=first, idle_time=timedelta(seconds=30))

        def inner_change_then_fail() -> None:
            with transaction.atomic():
                UserLogoutRuleFactory(user=second, idle_time=timedelta(seconds=30))
                raise RuntimeError("inner rollback")

        with pytest.raises(RuntimeError):
            inner_change_then_fail()
        UserLogoutRule.objects.filter(user=first).update(idle_time=timedelta(seconds=40))
    assert len(calls) == 1
    assert idle(first) == 40


@pytest.mark.django_db(transaction=True)
def test_user_rule_change_invalidates_only_that_user(calls):
    alice, bob = UserFactory(), UserFactory()
    rule = UserLogoutRuleFactory(user=alice, idle_time=timedelta(seconds=10))
    idle(alice), idle(bob)
    bob_token = user_token(bob)
    calls.clear()
    rule.idle_time = timedelta(seconds=20)
    rule.save()
    assert calls == [("users", frozenset({alice.pk}))]
    assert user_token(bob) == bob_token
    assert idle(alice) == 20


@pytest.mark.django_db(transaction=True)
def test_moving_a_user_rule_invalidates_the_previous_user_too(calls):
    alice, bob = UserFactory(), UserFactory()
    UserLogoutRuleFactory(user=alice, idle_time=timedelta(seconds=10))
    rule = UserLogoutRule.objects.get(user=alice)
    assert (idle(alice), idle(bob)) == (10, None)  # both warm
    calls.clear()
    rule.user_id = bob.pk
    rule.save()
    assert calls == [("users", frozenset({alice.pk, bob.pk}))]
    assert (idle(alice), idle(bob)) == (None, 10)


@pytest.mark.django_db(transaction=True)
def test_moving_a_rule_built_without_loading_it_invalidates_the_previous_user(calls):
    # An instance that was never loaded (built with the pk of an existing rule): the previous
    # subject is read from the database before the save.
    alice, bob = UserFactory(), UserFactory()
    rule = UserLogoutRuleFactory(user=alice, idle_time=timedelta(seconds=10))
    assert idle(alice) == 10
    UserLogoutRule(pk=rule.pk, user=bob, idle_time=timedelta(seconds=10)).save()
    assert idle(alice) is None
    assert idle(bob) == 10


def test_moving_a_user_rule_inside_a_transaction_invalidates_both_after_commit(
    db, calls, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        alice, bob = UserFactory(), UserFactory()
        UserLogoutRuleFactory(user=alice, idle_time=timedelta(seconds=10))
    rule = UserLogoutRule.objects.get(user=alice)
    assert idle(alice) == 10
    calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        rule.user_id = bob.pk
        rule.save()
        assert calls == []
    assert calls == [("users", frozenset({alice.pk, bob.pk}))]
    assert idle(alice) is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "change",
    [
        lambda user, group: user.groups.add(group),
        lambda user, group: group.user_set.add(user),
    ],
    ids=["user.groups.add", "group.user_set.add"],
)
def test_membership_added(change):
    user = UserFactory()
    group = GroupLogoutRuleFactory(idle_time=timedelta(seconds=15)).group
    assert idle(user) is None
    change(user, group)
    assert idle(user) == 15


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "change",
    [
        lambda user, group: user.groups.remove(group),
        lambda user, group: user.groups.clear(),
        lambda user, group: user.groups.set([]),
        lambda user, group: group.user_set.remove(user),
        lambda user, group: group.user_set.clear(),
    ],
    ids=[
        "user.groups.remove",
        "user.groups.clear",
        "user.groups.set",
        "group.user_set.remove",
        "group.user_set.clear",
    ],
)
def test_membership_removed(change):
    user = UserFactory()
    group = GroupLogoutRuleFactory(idle_time=timedelta(seconds=15)).group
    user.groups.add(group)
    assert idle(user) == 15
    change(user, group)
    assert idle(user) is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "delete",
    [
        lambda group: GroupLogoutRule.objects.all().delete(),
        lambda group: group.delete(),
        lambda group: GroupLogoutRule.objects.get(group=group).delete(),
    ],
    ids=["queryset-delete", "group-cascade", "instance-delete"],
)
def test_group_rule_deletes_including_cascades(delete):
    user = UserFactory()
    group = GroupLogoutRuleFactory(idle_time=timedelta(seconds=15)).group
    user.groups.add(group)
    assert idle(user) == 15
    delete(group)
    assert idle(user) is None


@pytest.mark.django_db(transaction=True)
def test_user_deletion_cascades_to_the_rule(calls):
    user = UserFactory()
    UserLogoutRuleFactory(user=user, idle_time=timedelta(seconds=15))
    assert idle(user) == 15
    user_id = user.pk
    calls.clear()
    user.delete()
    assert ("users", frozenset({user_id})) in calls


@pytest.mark.django_db(transaction=True)
def test_bulk_writes_invalidate():
    user = UserFactory()
    group = GroupFactory()
    user.groups.add(group)
    assert idle(user) is None
    GroupLogoutRule.objects.bulk_create([GroupLogoutRule(group=group, idle_time=timedelta(1))])
    assert idle(user) == 86400
    rules = list(GroupLogoutRule.objects.all())
    rules[0].idle_time = timedelta(seconds=7)
    GroupLogoutRule.objects.bulk_update(rules, ["idle_time"])
    assert idle(user) == 7
    GroupLogoutRule.objects.update(enabled=False)
    assert idle(user) is None


@pytest.mark.django_db(transaction=True)
def test_global_rule_change_and_group_rename():
    user = UserFactory()
    group = GroupLogoutRuleFactory(message="hi").group
    user.groups.add(group)
    global_rule(idle_time=timedelta(seconds=99))
    effective = resolver.get_policy(user.pk)
    assert effective.idle_time == 99
    assert effective.source("message").describe() == f'group "{group.name}"'
    global_rule(idle_time=timedelta(seconds=98))
    group.name = "renamed"
    group.save()
    effective = resolver.get_policy(user.pk)
    assert effective.idle_time == 98
    assert effective.source("message").describe() == 'group "renamed"'


@pytest.mark.django_db(transaction=True)
def test_missing_global_row_is_no_rule():
    GlobalLogoutRule.objects.all().delete()
    user = UserFactory()
    assert resolver.get_policy(user.pk).idle_time is None


@pytest.mark.django_db
def test_entry_from_before_an_invalidation_is_not_used(settings):
    """An entry computed under old tokens is ignored (as when another process invalidated)."""
    settings.AUTO_LOGOUT = {}
    user = UserFactory()
    found = policy_cache.lookup(user.pk)
    tokens = policy_cache.tokens_for_store(user.pk, found)
    policy_cache.invalidate_all()  # e.g. another process committed a change meanwhile
    from logout_rules.policy import Layer, Rule

    policy_cache.store(user.pk, tokens, Layer(values=Rule(idle_time=1)))
    assert policy_cache.lookup(user.pk).layer is None
    assert idle(user) is None


@pytest.mark.django_db
def test_version_and_prefix_in_keys(settings):
    from logout_rules import __version__

    settings.LOGOUT_RULES_CACHE_PREFIX = "custom"
    assert policy_cache.entry_key(5) == f"custom:{__version__}:2:policy:5"


@pytest.mark.django_db
def test_configurable_cache_alias(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "policy": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "policy",
        },
    }
    settings.LOGOUT_RULES_CACHE_ALIAS = "policy"
    user = UserFactory()
    idle(user)
    assert caches["policy"].get(policy_cache.entry_key(user.pk)) is not None
    assert caches["default"].get(policy_cache.entry_key(user.pk)) is None


@pytest.mark.django_db
def test_cache_errors_fall_back_to_the_database(settings, caplog):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 42}
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.05, "socket_timeout": 0.05},
        }
    }
    policy_cache._last_logged.clear()
    user = UserFactory()
    assert idle(user) == 42
    assert idle(user) == 42
    errors = [r for r in caplog.records if "could not be read" in r.getMessage()]
    assert len(errors) == 1  # once per interval, not per request
