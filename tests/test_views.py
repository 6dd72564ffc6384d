"""The client endpoints (``logout_rules.urls``) and the JSON ``401`` of expired JSON clients."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.urls import reverse

from logout_rules import client as client_module
from logout_rules import session as session_keys

from .factories import UserFactory
from .test_client import script_attributes

STATUS = "/logout-rules/status/"
EXTEND = "/logout-rules/extend/"
MESSAGE = 'Bye <b>now</b> & "later"'
JSON = {"accept": "application/json"}


@pytest.fixture(autouse=True)
def _auto_logout(settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600, "SESSION_TIME": 3600, "MESSAGE": MESSAGE}


def stored(client: Client) -> dict:
    return SessionStore(client.cookies["sessionid"].value).load()


def test_the_urls_are_includable_under_a_namespace():
    assert reverse("logout_rules:status") == STATUS
    assert reverse("logout_rules:extend") == EXTEND


# --- status ---------------------------------------------------------------------------------------


def test_status_reports_the_seconds_left(logged_in, clock):
    clock.advance(100)
    response = logged_in.get(STATUS)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    assert response.json() == {
        "authenticated": True,
        "idle_seconds_left": 500,
        "session_seconds_left": 3500,
        "seconds_left": 500,
        "ends_by": "idle",
        "warning_seconds": None,
        "warning_due": False,
        "redirect_to_login_immediately": False,
    }


def test_status_says_when_the_warning_is_due(logged_in, clock, settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600, "WARNING_TIME": 60}
    clock.advance(539)
    assert logged_in.get(STATUS).json()["warning_due"] is False
    clock.advance(2)
    payload = logged_in.get(STATUS).json()
    assert payload["warning_seconds"] == 60
    assert payload["idle_seconds_left"] == 59
    assert payload["warning_due"] is True


def test_status_warning_gives_at_least_20_seconds(logged_in, clock, settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600, "WARNING_TIME": 5}
    clock.advance(575)
    payload = logged_in.get(STATUS).json()
    assert payload["warning_seconds"] == client_module.MIN_WARNING_SECONDS == 20
    assert payload["warning_due"] is False
    clock.advance(6)
    assert logged_in.get(STATUS).json()["warning_due"] is True


def test_status_ends_by_the_session_limit_when_it_comes_first(logged_in, clock, settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600, "SESSION_TIME": 700}
    clock.advance(200)
    logged_in.get("/private/")  # activity: idle ends at 800, the session at 700
    payload = logged_in.get(STATUS).json()
    assert (payload["seconds_left"], payload["ends_by"]) == (500, "session")


def test_status_for_a_user_without_limits(logged_in, settings):
    settings.AUTO_LOGOUT = {}
    payload = logged_in.get(STATUS).json()
    assert payload["authenticated"] is True
    assert payload["seconds_left"] is None
    assert payload["ends_by"] is None
    assert payload["warning_due"] is False


def test_status_is_passive_it_never_keeps_an_idle_session_alive(logged_in, clock):
    activity = stored(logged_in)[session_keys.ACTIVITY_KEY]
    for _ in range(10):
        clock.advance(59)  # each poll is past the activity resolution (30 s)
        assert logged_in.get(STATUS).json()["authenticated"] is True
    assert stored(logged_in)[session_keys.ACTIVITY_KEY] == activity
    clock.advance(11)  # 601 s after the last real activity
    payload = logged_in.get(STATUS).json()
    assert payload["authenticated"] is False
    assert payload["reason"] == "idle"


def test_status_after_expiry_says_this_request_ended_the_session(logged_in, clock):
    clock.advance(601)
    response = logged_in.get(STATUS, headers={"referer": "http://testserver/page/?a=1#top"})
    assert response.status_code == 200  # a page asking at its deadline logs no error
    assert response.json() == {
        "authenticated": False,
        "reason": "idle",
        "message": MESSAGE,
        "login_url": "/accounts/login/?next=/page/%3Fa%3D1",
    }
    assert SESSION_KEY not in stored(logged_in)
    # The message is shown once, by the next page.
    page = logged_in.get("/")
    assert [str(m) for m in page.context["messages"]] == [MESSAGE]
    assert [str(m) for m in logged_in.get("/").context["messages"]] == []


def test_status_once_the_session_has_ended(logged_in, clock):
    clock.advance(601)
    logged_in.get(STATUS)
    payload = logged_in.get(STATUS).json()
    assert payload == {
        "authenticated": False,
        "reason": None,
        "message": "",
        "login_url": "/accounts/login/?next=/logout-rules/status/",
    }


@pytest.mark.django_db
def test_status_for_an_anonymous_visitor(client):
    response = client.get(STATUS)
    assert response.status_code == 200
    assert response.json()["authenticated"] is False
    assert "sessionid" not in response.cookies


def test_status_asked_for_json_after_expiry_gets_the_401(logged_in, clock):
    clock.advance(601)
    response = logged_in.get(STATUS, headers=JSON)
    assert response.status_code == 401
    assert response.json()["reason"] == "idle"


def test_status_only_answers_get(logged_in):
    assert logged_in.post(STATUS).status_code == 405


def test_status_on_the_async_stack(logged_in, clock, async_client):
    async_client.cookies = logged_in.cookies
    clock.advance(100)
    response = async_to_sync(async_client.get)(STATUS)
    assert response.json()["idle_seconds_left"] == 500
    clock.advance(501)
    response = async_to_sync(async_client.get)(STATUS)
    assert response.json()["reason"] == "idle"


@pytest.mark.parametrize(
    ("change", "flushed"),
    [
        pytest.param(lambda user: user.set_password("new"), True, id="password changed"),
        pytest.param(lambda user: setattr(user, "is_active", False), False, id="deactivated"),
    ],
)
def test_status_judges_the_session_like_django_auth(logged_in, user, clock, change, flushed):
    """After a password change (session auth hash mismatch) or deactivation, Django no longer
    accepts the session: neither does ``status`` (and, like Django, it flushes the session
    whose hash no longer matches)."""
    assert logged_in.get(STATUS).json()["authenticated"] is True
    change(user)
    user.save()
    payload = logged_in.get(STATUS).json()
    assert payload["authenticated"] is False
    assert (SESSION_KEY not in stored(logged_in)) is flushed


def test_extend_refuses_a_session_django_auth_no_longer_accepts(logged_in, user, clock):
    clock.advance(500)
    user.set_password("new password")
    user.save()
    response = logged_in.post(EXTEND)
    assert response.status_code == 401
    assert response.json()["authenticated"] is False
    assert SESSION_KEY not in stored(logged_in)


# --- extend ---------------------------------------------------------------------------------------


def test_extend_resets_the_idle_limit_only(logged_in, clock):
    clock.advance(500)
    response = logged_in.post(EXTEND, headers=JSON)
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    payload = response.json()
    assert payload["idle_seconds_left"] == 600
    assert payload["session_seconds_left"] == 3100
    assert stored(logged_in)[session_keys.ACTIVITY_KEY] == clock.now()
    clock.advance(599)
    assert logged_in.get("/private/").status_code == 200  # 1099 s idle without the extension


def test_extend_never_passes_the_session_limit(logged_in, clock, settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 60, "SESSION_TIME": 100}
    for _ in range(3):
        clock.advance(30)
        payload = logged_in.post(EXTEND).json()
        assert payload["idle_seconds_left"] == 60
    assert payload["session_seconds_left"] == 10
    assert payload["ends_by"] == "session"
    clock.advance(11)
    response = logged_in.post(EXTEND, headers=JSON)
    assert response.status_code == 401
    assert response.json()["reason"] == "session"


def test_extend_after_expiry_answers_401(logged_in, clock):
    clock.advance(601)
    response = logged_in.post(EXTEND)  # not asking for JSON: the view itself answers
    assert response.status_code == 401
    assert response.json() == {
        "detail": "not authenticated",
        "authenticated": False,
        "reason": "idle",
        "message": MESSAGE,
        "login_url": "/accounts/login/?next=/logout-rules/extend/",
    }
    assert logged_in.post(EXTEND).json()["reason"] is None  # already ended


def test_extend_needs_the_csrf_token(user, clock, settings):
    settings.AUTO_LOGOUT = {
        "IDLE_TIME": 600,
        "WARNING_TIME": 60,
        "REDIRECT_TO_LOGIN_IMMEDIATELY": True,
    }
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(EXTEND).status_code == 403
    page = client.get("/page/")  # the client script carries the token (and sets the cookie)
    token = script_attributes(page.content.decode())["data-csrf-token"]
    assert client.post(EXTEND, {"csrfmiddlewaretoken": token}).status_code == 200
    cookie = client.cookies["csrftoken"].value
    assert client.post(EXTEND, headers={"x-csrftoken": cookie}).status_code == 200


def test_extend_only_touches_this_session(user, clock):
    first, second = Client(), Client()
    first.force_login(user)
    second.force_login(user)
    clock.advance(500)
    first.post(EXTEND)
    assert stored(first)[session_keys.ACTIVITY_KEY] == clock.now()
    assert stored(second)[session_keys.ACTIVITY_KEY] == clock.now() - 500
    clock.advance(101)
    assert second.get("/private/").status_code == 302  # the other session still ends


def test_extend_for_a_user_without_an_idle_limit_writes_nothing(logged_in, clock, settings):
    settings.AUTO_LOGOUT = {"SESSION_TIME": 3600}
    activity = stored(logged_in)[session_keys.ACTIVITY_KEY]
    clock.advance(100)
    payload = logged_in.post(EXTEND).json()
    assert payload["idle_seconds_left"] is None
    assert payload["session_seconds_left"] == 3500
    assert stored(logged_in)[session_keys.ACTIVITY_KEY] == activity


def test_extend_sent_by_another_site_records_no_activity(logged_in, clock):
    # (With a valid token: a site listed in CSRF_TRUSTED_ORIGINS.)
    login = stored(logged_in)[session_keys.ACTIVITY_KEY]
    clock.advance(500)
    response = logged_in.post(EXTEND, headers={"sec-fetch-site": "cross-site"})
    assert response.json()["idle_seconds_left"] == 100
    assert stored(logged_in)[session_keys.ACTIVITY_KEY] == login


def test_extend_only_answers_post(logged_in):
    assert logged_in.get(EXTEND).status_code == 405


# --- the JSON 401 of any view ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("referer", "login_url"),
    [
        ("http://testserver/orders/?page=2", "/accounts/login/?next=/orders/%3Fpage%3D2"),
        ("http://evil.example/orders/", "/accounts/login/?next=/private/"),
        ("http://testserver//evil.example/x", "/accounts/login/?next=/private/"),
        ("javascript:alert(1)", "/accounts/login/?next=/private/"),
        (None, "/accounts/login/?next=/private/"),
    ],
)
def test_json_401_sends_back_to_the_calling_page_on_this_host_only(
    logged_in, clock, referer, login_url
):
    clock.advance(601)
    headers = dict(JSON)
    if referer is not None:
        headers["referer"] = referer
    response = logged_in.get("/private/", headers=headers)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "session expired",
        "reason": "idle",
        "message": MESSAGE,
        "login_url": login_url,
    }


def test_json_401_for_an_xhr_with_the_session_limit(logged_in, clock, settings):
    settings.AUTO_LOGOUT = {"SESSION_TIME": 3600}
    clock.advance(3601)
    response = logged_in.get("/private/", headers={"x-requested-with": "XMLHttpRequest"})
    assert response.status_code == 401
    assert response.json()["reason"] == "session"


def test_an_html_request_is_redirected_not_answered_with_json(logged_in, clock):
    clock.advance(601)
    response = logged_in.get("/private/", headers={"accept": "text/html,application/json"})
    assert response.status_code == 302


@pytest.mark.django_db
def test_another_users_session_is_never_touched(clock):
    alice, bob = Client(), Client()
    alice.force_login(UserFactory(username="alice"))
    bob.force_login(UserFactory(username="bob"))
    clock.advance(300)
    alice.post(EXTEND)
    assert stored(bob)[session_keys.ACTIVITY_KEY] == clock.now() - 300
