"""The client endpoints: ``path("logout-rules/", include("logout_rules.urls"))``."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "logout_rules"

urlpatterns = [
    path("status/", views.status, name="status"),
    path("extend/", views.extend, name="extend"),
]
