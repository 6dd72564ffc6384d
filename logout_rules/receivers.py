"""Signal receivers, connected in ``AppConfig.ready()`` with ``dispatch_uid``s.

Invalidation always runs after commit (``cache.*_on_commit``), so a concurrent request cannot cache
the old rows between the invalidation and the commit, and a rollback leaves the cache alone.
``post_save``/``post_delete`` are sent per object, also for queryset deletes and cascades; bulk
``update``/``bulk_create``/``bulk_update`` are covered by ``models.RuleQuerySet``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import FieldDoesNotExist
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.http import HttpRequest

from . import cache, clock
from . import session as session_store
from .models import GlobalLogoutRule, GroupLogoutRule, UserLogoutRule


def start_session_clock(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """At login, record when *this* session started (the session limit counts from here)."""
    store = getattr(request, "session", None)
    if store is not None:
        session_store.record_login(store, clock.now())


def invalidate_everyone(sender: Any, using: str | None = None, **kwargs: Any) -> None:
    """A global or group rule changed: every user's cached policy may be stale."""
    cache.invalidate_all_on_commit(using=using)


def invalidate_rule_user(
    sender: Any, instance: UserLogoutRule, using: str | None = None, **kwargs: Any
) -> None:
    """A user rule changed: that user's cached policy is stale."""
    cache.invalidate_users_on_commit([instance.user_id], using=using)


def invalidate_renamed_group(
    sender: Any, instance: Group, created: bool = False, using: str | None = None, **kwargs: Any
) -> None:
    """A group's name is part of the effective policy (sources, message tie-break)."""
    if not created:
        cache.invalidate_all_on_commit(using=using)


def invalidate_membership(
    sender: Any,
    instance: Any,
    action: str,
    reverse: bool,
    pk_set: set[Any] | None,
    using: str | None = None,
    **kwargs: Any,
) -> None:
    """``user.groups.add/remove/clear`` and ``group.user_set.add/remove/clear``."""
    if action not in ("post_add", "post_remove", "post_clear", "pre_clear"):
        return
    if not reverse:
        # instance is a user; pk_set holds group ids.
        if action != "pre_clear":
            cache.invalidate_users_on_commit([instance.pk], using=using)
        return
    # instance is a group; pk_set holds user ids (None for clear).
    if action == "pre_clear":
        cache.invalidate_all_on_commit(using=using)
    elif action != "post_clear" and pk_set:
        cache.invalidate_users_on_commit(pk_set, using=using)


def connect() -> None:
    user_logged_in.connect(start_session_clock, dispatch_uid="logout_rules.start_session_clock")
    for model in (GlobalLogoutRule, GroupLogoutRule):
        post_save.connect(
            invalidate_everyone, sender=model, dispatch_uid=f"logout_rules.save.{model.__name__}"
        )
        post_delete.connect(
            invalidate_everyone, sender=model, dispatch_uid=f"logout_rules.delete.{model.__name__}"
        )
    post_save.connect(
        invalidate_rule_user, sender=UserLogoutRule, dispatch_uid="logout_rules.save.user"
    )
    post_delete.connect(
        invalidate_rule_user, sender=UserLogoutRule, dispatch_uid="logout_rules.delete.user"
    )
    post_save.connect(
        invalidate_renamed_group, sender=Group, dispatch_uid="logout_rules.save.group"
    )
    try:
        through = get_user_model()._meta.get_field("groups").remote_field.through
    except FieldDoesNotExist:
        return
    m2m_changed.connect(
        invalidate_membership, sender=through, dispatch_uid="logout_rules.membership"
    )
