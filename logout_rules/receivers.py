"""Signal receivers, connected in ``AppConfig.ready()`` with ``dispatch_uid``s.

Invalidation always runs after commit (``cache.*_on_commit``), so a concurrent request cannot cache
the old rows between the invalidation and the commit, and a rollback leaves the cache alone.
``post_save``/``post_delete`` are sent per object, also for queryset deletes and cascades; bulk
``update``/``bulk_create``/``bulk_update`` are covered by ``models.RuleQuerySet``.

Our own ``auto_logout`` signal is received too: each automatic logout becomes one row of the audit
trail (``events.py``).

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
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.http import HttpRequest

from . import cache, clock, events
from . import session as session_store
from .models import GlobalLogoutRule, GroupLogoutRule, SessionRevocation, UserLogoutRule
from .policy import NO_POLICY, Policy
from .signals import auto_logout

#: On a revocation being saved or deleted: the users it applied to before (see
#: ``remember_revocation_subject``), invalidated together with the users it applies to now.
_PREVIOUS_SUBJECT = "_logout_rules_previous_subject"


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


def _members(group_id: Any, using: str | None) -> list[object]:
    user_model = get_user_model()
    try:
        user_model._meta.get_field("groups")
    except FieldDoesNotExist:
        return []
    manager = user_model._default_manager.db_manager(using)
    return list(manager.filter(groups=group_id).values_list("pk", flat=True))


def _revocation_subject(
    user_id: object, group_id: object, using: str | None
) -> tuple[bool, list[object]]:
    """``(everyone, user ids)``: who a revocation with this subject applies to now."""
    if user_id is not None:
        return False, [user_id]
    if group_id is not None:
        return False, _members(group_id, using)
    return True, []


def remember_revocation_subject(
    sender: Any, instance: SessionRevocation, using: str | None = None, **kwargs: Any
) -> None:
    """``pre_save``/``pre_delete``: who the stored row applies to, before it changes or goes.

    Rows are immutable in the admin, but code may move one to another subject: the users it
    applied to are invalidated too. Group members are read here, before a cascade (deleting the
    group) removes the memberships.
    """
    previous: tuple[bool, list[object]] | None = None
    if instance.pk is not None:
        row = (
            SessionRevocation._default_manager.db_manager(using)
            .filter(pk=instance.pk)
            .values("user_id", "group_id")
            .first()
        )
        if row is not None:
            previous = _revocation_subject(row["user_id"], row["group_id"], using)
    setattr(instance, _PREVIOUS_SUBJECT, previous)


def invalidate_revocation(
    sender: Any, instance: SessionRevocation, using: str | None = None, **kwargs: Any
) -> None:
    """A revocation was created, changed or deleted: invalidate exactly the users it can affect
    (its user; its group's members; everyone), after commit."""
    everyone, user_ids = _revocation_subject(instance.user_id, instance.group_id, using)
    previous = getattr(instance, _PREVIOUS_SUBJECT, None)
    if previous is not None:
        everyone = everyone or previous[0]
        user_ids = [*user_ids, *previous[1]]
    if everyone:
        cache.invalidate_all_on_commit(using=using)
    elif user_ids:
        cache.invalidate_users_on_commit(user_ids, using=using)


def record_logout_event(
    sender: Any,
    user: Any = None,
    reason: str = "",
    policy: Policy = NO_POLICY,
    login_at: float | None = None,
    **kwargs: Any,
) -> None:
    """Our ``auto_logout``: one row of the audit trail (``events.record`` never raises)."""
    if user is not None:
        events.record(user, reason, policy, login_at)


def connect() -> None:
    user_logged_in.connect(start_session_clock, dispatch_uid="logout_rules.start_session_clock")
    auto_logout.connect(record_logout_event, dispatch_uid="logout_rules.record_logout_event")
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
    pre_save.connect(
        remember_revocation_subject,
        sender=SessionRevocation,
        dispatch_uid="logout_rules.presave.revocation",
    )
    pre_delete.connect(
        remember_revocation_subject,
        sender=SessionRevocation,
        dispatch_uid="logout_rules.predelete.revocation",
    )
    post_save.connect(
        invalidate_revocation, sender=SessionRevocation, dispatch_uid="logout_rules.save.revocation"
    )
    post_delete.connect(
        invalidate_revocation,
        sender=SessionRevocation,
        dispatch_uid="logout_rules.delete.revocation",
    )
    try:
        through = get_user_model()._meta.get_field("groups").remote_field.through
    except FieldDoesNotExist:
        return
    m2m_changed.connect(
        invalidate_membership, sender=through, dispatch_uid="logout_rules.membership"
    )
