"""View decorators."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

ViewT = TypeVar("ViewT", bound=Callable[..., object])

#: The attribute the middleware looks for on a view (or on a class-based view's class).
PASSIVE_ATTRIBUTE = "logout_rules_passive"


def passive(view: ViewT) -> ViewT:
    """Requests to this view are not activity: they never postpone the idle limit.

    For polling and health checks. An expired session is still logged out by such a request.
    Works on sync and async function views and on ``View.as_view()`` results.
    """
    setattr(view, PASSIVE_ATTRIBUTE, True)
    return view
