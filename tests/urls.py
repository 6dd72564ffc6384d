from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import project_admin, views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("project-admin/", project_admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.public, name="public"),
    path("private/", views.private, name="private"),
    path("private-async/", views.private_async, name="private_async"),
    path("page/", views.page, name="page"),
    path("poll/", views.poll, name="poll"),
    path("bare/", views.bare, name="bare"),
    path("do-logout/", views.do_logout, name="do_logout"),
    path("logout-rules/", include("logout_rules.urls")),
]
