"""A project's own admin site, as a project that already has a ``UserAdmin`` and a ``GroupAdmin``
adds ``logout_rules.admin.sign_out_now`` to them (mounted at ``/project-admin/``)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, User

from logout_rules.admin import SignOutNowMixin, sign_out_now

site = admin.AdminSite(name="project_admin")


@admin.register(User, site=site)
class ProjectUserAdmin(auth_admin.UserAdmin):
    """Without ``SignOutNowMixin``: the action is listed for every admin and refuses (403) those
    without ``add_sessionrevocation`` itself."""

    actions = [sign_out_now]


@admin.register(Group, site=site)
class ProjectGroupAdmin(SignOutNowMixin, auth_admin.GroupAdmin):
    """With the mixin: the action is not even listed for admins without the permission."""

    actions = [sign_out_now]
