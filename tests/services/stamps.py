"""What the load test needs to time propagation, added to the test servers (``server_settings``):

* every response says which worker process served it (``X-Worker-Pid``);
* a response whose request committed a change of a group rule says when: ``X-Committed-At`` (the
  commit) and ``X-Invalidated-At`` (after this app's on-commit invalidation ran) — the server's
  clock, which is the machine's (everything runs on 127.0.0.1);
* ``probe/<user id>/`` (``urls.py``) answers with the policy this worker resolves for a user now,
  the same way the middleware does.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.http import HttpRequest, HttpResponse, JsonResponse

from logout_rules import resolver
from logout_rules.models import GroupLogoutRule

_request = threading.local()


def _stamp(name: str) -> Callable[..., None]:
    def receiver(sender: Any, using: str | None = None, **kwargs: Any) -> None:
        def record() -> None:
            setattr(_request, name, time.time())

        transaction.on_commit(record, using=using)

    return receiver


# pre_save: registered before this app's invalidation (post_save), so it runs first, at the
# commit; post_save: registered after it, so it runs once the invalidation is done.
pre_save.connect(
    _stamp("committed_at"), sender=GroupLogoutRule, weak=False, dispatch_uid="stamp.commit"
)
post_save.connect(
    _stamp("invalidated_at"), sender=GroupLogoutRule, weak=False, dispatch_uid="stamp.invalidated"
)


class StampMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        _request.committed_at = _request.invalidated_at = None
        response = self.get_response(request)
        response["X-Worker-Pid"] = str(os.getpid())
        for name in ("committed_at", "invalidated_at"):
            value = getattr(_request, name)
            if value is not None:
                response[f"X-{name.replace('_', '-').title()}"] = repr(value)
        return response


def probe(request: HttpRequest, user_id: int) -> JsonResponse:
    """The policy this worker resolves for ``user_id`` right now (cache, memo or database)."""
    at = time.time()
    effective = resolver.get_policy(user_id)
    return JsonResponse(
        {
            "at": at,
            "pid": os.getpid(),
            "message": effective.message,
            "session_time": effective.session_time,
        }
    )
