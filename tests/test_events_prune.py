"""Retention: ``LOGOUT_RULES_EVENT_RETENTION`` and ``manage.py logout_rules prune [--dry-run]``."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from io import StringIO

import pytest
from django.core.management import ManagementUtility, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from logout_rules import events, resolver
from logout_rules.conf import conf
from logout_rules.models import LogoutEvent, SessionRevocation

from .factories import GroupFactory, SessionRevocationFactory, UserFactory

pytestmark = pytest.mark.django_db

DAY = 86400.0


def ago(clock, days: float) -> datetime:
    return datetime.fromtimestamp(clock.value - days * DAY, tz=dt_timezone.utc)


def add_events(clock, *ages: float, reason: str = "idle") -> None:
    LogoutEvent.objects.bulk_create(
        LogoutEvent(username=f"u{index}", reason=reason, at=ago(clock, days), source="settings")
        for index, days in enumerate(ages)
    )


def prune(*args: str) -> str:
    out = StringIO()
    call_command("logout_rules", "prune", *args, stdout=out)
    return out.getvalue()


def ages(clock) -> list[float]:
    return sorted(
        round((clock.value - event.at.timestamp()) / DAY, 3) for event in LogoutEvent.objects.all()
    )


def deletes(queries: CaptureQueriesContext, table: str) -> list[str]:
    return [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].upper().startswith("DELETE") and table in query["sql"]
    ]


# --- the setting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(days=7), 7 * DAY),
        (3600, 3600.0),
        (0.5, 0.5),
        (None, None),
        ("90 days", 90 * DAY),  # invalid: the default (and a check error)
        (-5, 90 * DAY),
        (0, 90 * DAY),
        (True, 90 * DAY),
    ],
)
def test_retention_setting(settings, value, expected):
    settings.LOGOUT_RULES_EVENT_RETENTION = value
    retention = conf.EVENT_RETENTION
    assert retention == expected


def test_retention_defaults_to_ninety_days(settings):
    if hasattr(settings, "LOGOUT_RULES_EVENT_RETENTION"):
        del settings.LOGOUT_RULES_EVENT_RETENTION
    assert conf.EVENT_RETENTION == 90 * DAY


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), (False, False), (None, True), ("no", True)]
)
def test_events_setting(settings, value, expected):
    settings.LOGOUT_RULES_EVENTS = value
    assert conf.EVENTS is expected


# --- prune ------------------------------------------------------------------------------------


def test_prune_deletes_the_events_older_than_the_retention(clock):
    add_events(clock, 1, 30, 89.9, 90.1, 200, 400)
    output = prune()
    assert ages(clock) == [1, 30, 89.9]
    assert "Logout events older than 90d" in output
    assert ": 3 deleted." in output.splitlines()[0]
    assert ": 0 deleted." in output.splitlines()[1]


def test_a_dry_run_deletes_nothing_and_says_what_it_would(clock):
    add_events(clock, 1, 100, 200)
    SessionRevocationFactory(not_before=ago(clock, 100))
    output = prune("--dry-run")
    assert LogoutEvent.objects.count() == 3
    assert SessionRevocation.objects.count() == 1
    lines = output.splitlines()
    assert lines[0].endswith(": 2 would be deleted.")
    assert lines[1].endswith(": 1 would be deleted.")


def test_a_dry_run_makes_no_write(clock):
    add_events(clock, 100)
    with CaptureQueriesContext(connection) as queries:
        prune("--dry-run")
    statements = [query["sql"].split()[0].upper() for query in queries.captured_queries]
    assert set(statements) <= {"SELECT", "SAVEPOINT", "RELEASE"}


def test_the_retention_follows_the_setting(settings, clock):
    settings.LOGOUT_RULES_EVENT_RETENTION = timedelta(days=7)
    add_events(clock, 1, 6.9, 7.1, 30)
    prune()
    assert ages(clock) == [1, 6.9]
    settings.LOGOUT_RULES_EVENT_RETENTION = 3600
    prune()
    assert ages(clock) == []


def test_retention_none_keeps_everything(settings, clock):
    settings.LOGOUT_RULES_EVENT_RETENTION = None
    add_events(clock, 1, 1000, 5000)
    SessionRevocationFactory(not_before=ago(clock, 5000))
    output = prune()
    assert LogoutEvent.objects.count() == 3
    assert SessionRevocation.objects.count() == 1
    assert "is None" in output
    assert "nothing deleted" in output


def test_events_are_deleted_in_batches(clock):
    add_events(clock, *[100 + index / 1000 for index in range(2500)])
    add_events(clock, 1, 2)
    with CaptureQueriesContext(connection) as queries:
        output = prune()
    statements = deletes(queries, "logout_rules_logoutevent")
    assert len(statements) == 3  # 1,000 + 1,000 + 500
    assert ": 2500 deleted." in output
    assert LogoutEvent.objects.count() == 2


def test_each_batch_is_its_own_transaction(clock):
    add_events(clock, *[100 + index / 1000 for index in range(10)])
    with CaptureQueriesContext(connection) as queries:
        report = events.prune(batch_size=3)
    assert report.events == 10
    assert len(deletes(queries, "logout_rules_logoutevent")) == 4
    # Inside the test's transaction each batch is a savepoint (a transaction of its own
    # otherwise): one per batch, plus the final empty look-up of the revocations.
    savepoints = [q for q in queries.captured_queries if q["sql"].upper().startswith("SAVEPOINT")]
    assert len(savepoints) >= 4


def test_revocations_go_only_once_they_can_no_longer_end_a_session(settings, clock):
    settings.LOGOUT_RULES_EVENT_RETENTION = timedelta(days=1)
    settings.SESSION_COOKIE_AGE = 14 * 24 * 3600
    SessionRevocationFactory(not_before=ago(clock, 0.5), reason="recent")
    SessionRevocationFactory(not_before=ago(clock, 10), reason="sessions may still be alive")
    SessionRevocationFactory(not_before=ago(clock, 15), reason="every session has expired")
    add_events(clock, 2)
    output = prune()
    assert sorted(SessionRevocation.objects.values_list("reason", flat=True)) == [
        "recent",
        "sessions may still be alive",
    ]
    assert LogoutEvent.objects.count() == 0
    assert output.splitlines()[1].endswith(": 1 deleted.")


def test_revocations_wait_for_the_retention_when_it_is_longer(settings, clock):
    settings.SESSION_COOKIE_AGE = 3600
    SessionRevocationFactory(not_before=ago(clock, 60))
    SessionRevocationFactory(not_before=ago(clock, 91))
    prune()
    assert SessionRevocation.objects.count() == 1


def test_deleting_revocations_invalidates_the_cache(clock, django_capture_on_commit_callbacks):
    staff = GroupFactory(name="staff")
    member = UserFactory(username="member")
    member.groups.add(staff)
    with django_capture_on_commit_callbacks(execute=True):
        SessionRevocationFactory(group=staff, not_before=ago(clock, 100))
    assert resolver.get_policy(member.pk).revocation is not None  # cached now
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        prune()
    assert callbacks  # the invalidation runs after commit
    assert resolver.get_policy(member.pk).revocation is None


def test_prune_exits_zero_from_the_command_line(clock, capsys, monkeypatch):
    add_events(clock, 100)
    # run_from_argv closes the database connections when done: keep the test's one open.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    # An error would end in SystemExit with a non-zero status (Django's run_from_argv).
    ManagementUtility(["manage.py", "logout_rules", "prune"]).execute()
    assert "1 deleted" in capsys.readouterr().out
    assert LogoutEvent.objects.count() == 0
