from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest

from ..models import GroupLogoutRule
from ..resources import GroupRuleResource
from .base import RULE_LIST_COLUMNS, SubjectRuleAdmin, rule_fieldsets


class GroupLogoutRuleAdmin(SubjectRuleAdmin):
    resource_classes = [GroupRuleResource]
    list_display = ("group", "priority", *RULE_LIST_COLUMNS)
    list_display_links = ("group",)
    search_fields = ("group__name",)
    list_select_related = ("group",)
    autocomplete_fields = ("group",)
    ordering = ("priority", "group__name")
    fieldsets = rule_fieldsets(("group", "priority"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[GroupLogoutRule]:
        queryset: QuerySet[GroupLogoutRule] = super().get_queryset(request)
        return queryset.select_related("group")
