"""`manage.py logout_rules revoke (--user USERNAME | --group NAME | --everyone) [--reason TEXT]`."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from datetime import timezone as dt_timezone
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from logout_rules.cache import per_process_backend
from logout_rules.models import SessionRevocation
from logout_rules.policy import SCOPE_EVERYONE, SCOPE_GROUP, SCOPE_USER

from .factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[1]


def revoke(*args: str) -> tuple[int, str, str]:
    """``(exit status, stdout, stderr + error)`` of ``logout_rules revoke``."""
    out, err = StringIO(), StringIO()
    try:
        call_command("logout_rules", "revoke", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue() + str(exc)
    return 0, out.getvalue(), err.getvalue()


def no_error(err: str) -> bool:
    """Nothing on stderr but, with a per-process policy cache (LocMem in ``make test``), the note
    that a running server does not see the change."""
    if per_process_backend() is None:
        return err == ""
    return err.startswith("Note: the policy cache") and err.count("\n") == 1


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=dt_timezone.utc).isoformat(timespec="seconds")


@pytest.fixture
def people(clock):
    alice = UserFactory(username="alice")
    staff = GroupFactory(name="staff")
    alice.groups.add(staff)
    return alice, staff


def test_revoke_a_user(people, clock):
    alice, _ = people
    status, out, err = revoke("--user", "alice", "--reason", "lost laptop")
    assert status == 0
    assert no_error(err)
    assert out == (
        f'Signed out user "alice": sessions that logged in at or before {iso(clock.now())} end '
        "on their next request.\n"
    )
    revocation = SessionRevocation.objects.get()
    assert (revocation.scope, revocation.user, revocation.reason) == (
        SCOPE_USER,
        alice,
        "lost laptop",
    )
    assert revocation.created_by is None
    assert revocation.not_before.timestamp() == clock.now()


def test_revoke_a_group(people, clock):
    _, staff = people
    status, out, _ = revoke("--group", "staff")
    assert status == 0
    assert out.startswith('Signed out the members of group "staff": sessions that logged in at')
    revocation = SessionRevocation.objects.get()
    assert (revocation.scope, revocation.group, revocation.reason) == (SCOPE_GROUP, staff, "")


def test_revoke_everyone(people, clock):
    status, out, _ = revoke("--everyone", "--reason", "incident 7")
    assert status == 0
    assert out.startswith("Signed out everyone: sessions that logged in at or before")
    revocation = SessionRevocation.objects.get()
    assert (revocation.scope, revocation.reason) == (SCOPE_EVERYONE, "incident 7")


def test_the_revocation_ends_the_session_on_its_next_request(
    people, clock, django_capture_on_commit_callbacks
):
    alice, _ = people
    bob = UserFactory(username="bob")
    alice_client, bob_client = Client(), Client()
    alice_client.force_login(alice)
    bob_client.force_login(bob)
    with django_capture_on_commit_callbacks(execute=True):
        assert revoke("--group", "staff")[0] == 0
    assert alice_client.get("/private/").status_code == 302
    assert bob_client.get("/private/").status_code == 200
    clock.advance(1)
    alice_client.force_login(alice)  # signing in again works at once
    assert alice_client.get("/private/").status_code == 200


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--user", "ghost"), "No user with username 'ghost': nothing was written."),
        (("--group", "nobody"), "No group named 'nobody': nothing was written."),
        (
            ("--everyone", "--reason", "x" * 1001),
            "Keep the reason to 1000 characters (it has 1001). Nothing was written.",
        ),
    ],
)
def test_errors_exit_2_and_write_nothing(people, args, error):
    status, out, err = revoke(*args)
    assert (status, out) == (2, "")
    assert err == error
    assert not SessionRevocation.objects.exists()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((), "one of the arguments --user --group --everyone is required"),
        (("--user", "alice", "--group", "staff"), "not allowed with argument --user"),
        (("--everyone", "--user", "alice"), "not allowed with argument --everyone"),
    ],
)
def test_exactly_one_subject_is_required(people, args, error):
    with pytest.raises(CommandError, match=error):
        call_command("logout_rules", "revoke", *args)
    assert not SessionRevocation.objects.exists()


def test_a_usage_error_exits_2_on_the_command_line():
    """argparse's own errors, before any database access (a real process, a real exit status)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    for args in ([], ["--user", "alice", "--everyone"]):
        done = subprocess.run(
            [sys.executable, "-m", "django", "logout_rules", "revoke", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert "--user" in done.stderr
