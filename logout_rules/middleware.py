"""The middleware: read, ask the policy, act. All decisions live in ``policy.py``.

One body of logic serves both the sync (WSGI) and the async (ASGI) stacks: ``check_request`` (the
request phase, which may touch the session store, the cache and the database) runs as is in sync
mode and in a single ``sync_to_async`` hop in async mode. The response phase decides in memory
(``pending_activity``) whether this response writes anything of ours; only then does
``record_activity`` read the session store once more (another hop in async mode), so that a
concurrent request's later activity or logout is never overwritten.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.contrib import auth, messages
from django.contrib.auth.models import AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from . import clock, policy, resolver
from . import session as session_store
from .conf import conf
from .decorators import PASSIVE_ATTRIBUTE
from .signals import auto_logout

#: The attribute holding this request's ``RequestState`` (read by the context processor).
STATE_ATTRIBUTE = "_logout_rules_state"
#: ``(user id, policy)`` as the request phase resolved it, also when nothing applies to the user
#: (the client script then need not resolve it again).
POLICY_ATTRIBUTE = "_logout_rules_policy"
#: Set on a request whose session this middleware just ended: ``(reason, message)``.
LOGGED_OUT_ATTRIBUTE = "_logout_rules_logged_out"


@dataclass(slots=True)
class RequestState:
    """What the request phase found, for the context processor and the response phase."""

    user_id: object
    policy: policy.Policy
    now: float
    login_at: float
    activity_at: float
    activity_due: bool

    def effective_activity(self, request: HttpRequest) -> float:
        """The activity time as it will be recorded once this request completes (as far as the
        request tells: a response that refuses it is known only in the response phase)."""
        if self.activity_due and is_activity(request):
            return max(self.now, self.activity_at)
        return self.activity_at


def get_state(request: HttpRequest) -> RequestState | None:
    return getattr(request, STATE_ATTRIBUTE, None)


def resolved_policy(request: HttpRequest, user_id: object) -> policy.Policy | None:
    """The policy the request phase resolved for ``user_id`` when nothing was enforced."""
    found = getattr(request, POLICY_ATTRIBUTE, None)
    if found is not None and found[0] == user_id:
        return found[1]  # type: ignore[no-any-return]
    return None


#: Responses that refuse the request, which is then not the user's activity: 403 (refused by
#: CSRF protection, or a permission) and 405 (a method the view does not allow).
REFUSED_STATUSES = frozenset({403, 405})


def from_another_site(request: HttpRequest) -> bool:
    """Sent by another site (``Sec-Fetch-Site: cross-site``): a link followed from it, or a
    request it embeds; it carries the session cookie, but it is not the user's activity here.
    Browsers that send no ``Sec-Fetch-Site`` are taken at their word (activity)."""
    return request.META.get("HTTP_SEC_FETCH_SITE") == "cross-site"


def is_activity(request: HttpRequest) -> bool:
    """Whether this request, as sent, is the user's own activity: not from another site and not
    passive. (The session is judged on every request, activity or not.)"""
    return not from_another_site(request) and not is_passive(request)


def is_passive(request: HttpRequest) -> bool:
    """Whether this request must not count as activity (decorator, URL name or path pattern)."""
    match = getattr(request, "resolver_match", None)
    patterns = conf.PASSIVE_URLS
    if match is not None:
        func = match.func
        if getattr(func, PASSIVE_ATTRIBUTE, False) or getattr(
            getattr(func, "view_class", None), PASSIVE_ATTRIBUTE, False
        ):
            return True
        if patterns.names and (
            match.view_name in patterns.names or match.url_name in patterns.names
        ):
            return True
    path = request.path_info
    return any(regex.match(path) for regex in patterns.regexes)


def wants_json(request: HttpRequest) -> bool:
    """A JSON client: ``X-Requested-With: XMLHttpRequest`` or an Accept naming JSON, not HTML."""
    headers = request.headers
    if headers.get("x-requested-with") == "XMLHttpRequest":
        return True
    accept = headers.get("accept", "")
    return ("application/json" in accept or "+json" in accept) and "text/html" not in accept


def same_host_path(target: str) -> str:
    """``target`` as a path on this host: without the control characters and the leading
    slashes or backslashes (``//evil.example/``, ``/\\evil.example/``) that make a browser
    leave the host."""
    printable = "".join(char for char in target if " " <= char != "\x7f")
    return "/" + printable.lstrip("/\\")


def login_url(request: HttpRequest) -> str:
    """``LOGIN_URL?next=…`` for a JSON client: back to the page that made the call (its
    ``Referer``, only when it is on this host), else to the requested URL itself. ``next`` is
    always a path on this host."""
    from django.contrib.auth.views import redirect_to_login
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.get_full_path()
    referer = request.headers.get("referer", "")
    if url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        page = urlsplit(referer)._replace(scheme="", netloc="", fragment="").geturl()
        if page.startswith("/") and not page.startswith("//"):
            target = page
    return redirect_to_login(same_host_path(target)).url


class SafeJSONEncoder(DjangoJSONEncoder):
    """JSON without ``<``, ``>`` and ``&`` (as ``\\u003c``…, like ``json_script``): a message with
    markup stays inert even if the body is sniffed as HTML or pasted into a page."""

    def encode(self, o: Any) -> str:
        return super().encode(o).translate(_JSON_ESCAPES)


_JSON_ESCAPES = {ord(">"): "\\u003e", ord("<"): "\\u003c", ord("&"): "\\u0026"}


def json_response(data: dict[str, Any], status: int = 200) -> JsonResponse:
    """The JSON answers of this app (the 401 below and the client endpoints)."""
    return JsonResponse(data, status=status, encoder=SafeJSONEncoder)


def expired_response(request: HttpRequest, reason: str, message: str) -> JsonResponse:
    """The ``401`` a JSON client gets after an automatic logout (also used by the endpoints)."""
    return json_response(
        {
            "detail": "session expired",
            "reason": reason,
            "message": message,
            "login_url": login_url(request),
        },
        status=401,
    )


def _last_login(request: HttpRequest) -> Callable[[], float | None]:
    def read() -> float | None:
        user = getattr(request, "user", None)
        last_login = getattr(user, "last_login", None)
        return None if last_login is None else float(last_login.timestamp())

    return read


def log_out(
    request: HttpRequest,
    effective: policy.Policy,
    reason: str,
    login_at: float | None = None,
) -> HttpResponseBase | None:
    """Log the user out through ``django.contrib.auth``; add the message once; send our signal.

    A revocation shows ``LOGOUT_RULES_REVOKED_MESSAGE``; a limit shows the policy's message.
    """
    user = getattr(request, "user", None)
    was_authenticated = bool(getattr(user, "is_authenticated", False))
    message = conf.REVOKED_MESSAGE if reason == "revoked" else effective.message
    auth.logout(request)
    setattr(request, LOGGED_OUT_ATTRIBUTE, (reason, message))
    if hasattr(request, "_acached_user"):
        request._acached_user = AnonymousUser()
    if was_authenticated:
        if message:
            messages.info(request, message, fail_silently=True)
        auto_logout.send(
            sender=user.__class__,
            user=user,
            request=request,
            reason=reason,
            policy=effective,
            login_at=login_at,
        )
    if wants_json(request):
        return expired_response(request, reason, message)
    return None


def check_request(request: HttpRequest) -> HttpResponseBase | None:
    """The request phase: judge the session; log out when a limit has passed or a revocation
    applies to the session's login.

    Returns a response only for a JSON client whose session just expired; otherwise the request
    continues (as anonymous after a logout).
    """
    store = getattr(request, "session", None)
    if store is None:
        return None
    user_id = session_store.user_id(store)
    if user_id is None:
        return None  # anonymous: never read further, never write
    if not session_store.usable_user_id(user_id):
        session_store.forget_user(store)  # garbage: fail closed, without querying it
        return log_out(request, policy.NO_POLICY, "session")
    now = clock.now()
    effective = resolver.get_policy(user_id)
    if not effective.enforced:
        setattr(request, POLICY_ATTRIBUTE, (user_id, effective))
        return None
    # The warm path: both of our times stored, and the session alive (no verdict to build).
    times: session_store.Times | None = None
    stamps = session_store.stored_times(store, now)
    if stamps is None:
        times = session_store.read_times(store, now, _last_login(request))
        if times.garbage:
            return log_out(request, effective, "session")
        login_at, activity_at = times.login_at, times.activity_at
    else:
        login_at, activity_at = stamps
    if not policy.alive(effective, now, login_at, activity_at):
        verdict = policy.judge(effective, now, login_at, activity_at)
        if verdict.expired:
            assert verdict.reason is not None
            return log_out(request, effective, verdict.reason, login_at)
    if times is not None and times.adopted:
        session_store.adopt(store, times)
    setattr(
        request,
        STATE_ATTRIBUTE,
        RequestState(
            user_id,
            effective,
            now,
            login_at,
            activity_at,
            policy.activity_due(effective, now, activity_at, conf.ACTIVITY_RESOLUTION),
        ),
    )
    return None


def pending_activity(request: HttpRequest, response: HttpResponseBase) -> float | None:
    """The response phase, in memory: the activity time this response's session save should
    carry, or ``None`` when it writes nothing of ours (the common case: no I/O at all).

    Due activity is recorded when the request is the user's activity (``is_activity``) and the
    response did not refuse it (``REFUSED_STATUSES``). When the view itself modified the
    session (so the whole session is about to be saved), the activity this request loaded is
    written back too, so that ``record_activity`` can keep a newer one stored meanwhile.
    """
    state = get_state(request)
    if state is None:
        return None
    store = request.session
    if not state.activity_due and not store.modified:
        return None  # the common case: nothing due, and the session is not saved
    if session_store.user_id(store) != state.user_id:
        return None  # the view logged out (or in as someone else): nothing of ours to record
    if state.activity_due and response.status_code not in REFUSED_STATUSES and is_activity(request):
        return state.now
    if store.modified:
        return state.activity_at
    return None


def record_activity(request: HttpRequest, at: float) -> None:
    """The response phase's write, after one fresh read of the session store.

    A slower request of the same session must not undo what a faster one stored meanwhile: if
    the stored session is gone (a concurrent logout, or an expiry), nothing of ours is written
    back; if it holds a later activity time, that one is kept. The recorded activity never moves
    backwards and a logout is never undone by this app's write. (A view that writes the session
    of a concurrently logged-out user gets Django's ``SessionInterrupted``, a 400, from the db,
    cache and cached_db session engines, which refuse to save a deleted session.)
    """
    state = get_state(request)
    if state is None:
        return
    stored = session_store.fresh_activity(request.session, state.user_id)
    if stored is None:
        return
    session_store.record_activity(request.session, max(at, stored))


class AutoLogoutMiddleware:
    """Logs users out after the idle or session limit of their effective rule.

    Place it after ``SessionMiddleware``, ``AuthenticationMiddleware`` and ``MessageMiddleware``.
    """

    sync_capable = True
    async_capable = True

    def __init__(
        self, get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]
    ) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        response = check_request(request)
        if response is None:
            response = cast(HttpResponseBase, self.get_response(request))
        at = pending_activity(request, response)
        if at is not None:
            record_activity(request, at)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = await sync_to_async(check_request, thread_sensitive=True)(request)
        if response is None:
            response = await cast(Awaitable[HttpResponseBase], self.get_response(request))
        at = pending_activity(request, response)
        if at is not None:
            await sync_to_async(record_activity, thread_sensitive=True)(request, at)
        return response
