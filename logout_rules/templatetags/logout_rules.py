"""``{% load logout_rules %}{% logout_rules_script %}``: the client script tag, for people who
prefer a tag to the ``redirect_to_login_immediately`` context variable."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from ..client import current_state, script_tag, shows_script

register = template.Library()


@register.simple_tag(takes_context=True)
def logout_rules_script(context: dict[str, Any]) -> SafeString:
    """The script tag when the redirect flag is on for the current user and a limit applies or
    polling is on (see ``client.shows_script``).

    The output is built with ``format_html`` (every value escaped).
    """
    request = context.get("request")
    if request is None:
        return mark_safe("")
    state = current_state(request)
    if state is None or not shows_script(state):
        return mark_safe("")
    return script_tag(request, state)
