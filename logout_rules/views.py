"""The client endpoints (``urls.py``): the session's status, and "stay signed in".

Both answer JSON. ``status`` is passive: polling it never counts as activity, so it cannot keep an
idle session alive. ``extend`` records activity now: it resets the idle clock of *this* session
only, and never moves the session limit.

Both judge the session the way ``django.contrib.auth`` does before answering for it: a session
whose user is gone or inactive, or whose password changed since the login (the session auth hash),
is not signed in, and Django flushes it. That loads the user (one query, as any view reading
``request.user``); the middleware's warm path on ordinary pages never does.

When a session has ended, ``status`` still answers ``200`` (``"authenticated": false``; ``reason``
says whether this very request ended it), so a page that asks at its deadline logs no error. A
request that asks for JSON (``Accept: application/json``) gets the middleware's ``401`` at expiry
instead, like every other view; ``extend`` answers ``401`` whenever there is no session user.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.contrib import auth
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_POST

from . import session as session_store
from .client import current_state, status_payload
from .decorators import passive
from .middleware import (
    LOGGED_OUT_ATTRIBUTE,
    STATE_ATTRIBUTE,
    is_activity,
    json_response,
    login_url,
)


def accepted_by_auth(request: HttpRequest) -> bool:
    """Whether the session has a user that ``django.contrib.auth`` still accepts: not deleted,
    not inactive, and the password unchanged since the login (Django flushes a session whose
    auth hash no longer matches)."""
    if session_store.user_id(request.session) is None:
        return False
    user = getattr(request, "user", None)
    if user is None:  # AuthenticationMiddleware is not installed
        user = auth.get_user(request)
    return bool(user.is_authenticated)


def signed_out(request: HttpRequest) -> dict[str, Any]:
    """The payload for a request without a session user.

    ``reason`` (``"idle"``, ``"session"`` or ``"revoked"``) and ``message`` are set only when the
    middleware ended the session during this very request; otherwise it had ended before
    (``None``, ``""``).
    """
    reason, message = getattr(request, LOGGED_OUT_ATTRIBUTE, (None, ""))
    return {
        "authenticated": False,
        "reason": reason,
        "message": message,
        "login_url": login_url(request),
    }


@passive
@never_cache
@require_GET
def status(request: HttpRequest) -> HttpResponse:
    """Seconds left for the idle and session limits, and whether the warning is due."""
    if not accepted_by_auth(request):
        return json_response(signed_out(request))
    return json_response(status_payload(request, current_state(request)))


@never_cache
@csrf_protect
@require_POST
def extend(request: HttpRequest) -> HttpResponse:
    """ "Stay signed in": record activity now (idle only; the session limit never moves), unless
    another site sent the request (``middleware.is_activity``)."""
    if not accepted_by_auth(request):
        return json_response({"detail": "not authenticated", **signed_out(request)}, status=401)
    state = current_state(request)
    if state is not None and state.policy.idle_time is not None and is_activity(request):
        session_store.record_activity(request.session, state.now)
        state = replace(state, activity_at=max(state.activity_at, state.now), activity_due=False)
        setattr(request, STATE_ATTRIBUTE, state)
    return json_response(status_payload(request, state))
