"""The rule rows: one site-wide singleton, one rule per group, one rule per user.

Every level has the same fields; ``None`` means "inherit from the level below". Cache
invalidation lives in ``receivers.py`` (signals, after commit) and in ``RuleQuerySet`` for the bulk
operations that send no per-row signals.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from solo.models import SingletonModel

from . import policy
from .conf import MAX_DURATION, MAX_MESSAGE_LENGTH, conf

# ``format_duration``'s home is ``durations``; it stays importable from here.
from .durations import format_duration as format_duration
from .durations import seconds_text

#: The largest priority number: what every database's PositiveIntegerField holds. Django 4.2 adds no
#: such bound on SQLite, where a larger number passed validation and failed at save (a 500).
MAX_PRIORITY = 2**31 - 1


def validate_duration(value: timedelta | None) -> None:
    """A limit must be longer than zero and not absurdly long."""
    if value is None:
        return
    if value <= timedelta(0):
        raise ValidationError(
            _("Enter a duration longer than zero, or leave it empty to inherit."),
            code="duration_not_positive",
        )
    if value > MAX_DURATION:
        raise ValidationError(
            _("Enter a duration of at most %(max)s days.") % {"max": MAX_DURATION.days},
            code="duration_too_long",
        )


def ceiling_error(name: str, value: timedelta | None) -> ValidationError | None:
    """The error for a limit above its site-wide ceiling (``LOGOUT_RULES_MAX_*``), else ``None``.

    ``name`` is ``idle_time`` or ``session_time``. Empty (inherit) is always allowed: the ceiling
    applies at resolution to whatever is inherited, "no limit" included.
    """
    ceiling = conf.ceilings.get(name)
    if value is None or ceiling is None or value.total_seconds() <= ceiling:
        return None
    return ValidationError(
        _(
            "%(value)s is above the site's ceiling: %(setting)s is %(ceiling)s "
            "(%(seconds)s seconds). Enter at most %(ceiling)s, or leave it empty to inherit."
        ),
        code="above_ceiling",
        params={
            "value": format_duration(value),
            "setting": policy.CEILING_SETTINGS[name],
            "ceiling": format_duration(ceiling),
            "seconds": seconds_text(ceiling),
        },
    )


class RuleQuerySet(models.QuerySet[Any]):
    """Bulk writes send no per-row signals: invalidate the whole policy cache after commit."""

    def _invalidate_all(self) -> None:
        from .cache import invalidate_all_on_commit

        invalidate_all_on_commit(using=self.db)

    def update(self, **kwargs: Any) -> int:
        rows = super().update(**kwargs)
        self._invalidate_all()
        return rows

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Any]:
        with transaction.atomic(using=self.db, savepoint=False):
            created = super().bulk_create(objs, *args, **kwargs)
            self._invalidate_all()
        return created

    def bulk_update(self, objs: Any, fields: Any, *args: Any, **kwargs: Any) -> int:
        with transaction.atomic(using=self.db, savepoint=False):
            rows = super().bulk_update(objs, fields, *args, **kwargs)
            self._invalidate_all()
        return rows


RuleManager = models.Manager.from_queryset(RuleQuerySet)


class LogoutRuleFields(models.Model):
    """The fields shared by every rule level."""

    idle_time = models.DurationField(
        _("idle time"),
        null=True,
        blank=True,
        validators=[validate_duration],
        help_text=_(
            "Log out after this long without a request, e.g. 15m, 1h 30m or 2 hours. "
            "Empty: inherit."
        ),
    )
    session_time = models.DurationField(
        _("session time"),
        null=True,
        blank=True,
        validators=[validate_duration],
        help_text=_(
            "Log out this long after the session's login, e.g. 8h, 1d 12h or 12:00:00. "
            "Empty: inherit."
        ),
    )
    warning_time = models.DurationField(
        _("warning time"),
        null=True,
        blank=True,
        validators=[validate_duration],
        help_text=_(
            "Warn in the browser this long before the limit, with a 'Stay signed in' button, "
            "e.g. 2m or 90s. Empty: inherit."
        ),
    )
    message = models.TextField(  # noqa: DJ001 - None (inherit) and "" (no message) differ
        _("message"),
        null=True,
        blank=True,
        max_length=MAX_MESSAGE_LENGTH,
        validators=[MaxLengthValidator(MAX_MESSAGE_LENGTH)],
        help_text=_("Shown once after an automatic logout (as plain text)."),
    )
    redirect_to_login_immediately = models.BooleanField(
        _("redirect to login immediately"),
        null=True,
        blank=True,
        help_text=_(
            "Leave the page as soon as the limit passes, without waiting for the next click. "
            "Inherit: the level below decides."
        ),
    )
    enabled = models.BooleanField(
        _("enabled"), default=True, help_text=_("A disabled rule is ignored.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects: ClassVar[Any] = RuleManager()

    class Meta:
        abstract = True

    def clean_fields(self, exclude: Any = None) -> None:
        """Field validation plus the site-wide ceilings, so the admin forms and the rule-set
        imports (both validate through ``full_clean``) refuse a limit above its ceiling."""
        errors: dict[str, list[ValidationError]] = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        for name in policy.LIMIT_FIELDS:
            if name in errors or (exclude and name in exclude):
                continue
            error = ceiling_error(name, getattr(self, name))
            if error is not None:
                errors[name] = [error]
        if errors:
            raise ValidationError(errors)

    def as_rule(self) -> policy.Rule:
        """This row's values for the resolver (durations in seconds)."""
        return policy.Rule(
            idle_time=_seconds(self.idle_time),
            session_time=_seconds(self.session_time),
            warning_time=_seconds(self.warning_time),
            message=self.message,
            redirect_to_login_immediately=self.redirect_to_login_immediately,
        )

    def limits_display(self) -> str:
        parts = []
        if self.idle_time is not None:
            parts.append(f"idle {format_duration(self.idle_time)}")
        if self.session_time is not None:
            parts.append(f"session {format_duration(self.session_time)}")
        return ", ".join(parts) or "inherit"


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


class GlobalLogoutRule(SingletonModel, LogoutRuleFields):
    """The site-wide rule (one row, created by a data migration)."""

    objects: ClassVar[Any] = RuleManager()

    class Meta:
        verbose_name = _("global logout rule")
        verbose_name_plural = _("global logout rule")

    def __str__(self) -> str:
        return str(_("Global logout rule"))


class GroupLogoutRule(LogoutRuleFields):
    group = models.OneToOneField(
        Group,
        on_delete=models.CASCADE,
        related_name="logout_rule",
        verbose_name=_("group"),
    )
    priority = models.PositiveIntegerField(
        _("priority"),
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_PRIORITY)],
        db_index=True,
        help_text=_(
            "Lower number wins when a user is in several groups; on a tie the strictest value wins."
        ),
    )

    class Meta:
        verbose_name = _("group logout rule")
        verbose_name_plural = _("group logout rules")
        ordering = ("priority", "group__name")

    def __str__(self) -> str:
        return str(_('Logout rule for group "%(name)s"') % {"name": self.group.name})


class UserLogoutRule(LogoutRuleFields):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="logout_rule",
        verbose_name=_("user"),
    )

    class Meta:
        verbose_name = _("user logout rule")
        verbose_name_plural = _("user logout rules")
        ordering = ("user_id",)

    def __str__(self) -> str:
        return str(_('Logout rule for user "%(name)s"') % {"name": self.user})


class SessionRevocation(models.Model):
    """ "Sign out now": every session of the users it applies to that logged in at or before
    ``not_before`` is ended on its next request.

    ``user`` set: that user; ``group`` set: every member of that group (whether or not the group
    has a rule); neither: everyone. Both set is refused (a constraint and a clean error). Rows are
    immutable in the admin; deleting one lets sessions that it would have ended go on (those it
    already ended stay ended). Cache invalidation lives in ``receivers.py``.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="session_revocations",
        verbose_name=_("user"),
        help_text=_("Sign out this user's sessions. Leave user and group empty for everyone."),
    )
    group = models.ForeignKey(
        Group,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="session_revocations",
        verbose_name=_("group"),
        help_text=_("Sign out the sessions of every member of this group."),
    )
    not_before = models.DateTimeField(
        _("not before"),
        default=timezone.now,
        db_index=True,
        help_text=_("Sessions that logged in at or before this time are ended."),
    )
    reason = models.TextField(
        _("reason"),
        blank=True,
        max_length=MAX_MESSAGE_LENGTH,
        validators=[MaxLengthValidator(MAX_MESSAGE_LENGTH)],
        help_text=_("Why (for the record; never shown to the users signed out)."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    #: Bulk writes (``bulk_create``, ``update``…) send no per-row signals: they invalidate every
    #: cached policy after commit, like the rules' bulk writes.
    objects: ClassVar[Any] = RuleManager()

    class Meta:
        verbose_name = _("session revocation")
        verbose_name_plural = _("session revocations")
        ordering = ("-not_before", "-id")
        constraints = [
            models.CheckConstraint(
                condition=~(models.Q(user__isnull=False) & models.Q(group__isnull=False)),
                name="logout_rules_revocation_user_or_group",
                violation_error_message=_(
                    "Choose a user or a group, not both (leave both empty for everyone)."
                ),
            )
        ]

    def __str__(self) -> str:
        return str(_("Sign out %(scope)s, sessions from %(when)s or earlier")) % {
            "scope": self.scope_display(),
            "when": self.not_before.isoformat(timespec="seconds") if self.not_before else "?",
        }

    def clean(self) -> None:
        super().clean()
        if self.user_id is not None and self.group_id is not None:
            message = _("Choose a user or a group, not both (leave both empty for everyone).")
            raise ValidationError({"user": message, "group": message})

    @property
    def scope(self) -> str:
        """``"user"``, ``"group"`` or ``"everyone"``."""
        if self.user_id is not None:
            return policy.SCOPE_USER
        if self.group_id is not None:
            return policy.SCOPE_GROUP
        return policy.SCOPE_EVERYONE

    def scope_display(self) -> str:
        if self.user_id is not None:
            return str(_('user "%(name)s"') % {"name": self.user})
        if self.group is not None:
            return str(_('group "%(name)s"') % {"name": self.group.name})
        return str(_("everyone"))


class LogoutEvent(models.Model):
    """One automatic logout (the audit trail), written by a receiver of our ``auto_logout``
    signal, never on the warm path."""

    REASON_IDLE = "idle"
    REASON_SESSION = "session"
    REASON_REVOKED = "revoked"
    REASONS = (
        (REASON_IDLE, _("idle")),
        (REASON_SESSION, _("session limit")),
        (REASON_REVOKED, _("revoked")),
    )

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    username = models.CharField(
        _("username"), max_length=255, blank=True, help_text=_("Kept when the user is deleted.")
    )
    reason = models.CharField(_("reason"), max_length=16, choices=REASONS)
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    login_at = models.DateTimeField(_("logged in at"), null=True, blank=True)
    limit = models.DurationField(
        _("limit"),
        null=True,
        blank=True,
        help_text=_("The limit that passed (none for a revocation)."),
    )
    source = models.CharField(
        _("source"),
        max_length=255,
        blank=True,
        help_text=_('Where the limit came from, as "explain" says it.'),
    )

    class Meta:
        verbose_name = _("logout event")
        verbose_name_plural = _("logout events")
        ordering = ("-at", "-id")

    def __str__(self) -> str:
        return str(_("%(username)s logged out (%(reason)s) at %(at)s")) % {
            "username": self.username or "?",
            "reason": self.get_reason_display(),
            "at": self.at.isoformat(timespec="seconds") if self.at else "?",
        }
