from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LogoutRulesConfig(AppConfig):
    name = "logout_rules"
    verbose_name = _("Logout rules")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, receivers

        checks.register()
        receivers.connect()
