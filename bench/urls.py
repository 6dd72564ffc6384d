from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import path


def page(request: HttpRequest) -> HttpResponse:
    """A logged-in page: it reads ``request.user``, so the bare stack loads the user too."""
    return HttpResponse(f"hello {request.user.get_username()}", content_type="text/plain")


async def apage(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    return HttpResponse(f"hello {user.get_username()}", content_type="text/plain")


urlpatterns = [
    path("page/", page),
    path("apage/", apage),
    path("admin/", admin.site.urls),
]
