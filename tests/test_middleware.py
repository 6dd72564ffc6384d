"""The middleware's enforcement, through the sync (WSGI) and async (ASGI) test clients."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.http import HttpResponse
from django.test import AsyncClient, Client
from django.test.utils import CaptureQueriesContext

from logout_rules import cache as policy_cache
from logout_rules import session as session_keys
from logout_rules.middleware import AutoLogoutMiddleware
from logout_rules.models import GroupLogoutRule, UserLogoutRule
from logout_rules.signals import auto_logout

from .factories import (
    GroupFactory,
    GroupLogoutRuleFactory,
    UserFactory,
    UserLogoutRuleFactory,
    global_rule,
)

MESSAGE = "The session has expired."
LOGIN_REDIRECT = "/accounts/login/?next=/private/"
WITHOUT_US = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
WITH_US = [*WITHOUT_US, "logout_rules.middleware.AutoLogoutMiddleware"]


@pytest.fixture(autouse=True)
def _auto_logout(settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 60, "SESSION_TIME": 3600, "MESSAGE": MESSAGE}


def session_of(client: Client) -> SessionStore:
    return SessionStore(client.cookies["sessionid"].value)


def is_logged_in(client: Client) -> bool:
    return SESSION_KEY in session_of(client).load()


class AsyncRunner:
    """Drive ``AsyncClient`` (the ASGI handler, async middleware mode) from a sync test."""

    def __init__(self, async_client, client: Client) -> None:
        self.async_client = async_client
        self.client = client

    def get(self, path: str, **extra):
        self.async_client.cookies = self.client.cookies
        response = async_to_sync(self.async_client.get)(path, **extra)
        self.client.cookies.update(response.cookies)
        return response


@pytest.fixture(params=["sync", "async"])
def get(request, logged_in, async_client):
    """``get(path)`` through the WSGI or the ASGI handler, as the logged-in user."""
    if request.param == "sync":
        return logged_in.get
    runner = AsyncRunner(async_client, logged_in)
    return runner.get


def private_path(get) -> str:
    """The async stack uses an async view."""
    return (
        "/private-async/"
        if isinstance(getattr(get, "__self__", None), AsyncRunner)
        else ("/private/")
    )


def assert_logged_out(response, path: str) -> None:
    if path == "/private/":
        assert response.status_code == 302
        assert response["Location"] == LOGIN_REDIRECT
    else:
        assert response.status_code == 403
        assert response.content == b"anonymous"


# --- the limits --------------------------------------------------------------------------------


def test_idle_limit_logs_out_on_next_request(get, clock, logged_in):
    path = private_path(get)
    assert get(path).status_code == 200
    clock.advance(61)
    assert_logged_out(get(path), path)
    assert not is_logged_in(logged_in)


def test_requests_within_the_idle_limit_keep_the_session(get, clock):
    path = private_path(get)
    for _ in range(5):
        clock.advance(50)
        assert get(path).status_code == 200


def test_session_limit_applies_even_when_active(get, clock):
    path = private_path(get)
    for _ in range(60):
        clock.advance(59)
        assert get(path).status_code == 200  # 3540 s
    clock.advance(61)  # 3601 s after login, 61 s idle is also over: session deadline came first
    assert_logged_out(get(path), path)


@pytest.mark.parametrize(
    "config",
    [{"IDLE_TIME": 60}, {"IDLE_TIME": timedelta(seconds=60)}],
    ids=["int", "timedelta"],
)
def test_idle_config_types(config, settings, logged_in, clock):
    settings.AUTO_LOGOUT = config
    clock.advance(60)
    assert logged_in.get("/private/").status_code == 200
    clock.advance(60.5)
    assert logged_in.get("/private/").status_code == 302


@pytest.mark.parametrize(
    "config",
    [{"SESSION_TIME": 100}, {"SESSION_TIME": timedelta(seconds=100)}],
    ids=["int", "timedelta"],
)
def test_session_config_types(config, settings, logged_in, clock):
    settings.AUTO_LOGOUT = config
    clock.advance(100)
    assert logged_in.get("/private/").status_code == 200
    clock.advance(0.5)
    assert logged_in.get("/private/").status_code == 302


@pytest.mark.parametrize(("elapsed", "status"), [(60, 200), (60.001, 302)])
def test_logout_only_when_strictly_greater_than_the_limit(elapsed, status, logged_in, clock):
    clock.advance(elapsed)
    assert logged_in.get("/private/").status_code == status


def test_the_expiring_request_is_not_activity(logged_in, clock):
    clock.advance(61)
    assert logged_in.get("/private/").status_code == 302
    # The session was flushed: nothing of ours remains, nothing was recorded.
    assert session_keys.ACTIVITY_KEY not in session_of(logged_in).load()


def test_session_limit_counts_from_this_sessions_login(user, clock, settings):
    settings.AUTO_LOGOUT = {"SESSION_TIME": 3600}
    laptop, phone = Client(), Client()
    laptop.force_login(user)
    clock.advance(3000)
    phone.force_login(user)  # moves user.last_login forward
    clock.advance(700)
    assert laptop.get("/private/").status_code == 302
    assert phone.get("/private/").status_code == 200


def test_no_limits_no_logout_and_no_session_writes(settings, logged_in, clock, monkeypatch):
    settings.AUTO_LOGOUT = {}
    saves = count_saves(monkeypatch)
    clock.advance(10**7)
    assert logged_in.get("/private/").status_code == 200
    assert saves == []


def test_missing_auto_logout_setting(settings, logged_in, clock):
    del settings.AUTO_LOGOUT
    clock.advance(10**7)
    assert logged_in.get("/private/").status_code == 200
    assert logged_in.get("/page/").status_code == 200


def test_a_changed_setting_judges_the_very_next_warm_request(settings, client, clock, db):
    """The warm path's memos (the merge per layer, the settings rule, the ceilings) never outlive
    a setting: each change below judges the request right after a warm one, 30 s idle."""

    def warm_then_idle() -> None:
        client.force_login(UserFactory())
        assert client.get("/private/").status_code == 200  # warm: everything memoized
        assert client.get("/private/").status_code == 200
        clock.advance(30)

    warm_then_idle()
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 20  # a ceiling below the idle time
    assert client.get("/private/").status_code == 302
    settings.LOGOUT_RULES_MAX_IDLE_TIME = None
    warm_then_idle()
    assert client.get("/private/").status_code == 200
    clock.advance(30)
    settings.AUTO_LOGOUT["IDLE_TIME"] = 20  # changed in place (no setting_changed)
    assert client.get("/private/").status_code == 302
    warm_then_idle()
    settings.AUTO_LOGOUT = {"IDLE_TIME": 10}
    assert client.get("/private/").status_code == 302
    warm_then_idle()
    del settings.AUTO_LOGOUT  # no limit at all (no setting_changed either)
    clock.advance(10**6)
    assert client.get("/private/").status_code == 200


# --- after the logout ----------------------------------------------------------------------------


def test_message_is_shown_once_after_logout(logged_in, clock):
    clock.advance(61)
    response = logged_in.get("/private/", follow=True)
    assert response.redirect_chain == [(LOGIN_REDIRECT, 302)]
    assert response.content.count(MESSAGE.encode()) == 1
    again = logged_in.get("/accounts/login/")
    assert MESSAGE.encode() not in again.content


def test_message_is_escaped(settings, logged_in, clock):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 60, "MESSAGE": "<script>alert(1)</script>"}
    clock.advance(61)
    response = logged_in.get("/private/", follow=True)
    assert b"<script>alert(1)</script>" not in response.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in response.content


def test_explicitly_empty_message_shows_nothing(settings, logged_in, clock, user):
    UserLogoutRuleFactory(user=user, message="")
    clock.advance(61)
    response = logged_in.get("/private/", follow=True)
    assert b'class="message"' not in response.content


def test_public_page_continues_as_anonymous_and_shows_the_message(logged_in, clock):
    clock.advance(61)
    response = logged_in.get("/")
    assert response.status_code == 200
    assert response.context["user"].is_anonymous
    assert response.content.count(MESSAGE.encode()) == 1


def test_signals_on_automatic_logout(logged_in, clock, user):
    received = []

    def on_auto_logout(sender, **kwargs):
        received.append(("auto_logout", sender, kwargs))

    def on_logged_out(sender, **kwargs):
        received.append(("user_logged_out", sender, kwargs))

    auto_logout.connect(on_auto_logout)
    user_logged_out.connect(on_logged_out)
    try:
        clock.advance(61)
        logged_in.get("/private/")
    finally:
        auto_logout.disconnect(on_auto_logout)
        user_logged_out.disconnect(on_logged_out)
    assert [name for name, _, _ in received] == ["user_logged_out", "auto_logout"]
    _, sender, kwargs = received[1]
    assert sender is type(user)
    assert kwargs["user"] == user
    assert kwargs["reason"] == "idle"
    assert kwargs["policy"].idle_time == 60
    assert kwargs["request"].path == "/private/"
    assert received[0][2]["user"] == user


def test_signal_reason_session(logged_in, clock, settings):
    settings.AUTO_LOGOUT = {"SESSION_TIME": 10}
    reasons = []

    def receiver(sender, reason, **kwargs):
        reasons.append(reason)

    auto_logout.connect(receiver)
    try:
        clock.advance(11)
        logged_in.get("/private/")
    finally:
        auto_logout.disconnect(receiver)
    assert reasons == ["session"]


def test_json_client_gets_401(logged_in, clock):
    clock.advance(61)
    response = logged_in.get("/private/", headers={"accept": "application/json"})
    assert response.status_code == 401
    assert response.json() == {
        "detail": "session expired",
        "reason": "idle",
        "message": MESSAGE,
        "login_url": LOGIN_REDIRECT,
    }
    assert not is_logged_in(logged_in)


def test_xhr_client_gets_401(logged_in, clock):
    clock.advance(61)
    response = logged_in.get("/private/", headers={"x-requested-with": "XMLHttpRequest"})
    assert response.status_code == 401


def test_without_messages_middleware_no_crash(settings, logged_in, clock):
    settings.MIDDLEWARE = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "logout_rules.middleware.AutoLogoutMiddleware",
    ]
    clock.advance(61)
    assert logged_in.get("/private/").status_code == 302


# --- anonymous requests --------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_requests_never_write_the_session(client, clock, monkeypatch):
    saves = count_saves(monkeypatch)
    for _ in range(3):
        assert client.get("/").status_code == 200
        clock.advance(1000)
    assert saves == []
    assert "sessionid" not in client.cookies
    assert Session.objects.count() == 0


# --- activity recording -------------------------------------------------------------------------


def count_saves(monkeypatch) -> list[str]:
    saves: list[str] = []
    original = SessionStore.save

    def save(self, must_create=False):
        saves.append(self.session_key or "")
        return original(self, must_create=must_create)

    monkeypatch.setattr(SessionStore, "save", save)
    return saves


def test_activity_is_recorded_at_most_once_per_resolution(settings, logged_in, clock, monkeypatch):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600}  # resolution: 5 % of 600 s = 30 s
    saves = count_saves(monkeypatch)
    for _ in range(29):
        clock.advance(1)
        assert logged_in.get("/private/").status_code == 200
    assert saves == []
    clock.advance(1)
    logged_in.get("/private/")
    assert len(saves) == 1
    assert session_of(logged_in).load()[session_keys.ACTIVITY_KEY] == clock.value


def test_configured_activity_resolution(settings, logged_in, clock, monkeypatch):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600}
    settings.LOGOUT_RULES_ACTIVITY_RESOLUTION = 0
    saves = count_saves(monkeypatch)
    for _ in range(3):
        clock.advance(1)
        logged_in.get("/private/")
    assert len(saves) == 3


def test_logout_is_at_most_one_resolution_early_never_late(settings, logged_in, clock):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600}  # resolution 30 s
    clock.advance(29)
    logged_in.get("/private/")  # not recorded: the recorded activity is still the login
    clock.advance(600 - 29 + 0.5)
    # 600.5 s since the recorded activity, 571.5 s since the real one: 28.5 s early (< 30 s).
    assert logged_in.get("/private/").status_code == 302


def test_recorded_activity_is_never_older_than_one_resolution(settings, logged_in, clock):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600}  # resolution 30 s
    clock.advance(30)
    logged_in.get("/private/")  # recorded
    clock.advance(600)
    assert logged_in.get("/private/").status_code == 200  # never late: exactly the limit


def test_passive_view_is_not_activity_but_still_logs_out(logged_in, clock):
    for _ in range(2):
        clock.advance(30)
        assert logged_in.get("/poll/").json() == {"authenticated": True}
    clock.advance(1)  # 61 s after the last real activity (the login)
    assert logged_in.get("/poll/").json() == {"authenticated": False}


def test_passive_url_setting(settings, logged_in, clock):
    settings.LOGOUT_RULES_PASSIVE_URLS = ["^/priv"]
    clock.advance(40)
    logged_in.get("/private/")
    clock.advance(21)
    assert logged_in.get("/private/").status_code == 302


def test_passive_url_name_setting(settings, logged_in, clock):
    settings.LOGOUT_RULES_PASSIVE_URLS = ["private"]
    clock.advance(40)
    logged_in.get("/private/")
    clock.advance(21)
    assert logged_in.get("/private/").status_code == 302


# --- what is activity -----------------------------------------------------------------------------


@pytest.mark.parametrize("site", ["same-origin", "same-site", "none", None])
def test_requests_of_this_site_are_activity(logged_in, clock, site):
    """A same-origin navigation, a typed URL or bookmark (``none``), and browsers that send no
    ``Sec-Fetch-Site`` at all: the user's own activity."""
    headers = {"sec-fetch-site": site} if site else {}
    clock.advance(40)
    assert logged_in.get("/private/", headers=headers).status_code == 200
    assert session_of(logged_in).load()[session_keys.ACTIVITY_KEY] == clock.value
    clock.advance(40)  # 80 s since the login, 40 s since that request
    assert logged_in.get("/private/").status_code == 200


def test_a_cross_site_request_is_not_activity_but_is_still_judged(logged_in, clock):
    """A link followed from another site, or a request another site embeds, carries the cookie
    but is not the user's activity here; the session is still judged on it."""
    cross = {"sec-fetch-site": "cross-site"}
    login = session_of(logged_in).load()[session_keys.ACTIVITY_KEY]
    clock.advance(40)
    assert logged_in.get("/private/", headers=cross).status_code == 200
    assert session_of(logged_in).load()[session_keys.ACTIVITY_KEY] == login
    clock.advance(21)  # 61 s after the last activity (the login)
    assert logged_in.get("/private/", headers=cross).status_code == 302
    assert not is_logged_in(logged_in)


def test_a_cross_site_page_shows_the_time_left_from_the_last_real_activity(logged_in, clock):
    clock.advance(40)
    page = logged_in.get("/page/", headers={"sec-fetch-site": "cross-site"})
    assert page.context["seconds_until_idle_end"] == 20
    page = logged_in.get("/page/")
    assert page.context["seconds_until_idle_end"] == 60


def test_a_cross_site_request_is_not_activity_on_the_async_stack(logged_in, clock, async_client):
    async_client.cookies = logged_in.cookies
    clock.advance(40)
    response = async_to_sync(async_client.get)(
        "/private-async/", headers={"sec-fetch-site": "cross-site"}
    )
    assert response.content == b"hello alice"
    clock.advance(21)
    assert async_to_sync(async_client.get)("/private-async/").content == b"anonymous"


def test_refused_requests_are_not_activity(user, clock):
    """Requests refused by CSRF (403) or as not allowed (405) are not activity."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    login = session_of(client).load()[session_keys.ACTIVITY_KEY]
    clock.advance(40)
    assert client.post("/logout-rules/extend/").status_code == 403
    assert client.get("/logout-rules/extend/").status_code == 405
    assert client.post("/private/").status_code == 403
    assert session_of(client).load()[session_keys.ACTIVITY_KEY] == login
    clock.advance(21)
    assert client.get("/private/").status_code == 302


def test_view_that_logs_out_gets_no_activity_written(logged_in, clock):
    clock.advance(30)
    assert logged_in.get("/do-logout/").status_code == 200
    assert session_keys.ACTIVITY_KEY not in session_of(logged_in).load()


# --- sessions from before the app, and garbage ---------------------------------------------------


def strip_our_keys(client: Client, **extra) -> None:
    store = session_of(client)
    data = store.load()
    data.pop(session_keys.LOGIN_KEY)
    data.pop(session_keys.ACTIVITY_KEY)
    data.update(extra)
    store._session_cache = data
    store.save()


def test_session_from_before_the_app_is_adopted(logged_in, clock, user):
    user.last_login = datetime.fromtimestamp(clock.value - 100, tz=timezone.utc)
    user.save()
    strip_our_keys(logged_in)
    clock.advance(30)
    assert logged_in.get("/private/").status_code == 200
    data = session_of(logged_in).load()
    # The session clock starts at user.last_login (never too strict), the idle clock now.
    assert data[session_keys.LOGIN_KEY] == clock.value - 130
    assert data[session_keys.ACTIVITY_KEY] == clock.value


def test_session_from_django_auto_logout_keeps_its_last_request(logged_in, clock):
    last = datetime.fromtimestamp(clock.value + 10, tz=timezone.utc).isoformat()
    strip_our_keys(logged_in, django_auto_logout_last_request=last)
    clock.advance(71)  # 61 s after the last request django-auto-logout recorded
    assert logged_in.get("/private/").status_code == 302


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_naive_django_auto_logout_time_is_read_in_time_zone(settings, logged_in, clock, user, zone):
    """django-auto-logout under ``USE_TZ = False`` stored naive local times (``TIME_ZONE``): a
    session idle for 61 s under a 60 s limit is ended, one active 20 s ago goes on."""
    from zoneinfo import ZoneInfo

    settings.USE_TZ = False
    settings.TIME_ZONE = zone

    def naive(at: float) -> str:
        return datetime.fromtimestamp(at, tz=ZoneInfo(zone)).replace(tzinfo=None).isoformat()

    last_login = datetime.fromtimestamp(clock.value - 3600, tz=ZoneInfo(zone))
    type(user).objects.filter(pk=user.pk).update(last_login=last_login.replace(tzinfo=None))
    strip_our_keys(logged_in, django_auto_logout_last_request=naive(clock.value - 20))
    assert logged_in.get("/private/").status_code == 200
    strip_our_keys(logged_in, django_auto_logout_last_request=naive(clock.value - 61))
    assert logged_in.get("/private/").status_code == 302  # idle 61 s under a 60 s limit
    assert not is_logged_in(logged_in)


def test_django_auto_logout_time_before_the_last_login_never_revives(logged_in, clock, user):
    # A login on another device moved last_login after this session's last request, 3 days ago:
    # the idle clock starts at last_login at the latest, never at "now".
    user.last_login = datetime.fromtimestamp(clock.value - 3600, tz=timezone.utc)
    user.save()
    last = datetime.fromtimestamp(clock.value - 3 * 86400, tz=timezone.utc).isoformat()
    strip_our_keys(logged_in, django_auto_logout_last_request=last)
    assert logged_in.get("/private/").status_code == 302


@pytest.mark.parametrize(
    "garbage",
    ["yesterday", None, [], {"a": 1}, True, -5, 1e30, float("nan")],
    ids=repr,
)
def test_garbage_session_values_are_treated_as_expired(garbage, logged_in, clock, caplog):
    store = session_of(logged_in)
    data = store.load()
    data[session_keys.ACTIVITY_KEY] = garbage
    if garbage is None:
        data[session_keys.LOGIN_KEY] = "not a number"
    store._session_cache = data
    store.save()
    response = logged_in.get("/private/")
    assert response.status_code == 302
    assert not is_logged_in(logged_in)
    assert "unusable" in caplog.text


# --- rules from the database ---------------------------------------------------------------------


def test_group_rules_apply(user, logged_in, clock, settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 3600}
    staff = GroupFactory(name="staff")
    everyone = GroupFactory(name="everyone")
    GroupLogoutRuleFactory(group=staff, priority=10, idle_time=timedelta(minutes=5))
    GroupLogoutRuleFactory(group=everyone, priority=100, idle_time=timedelta(minutes=30))
    user.groups.add(staff, everyone)
    clock.advance(300)
    assert logged_in.get("/private/").status_code == 200
    clock.advance(301)
    assert logged_in.get("/private/").status_code == 302


def test_user_rule_overrides_group_and_settings(user, logged_in, clock):
    staff = GroupFactory(name="staff")
    GroupLogoutRuleFactory(group=staff, idle_time=timedelta(seconds=10))
    user.groups.add(staff)
    UserLogoutRuleFactory(user=user, idle_time=timedelta(seconds=120))
    clock.advance(100)
    assert logged_in.get("/private/").status_code == 200


def test_global_rule_beats_settings(logged_in, clock):
    global_rule(idle_time=timedelta(seconds=20))
    clock.advance(21)
    assert logged_in.get("/private/").status_code == 302


def test_disabled_rules_are_ignored(user, logged_in, clock):
    staff = GroupFactory(name="staff")
    GroupLogoutRuleFactory(group=staff, idle_time=timedelta(seconds=5), enabled=False)
    user.groups.add(staff)
    UserLogoutRuleFactory(user=user, idle_time=timedelta(seconds=5), enabled=False)
    global_rule(idle_time=timedelta(seconds=5), enabled=False)
    clock.advance(50)
    assert logged_in.get("/private/").status_code == 200  # the settings' 60 s apply


def test_rule_message_replaces_settings_message(user, logged_in, clock):
    UserLogoutRuleFactory(user=user, message="Rule says bye")
    clock.advance(61)
    response = logged_in.get("/private/", follow=True)
    assert b"Rule says bye" in response.content
    assert MESSAGE.encode() not in response.content


def test_rule_change_applies_to_live_session_on_next_request(
    user, logged_in, clock, django_capture_on_commit_callbacks
):
    staff = GroupFactory(name="staff")
    rule = GroupLogoutRuleFactory(group=staff, idle_time=timedelta(minutes=30))
    user.groups.add(staff)
    clock.advance(100)
    assert logged_in.get("/private/").status_code == 200  # cached: 30 minutes
    with django_capture_on_commit_callbacks(execute=True):
        rule.idle_time = timedelta(seconds=50)
        rule.save()
    clock.advance(51)
    assert logged_in.get("/private/").status_code == 302


def test_membership_change_applies_on_next_request(
    user, logged_in, clock, django_capture_on_commit_callbacks
):
    strict = GroupFactory(name="strict")
    GroupLogoutRuleFactory(group=strict, idle_time=timedelta(seconds=10))
    clock.advance(5)
    assert logged_in.get("/private/").status_code == 200  # cached: settings' 60 s
    with django_capture_on_commit_callbacks(execute=True):
        user.groups.add(strict)
    clock.advance(11)
    assert logged_in.get("/private/").status_code == 302


def test_membership_change_from_the_group_side(
    user, logged_in, clock, django_capture_on_commit_callbacks
):
    strict = GroupFactory(name="strict")
    GroupLogoutRuleFactory(group=strict, idle_time=timedelta(seconds=10))
    logged_in.get("/private/")
    with django_capture_on_commit_callbacks(execute=True):
        strict.user_set.add(user)
    clock.advance(11)
    assert logged_in.get("/private/").status_code == 302


def test_deleting_the_rule_restores_the_lower_level(
    user, logged_in, clock, django_capture_on_commit_callbacks
):
    rule = UserLogoutRuleFactory(user=user, idle_time=timedelta(seconds=10))
    logged_in.get("/private/")
    with django_capture_on_commit_callbacks(execute=True):
        UserLogoutRule.objects.filter(pk=rule.pk).delete()
    clock.advance(30)
    assert logged_in.get("/private/").status_code == 200


def test_bulk_update_applies(user, logged_in, clock, django_capture_on_commit_callbacks):
    staff = GroupFactory(name="staff")
    GroupLogoutRuleFactory(group=staff, idle_time=timedelta(minutes=30))
    user.groups.add(staff)
    logged_in.get("/private/")
    with django_capture_on_commit_callbacks(execute=True):
        GroupLogoutRule.objects.update(idle_time=timedelta(seconds=5))
    clock.advance(6)
    assert logged_in.get("/private/").status_code == 302


# --- queries -------------------------------------------------------------------------------------


def count_queries(client: Client, path: str) -> int:
    """Queries of one request, without the savepoints the test's own transaction causes."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return sum(1 for query in queries if "SAVEPOINT" not in query["sql"])


def client_with(settings, middleware: list[str], logged_in: Client) -> Client:
    """A new client (its handler loads MIDDLEWARE afresh) sharing ``logged_in``'s session."""
    settings.MIDDLEWARE = middleware
    client = Client()
    client.cookies = logged_in.cookies
    return client


def test_warm_request_adds_no_query(settings, user, clock, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # as committed (see test_pending)
        staff = GroupFactory(name="staff")
        GroupLogoutRuleFactory(group=staff, idle_time=timedelta(minutes=5))
        user.groups.add(staff)
        UserLogoutRuleFactory(user=user, session_time=timedelta(hours=1))
    logged_in = Client()
    logged_in.force_login(user)
    bare = count_queries(client_with(settings, WITHOUT_US, logged_in), "/bare/")
    ours = client_with(settings, WITH_US, logged_in)
    count_queries(ours, "/bare/")  # warms the policy cache
    assert count_queries(ours, "/bare/") == bare
    assert bare == 2  # the session and the user


@pytest.mark.parametrize("groups", [1, 20])
def test_cold_request_adds_four_queries_whatever_the_group_count(
    settings, groups, clock, db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # as committed (see test_pending)
        user = UserFactory()
        for index in range(groups):
            rule = GroupLogoutRuleFactory(
                priority=index + 1, idle_time=timedelta(minutes=5 + index)
            )
            user.groups.add(rule.group)
        UserLogoutRuleFactory(user=user, session_time=timedelta(hours=1))
    logged_in = Client()
    logged_in.force_login(user)
    bare = count_queries(client_with(settings, WITHOUT_US, logged_in), "/bare/")
    ours = client_with(settings, WITH_US, logged_in)
    policy_cache.invalidate_all()  # cold (clearing a Redis cache would not reach the memo)
    assert count_queries(ours, "/bare/") == bare + 4
    assert count_queries(ours, "/bare/") == bare


def test_async_warm_request_adds_no_query(settings, user, clock, async_client):
    logged_in = Client()
    logged_in.force_login(user)
    settings.MIDDLEWARE = WITHOUT_US
    runner = AsyncRunner(AsyncClient(), logged_in)
    with CaptureQueriesContext(connection) as bare:
        assert runner.get("/private-async/").status_code == 200
    settings.MIDDLEWARE = WITH_US
    runner = AsyncRunner(AsyncClient(), logged_in)
    runner.get("/private-async/")
    with CaptureQueriesContext(connection) as ours:
        assert runner.get("/private-async/").status_code == 200
    assert len(ours) == len(bare) == 2


def test_middleware_is_sync_and_async_capable():
    assert AutoLogoutMiddleware.sync_capable
    assert AutoLogoutMiddleware.async_capable

    async def get_response(request):  # pragma: no cover - never called
        return None

    from asgiref.sync import iscoroutinefunction

    assert iscoroutinefunction(AutoLogoutMiddleware(get_response))
    assert not iscoroutinefunction(AutoLogoutMiddleware(lambda request: HttpResponse()))
