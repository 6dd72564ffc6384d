"""The client script tag: its configuration, escaping, nonce, translations and template tag."""

from __future__ import annotations

import json
from datetime import timedelta
from html.parser import HTMLParser

import django
import pytest
from django.core.checks import run_checks
from django.template import Context, Template
from django.urls import path
from django.utils import translation
from django.utils.functional import SimpleLazyObject

from logout_rules import checks
from logout_rules import client as client_module

from . import views
from .conftest import CSP_MIDDLEWARE

# A URLconf without logout_rules.urls (see ``test_without_the_endpoints_...``).
urlpatterns = [path("page/", views.page)]

WARNED = {"IDLE_TIME": 600, "WARNING_TIME": 60, "REDIRECT_TO_LOGIN_IMMEDIATELY": True}


class _ScriptFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.found.append(dict(attrs))


def scripts(html: str) -> list[dict[str, str | None]]:
    """Every ``<script>``'s attributes, unescaped the way a browser reads them."""
    finder = _ScriptFinder()
    finder.feed(html)
    return finder.found


def script_attributes(html: str) -> dict[str, str | None]:
    (found,) = [attrs for attrs in scripts(html) if "data-logout-rules" in attrs]
    return found


def page_attributes(client) -> dict[str, str | None]:
    return script_attributes(client.get("/page/").content.decode())


def test_the_script_carries_its_whole_configuration(
    logged_in, clock, settings, without_csp_middleware
):
    settings.AUTO_LOGOUT = {**WARNED, "SESSION_TIME": 3600}
    clock.advance(10)
    attributes = page_attributes(logged_in)
    texts = json.loads(attributes.pop("data-texts") or "")
    token = attributes.pop("data-csrf-token")
    assert token
    assert len(token) == 64
    assert attributes == {
        "src": "/static/logout_rules/logout_rules.js",
        "defer": None,
        "data-logout-rules": None,
        "data-idle-end": "590",  # 10 s is within the activity resolution: not recorded
        "data-session-end": "3590",
        "data-status-url": "/logout-rules/status/",
        "data-extend-url": "/logout-rules/extend/",
        "data-status-poll": "60",  # LOGOUT_RULES_STATUS_POLL's default
        "data-warning": "60",
        "data-stylesheet": "/static/logout_rules/logout_rules.css",
        "data-csrf-cookie": "csrftoken",
    }
    assert texts["stay"] == "Stay signed in"
    assert "%(time)s" in texts["idle"]
    assert "%(time)s" in texts["session"]


def test_nothing_inline(logged_in, settings):
    settings.AUTO_LOGOUT = WARNED
    html = logged_in.get("/page/").content.decode()
    assert all(attrs.get("src") for attrs in scripts(html))
    assert "<style" not in html
    assert " style=" not in html


@pytest.mark.parametrize(
    ("warning", "expected"), [(1, "20"), (19.2, "20"), (20.5, "21"), (90, "90")]
)
def test_the_warning_leaves_at_least_20_seconds(logged_in, settings, warning, expected):
    settings.AUTO_LOGOUT = {**WARNED, "WARNING_TIME": warning}
    assert page_attributes(logged_in)["data-warning"] == expected


def test_without_a_warning_time_no_dialog_is_configured(logged_in, settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600, "REDIRECT_TO_LOGIN_IMMEDIATELY": True}
    attributes = page_attributes(logged_in)
    assert "data-warning" not in attributes
    assert "data-csrf-token" not in attributes
    assert attributes["data-status-url"] == "/logout-rules/status/"


def test_without_the_endpoints_the_script_only_leaves_at_the_deadline(
    logged_in, settings, without_csp_middleware
):
    settings.AUTO_LOGOUT = WARNED
    settings.ROOT_URLCONF = __name__
    attributes = page_attributes(logged_in)
    assert attributes == {
        "src": "/static/logout_rules/logout_rules.js",
        "defer": None,
        "data-logout-rules": None,
        "data-idle-end": "600",
    }


@pytest.mark.parametrize("setting", ["CSRF_USE_SESSIONS", "CSRF_COOKIE_HTTPONLY"])
def test_the_csrf_cookie_is_named_only_when_scripts_can_read_it(logged_in, settings, setting):
    settings.AUTO_LOGOUT = WARNED
    setattr(settings, setting, True)
    attributes = page_attributes(logged_in)
    assert "data-csrf-cookie" not in attributes
    assert attributes["data-csrf-token"]


def test_a_renamed_csrf_cookie(logged_in, settings):
    settings.AUTO_LOGOUT = WARNED
    settings.CSRF_COOKIE_NAME = "my_csrf"
    assert page_attributes(logged_in)["data-csrf-cookie"] == "my_csrf"


def test_every_value_is_escaped(logged_in, settings, monkeypatch):
    settings.AUTO_LOGOUT = WARNED
    hostile = '"><script>alert(1)</script>'
    monkeypatch.setattr(client_module, "texts", lambda: {"stay": hostile})
    monkeypatch.setattr(client_module, "csp_nonce", lambda request: hostile)
    html = logged_in.get("/page/").content.decode()
    assert "<script>alert" not in html
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    attributes = script_attributes(html)
    assert json.loads(attributes["data-texts"] or "") == {"stay": hostile}
    assert attributes["nonce"] == hostile
    assert len(scripts(html)) == 1


def test_texts_are_translated(logged_in, settings):
    settings.AUTO_LOGOUT = WARNED
    with translation.override("fr"):
        texts = json.loads(page_attributes(logged_in)["data-texts"] or "")
    assert texts["stay"] == "Rester connecté"
    assert texts["idle"] == "Pour votre sécurité, vous serez déconnecté dans %(time)s."


# --- CSP nonce ------------------------------------------------------------------------------------


class NonceMiddleware:
    """django-csp style: a lazy ``request.csp_nonce``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.csp_nonce = SimpleLazyObject(lambda: "abc123")
        return self.get_response(request)


def test_django_csp_nonce(logged_in, settings):
    settings.AUTO_LOGOUT = WARNED
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.NonceMiddleware"]
    assert page_attributes(logged_in)["nonce"] == "abc123"


class LazyNonce:
    """Like Django 6's ``LazyNonce``: false until it has been generated."""

    generated = False

    def __bool__(self) -> bool:
        return self.generated

    def __str__(self) -> str:
        self.generated = True
        return "django6nonce"


def test_djangos_own_nonce(logged_in, settings, monkeypatch):
    settings.AUTO_LOGOUT = WARNED
    nonce = LazyNonce()
    monkeypatch.setattr(client_module, "_django_nonce", lambda request: nonce)
    assert page_attributes(logged_in)["nonce"] == "django6nonce"
    assert nonce.generated  # so the CSP middleware puts it in its header


@pytest.mark.skipif(
    django.VERSION < (6, 0), reason="Django's own CSP middleware comes with Django 6.0"
)
def test_djangos_csp_middleware_sends_the_nonce_of_the_script_tag(logged_in, settings):
    from django.utils.csp import CSP

    assert CSP_MIDDLEWARE in settings.MIDDLEWARE
    settings.AUTO_LOGOUT = WARNED
    settings.SECURE_CSP = {"script-src": [CSP.NONCE], "style-src": [CSP.NONCE]}
    nonces = []
    for _ in range(2):
        response = logged_in.get("/page/")
        nonce = script_attributes(response.content.decode())["nonce"]
        assert nonce
        assert response["Content-Security-Policy"] == (
            f"script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'"
        )
        nonces.append(nonce)
    assert nonces[0] != nonces[1]  # one per request


def test_no_nonce_attribute_without_a_csp_middleware(logged_in, settings, monkeypatch):
    settings.AUTO_LOGOUT = WARNED
    monkeypatch.setattr(client_module, "_django_nonce", lambda request: None)
    assert "nonce" not in page_attributes(logged_in)


# --- the template tag -----------------------------------------------------------------------------

TAG = Template("{% load logout_rules %}{% logout_rules_script %}")


def test_the_tag_and_the_variable_give_the_same_script(logged_in, settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600, "REDIRECT_TO_LOGIN_IMMEDIATELY": True}
    response = logged_in.get("/page/")
    from_tag = TAG.render(Context({"request": response.wsgi_request}))
    assert from_tag == str(response.context["redirect_to_login_immediately"])
    assert script_attributes(from_tag)["data-idle-end"] == "600"


def test_the_tag_is_empty_without_the_redirect_flag(logged_in, settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600, "WARNING_TIME": 60}
    response = logged_in.get("/page/")
    assert TAG.render(Context({"request": response.wsgi_request})) == ""


@pytest.mark.django_db
def test_the_tag_is_empty_for_anonymous_visitors(client, settings):
    settings.AUTO_LOGOUT = WARNED
    response = client.get("/")
    assert TAG.render(Context({"request": response.wsgi_request})) == ""
    assert TAG.render(Context({})) == ""


# --- polling the status endpoint (LOGOUT_RULES_STATUS_POLL) -----------------------------


@pytest.mark.parametrize(
    ("poll", "attribute"),
    [(60, "60"), (2.5, "2.5"), (timedelta(minutes=2), "120"), (None, None), ("soon", "60")],
)
def test_the_poll_interval_is_a_data_attribute(logged_in, settings, poll, attribute):
    settings.AUTO_LOGOUT = WARNED
    settings.LOGOUT_RULES_STATUS_POLL = poll
    assert page_attributes(logged_in).get("data-status-poll") == attribute


def test_without_the_endpoints_there_is_no_polling(logged_in, settings):
    settings.AUTO_LOGOUT = WARNED
    settings.LOGOUT_RULES_STATUS_POLL = 5
    settings.ROOT_URLCONF = __name__
    assert "data-status-poll" not in page_attributes(logged_in)


def test_a_user_without_limits_gets_the_polling_script(logged_in, settings, without_csp_middleware):
    """A revocation applies whatever the limits: the open page must find out by itself."""
    settings.AUTO_LOGOUT = {"REDIRECT_TO_LOGIN_IMMEDIATELY": True}
    settings.LOGOUT_RULES_STATUS_POLL = 30
    attributes = page_attributes(logged_in)
    assert attributes == {
        "src": "/static/logout_rules/logout_rules.js",
        "defer": None,
        "data-logout-rules": None,
        "data-status-url": "/logout-rules/status/",
        "data-extend-url": "/logout-rules/extend/",
        "data-status-poll": "30",
    }
    response = logged_in.get("/page/")
    assert TAG.render(Context({"request": response.wsgi_request})) == str(
        response.context["redirect_to_login_immediately"]
    )


@pytest.mark.parametrize(
    ("auto_logout", "poll", "urlconf"),
    [
        ({}, 30, None),  # the page does not leave by itself: no script at all
        ({"REDIRECT_TO_LOGIN_IMMEDIATELY": True}, None, None),  # nothing to ask, nothing to wait
        ({"REDIRECT_TO_LOGIN_IMMEDIATELY": True}, 30, __name__),  # no endpoint to ask
    ],
)
def test_a_user_without_limits_gets_no_script_when_it_has_nothing_to_do(
    logged_in, settings, auto_logout, poll, urlconf
):
    settings.AUTO_LOGOUT = auto_logout
    settings.LOGOUT_RULES_STATUS_POLL = poll
    if urlconf:
        settings.ROOT_URLCONF = urlconf
    response = logged_in.get("/page/")
    assert "redirect_to_login_immediately" not in response.context
    assert TAG.render(Context({"request": response.wsgi_request})) == ""
    assert not [
        attrs for attrs in scripts(response.content.decode()) if "data-logout-rules" in attrs
    ]


def test_a_page_of_a_user_without_limits_resolves_the_policy_once(logged_in, settings, monkeypatch):
    """The middleware's resolution serves the script too: no second cache round trip."""
    settings.AUTO_LOGOUT = {"REDIRECT_TO_LOGIN_IMMEDIATELY": True}
    calls = []
    real = client_module.resolver.get_policy

    def counted(user_id):
        calls.append(user_id)
        return real(user_id)

    monkeypatch.setattr("logout_rules.resolver.get_policy", counted)
    assert "data-status-poll" in page_attributes(logged_in)
    assert len(calls) == 1


def test_the_status_of_a_user_without_limits(logged_in, settings):
    settings.AUTO_LOGOUT = {"REDIRECT_TO_LOGIN_IMMEDIATELY": True}
    payload = logged_in.get("/logout-rules/status/").json()
    assert payload["authenticated"] is True
    assert payload["seconds_left"] is None
    assert payload["warning_due"] is False
    assert payload["redirect_to_login_immediately"] is True


# --- the status payload ---------------------------------------------------------------------------


def test_ends_by_comes_from_the_exact_times(logged_in, clock, settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600, "SESSION_TIME": 700}
    clock.advance(100.5)
    logged_in.get("/private/")  # activity: idle ends 0.5 s after the session
    clock.advance(0.2)
    payload = logged_in.get("/logout-rules/status/").json()
    assert (payload["idle_seconds_left"], payload["session_seconds_left"]) == (600, 600)
    assert payload["ends_by"] == "session"


def test_a_tie_between_the_limits_counts_as_idle(logged_in, clock, settings):
    # "Stay signed in" is offered; if the session then ends first, the dialog says so.
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600, "SESSION_TIME": 600}
    payload = logged_in.get("/logout-rules/status/").json()
    assert (payload["idle_seconds_left"], payload["session_seconds_left"]) == (600, 600)
    assert payload["ends_by"] == "idle"


# --- the system check -----------------------------------------------------------------------------


def test_check_warns_when_the_endpoints_are_not_included(settings):
    settings.AUTO_LOGOUT = WARNED
    settings.ROOT_URLCONF = __name__
    assert checks.check_client_urls() == [checks.message("logout_rules.W050")]
    ids = [found.id for found in run_checks(tags=["logout_rules"])]
    assert "logout_rules.W050" in ids


def test_check_is_quiet_when_the_endpoints_are_included(settings):
    settings.AUTO_LOGOUT = WARNED
    assert checks.check_client_urls() == []


@pytest.mark.parametrize("auto_logout", [{"IDLE_TIME": 600}, None, "nonsense"])
def test_check_is_quiet_without_the_redirect_flag(settings, auto_logout):
    settings.AUTO_LOGOUT = auto_logout
    settings.ROOT_URLCONF = __name__
    assert checks.check_client_urls() == []


def test_check_leaves_a_broken_urlconf_to_djangos_own_checks(settings):
    settings.AUTO_LOGOUT = WARNED
    settings.ROOT_URLCONF = "tests.no_such_urlconf"
    assert checks.check_client_urls() == []
