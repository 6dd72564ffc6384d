""" "Sign out now": the one place that creates session revocations.

Shared by the admin (the "Sign out now" form and the ``sign_out_now`` action) and the
``logout_rules revoke`` command. A revocation ends, on their next request, the sessions of the
users it applies to that logged in at or before its ``not_before`` (now, by this module's clock);
the cache invalidation that makes it apply at once lives in ``receivers.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import clock, policy
from .conf import MAX_MESSAGE_LENGTH
from .models import SessionRevocation


def now() -> datetime:
    """The current moment for ``not_before``, from the app's one clock (``clock.now``)."""
    moment = datetime.fromtimestamp(clock.now(), tz=dt_timezone.utc)
    return moment if settings.USE_TZ else timezone.make_naive(moment)


def clean_reason(reason: object) -> str:
    """The reason as stored: stripped text of at most ``MAX_MESSAGE_LENGTH`` characters."""
    if reason is None:
        return ""
    if not isinstance(reason, str):
        raise ValidationError(_("The reason must be text."), code="invalid")
    text = reason.strip()
    if len(text) > MAX_MESSAGE_LENGTH:
        raise ValidationError(
            _("Keep the reason to %(max)s characters (it has %(length)s).")
            % {"max": MAX_MESSAGE_LENGTH, "length": len(text)},
            code="max_length",
        )
    return text


def _author(by: Any) -> Any:
    """The account to record as ``created_by``: a saved, authenticated user, else nobody."""
    if by is None or not getattr(by, "is_authenticated", False) or by.pk is None:
        return None
    return by


def record(revocation: SessionRevocation, by: Any = None) -> SessionRevocation:
    """Save a new revocation built elsewhere (the admin's form): ``not_before`` is now,
    ``created_by`` is ``by``. Raises ``ValidationError`` (nothing saved) for a user and a group
    together or a reason that is too long."""
    if not revocation._state.adding:
        raise ValueError("A revocation is never changed: create a new one.")
    revocation.reason = clean_reason(revocation.reason)
    revocation.not_before = now()
    revocation.created_by = _author(by)
    revocation.full_clean()
    revocation.save()
    return revocation


def revoke(
    *,
    user: Any = None,
    group: Group | None = None,
    everyone: bool = False,
    reason: str = "",
    by: Any = None,
) -> SessionRevocation:
    """Sign out now the sessions of ``user``, of every member of ``group``, or of everyone
    (``everyone=True``): exactly one of the three. ``by`` is the account that asked for it."""
    chosen = (user is not None) + (group is not None) + bool(everyone)
    if chosen != 1:
        raise ValueError("Pass exactly one of user, group or everyone=True.")
    return record(SessionRevocation(user=user, group=group, reason=reason), by)


def revoke_each(
    *,
    users: Iterable[Any] = (),
    groups: Iterable[Group] = (),
    reason: str = "",
    by: Any = None,
) -> list[SessionRevocation]:
    """One revocation per user and per group (duplicates once), all with the same
    ``not_before``, in one transaction: all or nothing, and one cache invalidation."""
    text = clean_reason(reason)
    author = _author(by)
    moment = now()
    rows: list[SessionRevocation] = []
    seen: set[tuple[str, object]] = set()
    for field, subjects in (("user", users), ("group", groups)):
        for subject in subjects:
            if (field, subject.pk) in seen:
                continue
            seen.add((field, subject.pk))
            rows.append(
                SessionRevocation(
                    **{field: subject}, reason=text, not_before=moment, created_by=author
                )
            )
    with transaction.atomic(using=SessionRevocation.objects.db):
        for row in rows:
            row.save()  # per row: post_save invalidates exactly the users it can affect
    return rows


def describe(revocation: SessionRevocation) -> str:
    """``Signed out user "alice": sessions that logged in at or before <when> end on their
    next request.`` (plain text: escape it where it is shown)."""
    when = revocation.not_before
    if timezone.is_aware(when):
        when = when.astimezone(dt_timezone.utc)
    whom = revocation.scope_display()
    if revocation.scope == policy.SCOPE_GROUP:
        whom = _("the members of %(group)s") % {"group": whom}
    return _(
        "Signed out %(whom)s: sessions that logged in at or before %(when)s end on their next "
        "request."
    ) % {"whom": whom, "when": when.isoformat(timespec="seconds")}
