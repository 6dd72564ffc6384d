"""The template variables of django-auto-logout, and the script tag."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from logout_rules.context_processors import auto_logout_client


def render_page(client):
    return client.get("/page/")


def test_variables_for_a_logged_in_user(logged_in, clock, settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600, "SESSION_TIME": 3600}
    clock.advance(100)
    context = render_page(logged_in).context
    # This request counts as activity (recorded now), so the idle limit restarts.
    assert context["seconds_until_idle_end"] == 600
    assert context["seconds_until_session_end"] == 3500
    assert "redirect_to_login_immediately" not in context


def test_idle_countdown_uses_the_recorded_activity(logged_in, clock, settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600}  # resolution 30 s
    clock.advance(10)
    context = render_page(logged_in).context
    assert context["seconds_until_idle_end"] == 590  # not recorded yet: 10 s are used
    assert "seconds_until_session_end" not in context


def test_only_the_limits_that_apply(logged_in, settings):
    settings.AUTO_LOGOUT = {"SESSION_TIME": 3600}
    context = render_page(logged_in).context
    assert "seconds_until_idle_end" not in context
    assert context["seconds_until_session_end"] == 3600


def test_redirect_script_tag(logged_in, clock, settings, without_csp_middleware):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600, "REDIRECT_TO_LOGIN_IMMEDIATELY": True}
    content = render_page(logged_in).content.decode()
    assert (
        '<script src="/static/logout_rules/logout_rules.js" defer data-logout-rules '
        'data-idle-end="600" data-status-url="/logout-rules/status/" '
        'data-extend-url="/logout-rules/extend/" data-status-poll="60"></script>'
    ) in content
    assert "<script>" not in content  # nothing inline


def test_redirect_flag_without_limit_gives_the_polling_script(
    logged_in, settings, without_csp_middleware
):
    """No deadline to leave at, but a revocation to find out about: the page asks status."""
    settings.AUTO_LOGOUT = {"REDIRECT_TO_LOGIN_IMMEDIATELY": True}
    context = render_page(logged_in).context
    assert "seconds_until_idle_end" not in context
    assert "seconds_until_session_end" not in context
    assert str(context["redirect_to_login_immediately"]) == (
        '<script src="/static/logout_rules/logout_rules.js" defer data-logout-rules '
        'data-status-url="/logout-rules/status/" data-extend-url="/logout-rules/extend/" '
        'data-status-poll="60"></script>'
    )


def test_redirect_flag_without_limit_and_without_polling_gives_nothing(logged_in, settings):
    settings.AUTO_LOGOUT = {"REDIRECT_TO_LOGIN_IMMEDIATELY": True}
    settings.LOGOUT_RULES_STATUS_POLL = None
    context = render_page(logged_in).context
    for name in (
        "seconds_until_idle_end",
        "seconds_until_session_end",
        "redirect_to_login_immediately",
    ):
        assert name not in context


@pytest.mark.django_db
def test_anonymous_gets_nothing(client, settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600, "REDIRECT_TO_LOGIN_IMMEDIATELY": True}
    context = client.get("/").context
    for name in (
        "seconds_until_idle_end",
        "seconds_until_session_end",
        "redirect_to_login_immediately",
    ):
        assert name not in context


def test_missing_auto_logout_never_raises(logged_in, settings):
    del settings.AUTO_LOGOUT
    response = render_page(logged_in)
    assert response.status_code == 200
    assert "seconds_until_idle_end" not in response.context


def test_request_without_session_or_user():
    request = RequestFactory().get("/")
    assert auto_logout_client(request) == {}


def test_without_the_middleware_values_are_computed(logged_in, clock, settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "logout_rules" not in m]
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600}
    clock.advance(5)
    from django.test import Client

    client = Client()
    client.cookies = logged_in.cookies
    assert client.get("/page/").context["seconds_until_idle_end"] == 595


def test_template_tag(logged_in, settings, clock):
    settings.AUTO_LOGOUT = {"SESSION_TIME": 60, "REDIRECT_TO_LOGIN_IMMEDIATELY": True}
    response = render_page(logged_in)
    request = response.wsgi_request
    html = Template("{% load logout_rules %}{% logout_rules_script %}").render(
        Context({"request": request})
    )
    assert 'data-session-end="60"' in html
    assert Template("{% load logout_rules %}{% logout_rules_script %}").render(Context({})) == ""


def test_context_processor_errors_are_contained(logged_in, monkeypatch, settings):
    from logout_rules import client as client_module

    def broken(request):
        raise RuntimeError("boom")

    monkeypatch.setattr(client_module, "current_state", broken)
    monkeypatch.setattr("logout_rules.context_processors.client_context", lambda r: broken(r))
    assert render_page(logged_in).status_code == 200
