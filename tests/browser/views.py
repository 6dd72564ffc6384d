"""Pages for the browser tests, each sent with a strict Content-Security-Policy."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.template import Engine, RequestContext

from logout_rules import views as endpoints

#: The pages' own template engine (the test settings' context processors). Switching
#: ``TEMPLATES`` per test would race with the live server thread, which rebuilds the global
#: engines lazily and can keep a stale one.
ENGINE = Engine(
    dirs=[str(Path(__file__).resolve().parent / "templates")],
    context_processors=[
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
        "logout_rules.context_processors.auto_logout_client",
    ],
    libraries={"logout_rules": "logout_rules.templatetags.logout_rules"},
)


def render(request: HttpRequest, name: str, context: dict[str, Any]) -> HttpResponse:
    return HttpResponse(ENGINE.get_template(name).render(RequestContext(request, context)))


#: No inline script or style anywhere: the client must work with files from this origin only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

#: The notes posted to ``form`` (the test reads it to prove that nothing was posted twice).
POSTED: list[str] = []


def strict_csp(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = CSP
        return response

    return wrapper


@strict_csp
@login_required
def page(request: HttpRequest) -> HttpResponse:
    """Uses the ``redirect_to_login_immediately`` context variable."""
    return render(request, "browser/page.html", {"title": "Meeting notes"})


@strict_csp
@login_required
def tag_page(request: HttpRequest) -> HttpResponse:
    """Uses ``{% logout_rules_script %}``, and an inline script that the CSP must block."""
    return render(request, "browser/page.html", {"title": "tag", "use_tag": True, "canary": True})


@strict_csp
@login_required
def form(request: HttpRequest) -> HttpResponse:
    """Answers a POST with a page (no redirect): reloading it would post again."""
    if request.method == "POST":
        POSTED.append(request.POST.get("note", ""))
        return render(request, "browser/page.html", {"title": "saved", "saved": True})
    return render(request, "browser/page.html", {"title": "form", "form": True})


#: When the server answered each status request (the polling tests count them server-side).
STATUS_REQUESTS: list[float] = []


@functools.wraps(endpoints.status)  # keeps it passive
def counted_status(request: HttpRequest) -> HttpResponse:
    STATUS_REQUESTS.append(time.monotonic())
    return endpoints.status(request)


@login_required
def nonce_page(request: HttpRequest) -> HttpResponse:
    """Sent with the policy of Django's own CSP middleware (``SECURE_CSP``, Django >= 6.0).

    The page's stylesheet link carries the request's nonce; its inline script has none (the
    policy must refuse it).
    """
    from django.middleware.csp import get_nonce

    context = {"title": "nonce", "canary": True, "site_nonce": str(get_nonce(request))}
    return render(request, "browser/page.html", context)


class Login(LoginView):
    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        return render(self.request, "browser/login.html", context)


def favicon(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=204)


STYLESHEET = """
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: #1f2328; background: #f6f7f9; }
header { padding: .75rem 2rem; background: #0f172a; color: #fff; font-weight: 600; }
main { max-width: 40rem; margin: 2rem auto; padding: 1.5rem 2rem; background: #fff;
       border-radius: 8px; box-shadow: 0 1px 3px rgba(0, 0, 0, .1); }
h1 { margin-top: 0; font-size: 1.5rem; }
label { display: block; margin: .75rem 0 .25rem; font-weight: 600; }
input, textarea { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit;
                  border: 1px solid #cbd5e1; border-radius: 6px; }
"""


def stylesheet(request: HttpRequest) -> HttpResponse:
    """The pages' look (a same-origin stylesheet: the CSP has no 'unsafe-inline')."""
    return HttpResponse(STYLESHEET, content_type="text/css")
