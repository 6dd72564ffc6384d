"""Admin registrations: one module per admin class.

``sign_out_now`` (and ``SignOutNowMixin``) can be added to a project's own ``UserAdmin`` and
``GroupAdmin``: see ``sign_out.py``.
"""

from django.contrib import admin

from ..models import (
    GlobalLogoutRule,
    GroupLogoutRule,
    LogoutEvent,
    SessionRevocation,
    UserLogoutRule,
)
from .event import LogoutEventAdmin
from .global_rule import GlobalLogoutRuleAdmin
from .group_rule import GroupLogoutRuleAdmin
from .revocation import SessionRevocationAdmin
from .sign_out import SignOutNowMixin, sign_out_now
from .user_rule import UserLogoutRuleAdmin

admin.site.register(GlobalLogoutRule, GlobalLogoutRuleAdmin)
admin.site.register(GroupLogoutRule, GroupLogoutRuleAdmin)
admin.site.register(UserLogoutRule, UserLogoutRuleAdmin)
admin.site.register(SessionRevocation, SessionRevocationAdmin)
admin.site.register(LogoutEvent, LogoutEventAdmin)

__all__ = [
    "GlobalLogoutRuleAdmin",
    "GroupLogoutRuleAdmin",
    "LogoutEventAdmin",
    "SessionRevocationAdmin",
    "SignOutNowMixin",
    "UserLogoutRuleAdmin",
    "sign_out_now",
]
