"""What the browser gets: the seconds left and the redirect script tag.

Shared by the context processor and the template tag. The script is a static file configured by
``data-`` attributes (no inline JavaScript), so pages work under ``script-src 'self'``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.templatetags.static import static
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from . import clock, policy, resolver
from . import session as session_store
from .middleware import RequestState, get_state

SCRIPT_PATH = "logout_rules/logout_rules.js"


def current_state(request: HttpRequest) -> RequestState | None:
    """This request's state for an authenticated session, ``None`` for anonymous requests.

    Uses what the middleware found; when it did not run (not installed, or the view logged in),
    computes it without writing anything. Reads the session, never the lazy ``request.user``.
    """
    store = getattr(request, "session", None)
    if store is None:
        return None
    user_id = session_store.user_id(store)
    if user_id is None:
        return None
    state = get_state(request)
    if state is not None and state.user_id == user_id:
        return state
    now = clock.now()
    effective = resolver.get_policy(user_id)
    if not effective.has_limit:
        return None
    times = session_store.read_times(store, now, lambda: None)
    return RequestState(user_id, effective, now, times.login_at, times.activity_at, False)


def seconds_left(request: HttpRequest, state: RequestState) -> tuple[int | None, int | None]:
    """Seconds until the idle and the session limit (``None`` where no limit applies)."""
    effective = state.policy
    idle = None
    if effective.idle_time is not None:
        idle = effective.idle_time - (state.now - state.effective_activity(request))
    session = None
    if effective.session_time is not None:
        session = effective.session_time - (state.now - state.login_at)
    return policy.seconds_left(idle), policy.seconds_left(session)


def script_tag(request: HttpRequest, state: RequestState) -> SafeString:
    """``<script src=… defer data-…>`` for the redirect (and warning) behaviour."""
    idle, session = seconds_left(request, state)
    attributes: list[tuple[str, object]] = []
    if idle is not None:
        attributes.append(("data-idle-end", idle))
    if session is not None:
        attributes.append(("data-session-end", session))
    nonce = getattr(request, "csp_nonce", None)
    if nonce:
        attributes.append(("nonce", nonce))
    return format_html(
        '<script src="{}" defer data-logout-rules{}></script>',
        static(SCRIPT_PATH),
        format_html_join("", ' {}="{}"', attributes),
    )


def client_context(request: HttpRequest) -> dict[str, Any]:
    """The template variables of django-auto-logout's context processor."""
    state = current_state(request)
    if state is None:
        return {}
    idle, session = seconds_left(request, state)
    context: dict[str, Any] = {}
    if session is not None:
        context["seconds_until_session_end"] = session
    if idle is not None:
        context["seconds_until_idle_end"] = idle
    if state.policy.redirect_to_login_immediately:
        context["redirect_to_login_immediately"] = script_tag(request, state)
    return context
