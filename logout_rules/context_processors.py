"""Template context processors."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest

from .client import client_context

logger = logging.getLogger("logout_rules")


def auto_logout_client(request: HttpRequest) -> dict[str, Any]:
    """``seconds_until_session_end``, ``seconds_until_idle_end`` and
    ``redirect_to_login_immediately``, as django-auto-logout's context processor gives them.

    Each is present only when it applies to the (authenticated) user. Never raises: a page must
    render even when the policy cannot be computed.
    """
    try:
        return client_context(request)
    except Exception:
        logger.exception("logout_rules: the client context could not be computed")
        return {}
