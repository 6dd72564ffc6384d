"""Seed the demo data (idempotent): an admin, a strict "staff" group, ordinary users."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from logout_rules.models import GlobalLogoutRule, GroupLogoutRule

PASSWORD = "demo"


class Command(BaseCommand):
    help = "Create the demo users, groups and rules (safe to run again)."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        admin, created = user_model.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            admin.set_password("admin")
            admin.save()
        staff, _ = Group.objects.get_or_create(name="staff")
        GroupLogoutRule.objects.update_or_create(
            group=staff,
            defaults={
                "priority": 10,
                "idle_time": timedelta(minutes=2),
                "session_time": timedelta(minutes=30),
                "message": "Staff sessions end after 2 idle minutes. Please log in again.",
            },
        )
        everyone, _ = Group.objects.get_or_create(name="everyone")
        GroupLogoutRule.objects.update_or_create(
            group=everyone, defaults={"priority": 100, "idle_time": timedelta(minutes=30)}
        )
        rule = GlobalLogoutRule.get_solo()
        if rule.session_time is None:
            rule.session_time = timedelta(hours=4)
            rule.save()
        for username, groups in (("sam", [staff, everyone]), ("olivia", [])):
            user, created = user_model.objects.get_or_create(username=username)
            if created:
                user.set_password(PASSWORD)
                user.save()
            user.groups.add(*groups)
        self.stdout.write(
            "Demo logins:\n"
            "  admin  / admin  superuser: http://127.0.0.1:8000/admin/\n"
            "  sam    / demo   group 'staff' (idle 2 min, session 30 min)\n"
            "  olivia / demo   global rule (session 4 h) + AUTO_LOGOUT (idle 10 min)"
        )
