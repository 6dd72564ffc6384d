"""A strict Content-Security-Policy on every response of the demo (no inline script or style).

The logout_rules client works under it as is: its script is a static file configured by data-
attributes, its dialog's stylesheet is a static file too. On Django >= 6.0 the demo uses Django's
own CSP middleware instead, with the same directives plus the request's nonce (``settings.py``);
logout_rules puts the nonce on its script tag and stylesheet, as it does with django-csp's.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

#: The demo's policy, directive by directive (the shape of Django 6's ``SECURE_CSP``, which the
#: settings use on Django >= 6.0 instead of this middleware).
DIRECTIVES: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
POLICY = "; ".join(f"{name} {' '.join(values)}" for name, values in DIRECTIVES.items())


class StrictCSPMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        return response
