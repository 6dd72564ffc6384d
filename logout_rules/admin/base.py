"""What the three rule admins share: the form, the fieldsets, the list columns and filters."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.db.models import ForeignKey
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ..models import LogoutRuleFields, format_duration
from .forms import RuleForm

LIMIT_FIELDS = ("idle_time", "session_time", "warning_time")
BEHAVIOUR_FIELDS = ("message_mode", "message", "redirect_to_login_immediately", "enabled")
#: The list columns of a group or user rule, after its subject's own columns.
RULE_LIST_COLUMNS = (
    "idle_display",
    "session_display",
    "warning_display",
    "message_display",
    "redirect_display",
    "enabled",
)
#: The list filters of the group and user rule admins.
RULE_LIST_FILTER = (
    "enabled",
    ("idle_time", admin.EmptyFieldListFilter),
    ("session_time", admin.EmptyFieldListFilter),
)


class SafeAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete widget, minus a 500 on tampered input.

    When a form with errors is shown again, Django's widget queries the submitted value as is, so
    a value that cannot be a key (``group=staff`` instead of an id) raised a ``ValueError`` there
    (a 500) instead of the form's "Select a valid choice" error. Such values are left out here.
    """

    def optgroups(self, name: str, value: Any, attr: Any = None) -> Any:
        target = self.field.target_field
        usable = []
        for item in value:
            try:
                target.to_python(item)
            except (ValidationError, ValueError, TypeError):
                continue
            usable.append(item)
        return super().optgroups(name, usable, attr)


class RuleAdminMixin:
    """Columns and form for rule admins (mixed into ``ModelAdmin`` subclasses)."""

    form: Any = RuleForm

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> Any:
        admin_class: Any = self
        if db_field.name in admin_class.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(
                db_field, admin_class.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    @admin.display(description=_("idle time"), ordering="idle_time")
    def idle_display(self, obj: LogoutRuleFields) -> str:
        return format_duration(obj.idle_time)

    @admin.display(description=_("session time"), ordering="session_time")
    def session_display(self, obj: LogoutRuleFields) -> str:
        return format_duration(obj.session_time)

    @admin.display(description=_("warning"), ordering="warning_time")
    def warning_display(self, obj: LogoutRuleFields) -> str:
        return format_duration(obj.warning_time)

    @admin.display(description=_("message"))
    def message_display(self, obj: LogoutRuleFields) -> str:
        if obj.message is None:
            return "(inherit)"
        if obj.message == "":
            return "(no message)"
        text: str = obj.message
        return text if len(text) <= 40 else text[:39] + "…"

    @admin.display(description=_("redirect at once"), boolean=True)
    def redirect_display(self, obj: LogoutRuleFields) -> bool | None:
        return obj.redirect_to_login_immediately


def rule_fieldsets(subject: tuple[str, ...]) -> Any:
    return [
        (None, {"fields": subject}),
        (_("Limits (empty: inherit)"), {"fields": LIMIT_FIELDS}),
        (_("Behaviour"), {"fields": BEHAVIOUR_FIELDS}),
    ]
