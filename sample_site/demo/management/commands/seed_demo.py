"""Seed the demo data (idempotent): an admin, a strict "staff" group, ordinary users, and a few
automatic logouts over the last days so the audit trail's summary is not empty."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.utils import timezone

from logout_rules.models import GlobalLogoutRule, GroupLogoutRule, LogoutEvent

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
        self.seed_events(user_model)
        self.stdout.write(
            "Demo logins:\n"
            "  admin  / admin  superuser: http://127.0.0.1:8000/admin/\n"
            "  sam    / demo   group 'staff' (idle 2 min, session 30 min)\n"
            "  olivia / demo   global rule (session 4 h) + AUTO_LOGOUT (idle 10 min)"
        )

    def seed_events(self, user_model: Any) -> None:
        """Automatic logouts of sam and olivia over the last two weeks, unless the last 30 days
        already have some (a seeded or a used demo)."""
        now = timezone.now()
        if LogoutEvent.objects.filter(at__gte=now - timedelta(days=30)).exists():
            return
        sam = user_model.objects.get(username="sam")
        olivia = user_model.objects.get(username="olivia")
        kinds = [
            (sam, "idle", timedelta(minutes=2), 'group "staff"'),
            (sam, "session", timedelta(minutes=30), 'group "staff"'),
            (olivia, "idle", timedelta(minutes=10), "settings"),
            (olivia, "session", timedelta(hours=4), "global rule"),
            (sam, "revoked", None, 'revocation of group "staff"'),
        ]
        chooser = random.Random(11)  # the same events on every fresh demo
        rows = []
        for days_ago in range(14):
            for _ in range(chooser.randint(0, 5)):
                user, reason, limit, source = chooser.choices(kinds, weights=[6, 2, 4, 2, 1])[0]
                at = now - timedelta(days=days_ago, minutes=chooser.randint(1, 600))
                login = at - (limit or timedelta(0)) - timedelta(minutes=chooser.randint(5, 90))
                rows.append(
                    LogoutEvent(
                        user=user,
                        username=user.get_username(),
                        reason=reason,
                        at=at,
                        login_at=login,
                        limit=limit,
                        source=source,
                    )
                )
        LogoutEvent.objects.bulk_create(rows)
