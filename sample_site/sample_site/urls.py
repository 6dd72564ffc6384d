from __future__ import annotations

from demo import views
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", views.home, name="home"),
    path("form/", views.form_page, name="form"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # The client's endpoints: status (passive) and "stay signed in".
    path("logout-rules/", include("logout_rules.urls")),
    path("favicon.ico", RedirectView.as_view(url=static("demo/favicon.svg"))),
]
