"""The test URLs, plus a slow page: lets the real-server tests hold one request open while
another request of the same session runs through the other process."""

from __future__ import annotations

import time

from django.http import HttpRequest, HttpResponse
from django.urls import path

from tests.services import stamps
from tests.urls import urlpatterns as test_urlpatterns


def slow(request: HttpRequest) -> HttpResponse:
    """Answers after ``?seconds=`` (at most 5), naming the user the request started as."""
    user = request.user.get_username() if request.user.is_authenticated else "anonymous"
    time.sleep(min(5.0, float(request.GET.get("seconds", "1"))))
    return HttpResponse(f"slow {user}")


urlpatterns = [
    path("slow/", slow),
    path("probe/<int:user_id>/", stamps.probe),
    *test_urlpatterns,
]
