from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
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


async def _auser(request: HttpRequest) -> Any:
    """``request.auser()`` from Django 5.0; on 4.2 the lazy user resolved in a thread."""
    if hasattr(request, "auser"):
        return await request.auser()

    def load() -> Any:
        user = request.user
        user.is_authenticated
        return user

    return await sync_to_async(load)()


async def private_async(request: HttpRequest) -> HttpResponse:
    user = await _auser(request)
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
