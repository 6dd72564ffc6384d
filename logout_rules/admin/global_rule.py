from __future__ import annotations

from solo.admin import SingletonModelAdmin

from .base import RuleAdminMixin, rule_fieldsets


class GlobalLogoutRuleAdmin(RuleAdminMixin, SingletonModelAdmin):
    """The site-wide rule (django-solo's one-object admin)."""

    fieldsets = rule_fieldsets(())
