"""The ``sign_out_now`` admin action: end the sessions of the selected users, of the members of the
selected groups, or of the subjects of the selected logout rules, after a confirmation page (like
``delete_selected``'s, confirmed by ``post=yes``). One revocation per user and per group.

It works on any ``ModelAdmin`` of users, groups, group rules or user rules, so a project adds it to
its own ``UserAdmin``/``GroupAdmin``::

    from logout_rules.admin import SignOutNowMixin, sign_out_now

    class MyUserAdmin(SignOutNowMixin, UserAdmin):
        actions = [sign_out_now]

It needs the ``logout_rules.add_sessionrevocation`` permission, checked inside the action (a 403
without it); ``SignOutNowMixin`` also leaves it out of the action menu for admins without it.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured, PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .. import revocations
from ..conf import MAX_MESSAGE_LENGTH
from ..models import GroupLogoutRule, UserLogoutRule

#: The permission that "Sign out now" needs, wherever it is offered.
PERMISSION = "logout_rules.add_sessionrevocation"
ACTION_NAME = "sign_out_now"
CONFIRMATION_TEMPLATE = "admin/logout_rules/sign_out_now_confirmation.html"


def may_sign_out(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.has_perm(PERMISSION))


class SignOutNowForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=MAX_MESSAGE_LENGTH,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("For the record; never shown to the people signed out."),
    )


def subjects(queryset: QuerySet[Any]) -> tuple[list[Any], list[Group]]:
    """``(users, groups)`` to sign out for a queryset of users, groups, user rules or group
    rules."""
    model = queryset.model
    if issubclass(model, get_user_model()):
        return list(queryset), []
    if issubclass(model, Group):
        return [], list(queryset)
    if issubclass(model, UserLogoutRule):
        return [rule.user for rule in queryset.select_related("user")], []
    if issubclass(model, GroupLogoutRule):
        return [], [rule.group for rule in queryset.select_related("group")]
    raise ImproperlyConfigured(
        f"sign_out_now works on users, groups and logout rules, not on {model._meta.label}."
    )


def _member_counts(groups: list[Group]) -> dict[object, int]:
    """Group id → number of members (one query), empty when the user model has no groups."""
    try:
        related = get_user_model()._meta.get_field("groups").related_query_name()
    except FieldDoesNotExist:
        return {}
    rows = (
        Group.objects.filter(pk__in=[group.pk for group in groups])
        .annotate(members=Count(related))
        .values_list("pk", "members")
    )
    return dict(rows)


def _includes(request: HttpRequest, users: list[Any], groups: list[Group]) -> bool:
    """Whether the admin's own sessions are among those about to end."""
    me = getattr(request, "user", None)
    if me is None or me.pk is None:
        return False
    if any(user.pk == me.pk for user in users):
        return True
    if not groups or not hasattr(me, "groups"):
        return False
    return bool(me.groups.filter(pk__in=[group.pk for group in groups]).exists())


def _done_messages(created: list[Any]) -> list[str]:
    users = sum(1 for row in created if row.user_id is not None)
    groups = sum(1 for row in created if row.group_id is not None)
    done = []
    if users:
        done.append(
            ngettext(
                "Signed out %(count)d user: their sessions end on their next request.",
                "Signed out %(count)d users: their sessions end on their next request.",
                users,
            )
            % {"count": users}
        )
    if groups:
        done.append(
            ngettext(
                "Signed out the members of %(count)d group: their sessions end on their next "
                "request.",
                "Signed out the members of %(count)d groups: their sessions end on their next "
                "request.",
                groups,
            )
            % {"count": groups}
        )
    return done


@admin.action(description=_("Sign out now"))
def sign_out_now(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]
) -> TemplateResponse | None:
    """End now the sessions of the selected users / groups' members / rules' subjects."""
    if not may_sign_out(request):
        raise PermissionDenied
    users, groups = subjects(queryset)
    form = SignOutNowForm(request.POST if request.POST.get("post") == "yes" else None)
    if form.is_bound and form.is_valid():
        created = revocations.revoke_each(
            users=users, groups=groups, reason=form.cleaned_data["reason"], by=request.user
        )
        if created:
            LogEntry.objects.log_actions(
                user_id=cast(int, request.user.pk),
                queryset=created,
                action_flag=ADDITION,
                change_message=[{"added": {}}],
            )
        for text in _done_messages(created):
            modeladmin.message_user(request, text, messages.SUCCESS)
        return None  # back to the change list
    opts = modeladmin.model._meta
    counts = _member_counts(groups)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Sign out now"),
        "subtitle": None,
        "opts": opts,
        "queryset": queryset,
        "users": users,
        "groups": [(group, counts.get(group.pk)) for group in groups],
        "includes_me": _includes(request, users, groups),
        "form": form,
        "action_name": ACTION_NAME,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": modeladmin.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, CONFIRMATION_TEMPLATE, context)


class SignOutNowMixin:
    """Mixed into a ``ModelAdmin`` (before it) that lists ``sign_out_now`` in its ``actions``:
    the action is left out of the menu for admins without ``add_sessionrevocation``."""

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions: dict[str, Any] = super().get_actions(request)  # type: ignore[misc]
        if ACTION_NAME in actions and not may_sign_out(request):
            del actions[ACTION_NAME]
        return actions
