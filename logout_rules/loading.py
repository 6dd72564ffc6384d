"""The one module that queries rule rows for resolution.

A cold resolution costs a constant number of queries, however many groups or rules exist: one for
the user's rule, one for the rules of all the user's groups (a join through the membership table),
one for the global rule, and one for the latest session revocation that applies to the user (their
own, any of their groups', or everyone's).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q

from . import policy
from .models import GlobalLogoutRule, GroupLogoutRule, SessionRevocation, UserLogoutRule

_VALUE_FIELDS = policy.FIELDS


def _rule(row: dict[str, Any]) -> policy.Rule:
    values: dict[str, Any] = {name: row[name] for name in _VALUE_FIELDS}
    for name in policy.DURATION_FIELDS:
        if values[name] is not None:
            values[name] = values[name].total_seconds()
    return policy.Rule(**values)


def _user_has_groups() -> bool:
    try:
        get_user_model()._meta.get_field("groups")
    except FieldDoesNotExist:
        return False
    return True


def load_user_rule(user_id: Any) -> policy.Rule | None:
    row = (
        UserLogoutRule.objects.filter(user_id=user_id, enabled=True).values(*_VALUE_FIELDS).first()
    )
    return None if row is None else _rule(row)


def load_group_rules(user_id: Any) -> list[policy.GroupRule]:
    if not _user_has_groups():
        return []
    rows = GroupLogoutRule.objects.filter(group__user=user_id, enabled=True).values(
        "priority", "group__name", *_VALUE_FIELDS
    )
    return [policy.GroupRule(row["group__name"], row["priority"], _rule(row)) for row in rows]


def load_global_rule() -> policy.Rule | None:
    row = (
        GlobalLogoutRule.objects.filter(pk=GlobalLogoutRule.singleton_instance_id, enabled=True)
        .values(*_VALUE_FIELDS)
        .first()
    )
    return None if row is None else _rule(row)


def load_revocation(user_id: Any) -> policy.Revocation | None:
    """The latest revocation that applies to the user (one query, whatever the group count)."""
    applies = Q(user_id=user_id) | Q(user__isnull=True, group__isnull=True)
    if _user_has_groups():
        applies |= Q(group__user=user_id)
    row: Any = (
        SessionRevocation.objects.filter(applies)
        .order_by("-not_before", "-pk")
        .values("not_before", "user_id", "group_id", "group__name")
        .first()
    )
    if row is None:
        return None
    if row["user_id"] is not None:
        scope, name = policy.SCOPE_USER, ""
    elif row["group_id"] is not None:
        scope, name = policy.SCOPE_GROUP, row["group__name"]
    else:
        scope, name = policy.SCOPE_EVERYONE, ""
    return policy.Revocation(row["not_before"].timestamp(), scope, name)


def load_layer(user_id: object) -> policy.Layer:
    """The database levels for one user, resolved (four queries)."""
    return policy.resolve_layer(
        load_user_rule(user_id),
        load_group_rules(user_id),
        load_global_rule(),
        load_revocation(user_id),
    )
