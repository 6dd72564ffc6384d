"""The browser tests' URLconf (``ROOT_URLCONF`` is switched to it by the ``site`` fixture)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from logout_rules import views as endpoints

from . import views

#: ``logout_rules.urls``, with the status requests counted on the server side.
ENDPOINTS = (
    [
        path("status/", views.counted_status, name="status"),
        path("extend/", endpoints.extend, name="extend"),
    ],
    "logout_rules",
)
urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        views.strict_csp(views.Login.as_view()),
        name="login",
    ),
    path("logout-rules/", include(ENDPOINTS)),
    path("page/", views.page, name="page"),
    path("tag/", views.tag_page, name="tag"),
    path("nonce/", views.nonce_page, name="nonce"),
    path("form/", views.form, name="form"),
    path("favicon.ico", views.favicon),
    path("site.css", views.stylesheet),
]
