"""The audit trail in the admin: logout events, read-only.

View and delete only (no add, no change; the change page shows a row read-only), a date
hierarchy, filters by reason and source, search by username, export (CSV, JSON, XLSX) through
django-import-export, and above the list a summary of the last 30 days (``event_summary.py``).
Export needs the view permission.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from import_export.admin import ExportMixin
from import_export.forms import ExportForm

from ..event_resource import LogoutEventResource, available_formats
from ..models import LogoutEvent, format_duration
from . import event_summary


class EventExportMixin(ExportMixin):  # type: ignore[misc]
    """Export only: the formats installed here among CSV, XLSX and JSON, for whoever may view."""

    # Every column always (no selectable-columns form, which also needs inline script).
    export_form_class = ExportForm

    def get_export_formats(self) -> list[type[Any]]:
        return available_formats()

    def has_export_permission(self, request: HttpRequest) -> bool:
        return bool(self.has_view_permission(request))


class LogoutEventAdmin(EventExportMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    resource_classes = [LogoutEventResource]
    change_list_template = "admin/logout_rules/logoutevent/change_list.html"
    list_display = ("at", "username", "reason", "limit_display", "source", "login_at")
    list_display_links = ("at",)
    list_filter = ("reason", "source")
    search_fields = ("username",)
    search_help_text = _("Search by username.")
    date_hierarchy = "at"
    ordering = ("-at", "-id")
    list_per_page = 100
    show_full_result_count = False
    fields = ("at", "username", "user", "reason", "limit_display", "source", "login_at")

    class Media:
        css = {"all": ("logout_rules/admin/events.css",)}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @admin.display(description=_("limit"), ordering="limit")
    def limit_display(self, obj: LogoutEvent) -> str:
        return format_duration(obj.limit)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # A callable: the template computes the summary only when it renders the list (after
        # the permission checks, and not for the delete confirmation of an action).
        context = {"logout_events_summary": event_summary.build, **(extra_context or {})}
        response: HttpResponse = super().changelist_view(request, context)
        return response
