"""The demo's own UserAdmin and GroupAdmin: Django's, plus the "Sign out now" action of
logout_rules (re-registered, as a project that already has its own user admin would add it)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from logout_rules.admin import SignOutNowMixin, sign_out_now

User = get_user_model()

admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(SignOutNowMixin, auth_admin.UserAdmin):  # type: ignore[type-arg]
    actions = [sign_out_now]


@admin.register(Group)
class GroupAdmin(SignOutNowMixin, auth_admin.GroupAdmin):
    actions = [sign_out_now]
