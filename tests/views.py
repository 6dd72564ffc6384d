from __future__ import annotations

from django.contrib import auth
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from logout_rules.decorators import passive


def public(request: HttpRequest) -> HttpResponse:
    return render(request, "page.html")


@login_required
def private(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"hello {request.user.get_username()}")


async def private_async(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponse("anonymous", status=403)
    return HttpResponse(f"hello {user.get_username()}")


@login_required
def page(request: HttpRequest) -> HttpResponse:
    return render(request, "page.html")


@passive
def poll(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"authenticated": request.user.is_authenticated})


def bare(request: HttpRequest) -> HttpResponse:
    """Touches the user like a real page would (the bare-stack comparison view)."""
    return HttpResponse(f"user {request.user.pk}")


def do_logout(request: HttpRequest) -> HttpResponse:
    auth.logout(request)
    return HttpResponse("bye")
