"""The browser tests' URLconf (``ROOT_URLCONF`` is switched to it by the ``site`` fixture)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        views.strict_csp(views.Login.as_view()),
        name="login",
    ),
    path("logout-rules/", include("logout_rules.urls")),
    path("page/", views.page, name="page"),
    path("tag/", views.tag_page, name="tag"),
    path("nonce/", views.nonce_page, name="nonce"),
    path("form/", views.form, name="form"),
    path("favicon.ico", views.favicon),
    path("site.css", views.stylesheet),
]
