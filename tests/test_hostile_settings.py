"""Hostile and bad settings: every wrong type or value of ``AUTO_LOGOUT`` and of the app's own
``LOGOUT_RULES_*`` settings is reported by ``manage.py check`` with an id, and never turns into a
500 at request time (sync and async stacks, pages, JSON clients and the client endpoints).

``test_checks.py`` tests each check function; this catalogue goes through the registered checks
and then through real requests with the same bad value in place.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.core import checks as django_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from .factories import GroupFactory, GroupLogoutRuleFactory
from .test_faults import async_get

GOOD_AUTO_LOGOUT = {"IDLE_TIME": 600, "SESSION_TIME": 3600, "MESSAGE": "Bye."}
HUGE_INT = 10**400  # beyond any float: float(HUGE_INT) raises OverflowError


def bad(name: str, value: object, *expected: str, label: str | None = None):
    return pytest.param(name, value, list(expected), id=label or f"{name}={value!r}"[:60])


def auto(**values: object) -> dict[str, object]:
    return {**GOOD_AUTO_LOGOUT, **values}


CATALOGUE = [
    # --- AUTO_LOGOUT itself -----------------------------------------------------------------
    bad("AUTO_LOGOUT", "600", "logout_rules.E010"),
    bad("AUTO_LOGOUT", 600, "logout_rules.E010"),
    bad("AUTO_LOGOUT", [("IDLE_TIME", 600)], "logout_rules.E010"),
    bad("AUTO_LOGOUT", {"IDLE": 600}, "logout_rules.W011"),
    bad("AUTO_LOGOUT", {"idle_time": 600}, "logout_rules.W011"),
    bad("AUTO_LOGOUT", {1: 2}, "logout_rules.W011"),
    # --- durations (IDLE_TIME, SESSION_TIME, WARNING_TIME) ------------------------------------
    bad("AUTO_LOGOUT", auto(IDLE_TIME="600"), "logout_rules.E012"),
    bad("AUTO_LOGOUT", auto(IDLE_TIME="10"), "logout_rules.E012"),
    bad("AUTO_LOGOUT", auto(IDLE_TIME="ten minutes"), "logout_rules.E012"),
    bad("AUTO_LOGOUT", auto(IDLE_TIME="1 month"), "logout_rules.E012"),
    bad("AUTO_LOGOUT", auto(IDLE_TIME=0), "logout_rules.E012"),
    bad("AUTO_LOGOUT", auto(IDLE_TIME=-60), "logout_rules.E012"),
    bad("AUTO_LOGOUT", auto(IDLE_TIME=True), "logout_rules.E012"),
    bad("AUTO_LOGOUT", auto(IDLE_TIME=None), "logout_rules.E012"),
    bad("AUTO_LOGOUT", auto(IDLE_TIME=math.nan), "logout_rules.E012"),
    bad("AUTO_LOGOUT", auto(IDLE_TIME=math.inf), "logout_rules.E012"),
    bad("AUTO_LOGOUT", auto(IDLE_TIME=HUGE_INT), "logout_rules.E012", label="IDLE_TIME=10**400"),
    bad("AUTO_LOGOUT", auto(IDLE_TIME=1e300), "logout_rules.E012"),
    bad("AUTO_LOGOUT", auto(IDLE_TIME=timedelta(days=-1)), "logout_rules.E012"),
    bad("AUTO_LOGOUT", auto(IDLE_TIME=timedelta(0)), "logout_rules.E012"),
    bad("AUTO_LOGOUT", auto(IDLE_TIME=timedelta.max), "logout_rules.E012"),
    bad("AUTO_LOGOUT", auto(IDLE_TIME=[600]), "logout_rules.E012"),
    bad("AUTO_LOGOUT", auto(SESSION_TIME="1 hour later"), "logout_rules.E013"),
    bad("AUTO_LOGOUT", auto(SESSION_TIME="3651d"), "logout_rules.E013"),
    bad("AUTO_LOGOUT", auto(SESSION_TIME=-1), "logout_rules.E013"),
    bad("AUTO_LOGOUT", auto(SESSION_TIME=HUGE_INT), "logout_rules.E013", label="SESSION=10**400"),
    bad("AUTO_LOGOUT", auto(SESSION_TIME=timedelta(days=4000)), "logout_rules.E013"),
    bad("AUTO_LOGOUT", auto(WARNING_TIME="soon"), "logout_rules.E014"),
    bad("AUTO_LOGOUT", auto(WARNING_TIME=0), "logout_rules.E014"),
    bad("AUTO_LOGOUT", auto(WARNING_TIME=HUGE_INT), "logout_rules.E014", label="WARNING=10**400"),
    bad("AUTO_LOGOUT", auto(WARNING_TIME=600), "logout_rules.W017"),
    # --- MESSAGE and REDIRECT_TO_LOGIN_IMMEDIATELY -------------------------------------------
    bad("AUTO_LOGOUT", auto(MESSAGE=5), "logout_rules.E015"),
    bad("AUTO_LOGOUT", auto(MESSAGE=None), "logout_rules.E015"),
    bad("AUTO_LOGOUT", auto(MESSAGE=b"bytes"), "logout_rules.E015"),
    bad("AUTO_LOGOUT", auto(MESSAGE=["Bye."]), "logout_rules.E015"),
    bad("AUTO_LOGOUT", auto(REDIRECT_TO_LOGIN_IMMEDIATELY="yes"), "logout_rules.E016"),
    bad("AUTO_LOGOUT", auto(REDIRECT_TO_LOGIN_IMMEDIATELY=1), "logout_rules.E016"),
    bad("AUTO_LOGOUT", auto(REDIRECT_TO_LOGIN_IMMEDIATELY=None), "logout_rules.E016"),
    # --- LOGOUT_RULES_CACHE_ALIAS ---------------------------------------------------------------
    bad("LOGOUT_RULES_CACHE_ALIAS", "nope", "logout_rules.E021"),
    bad("LOGOUT_RULES_CACHE_ALIAS", "", "logout_rules.E021"),
    bad("LOGOUT_RULES_CACHE_ALIAS", 5, "logout_rules.E021"),
    bad("LOGOUT_RULES_CACHE_ALIAS", None, "logout_rules.E021"),
    # --- LOGOUT_RULES_CACHE_TIMEOUT -------------------------------------------------------------
    bad("LOGOUT_RULES_CACHE_TIMEOUT", 0, "logout_rules.E030"),
    bad("LOGOUT_RULES_CACHE_TIMEOUT", -5, "logout_rules.E030"),
    bad("LOGOUT_RULES_CACHE_TIMEOUT", "3600", "logout_rules.E030"),
    bad("LOGOUT_RULES_CACHE_TIMEOUT", 3600.5, "logout_rules.E030"),
    bad("LOGOUT_RULES_CACHE_TIMEOUT", True, "logout_rules.E030"),
    bad("LOGOUT_RULES_CACHE_TIMEOUT", None, "logout_rules.E030"),
    bad("LOGOUT_RULES_CACHE_TIMEOUT", 10**20, "logout_rules.E060"),
    # --- LOGOUT_RULES_CACHE_PREFIX --------------------------------------------------------------
    bad("LOGOUT_RULES_CACHE_PREFIX", "", "logout_rules.E031"),
    bad("LOGOUT_RULES_CACHE_PREFIX", 5, "logout_rules.E031"),
    bad("LOGOUT_RULES_CACHE_PREFIX", None, "logout_rules.E031"),
    bad("LOGOUT_RULES_CACHE_PREFIX", "my site", "logout_rules.E061"),
    bad("LOGOUT_RULES_CACHE_PREFIX", "rules\n", "logout_rules.E061"),
    bad("LOGOUT_RULES_CACHE_PREFIX", "x" * 300, "logout_rules.E061", label="PREFIX='x'*300"),
    # --- LOGOUT_RULES_ACTIVITY_RESOLUTION -------------------------------------------------------
    bad("LOGOUT_RULES_ACTIVITY_RESOLUTION", -1, "logout_rules.E032"),
    bad("LOGOUT_RULES_ACTIVITY_RESOLUTION", "5", "logout_rules.E032"),
    bad("LOGOUT_RULES_ACTIVITY_RESOLUTION", math.nan, "logout_rules.E032"),
    bad("LOGOUT_RULES_ACTIVITY_RESOLUTION", True, "logout_rules.E032"),
    bad("LOGOUT_RULES_ACTIVITY_RESOLUTION", timedelta(seconds=-5), "logout_rules.E032"),
    bad("LOGOUT_RULES_ACTIVITY_RESOLUTION", [5], "logout_rules.E032"),
    # --- LOGOUT_RULES_PASSIVE_URLS --------------------------------------------------------------
    bad("LOGOUT_RULES_PASSIVE_URLS", "^/poll/", "logout_rules.E033"),
    bad("LOGOUT_RULES_PASSIVE_URLS", None, "logout_rules.E033"),
    bad("LOGOUT_RULES_PASSIVE_URLS", [5], "logout_rules.E033"),
    bad("LOGOUT_RULES_PASSIVE_URLS", [""], "logout_rules.E033"),
    bad("LOGOUT_RULES_PASSIVE_URLS", {"poll": True}, "logout_rules.E033"),
    bad("LOGOUT_RULES_PASSIVE_URLS", ["^("], "logout_rules.E034"),
    bad("LOGOUT_RULES_PASSIVE_URLS", ["poll", "/[z-a]/"], "logout_rules.E034"),
    # --- LOGOUT_RULES_IMPORT_MAX_BYTES ----------------------------------------------------------
    bad("LOGOUT_RULES_IMPORT_MAX_BYTES", "10MB", "logout_rules.E040"),
    bad("LOGOUT_RULES_IMPORT_MAX_BYTES", 0, "logout_rules.E040"),
    bad("LOGOUT_RULES_IMPORT_MAX_BYTES", -1, "logout_rules.E040"),
    bad("LOGOUT_RULES_IMPORT_MAX_BYTES", 1.5, "logout_rules.E040"),
    # --- LOGOUT_RULES_MAX_IDLE_TIME / LOGOUT_RULES_MAX_SESSION_TIME (the ceilings) -------------
    bad("LOGOUT_RULES_MAX_IDLE_TIME", 0, "logout_rules.E090"),
    bad("LOGOUT_RULES_MAX_IDLE_TIME", -900, "logout_rules.E090"),
    bad("LOGOUT_RULES_MAX_IDLE_TIME", "900", "logout_rules.E090"),
    bad("LOGOUT_RULES_MAX_IDLE_TIME", "15 fortnights", "logout_rules.E090"),
    bad("LOGOUT_RULES_MAX_IDLE_TIME", True, "logout_rules.E090"),
    bad("LOGOUT_RULES_MAX_IDLE_TIME", math.nan, "logout_rules.E090"),
    bad("LOGOUT_RULES_MAX_IDLE_TIME", HUGE_INT, "logout_rules.E090", label="MAX_IDLE=10**400"),
    bad("LOGOUT_RULES_MAX_IDLE_TIME", timedelta(0), "logout_rules.E090"),
    bad("LOGOUT_RULES_MAX_IDLE_TIME", [900], "logout_rules.E090"),
    bad("LOGOUT_RULES_MAX_SESSION_TIME", timedelta(days=-1), "logout_rules.E091"),
    bad("LOGOUT_RULES_MAX_SESSION_TIME", "8", "logout_rules.E091"),
    bad("LOGOUT_RULES_MAX_SESSION_TIME", timedelta.max, "logout_rules.E091"),
    bad("LOGOUT_RULES_MAX_IDLE_TIME", 300, "logout_rules.W092", label="MAX_IDLE below AUTO_LOGOUT"),
    bad(
        "LOGOUT_RULES_MAX_SESSION_TIME",
        timedelta(minutes=30),
        "logout_rules.W093",
        label="MAX_SESSION below AUTO_LOGOUT",
    ),
    # --- LOGOUT_RULES_REVOKED_MESSAGE, LOGOUT_RULES_STATUS_POLL ---------------------------------
    bad("LOGOUT_RULES_REVOKED_MESSAGE", None, "logout_rules.E080"),
    bad("LOGOUT_RULES_REVOKED_MESSAGE", 5, "logout_rules.E080"),
    bad("LOGOUT_RULES_REVOKED_MESSAGE", b"bytes", "logout_rules.E080"),
    bad("LOGOUT_RULES_STATUS_POLL", "60", "logout_rules.E081"),
    bad("LOGOUT_RULES_STATUS_POLL", 0, "logout_rules.E081"),
    bad("LOGOUT_RULES_STATUS_POLL", -1, "logout_rules.E081"),
    bad("LOGOUT_RULES_STATUS_POLL", False, "logout_rules.E081"),
    bad("LOGOUT_RULES_STATUS_POLL", math.nan, "logout_rules.E081"),
    bad("LOGOUT_RULES_STATUS_POLL", HUGE_INT, "logout_rules.E081", label="POLL=10**400"),
    bad("LOGOUT_RULES_STATUS_POLL", timedelta(0), "logout_rules.E081"),
    bad("LOGOUT_RULES_STATUS_POLL", 0.5, "logout_rules.W080"),
]

#: Settings that are valid though unusual: no check message at all.
ACCEPTED = [
    pytest.param("AUTO_LOGOUT", None, id="AUTO_LOGOUT=None"),
    pytest.param("AUTO_LOGOUT", {}, id="AUTO_LOGOUT={}"),
    pytest.param("AUTO_LOGOUT", auto(IDLE_TIME=0.5, MESSAGE=""), id="tiny-idle-no-message"),
    pytest.param("LOGOUT_RULES_ACTIVITY_RESOLUTION", 0, id="resolution-0"),
    pytest.param("LOGOUT_RULES_ACTIVITY_RESOLUTION", HUGE_INT, id="resolution-10**400"),
    pytest.param("LOGOUT_RULES_ACTIVITY_RESOLUTION", math.inf, id="resolution-inf"),
    pytest.param("LOGOUT_RULES_PASSIVE_URLS", [], id="passive-empty"),
    pytest.param("LOGOUT_RULES_CACHE_PREFIX", "site-1:rules", id="prefix-colons"),
    pytest.param("AUTO_LOGOUT", auto(IDLE_TIME="10 minutes", SESSION_TIME="1h"), id="strings"),
    pytest.param("LOGOUT_RULES_MAX_IDLE_TIME", None, id="no-idle-ceiling"),
    # The group rule of ``logged_in_staff`` sets 30 minutes: equal to the ceiling is not above it.
    pytest.param("LOGOUT_RULES_MAX_IDLE_TIME", 1800, id="idle-ceiling-equal"),
    pytest.param("LOGOUT_RULES_MAX_IDLE_TIME", "1h", id="idle-ceiling-string"),
    pytest.param("LOGOUT_RULES_MAX_SESSION_TIME", timedelta(hours=8), id="session-ceiling"),
    pytest.param("LOGOUT_RULES_REVOKED_MESSAGE", "", id="revoked-message-none"),
    pytest.param("LOGOUT_RULES_STATUS_POLL", None, id="poll-off"),
    pytest.param("LOGOUT_RULES_STATUS_POLL", timedelta(minutes=5), id="poll-5-minutes"),
]


def our_ids() -> list[str]:
    """What ``manage.py check`` reports from this app (the registered checks, all of them)."""
    return sorted(
        message.id
        for message in django_checks.run_checks(include_deployment_checks=False)
        if message.id and message.id.startswith("logout_rules.") and not message.is_silenced()
    )


@pytest.fixture
def logged_in_staff(logged_in, user):
    """The logged-in user is in a group with a rule, so the database level is used too."""
    group = GroupFactory(name="staff")
    GroupLogoutRuleFactory(group=group, idle_time=timedelta(minutes=30))
    user.groups.add(group)
    return logged_in


def requests_never_500(client: Client, async_client, clock) -> None:
    """Every kind of request this app touches, before and after every limit has passed.

    The test client re-raises any exception a view or middleware raises, so a crash fails the
    test with its traceback; a 5xx answer fails the status assertions.
    """
    json = {"HTTP_ACCEPT": "application/json"}
    for advance in (0, 30, 10**6):
        clock.advance(advance)
        assert client.get("/page/").status_code in (200, 302)
        assert client.get("/private/", **json).status_code in (200, 302, 401)
        assert client.get("/logout-rules/status/").status_code in (200, 401)
        assert client.post("/logout-rules/extend/").status_code in (200, 401)
        async_client.cookies = client.cookies
        response = async_get(async_client, "/private-async/")
        assert response.status_code in (200, 403)
        client.cookies.update(response.cookies)
    assert Client().get("/").status_code == 200  # anonymous


@pytest.mark.parametrize(("name", "value", "expected"), CATALOGUE)
def test_bad_setting_is_reported_by_check_with_its_id(settings, name, value, expected):
    setattr(settings, name, value)
    assert our_ids() == sorted(expected)


@pytest.mark.parametrize(("name", "value", "expected"), CATALOGUE)
def test_bad_setting_never_causes_a_500(
    settings, name, value, expected, logged_in_staff, async_client, clock
):
    setattr(settings, name, value)
    requests_never_500(logged_in_staff, async_client, clock)


@pytest.mark.parametrize(("name", "value"), ACCEPTED)
def test_unusual_but_valid_settings_pass_and_serve(
    settings, name, value, logged_in_staff, async_client, clock
):
    setattr(settings, name, value)
    assert our_ids() == []
    requests_never_500(logged_in_staff, async_client, clock)


def test_manage_py_check_fails_with_the_ids(settings):
    settings.AUTO_LOGOUT = auto(IDLE_TIME=HUGE_INT, MESSAGE=5)
    settings.LOGOUT_RULES_CACHE_TIMEOUT = 10**20
    with pytest.raises(SystemCheckError) as raised:
        call_command("check")
    for check_id in ("logout_rules.E012", "logout_rules.E015", "logout_rules.E060"):
        assert check_id in str(raised.value)


def test_bad_values_fall_back_to_safe_defaults_at_request_time(settings, logged_in, clock):
    """What a bad value means while it is still deployed: the invalid entry is ignored (the
    other entries still apply), never a longer limit than a valid setting would give."""
    settings.AUTO_LOGOUT = {"IDLE_TIME": HUGE_INT, "SESSION_TIME": 120, "MESSAGE": 5}
    settings.LOGOUT_RULES_ACTIVITY_RESOLUTION = HUGE_INT
    settings.LOGOUT_RULES_CACHE_TIMEOUT = 10**20
    assert logged_in.get("/private/").status_code == 200
    clock.advance(121)
    assert logged_in.get("/private/").status_code == 302


def test_misordered_middleware_never_500(settings, logged_in, clock):
    """E002/E003/W005: our middleware before the session and authentication middlewares."""
    settings.MIDDLEWARE = [
        "logout_rules.middleware.AutoLogoutMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ]
    assert {"logout_rules.E002", "logout_rules.E003"} <= set(our_ids())
    clock.advance(10**6)
    assert logged_in.get("/page/").status_code == 200
    assert logged_in.get("/private/").status_code == 200  # not enforced: hence the errors


def test_missing_messages_middleware_never_500(settings, logged_in, clock):
    settings.MIDDLEWARE = [
        m
        for m in settings.MIDDLEWARE
        if m != "django.contrib.messages.middleware.MessageMiddleware"
    ]
    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "logout_rules.context_processors.auto_logout_client",
                ]
            },
        }
    ]
    assert "logout_rules.W004" in our_ids()
    clock.advance(601)
    assert logged_in.get("/private/").status_code == 302  # logged out, message dropped silently
