"""factory-boy factories for users, groups, the three rule models and revocations."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.test import TestCase

from logout_rules.models import (
    GlobalLogoutRule,
    GroupLogoutRule,
    SessionRevocation,
    UserLogoutRule,
)


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("pw")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(*extracted)


class GroupFactory(factory.django.DjangoModelFactory[Group]):
    class Meta:
        model = Group
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"group{n}")


class GroupLogoutRuleFactory(factory.django.DjangoModelFactory[GroupLogoutRule]):
    class Meta:
        model = GroupLogoutRule

    group = factory.SubFactory(GroupFactory)
    priority = 100


class UserLogoutRuleFactory(factory.django.DjangoModelFactory[UserLogoutRule]):
    class Meta:
        model = UserLogoutRule

    user = factory.SubFactory(UserFactory)


class GlobalLogoutRuleFactory(factory.django.DjangoModelFactory[GlobalLogoutRule]):
    """The singleton: "creating" it sets the values of the one row (made by the migration)."""

    class Meta:
        model = GlobalLogoutRule

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        rule, _ = model_class.objects.get_or_create(pk=model_class.singleton_instance_id)
        for name, value in kwargs.items():
            setattr(rule, name, value)
        rule.save()
        return rule


def global_rule(**values) -> GlobalLogoutRule:
    """Set the singleton's values."""
    rule: GlobalLogoutRule = GlobalLogoutRuleFactory.create(**values)
    return rule


class SessionRevocationFactory(factory.django.DjangoModelFactory[SessionRevocation]):
    """Everyone by default; pass ``user=`` or ``group=`` to narrow it."""

    class Meta:
        model = SessionRevocation

    reason = "test"


def committed() -> AbstractContextManager[Any]:
    """Run the on-commit callbacks of what the block changes, as a commit would (the rows stay
    in the test's transaction). pytest-django's ``django_capture_on_commit_callbacks(execute=True)``
    for helpers that take no fixtures."""
    return TestCase.captureOnCommitCallbacks(execute=True)
