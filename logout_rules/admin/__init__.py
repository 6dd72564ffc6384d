"""Admin registrations: one module per admin class."""

from django.contrib import admin

from ..models import GlobalLogoutRule, GroupLogoutRule, LogoutEvent, UserLogoutRule
from .event import LogoutEventAdmin
from .global_rule import GlobalLogoutRuleAdmin
from .group_rule import GroupLogoutRuleAdmin
from .user_rule import UserLogoutRuleAdmin

admin.site.register(GlobalLogoutRule, GlobalLogoutRuleAdmin)
admin.site.register(GroupLogoutRule, GroupLogoutRuleAdmin)
admin.site.register(UserLogoutRule, UserLogoutRuleAdmin)
admin.site.register(LogoutEvent, LogoutEventAdmin)

__all__ = [
    "GlobalLogoutRuleAdmin",
    "GroupLogoutRuleAdmin",
    "LogoutEventAdmin",
    "UserLogoutRuleAdmin",
]
