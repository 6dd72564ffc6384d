"""Settings are read at call time: overrides always apply."""

from __future__ import annotations

from datetime import timedelta

from django.utils import translation
from django.utils.translation import gettext_lazy

from logout_rules.conf import conf, duration_seconds, parse_auto_logout
from logout_rules.policy import NO_CEILINGS, Ceilings, Rule


def test_auto_logout_is_read_live(settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 5}
    assert conf.settings_rule.idle_time == 5
    settings.AUTO_LOGOUT = {"IDLE_TIME": timedelta(minutes=1), "MESSAGE": "m"}
    assert conf.settings_rule == Rule(idle_time=60, message="m")
    del settings.AUTO_LOGOUT
    assert conf.settings_rule == Rule()


def test_in_place_mutation_is_seen(settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 5}
    assert conf.settings_rule.idle_time == 5
    settings.AUTO_LOGOUT["IDLE_TIME"] = 6
    assert conf.settings_rule.idle_time == 6


def test_invalid_values_are_ignored_not_raised():
    rule = parse_auto_logout(
        {"IDLE_TIME": "600", "SESSION_TIME": -1, "MESSAGE": 3, "REDIRECT_TO_LOGIN_IMMEDIATELY": 1}
    )
    assert rule == Rule()
    assert parse_auto_logout(["IDLE_TIME"]) == Rule()


def test_duration_seconds():
    assert duration_seconds(90) == 90.0
    assert duration_seconds(timedelta(minutes=2)) == 120.0
    assert duration_seconds(1.5) == 1.5
    for bad in (0, -1, True, "5", None, float("nan"), timedelta(days=4000)):
        assert duration_seconds(bad) is None


def test_app_settings_defaults_and_overrides(settings):
    assert conf.CACHE_ALIAS == "default"
    assert conf.CACHE_TIMEOUT == 3600
    assert conf.CACHE_PREFIX == "logout_rules"
    assert conf.ACTIVITY_RESOLUTION is None
    settings.LOGOUT_RULES_CACHE_ALIAS = "other"
    settings.LOGOUT_RULES_CACHE_TIMEOUT = 10
    settings.LOGOUT_RULES_CACHE_PREFIX = "p"
    settings.LOGOUT_RULES_ACTIVITY_RESOLUTION = timedelta(seconds=3)
    assert (conf.CACHE_ALIAS, conf.CACHE_TIMEOUT, conf.CACHE_PREFIX) == ("other", 10, "p")
    assert conf.ACTIVITY_RESOLUTION == 3.0
    settings.LOGOUT_RULES_CACHE_TIMEOUT = "bad"
    settings.LOGOUT_RULES_ACTIVITY_RESOLUTION = -4
    settings.LOGOUT_RULES_CACHE_ALIAS = 5
    settings.LOGOUT_RULES_CACHE_PREFIX = ""
    assert (conf.CACHE_ALIAS, conf.CACHE_TIMEOUT, conf.CACHE_PREFIX) == (
        "default",
        3600,
        "logout_rules",
    )
    assert conf.ACTIVITY_RESOLUTION is None


def test_passive_urls(settings):
    settings.LOGOUT_RULES_PASSIVE_URLS = ["health", "^/api/", "/poll/", "", 5, "^("]
    patterns = conf.PASSIVE_URLS
    assert patterns.names == frozenset({"health"})
    assert [regex.pattern for regex in patterns.regexes] == ["^/api/", "/poll/"]
    settings.LOGOUT_RULES_PASSIVE_URLS = "health"
    assert conf.PASSIVE_URLS.names == frozenset()


def test_auto_logout_accepts_strings_with_units(settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": "15m", "SESSION_TIME": "8 hours", "WARNING_TIME": "PT1M"}
    assert conf.settings_rule == Rule(idle_time=900, session_time=28800, warning_time=60)
    settings.AUTO_LOGOUT = {"IDLE_TIME": "15"}  # no unit: invalid (logout_rules.E012), ignored
    assert conf.settings_rule == Rule()


def test_ceilings_default_to_none(settings):
    assert conf.ceilings is NO_CEILINGS
    assert (conf.MAX_IDLE_TIME, conf.MAX_SESSION_TIME) == (None, None)


def test_ceilings_accept_seconds_timedeltas_and_strings_and_apply_at_once(settings):
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 900
    settings.LOGOUT_RULES_MAX_SESSION_TIME = timedelta(hours=8)
    assert conf.ceilings == Ceilings(idle_time=900, session_time=28800)
    first = conf.ceilings
    assert conf.ceilings is first  # parsed once per settings change
    settings.LOGOUT_RULES_MAX_IDLE_TIME = "10m"
    assert conf.MAX_IDLE_TIME == 600
    assert conf.ceilings is not first
    settings.LOGOUT_RULES_MAX_IDLE_TIME = None
    settings.LOGOUT_RULES_MAX_SESSION_TIME = None
    assert conf.ceilings is NO_CEILINGS


def test_an_invalid_ceiling_is_ignored_and_logged_never_raised(settings, caplog):
    settings.LOGOUT_RULES_MAX_IDLE_TIME = "15"
    settings.LOGOUT_RULES_MAX_SESSION_TIME = -1
    with caplog.at_level("ERROR", logger="logout_rules"):
        assert conf.ceilings is NO_CEILINGS
    assert "LOGOUT_RULES_MAX_IDLE_TIME = '15' is not a valid duration" in caplog.text
    assert "LOGOUT_RULES_MAX_SESSION_TIME = -1 is not a valid duration" in caplog.text


def test_revoked_message(settings):
    assert conf.REVOKED_MESSAGE == "You have been signed out."
    settings.LOGOUT_RULES_REVOKED_MESSAGE = ""
    assert conf.REVOKED_MESSAGE == ""
    settings.LOGOUT_RULES_REVOKED_MESSAGE = gettext_lazy("Signed out by an administrator.")
    assert conf.REVOKED_MESSAGE == "Signed out by an administrator."
    settings.LOGOUT_RULES_REVOKED_MESSAGE = 5  # E080; the default applies at request time
    assert conf.REVOKED_MESSAGE == "You have been signed out."


def test_revoked_message_is_translated_when_shown(settings):
    with translation.override("fr"):
        translated = conf.REVOKED_MESSAGE
    assert translated != "You have been signed out."
    assert conf.REVOKED_MESSAGE == "You have been signed out."


def test_status_poll(settings):
    assert conf.STATUS_POLL == 60.0
    settings.LOGOUT_RULES_STATUS_POLL = None
    assert conf.STATUS_POLL is None
    settings.LOGOUT_RULES_STATUS_POLL = timedelta(seconds=90)
    assert conf.STATUS_POLL == 90.0
    settings.LOGOUT_RULES_STATUS_POLL = 1.5
    assert conf.STATUS_POLL == 1.5
    for bad in (0, -5, "60", True, float("nan")):  # E081; the default applies at request time
        settings.LOGOUT_RULES_STATUS_POLL = bad
        assert conf.STATUS_POLL == 60.0
