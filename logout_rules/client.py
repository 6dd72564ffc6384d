"""What the browser gets: the seconds left, the client script tag and the status payload.

Shared by the context processor, the template tag and the endpoints (``views.py``). The script is a
static file configured by ``data-`` attributes (no inline JavaScript), so pages work under
``Content-Security-Policy: script-src 'self'``; every value goes through ``format_html``.
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from . import clock, policy, resolver
from . import session as session_store
from .conf import conf
from .middleware import RequestState, get_state, resolved_policy


def _django_get_nonce() -> Callable[[HttpRequest], object] | None:
    """Django's own CSP nonce reader (Django >= 6.0), ``None`` on older versions."""
    try:
        module = importlib.import_module("django.middleware.csp")
    except ImportError:
        return None
    return cast(Callable[[HttpRequest], object], module.get_nonce)  # pragma: no cover - Django 6


_django_nonce = _django_get_nonce()

SCRIPT_PATH = "logout_rules/logout_rules.js"
STYLESHEET_PATH = "logout_rules/logout_rules.css"
#: The URL names of the endpoints (``path("logout-rules/", include("logout_rules.urls"))``).
STATUS_URL_NAME = "logout_rules:status"
EXTEND_URL_NAME = "logout_rules:extend"
#: WCAG 2.2.1 (Timing Adjustable): a warning leaves at least 20 seconds to respond, so a shorter
#: ``warning_time`` is raised to this.
MIN_WARNING_SECONDS = 20


def current_state(request: HttpRequest) -> RequestState | None:
    """This request's state for an authenticated session, ``None`` for anonymous requests.

    Uses what the middleware found; when it did not run (not installed, or the view logged in),
    computes it without writing anything. Reads the session, never the lazy ``request.user``.
    A user without limits gets a state too (no clock of theirs is read): the script may still
    ask whether the session was ended (``LOGOUT_RULES_STATUS_POLL``).
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
    effective = resolved_policy(request, user_id) or resolver.get_policy(user_id)
    if not effective.has_limit:
        return RequestState(user_id, effective, now, now, now, False)
    times = session_store.read_times(store, now, lambda: None)
    return RequestState(user_id, effective, now, times.login_at, times.activity_at, False)


def shows_script(state: RequestState) -> bool:
    """Whether the page gets the client script: ``redirect_to_login_immediately`` is on for the
    user, and there is something to do: a limit to leave at, or (the endpoints included) a
    revocation to find out about by polling."""
    effective = state.policy
    if not effective.redirect_to_login_immediately:
        return False
    return effective.has_limit or (conf.STATUS_POLL is not None and endpoint_urls() is not None)


def time_left(request: HttpRequest, state: RequestState) -> tuple[float | None, float | None]:
    """Exact seconds until the idle and the session limit (``None`` where no limit applies)."""
    effective = state.policy
    idle = None
    if effective.idle_time is not None:
        idle = effective.idle_time - (state.now - state.effective_activity(request))
    session = None
    if effective.session_time is not None:
        session = effective.session_time - (state.now - state.login_at)
    return idle, session


def seconds_left(request: HttpRequest, state: RequestState) -> tuple[int | None, int | None]:
    """Whole seconds until the idle and the session limit, rounded up (``None``: no limit)."""
    idle, session = time_left(request, state)
    return policy.seconds_left(idle), policy.seconds_left(session)


def warning_seconds(effective: policy.Policy) -> int | None:
    """How long before the end the warning shows (never less than ``MIN_WARNING_SECONDS``)."""
    if effective.warning_time is None:
        return None
    return max(MIN_WARNING_SECONDS, math.ceil(effective.warning_time))


def endpoint_urls() -> tuple[str, str] | None:
    """The status and extend URLs, or ``None`` when ``logout_rules.urls`` is not included."""
    try:
        return reverse(STATUS_URL_NAME), reverse(EXTEND_URL_NAME)
    except NoReverseMatch:
        return None


def csp_nonce(request: HttpRequest) -> str:
    """The request's CSP nonce: django-csp's ``request.csp_nonce`` or Django's own (6.0+).

    Both are lazy; reading them here makes the CSP middleware put the nonce in its header.
    """
    nonce = getattr(request, "csp_nonce", None)
    if nonce is None and _django_nonce is not None:
        nonce = _django_nonce(request)
    return "" if nonce is None else str(nonce)


def texts() -> dict[str, str]:
    """The dialog's texts, in the active language. ``%(time)s`` becomes the countdown."""
    return {
        "idleTitle": gettext("Are you still there?"),
        "idle": gettext("For your security, you will be signed out in %(time)s."),
        "sessionTitle": gettext("Your session is ending"),
        "session": gettext(
            "Your session ends in %(time)s. Save your work: you will need to sign in again."
        ),
        "stay": gettext("Stay signed in"),
        "ok": gettext("OK"),
        "error": gettext("The server could not be reached. Please try again."),
    }


def script_tag(request: HttpRequest, state: RequestState) -> SafeString:
    """``<script src=… defer data-…>``: the deadline, warning and multi-tab behaviour.

    The warning (and everything that needs the endpoints) is configured only when a warning
    time applies and ``logout_rules.urls`` is included; without them the script still leaves the
    page when the deadline passes. With the endpoints, ``data-status-poll`` tells it how often to
    ask whether the session was ended (``LOGOUT_RULES_STATUS_POLL``; absent: never).
    """
    idle, session = seconds_left(request, state)
    attributes: list[tuple[str, object]] = []
    if idle is not None:
        attributes.append(("data-idle-end", idle))
    if session is not None:
        attributes.append(("data-session-end", session))
    urls = endpoint_urls()
    if urls is not None:
        attributes.append(("data-status-url", urls[0]))
        attributes.append(("data-extend-url", urls[1]))
        poll = conf.STATUS_POLL
        if poll is not None:
            attributes.append(("data-status-poll", f"{poll:g}"))
        warning = warning_seconds(state.policy)
        if warning is not None:
            attributes.append(("data-warning", warning))
            attributes.append(("data-stylesheet", static(STYLESHEET_PATH)))
            attributes.append(("data-texts", json.dumps(texts(), ensure_ascii=False)))
            attributes.append(("data-csrf-token", get_token(request)))
            if not settings.CSRF_USE_SESSIONS and not settings.CSRF_COOKIE_HTTPONLY:
                attributes.append(("data-csrf-cookie", settings.CSRF_COOKIE_NAME))
    nonce = csp_nonce(request)
    if nonce:
        attributes.append(("nonce", nonce))
    return format_html(
        '<script src="{}" defer data-logout-rules{}></script>',
        static(SCRIPT_PATH),
        format_html_join("", ' {}="{}"', attributes),
    )


def status_payload(request: HttpRequest, state: RequestState | None) -> dict[str, Any]:
    """The status endpoint's JSON for an authenticated session."""
    idle = session = exact_idle = exact_session = warning = None
    redirect = False
    if state is not None:
        exact_idle, exact_session = time_left(request, state)
        idle, session = policy.seconds_left(exact_idle), policy.seconds_left(exact_session)
        warning = warning_seconds(state.policy)
        redirect = state.policy.redirect_to_login_immediately
    ends = [value for value in (idle, session) if value is not None]
    left = min(ends) if ends else None
    # Which limit ends first, from the exact times (whole seconds may tie); "idle" on a real tie,
    # so that the page offers "Stay signed in".
    ends_by = None
    if exact_session is not None and (exact_idle is None or exact_session < exact_idle):
        ends_by = "session"
    elif exact_idle is not None:
        ends_by = "idle"
    return {
        "authenticated": True,
        "idle_seconds_left": idle,
        "session_seconds_left": session,
        "seconds_left": left,
        "ends_by": ends_by,
        "warning_seconds": warning,
        "warning_due": warning is not None and left is not None and left <= warning,
        "redirect_to_login_immediately": redirect,
    }


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
    if shows_script(state):
        context["redirect_to_login_immediately"] = script_tag(request, state)
    return context
