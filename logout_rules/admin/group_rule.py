from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from ..models import GroupLogoutRule
from ..resources import GroupRuleResource
from .base import RULE_LIST_COLUMNS, RULE_LIST_FILTER, RuleAdminMixin, rule_fieldsets
from .transfer import RuleImportExportMixin


class GroupLogoutRuleAdmin(RuleImportExportMixin, RuleAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    resource_classes = [GroupRuleResource]
    list_display = ("group", "priority", *RULE_LIST_COLUMNS)
    list_display_links = ("group",)
    list_filter = RULE_LIST_FILTER
    search_fields = ("group__name",)
    list_select_related = ("group",)
    autocomplete_fields = ("group",)
    ordering = ("priority", "group__name")
    list_per_page = 100
    show_full_result_count = False
    fieldsets = rule_fieldsets(("group", "priority"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[GroupLogoutRule]:
        queryset: QuerySet[GroupLogoutRule] = super().get_queryset(request)
        return queryset.select_related("group")
