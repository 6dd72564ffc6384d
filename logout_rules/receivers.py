"""Signal receivers, connected in ``AppConfig.ready()`` with ``dispatch_uid``s.

Invalidation always runs after commit (``cache.*_on_commit``), so a concurrent request cannot cache
the old rows between the invalidation and the commit, and a rollback leaves the cache alone.
``post_save``/``post_delete`` are sent per object, also for queryset deletes and cascades; bulk
``update``/``bulk_create``/``bulk_update`` are covered by ``models.RuleQuerySet``.

A row whose subject can change (a user rule moved to another user) invalidates the subject it
leaves as well as the one it gets: ``remember_subjects`` (``pre_save``) reads the stored subject
before the save, ``subject_ids`` gives both to the ``post_save`` receiver. A model added later
whose rows name users (and whose subject can change) takes the same two receivers: add it to
``USER_SUBJECTS``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
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


#: Models whose rows apply to users named by foreign keys (field names): a save or delete
#: invalidates those users, before and after a change of subject.
USER_SUBJECTS: dict[type[models.Model], tuple[str, ...]] = {UserLogoutRule: ("user",)}
#: The instance attribute holding the subject ids stored before the save (``remember_subjects``).
PREVIOUS_SUBJECTS_ATTRIBUTE = "_logout_rules_previous_subjects"


def _subject_attnames(model: type[models.Model]) -> list[str]:
    fields = [model._meta.get_field(name) for name in USER_SUBJECTS[model]]
    return [field.attname for field in fields if isinstance(field, models.Field)]


def remember_subjects(
    sender: type[models.Model],
    instance: models.Model,
    using: str | None = None,
    update_fields: frozenset[str] | None = None,
    **kwargs: Any,
) -> None:
    """Before a save: the subject ids the row has in the database (one query by primary key;
    none for a new row), so that the users a row leaves are invalidated too."""
    previous: tuple[object, ...] = ()
    attnames = _subject_attnames(sender)
    names = {*USER_SUBJECTS[sender], *attnames}
    if instance.pk is not None and (update_fields is None or names & set(update_fields)):
        stored = (
            sender._default_manager.using(using)
            .filter(pk=instance.pk)
            .values_list(*attnames)
            .first()
        )
        previous = tuple(stored or ())
    setattr(instance, PREVIOUS_SUBJECTS_ATTRIBUTE, previous)


def subject_ids(instance: models.Model) -> set[object]:
    """The users a row applies to now, and those it applied to before this save."""
    ids = {getattr(instance, attname) for attname in _subject_attnames(type(instance))}
    ids.update(instance.__dict__.pop(PREVIOUS_SUBJECTS_ATTRIBUTE, ()))
    ids.discard(None)
    return ids


def invalidate_subjects(
    sender: Any, instance: models.Model, using: str | None = None, **kwargs: Any
) -> None:
    """A row naming users changed or was deleted: those users' cached policies are stale, the
    previous ones too when the row moved to other users."""
    cache.invalidate_users_on_commit(subject_ids(instance), using=using)


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
    for subject_model in USER_SUBJECTS:
        name = subject_model.__name__
        pre_save.connect(
            remember_subjects, sender=subject_model, dispatch_uid=f"logout_rules.presave.{name}"
        )
        post_save.connect(
            invalidate_subjects, sender=subject_model, dispatch_uid=f"logout_rules.save.{name}"
        )
        post_delete.connect(
            invalidate_subjects, sender=subject_model, dispatch_uid=f"logout_rules.delete.{name}"
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
