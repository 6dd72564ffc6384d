"""The audit trail's recording: one ``LogoutEvent`` per automatic logout, written by a receiver of
``auto_logout`` (sync and async, db and cache sessions), never on the warm path, never a 500."""

from __future__ import annotations

import logging
from datetime import timedelta
from importlib import import_module
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from logout_rules import cache as policy_cache
from logout_rules import checks, events, policy
from logout_rules import session as session_keys
from logout_rules.models import LogoutEvent

from .factories import (
    GroupFactory,
    GroupLogoutRuleFactory,
    SessionRevocationFactory,
    UserFactory,
    UserLogoutRuleFactory,
    global_rule,
)
from .test_middleware import AsyncRunner
from .test_revocations import assert_signed_out, at, path_for

pytestmark = pytest.mark.django_db

LOGIN_REDIRECT = "/accounts/login/?next=/private/"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600, "SESSION_TIME": 36000, "MESSAGE": "Bye."}


@pytest.fixture(autouse=True)
def _fresh_rate_limit(monkeypatch):
    """Each test starts with no failure logged yet."""
    monkeypatch.setattr(policy_cache, "_last_logged", {})


@pytest.fixture(params=["db", "cache"])
def engine(request, settings) -> str:
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{request.param}"
    return str(request.param)


@pytest.fixture(params=["sync", "async"])
def get(request, engine, logged_in, async_client):
    """``get(path)`` through the WSGI or the ASGI handler, as the logged-in user."""
    if request.param == "sync":
        return logged_in.get
    return AsyncRunner(async_client, logged_in).get


@pytest.fixture
def errors(caplog):
    """``errors(text)``: the app's log records at ERROR whose message contains ``text``."""
    caplog.set_level(logging.ERROR, logger="logout_rules")

    def find(text: str) -> list[logging.LogRecord]:
        return [
            record
            for record in caplog.records
            if record.name == "logout_rules" and text in record.getMessage()
        ]

    return find


def only_event() -> LogoutEvent:
    rows = list(LogoutEvent.objects.all())
    assert len(rows) == 1, rows
    return rows[0]


# --- one row per automatic logout -----------------------------------------------------------------


def test_idle_logout_records_the_idle_limit_and_its_group(get, user, clock):
    login = clock.value
    staff = GroupFactory(name="staff")
    user.groups.add(staff)
    GroupLogoutRuleFactory(group=staff, idle_time=timedelta(seconds=60))
    path = path_for(get)
    assert get(path).status_code == 200
    clock.advance(61)
    assert_signed_out(get(path), path)
    event = only_event()
    assert event.reason == "idle"
    assert event.limit == timedelta(seconds=60)
    assert event.source == 'group "staff"'
    assert event.user == user
    assert event.username == "alice"
    assert event.login_at == at(login)
    assert event.at == at(clock.value)


def test_session_logout_records_the_session_limit_and_the_user_rule(get, user, clock):
    login = clock.value
    UserLogoutRuleFactory(user=user, session_time=timedelta(seconds=120))
    path = path_for(get)
    clock.advance(100)
    assert get(path).status_code == 200  # active: the idle limit is far
    clock.advance(30)
    assert_signed_out(get(path), path)
    event = only_event()
    assert event.reason == "session"
    assert event.limit == timedelta(seconds=120)
    assert event.source == "user rule"
    assert event.login_at == at(login)
    assert event.at == at(login + 130)


def test_a_limit_from_settings_says_settings(get, user, clock):
    path = path_for(get)
    clock.advance(601)
    assert_signed_out(get(path), path)
    event = only_event()
    assert (event.reason, event.limit, event.source) == (
        "idle",
        timedelta(seconds=600),
        "settings",
    )


def test_a_limit_from_the_global_rule_says_global_rule(logged_in, clock):
    global_rule(session_time=timedelta(seconds=30))
    clock.advance(31)
    assert logged_in.get("/private/").status_code == 302
    event = only_event()
    assert (event.reason, event.limit, event.source) == (
        "session",
        timedelta(seconds=30),
        "global rule",
    )


@pytest.mark.parametrize(
    ("subject", "source"),
    [
        ("user", "revocation of user"),
        ("group", 'revocation of group "staff"'),
        ("everyone", "revocation of everyone"),
    ],
)
def test_a_revocation_records_its_scope_and_no_limit(get, user, clock, committed, subject, source):
    login = clock.value
    path = path_for(get)
    assert get(path).status_code == 200
    scope: dict[str, Any] = {}
    if subject == "user":
        scope["user"] = user
    elif subject == "group":
        staff = GroupFactory(name="staff")
        user.groups.add(staff)
        scope["group"] = staff
    committed(lambda: SessionRevocationFactory(not_before=at(clock.value + 1), **scope))
    clock.advance(2)
    assert_signed_out(get(path), path)
    event = only_event()
    assert event.reason == "revoked"
    assert event.limit is None
    assert event.source == source
    assert event.login_at == at(login)
    assert event.username == "alice"


def test_one_row_per_logout_and_none_for_other_requests(logged_in, user, clock):
    for _ in range(3):
        clock.advance(60)
        assert logged_in.get("/private/").status_code == 200
    assert not LogoutEvent.objects.exists()
    clock.advance(601)
    assert logged_in.get("/private/").status_code == 302
    assert logged_in.get("/private/").status_code == 302  # anonymous now: nothing more
    assert LogoutEvent.objects.count() == 1
    logged_in.force_login(user)
    clock.advance(601)
    assert logged_in.get("/private/").status_code == 302
    assert LogoutEvent.objects.count() == 2


def test_a_logout_by_the_user_is_not_an_automatic_logout(logged_in, clock):
    assert logged_in.get("/do-logout/").status_code == 200
    assert not LogoutEvent.objects.exists()


def test_anonymous_requests_record_nothing(client, clock):
    assert client.get("/private/").status_code == 302
    assert not LogoutEvent.objects.exists()


def test_a_json_client_is_recorded_too(logged_in, clock):
    clock.advance(601)
    response = logged_in.get("/private/", headers={"accept": "application/json"})
    assert response.status_code == 401
    assert only_event().reason == "idle"


def test_the_deleted_users_events_keep_the_username(logged_in, user, clock):
    clock.advance(601)
    logged_in.get("/private/")
    user.delete()
    event = only_event()
    assert event.user is None
    assert event.username == "alice"


# --- sessions ended fail-closed -------------------------------------------------------------------


def write_session(client, **values: Any) -> None:
    engine = import_module(django_settings.SESSION_ENGINE)
    store = engine.SessionStore(client.cookies[django_settings.SESSION_COOKIE_NAME].value)
    data = store.load()
    data.update(values)
    store._session_cache = data
    store.modified = True
    store.save()


def test_unusable_session_times_are_recorded_as_such(get, logged_in, clock):
    path = path_for(get)
    assert get(path).status_code == 200
    write_session(logged_in, **{session_keys.LOGIN_KEY: "yesterday"})
    assert_signed_out(get(path), path)
    event = only_event()
    assert event.reason == "session"
    assert event.login_at is None
    assert event.limit is None
    assert event.source == events.SOURCE_UNUSABLE_SESSION
    assert event.username == "alice"


def test_an_unusable_user_id_has_no_user_to_record(logged_in, clock):
    write_session(logged_in, **{SESSION_KEY: "abc"})
    assert logged_in.get("/private/").status_code == 302
    assert not LogoutEvent.objects.exists()


# --- turned off -----------------------------------------------------------------------------------


def test_turned_off_records_nothing_and_still_logs_out(get, settings, clock):
    settings.LOGOUT_RULES_EVENTS = False
    path = path_for(get)
    clock.advance(601)
    assert_signed_out(get(path), path)
    assert not LogoutEvent.objects.exists()


# --- never on the warm path -----------------------------------------------------------------------


def test_requests_that_are_not_logged_out_never_touch_the_events_table(logged_in, clock):
    logged_in.get("/private/")  # cold
    for _ in range(3):
        clock.advance(120)  # activity is due: the session is written
        with CaptureQueriesContext(connection) as queries:
            assert logged_in.get("/private/").status_code == 200
        assert not any("logoutevent" in query["sql"] for query in queries.captured_queries)


def test_the_logout_request_writes_one_insert(logged_in, clock):
    logged_in.get("/private/")
    clock.advance(601)
    with CaptureQueriesContext(connection) as queries:
        assert logged_in.get("/private/").status_code == 302
    writes = [query["sql"] for query in queries.captured_queries if "logoutevent" in query["sql"]]
    assert len(writes) == 1
    assert writes[0].upper().startswith("INSERT")


# --- a failure to write never stops the logout ----------------------------------------------------


def is_logged_in(client) -> bool:
    engine = import_module(django_settings.SESSION_ENGINE)
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return SESSION_KEY in engine.SessionStore(key).load()


def test_a_missing_table_inside_a_transaction_logs_and_logs_out(get, logged_in, clock, errors):
    """A genuine database error while the test's transaction is open (as under a transaction
    middleware): on PostgreSQL an error aborts the transaction unless the insert runs in a
    savepoint, and the session writes after it would then fail (a 500)."""
    assert transaction.get_connection().in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE logout_rules_logoutevent RENAME TO logout_rules_event_gone")
    path = path_for(get)
    clock.advance(601)
    response = get(path)
    assert_signed_out(response, path)
    assert not is_logged_in(logged_in)
    assert len(errors("could not be recorded")) == 1
    # The surrounding transaction is still usable.
    assert get_user_model().objects.filter(username="alice").exists()
    # The message was still stored in the new session.
    follow = logged_in.get(LOGIN_REDIRECT)
    assert b"Bye." in follow.content


def failing_insert(*args: Any, **kwargs: Any) -> None:
    raise DatabaseError("the database is gone")


@pytest.mark.django_db(transaction=True)
def test_a_database_error_in_autocommit_mode_logs_and_logs_out(client, clock, monkeypatch, errors):
    user = UserFactory(username="auto")
    client.force_login(user)
    monkeypatch.setattr(LogoutEvent, "save", failing_insert)
    clock.advance(601)
    response = client.get("/private/")
    assert response.status_code == 302
    assert response["Location"] == LOGIN_REDIRECT
    assert not is_logged_in(client)
    assert errors("could not be recorded")
    assert not LogoutEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_under_atomic_requests_the_event_commits_and_a_failure_breaks_nothing(
    client, clock, monkeypatch, errors
):
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    user = UserFactory(username="atomic")
    client.force_login(user)
    clock.advance(601)
    assert client.get("/private/").status_code == 302
    assert only_event().username == "atomic"
    client.force_login(user)
    monkeypatch.setattr(LogoutEvent, "save", failing_insert)
    clock.advance(601)
    response = client.get("/private/")
    assert response.status_code == 302
    assert not is_logged_in(client)
    assert errors("could not be recorded")
    assert LogoutEvent.objects.count() == 1


def test_any_error_while_building_the_row_is_contained(logged_in, clock, monkeypatch, errors):
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError("unexpected")

    monkeypatch.setattr(events, "build", broken)
    clock.advance(601)
    assert logged_in.get("/private/").status_code == 302
    assert not is_logged_in(logged_in)
    assert errors("could not be recorded")


def test_failures_are_logged_at_most_once_a_minute(client, clock, monkeypatch, errors):
    monkeypatch.setattr(LogoutEvent, "save", failing_insert)
    for number in range(3):
        user = UserFactory(username=f"user-{number}")
        client.force_login(user)
        clock.advance(601)
        assert client.get("/private/").status_code == 302
    assert len(errors("could not be recorded")) == 1


def test_a_failed_insert_inside_a_transaction_leaves_it_usable(user, monkeypatch):
    """The savepoint: the surrounding transaction goes on after a failed insert."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE logout_rules_logoutevent RENAME TO logout_rules_event_gone")
    with transaction.atomic():
        assert events.record(user, "idle", policy.NO_POLICY, None) is None
        assert get_user_model().objects.filter(pk=user.pk).exists()


# --- what an event is made of ---------------------------------------------------------------------


STAFF = policy.Source(policy.KIND_GROUP, "staff")
EFFECTIVE = policy.Policy(
    idle_time=300.0,
    session_time=3600.0,
    sources=(STAFF, policy.USER_SOURCE, *[policy.NO_SOURCE] * (len(policy.FIELDS) - 2)),
    revocation=policy.Revocation(1000.0, policy.SCOPE_GROUP, "night shift"),
)


@pytest.mark.parametrize(
    ("reason", "login_at", "expected"),
    [
        ("idle", 10.0, events.Cause(300.0, 'group "staff"')),
        ("session", 10.0, events.Cause(3600.0, "user rule")),
        ("revoked", 10.0, events.Cause(None, 'revocation of group "night shift"')),
        ("revoked", None, events.Cause(None, 'revocation of group "night shift"')),
        ("session", None, events.Cause(None, events.SOURCE_UNUSABLE_SESSION)),
        ("idle", None, events.Cause(None, events.SOURCE_UNUSABLE_SESSION)),
    ],
)
def test_cause(reason, login_at, expected):
    assert events.cause(reason, EFFECTIVE, login_at) == expected


def test_a_revocation_without_its_scope_is_still_named():
    assert events.cause("revoked", policy.NO_POLICY, 1.0) == events.Cause(None, "revocation")


def test_overlong_usernames_and_sources_are_cut_to_the_columns(clock):
    long_group = policy.Policy(
        idle_time=60.0, sources=(policy.Source(policy.KIND_GROUP, "g" * 300),) * 5
    )
    event = events.build(UserFactory.build(username="y" * 300), "idle", long_group, clock.value)
    assert len(event.username) == 255
    assert len(event.source) == 255


# --- settings and their checks ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("LOGOUT_RULES_EVENTS", True, []),
        ("LOGOUT_RULES_EVENTS", False, []),
        ("LOGOUT_RULES_EVENTS", "no", ["logout_rules.E085"]),
        ("LOGOUT_RULES_EVENTS", 0, ["logout_rules.E085"]),
        ("LOGOUT_RULES_EVENTS", None, ["logout_rules.E085"]),
        ("LOGOUT_RULES_EVENT_RETENTION", None, []),
        ("LOGOUT_RULES_EVENT_RETENTION", 86400, []),
        ("LOGOUT_RULES_EVENT_RETENTION", 0.5, []),
        ("LOGOUT_RULES_EVENT_RETENTION", timedelta(days=90), []),
        ("LOGOUT_RULES_EVENT_RETENTION", timedelta(days=3650), []),
        ("LOGOUT_RULES_EVENT_RETENTION", timedelta(days=3651), ["logout_rules.E086"]),
        ("LOGOUT_RULES_EVENT_RETENTION", 0, ["logout_rules.E086"]),
        ("LOGOUT_RULES_EVENT_RETENTION", -1, ["logout_rules.E086"]),
        ("LOGOUT_RULES_EVENT_RETENTION", timedelta(0), ["logout_rules.E086"]),
        # A string with a unit, as for every duration setting:
        ("LOGOUT_RULES_EVENT_RETENTION", "90 days", []),
        ("LOGOUT_RULES_EVENT_RETENTION", "90", ["logout_rules.E086"]),  # a bare string: no unit
        ("LOGOUT_RULES_EVENT_RETENTION", True, ["logout_rules.E086"]),
        ("LOGOUT_RULES_EVENT_RETENTION", float("nan"), ["logout_rules.E086"]),
    ],
)
def test_event_setting_checks(settings, name, value, expected):
    setattr(settings, name, value)
    assert [message.id for message in checks.check_event_settings()] == expected


def test_unset_event_settings_pass(settings):
    for name in ("LOGOUT_RULES_EVENTS", "LOGOUT_RULES_EVENT_RETENTION"):
        if hasattr(settings, name):
            delattr(settings, name)
    assert checks.check_event_settings() == []


def test_the_check_messages_name_the_value(settings):
    settings.LOGOUT_RULES_EVENT_RETENTION = "soon"
    (error,) = checks.check_event_settings()
    assert "'soon'" in error.msg
    assert "timedelta(days=90)" in error.hint


def test_event_checks_are_registered(settings):
    settings.LOGOUT_RULES_EVENTS = "yes"
    with pytest.raises(SystemCheckError, match=r"logout_rules\.E085"):
        call_command("check")


def test_bad_event_settings_never_cause_a_500(settings, logged_in, clock):
    settings.LOGOUT_RULES_EVENTS = "yes"  # not False: recording stays on
    settings.LOGOUT_RULES_EVENT_RETENTION = "forever"
    clock.advance(601)
    assert logged_in.get("/private/").status_code == 302
    assert only_event().reason == "idle"
