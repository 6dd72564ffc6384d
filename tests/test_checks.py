"""Every system check, called directly (ids compared), plus registration through ``check``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils.translation import gettext_lazy

from logout_rules import checks

SESSION = "django.contrib.sessions.middleware.SessionMiddleware"
AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
MESSAGES = "django.contrib.messages.middleware.MessageMiddleware"
OURS = "logout_rules.middleware.AutoLogoutMiddleware"


def ids(messages) -> list[str]:
    return [message.id for message in messages]


@pytest.mark.parametrize(
    ("middleware", "auto_logout", "expected"),
    [
        ([SESSION, AUTH, MESSAGES, OURS], {"MESSAGE": "x"}, []),
        ([SESSION, AUTH, MESSAGES], {}, ["logout_rules.E001"]),
        (
            [OURS, SESSION, AUTH, MESSAGES],
            {},
            ["logout_rules.E002", "logout_rules.E003", "logout_rules.W005"],
        ),
        ([SESSION, OURS, AUTH, MESSAGES], {}, ["logout_rules.E003", "logout_rules.W005"]),
        ([AUTH, OURS], {}, ["logout_rules.E002"]),
        ([SESSION, AUTH, OURS], {"MESSAGE": "bye"}, ["logout_rules.W004"]),
        ([SESSION, AUTH, OURS], {"MESSAGE": ""}, []),
        ([SESSION, AUTH, OURS], {}, []),
        (
            [SESSION, AUTH, MESSAGES, "tests.test_checks.SubclassedMiddleware"],
            {},
            [],
        ),
    ],
)
def test_middleware_checks(settings, middleware, auto_logout, expected):
    settings.MIDDLEWARE = middleware
    settings.AUTO_LOGOUT = auto_logout
    assert ids(checks.check_middleware()) == expected


class SubclassedMiddleware(checks.import_string(OURS)):
    pass


@pytest.mark.parametrize(
    ("auto_logout", "expected"),
    [
        ({"IDLE_TIME": 600, "SESSION_TIME": timedelta(hours=1), "MESSAGE": "m"}, []),
        ({"IDLE_TIME": 0.5, "WARNING_TIME": 0.1, "REDIRECT_TO_LOGIN_IMMEDIATELY": False}, []),
        (None, []),
        ([("IDLE_TIME", 5)], ["logout_rules.E010"]),
        ("600", ["logout_rules.E010"]),
        ({"IDLE": 5}, ["logout_rules.W011"]),
        ({"IDLE_TIME": "600"}, ["logout_rules.E012"]),
        ({"IDLE_TIME": 0}, ["logout_rules.E012"]),
        ({"IDLE_TIME": -1}, ["logout_rules.E012"]),
        ({"IDLE_TIME": True}, ["logout_rules.E012"]),
        ({"IDLE_TIME": None}, ["logout_rules.E012"]),
        ({"IDLE_TIME": float("inf")}, ["logout_rules.E012"]),
        ({"IDLE_TIME": timedelta(days=10000)}, ["logout_rules.E012"]),
        ({"SESSION_TIME": timedelta(0)}, ["logout_rules.E013"]),
        ({"SESSION_TIME": "1h", "IDLE_TIME": "15 minutes", "WARNING_TIME": "PT1M"}, []),
        ({"SESSION_TIME": "1"}, ["logout_rules.E013"]),
        ({"SESSION_TIME": "1 year"}, ["logout_rules.E013"]),
        ({"WARNING_TIME": [1]}, ["logout_rules.E014"]),
        ({"MESSAGE": 5}, ["logout_rules.E015"]),
        ({"MESSAGE": None}, ["logout_rules.E015"]),
        ({"REDIRECT_TO_LOGIN_IMMEDIATELY": "yes"}, ["logout_rules.E016"]),
        ({"REDIRECT_TO_LOGIN_IMMEDIATELY": 1}, ["logout_rules.E016"]),
        ({"IDLE_TIME": 60, "WARNING_TIME": 60}, ["logout_rules.W017"]),
    ],
)
def test_auto_logout_checks(settings, auto_logout, expected):
    settings.AUTO_LOGOUT = auto_logout
    assert ids(checks.check_auto_logout()) == expected


def test_missing_auto_logout_is_fine(settings):
    del settings.AUTO_LOGOUT
    assert checks.check_auto_logout() == []


def test_redirect_flag_without_context_processor_warns(settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 60, "REDIRECT_TO_LOGIN_IMMEDIATELY": True}
    assert checks.check_auto_logout() == []
    settings.TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {"context_processors": []},
        }
    ]
    assert ids(checks.check_auto_logout()) == ["logout_rules.W006"]


def test_error_messages_name_the_value_and_have_hints(settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": "600"}
    (error,) = checks.check_auto_logout()
    assert error.msg == "AUTO_LOGOUT['IDLE_TIME'] is invalid: '600'."
    assert "timedelta" in error.hint


def test_required_apps(settings):
    assert checks.check_apps() == []
    settings.INSTALLED_APPS = [
        app for app in settings.INSTALLED_APPS if app not in ("solo", "import_export")
    ]
    errors = checks.check_apps()
    assert ids(errors) == ["logout_rules.E020", "logout_rules.E020"]
    assert ["'solo'" in errors[0].msg, "'import_export'" in errors[1].msg] == [True, True]


@pytest.mark.parametrize(
    ("caches", "alias", "debug", "expected"),
    [
        (
            {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}},
            "default",
            False,
            [],
        ),
        (
            {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
            "default",
            True,
            ["logout_rules.W024"],  # runserver: a command's change would not reach it
        ),
        (
            {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache"}},
            "default",
            True,
            [],  # shared by the processes of one machine
        ),
        (
            {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache"}},
            "default",
            False,
            [],
        ),
        (
            {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
            "default",
            False,
            ["logout_rules.W022"],
        ),
        (
            {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}},
            "default",
            True,
            ["logout_rules.W023"],
        ),
        (
            {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
            "nope",
            True,
            ["logout_rules.E021"],
        ),
        (
            {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
            5,
            True,
            ["logout_rules.E021"],
        ),
    ],
)
def test_cache_checks(settings, caches, alias, debug, expected):
    settings.CACHES = caches
    settings.LOGOUT_RULES_CACHE_ALIAS = alias
    settings.DEBUG = debug
    assert ids(checks.check_cache()) == expected


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("LOGOUT_RULES_CACHE_TIMEOUT", 60, []),
        ("LOGOUT_RULES_CACHE_TIMEOUT", 0, ["logout_rules.E030"]),
        ("LOGOUT_RULES_CACHE_TIMEOUT", "60", ["logout_rules.E030"]),
        ("LOGOUT_RULES_CACHE_TIMEOUT", None, ["logout_rules.E030"]),
        ("LOGOUT_RULES_CACHE_PREFIX", "x", []),
        ("LOGOUT_RULES_CACHE_PREFIX", "", ["logout_rules.E031"]),
        ("LOGOUT_RULES_CACHE_PREFIX", 5, ["logout_rules.E031"]),
        ("LOGOUT_RULES_ACTIVITY_RESOLUTION", None, []),
        ("LOGOUT_RULES_ACTIVITY_RESOLUTION", 0, []),
        ("LOGOUT_RULES_ACTIVITY_RESOLUTION", timedelta(seconds=5), []),
        ("LOGOUT_RULES_ACTIVITY_RESOLUTION", -1, ["logout_rules.E032"]),
        ("LOGOUT_RULES_ACTIVITY_RESOLUTION", "5", ["logout_rules.E032"]),
        ("LOGOUT_RULES_ACTIVITY_RESOLUTION", timedelta(seconds=-5), ["logout_rules.E032"]),
        ("LOGOUT_RULES_PASSIVE_URLS", ["health", "^/api/poll/"], []),
        ("LOGOUT_RULES_PASSIVE_URLS", "health", ["logout_rules.E033"]),
        ("LOGOUT_RULES_PASSIVE_URLS", [5], ["logout_rules.E033"]),
        ("LOGOUT_RULES_PASSIVE_URLS", ["^("], ["logout_rules.E034"]),
        ("LOGOUT_RULES_REVOKED_MESSAGE", "Signed out.", []),
        ("LOGOUT_RULES_REVOKED_MESSAGE", "", []),
        ("LOGOUT_RULES_REVOKED_MESSAGE", gettext_lazy("Signed out."), []),
        ("LOGOUT_RULES_REVOKED_MESSAGE", None, ["logout_rules.E080"]),
        ("LOGOUT_RULES_REVOKED_MESSAGE", 5, ["logout_rules.E080"]),
        ("LOGOUT_RULES_REVOKED_MESSAGE", ["bye"], ["logout_rules.E080"]),
        ("LOGOUT_RULES_STATUS_POLL", 60, []),
        ("LOGOUT_RULES_STATUS_POLL", None, []),
        ("LOGOUT_RULES_STATUS_POLL", 30.5, []),
        ("LOGOUT_RULES_STATUS_POLL", timedelta(minutes=2), []),
        ("LOGOUT_RULES_STATUS_POLL", 0, ["logout_rules.E081"]),
        ("LOGOUT_RULES_STATUS_POLL", -60, ["logout_rules.E081"]),
        ("LOGOUT_RULES_STATUS_POLL", "60", ["logout_rules.E081"]),
        ("LOGOUT_RULES_STATUS_POLL", True, ["logout_rules.E081"]),
        ("LOGOUT_RULES_STATUS_POLL", float("inf"), ["logout_rules.E081"]),
        ("LOGOUT_RULES_STATUS_POLL", timedelta(days=4000), ["logout_rules.E081"]),
        ("LOGOUT_RULES_STATUS_POLL", 2, ["logout_rules.W080"]),
        ("LOGOUT_RULES_STATUS_POLL", timedelta(seconds=1), ["logout_rules.W080"]),
    ],
)
def test_app_settings_checks(settings, name, value, expected):
    setattr(settings, name, value)
    assert ids(checks.check_app_settings()) == expected


def test_revocation_setting_messages_name_the_value(settings):
    settings.LOGOUT_RULES_REVOKED_MESSAGE = 5
    settings.LOGOUT_RULES_STATUS_POLL = "soon"
    errors = checks.check_app_settings()
    assert [error.msg for error in errors] == [
        "LOGOUT_RULES_REVOKED_MESSAGE must be a string: 5.",
        "LOGOUT_RULES_STATUS_POLL must be None, a positive number of seconds, a timedelta or a "
        "string with a unit, of at most 3650 days: 'soon'.",
    ]
    assert all(error.hint for error in errors)


def test_every_id_is_unique_and_documented():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for check_id in checks.CHECKS:
        assert check_id in readme, f"{check_id} is not in the README"


def test_checks_are_registered(settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": "ten minutes"}
    with pytest.raises(SystemCheckError, match=r"logout_rules\.E012"):
        call_command("check")


def test_clean_settings_pass_check(settings):
    call_command("check")


def test_bad_settings_never_cause_a_500(settings, logged_in, clock):
    settings.AUTO_LOGOUT = {"IDLE_TIME": "600", "MESSAGE": 5, "REDIRECT_TO_LOGIN_IMMEDIATELY": 3}
    settings.LOGOUT_RULES_ACTIVITY_RESOLUTION = "soon"
    settings.LOGOUT_RULES_CACHE_TIMEOUT = "long"
    settings.LOGOUT_RULES_PASSIVE_URLS = ["^("]
    clock.advance(10**6)
    assert logged_in.get("/page/").status_code == 200
