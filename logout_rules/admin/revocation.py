""" "Session revocations": the add form is "Sign out now"; rows are immutable (view and delete)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from .. import policy, revocations
from ..models import SessionRevocation
from .base import SafeAutocompleteMixin
from .user_rule import user_search_fields


class RevocationForm(forms.ModelForm):  # type: ignore[type-arg]
    """The add form: who (user, group, or neither = everyone) and why. ``not_before`` (now) and
    ``created_by`` (the admin) are set when it is saved (``revocations.record``)."""

    class Meta:
        model = SessionRevocation
        fields = ("user", "group", "reason")
        help_texts = {
            "user": _("Sign out every session of this user."),
            "group": _(
                "Sign out every session of the members of this group (whether or not it has a "
                "logout rule)."
            ),
        }


class ScopeFilter(admin.SimpleListFilter):
    title = _("applies to")
    parameter_name = "scope"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            (policy.SCOPE_USER, _("a user")),
            (policy.SCOPE_GROUP, _("a group")),
            (policy.SCOPE_EVERYONE, _("everyone")),
        ]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[SessionRevocation]
    ) -> QuerySet[SessionRevocation]:
        value = self.value()
        if value == policy.SCOPE_USER:
            return queryset.filter(user__isnull=False)
        if value == policy.SCOPE_GROUP:
            return queryset.filter(group__isnull=False)
        if value == policy.SCOPE_EVERYONE:
            return queryset.filter(Q(user__isnull=True) & Q(group__isnull=True))
        return queryset


class SessionRevocationAdmin(SafeAutocompleteMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    form = RevocationForm
    list_display = ("subject", "not_before", "reason_display", "created_by", "created_at")
    list_display_links = ("subject",)
    list_filter = (ScopeFilter, "not_before")
    list_select_related = ("user", "group", "created_by")
    date_hierarchy = "not_before"
    autocomplete_fields = ("user", "group")
    list_per_page = 100
    show_full_result_count = False
    add_fieldsets = ((None, {"fields": ("user", "group", "reason")}),)
    view_fields = ("subject", "not_before", "reason", "created_by", "created_at")
    readonly_fields = view_fields

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return (*user_search_fields(), "group__name", "reason")

    def get_fieldsets(self, request: HttpRequest, obj: SessionRevocation | None = None) -> Any:
        if obj is None:
            return self.add_fieldsets
        return ((None, {"fields": self.view_fields}),)

    def get_readonly_fields(
        self, request: HttpRequest, obj: SessionRevocation | None = None
    ) -> tuple[str, ...]:
        return () if obj is None else self.view_fields

    # Immutable: a revocation is created ("Sign out now"), looked at and deleted, never changed.
    def has_change_permission(
        self, request: HttpRequest, obj: SessionRevocation | None = None
    ) -> bool:
        return False

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            "title": _("Sign out now"),
            "show_save_and_add_another": False,
            "show_save_and_continue": False,
            **(extra_context or {}),
        }
        return super().add_view(request, form_url, context)

    def get_form(
        self,
        request: HttpRequest,
        obj: SessionRevocation | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        for name in ("user", "group"):
            widget = form.base_fields[name].widget if name in form.base_fields else None
            if widget is not None:  # no "add/change/delete a user" next to "sign out a user"
                widget.can_add_related = False
                widget.can_change_related = False
                widget.can_delete_related = False
        return form

    def save_model(
        self, request: HttpRequest, obj: SessionRevocation, form: Any, change: bool
    ) -> None:
        revocations.record(obj, by=request.user)

    def get_queryset(self, request: HttpRequest) -> QuerySet[SessionRevocation]:
        queryset: QuerySet[SessionRevocation] = super().get_queryset(request)
        return queryset.select_related("user", "group", "created_by")

    @admin.display(description=_("signs out"))
    def subject(self, obj: SessionRevocation) -> str:
        return obj.scope_display()

    @admin.display(description=_("reason"))
    def reason_display(self, obj: SessionRevocation) -> str:
        text: str = obj.reason
        return text if len(text) <= 60 else text[:59] + "…"
