"""The client endpoints (``urls.py``): the session's status, and "stay signed in".

Both answer JSON. ``status`` is passive: polling it never counts as activity, so it cannot keep an
idle session alive. ``extend`` records activity now: it resets the idle clock of *this* session
only, and never moves the session limit. After an automatic logout, the middleware answers a JSON
request with ``401`` before these views run; an anonymous request gets the same shape here.
"""

from __future__ import annotations

from dataclasses import replace

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_POST

from . import session as session_store
from .client import current_state, status_payload
from .decorators import passive
from .middleware import STATE_ATTRIBUTE, login_url


def not_authenticated(request: HttpRequest) -> JsonResponse:
    """``401`` for a request without a session user (same keys as the middleware's ``401``).

    ``reason`` is ``None``: this request did not end the session (it had already ended).
    """
    return JsonResponse(
        {
            "detail": "not authenticated",
            "reason": None,
            "message": "",
            "login_url": login_url(request),
        },
        status=401,
    )


@passive
@never_cache
@require_GET
def status(request: HttpRequest) -> HttpResponse:
    """Seconds left for the idle and session limits, and whether the warning is due."""
    if session_store.user_id(request.session) is None:
        return not_authenticated(request)
    return JsonResponse(status_payload(request, current_state(request)))


@never_cache
@csrf_protect
@require_POST
def extend(request: HttpRequest) -> HttpResponse:
    """ "Stay signed in": record activity now (idle only; the session limit never moves)."""
    if session_store.user_id(request.session) is None:
        return not_authenticated(request)
    state = current_state(request)
    if state is not None and state.policy.idle_time is not None:
        session_store.record_activity(request.session, state.now)
        state = replace(state, activity_at=max(state.activity_at, state.now), activity_due=False)
        setattr(request, STATE_ATTRIBUTE, state)
    return JsonResponse(status_payload(request, state))
