"""``{% load logout_rules %}{% logout_rules_script %}``: the client script tag, for people who
prefer a tag to the ``redirect_to_login_immediately`` context variable."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from ..client import current_state, script_tag

register = template.Library()


@register.simple_tag(takes_context=True)
def logout_rules_script(context: dict[str, Any]) -> SafeString:
    """The script tag when a limit applies to the current user and the redirect flag is on.

    The output is built with ``format_html`` (every value escaped).
    """
    request = context.get("request")
    if request is None:
        return mark_safe("")
    state = current_state(request)
    if state is None or not state.policy.redirect_to_login_immediately:
        return mark_safe("")
    return script_tag(request, state)
