from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from ..models import UserLogoutRule
from ..resolver import explain
from ..resources import UserRuleResource
from .base import RULE_LIST_COLUMNS, RULE_LIST_FILTER, RuleAdminMixin, rule_fieldsets
from .transfer import RuleImportExportMixin


def user_search_fields() -> tuple[str, ...]:
    """Search by the user model's USERNAME_FIELD and, when it has one, the email field."""
    user_model = get_user_model()
    fields = [f"user__{user_model.USERNAME_FIELD}"]
    try:
        email = user_model.get_email_field_name()
        user_model._meta.get_field(email)
    except (AttributeError, FieldDoesNotExist):
        email = None
    if email and email != user_model.USERNAME_FIELD:
        fields.append(f"user__{email}")
    return tuple(fields)


class UserLogoutRuleAdmin(RuleImportExportMixin, RuleAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    resource_classes = [UserRuleResource]
    list_display = ("user", *RULE_LIST_COLUMNS)
    list_display_links = ("user",)
    list_filter = RULE_LIST_FILTER
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    ordering = ("-id",)
    list_per_page = 100
    show_full_result_count = False
    readonly_fields = ("effective_policy",)
    fieldsets = [
        *rule_fieldsets(("user",)),
        (_("Effective policy"), {"fields": ("effective_policy",)}),
    ]

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return user_search_fields()

    def get_queryset(self, request: HttpRequest) -> QuerySet[UserLogoutRule]:
        queryset: QuerySet[UserLogoutRule] = super().get_queryset(request)
        return queryset.select_related("user")

    @admin.display(description=_("What this user really gets, and why"))
    def effective_policy(self, obj: UserLogoutRule | None) -> SafeString:
        """The same data as ``manage.py logout_rules explain`` (every value escaped)."""
        if obj is None or obj.pk is None:
            return format_html("<em>{}</em>", _("Save the rule to see the effective policy."))
        rows = explain(obj.user_id)
        body = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            ((row.field, row.display, row.source) for row in rows),
        )
        return format_html(
            '<table class="logout-rules-effective"><thead><tr><th>{}</th><th>{}</th><th>{}</th>'
            "</tr></thead><tbody>{}</tbody></table>",
            _("field"),
            _("value"),
            _("from"),
            body,
        )
