"""Session revocations ("sign out now"): the rows, their share of resolution and of the cache, and
how the middleware ends the sessions they apply to (sync and async, db and cache sessions)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from io import StringIO

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AnonymousUser, Group
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from logout_rules import loading, resolver, revocations, rulesets
from logout_rules.models import GroupLogoutRule, SessionRevocation, UserLogoutRule
from logout_rules.policy import SCOPE_EVERYONE, SCOPE_GROUP, SCOPE_USER, Revocation
from logout_rules.signals import auto_logout

from .factories import (
    GroupFactory,
    GroupLogoutRuleFactory,
    SessionRevocationFactory,
    UserFactory,
    UserLogoutRuleFactory,
)
from .test_middleware import AsyncRunner

pytestmark = pytest.mark.django_db

REVOKED = "You have been signed out."
LOGIN_REDIRECT = "/accounts/login/?next=/private/"


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=dt_timezone.utc)


# --- the rows ------------------------------------------------------------------------------------


def test_user_and_group_together_are_refused_by_a_clean_error():
    revocation = SessionRevocation(user=UserFactory(), group=GroupFactory())
    with pytest.raises(ValidationError) as error:
        revocation.full_clean()
    assert set(error.value.message_dict) >= {"user", "group"}


def test_user_and_group_together_are_refused_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        SessionRevocation.objects.create(user=UserFactory(), group=GroupFactory())


def test_defaults_everyone_now():
    before = datetime.now(tz=dt_timezone.utc)
    revocation = SessionRevocation.objects.create()
    assert revocation.scope == SCOPE_EVERYONE
    assert before <= revocation.not_before <= datetime.now(tz=dt_timezone.utc)
    assert revocation.reason == ""
    assert revocation.created_by is None
    assert revocation.created_at is not None
    assert "everyone" in str(revocation)


# --- resolution ----------------------------------------------------------------------------------


def test_no_revocation_resolves_to_none(user):
    assert loading.load_revocation(user.pk) is None


def test_the_users_own_revocation(user):
    mine = SessionRevocationFactory(user=user, not_before=at(1000))
    SessionRevocationFactory(user=UserFactory(), not_before=at(5000))  # someone else's
    assert loading.load_revocation(user.pk) == Revocation(mine.not_before.timestamp(), SCOPE_USER)


def test_a_group_revocation_applies_whether_or_not_the_group_has_a_rule(user):
    staff = GroupFactory(name="staff")
    user.groups.add(staff)
    SessionRevocationFactory(group=staff, not_before=at(2000))
    SessionRevocationFactory(group=GroupFactory(name="other"), not_before=at(9000))
    assert loading.load_revocation(user.pk) == Revocation(2000.0, SCOPE_GROUP, "staff")


def test_the_latest_of_user_group_and_everyone_applies(user):
    staff = GroupFactory(name="staff")
    user.groups.add(staff)
    SessionRevocationFactory(user=user, not_before=at(1000))
    SessionRevocationFactory(group=staff, not_before=at(3000))
    SessionRevocationFactory(not_before=at(2000))
    assert loading.load_revocation(user.pk) == Revocation(3000.0, SCOPE_GROUP, "staff")
    SessionRevocationFactory(not_before=at(4000))
    assert loading.load_revocation(user.pk) == Revocation(4000.0, SCOPE_EVERYONE)


@pytest.mark.parametrize("groups", [0, 1, 20])
def test_the_revocation_is_one_query_whatever_the_group_count(user, groups):
    for number in range(groups):
        group = GroupFactory(name=f"team{number}")
        user.groups.add(group)
        SessionRevocationFactory(group=group, not_before=at(1000 + number))
    with CaptureQueriesContext(connection) as queries:
        found = loading.load_revocation(user.pk)
    assert len(queries) == 1
    assert (found is None) == (groups == 0)


def statements(queries: CaptureQueriesContext) -> list[str]:
    """The captured SQL without the savepoint that guards a load inside a transaction."""
    return [
        query["sql"]
        for query in queries.captured_queries
        if "SAVEPOINT" not in query["sql"].upper()
    ]


def test_the_revocation_is_part_of_the_cached_layer(user, committed):
    committed(lambda: SessionRevocationFactory(user=user, not_before=at(1000)))
    with CaptureQueriesContext(connection) as cold:
        effective = resolver.get_policy(user.pk)
    assert len(statements(cold)) == 4
    assert effective.revocation == Revocation(1000.0, SCOPE_USER)
    with CaptureQueriesContext(connection) as warm:
        assert resolver.get_policy(user.pk).revocation == Revocation(1000.0, SCOPE_USER)
    assert statements(warm) == []


# --- invalidation: exactly the users a revocation can affect, after commit ------------------------


def warm(*users) -> None:
    for user in users:
        resolver.get_policy(user.pk)


def test_a_user_revocation_invalidates_that_user_only(committed):
    alice, bob = UserFactory(), UserFactory()
    warm(alice, bob)
    committed(lambda: SessionRevocationFactory(user=alice))
    assert resolver.get_policy(alice.pk).revocation is not None
    with CaptureQueriesContext(connection) as queries:
        assert resolver.get_policy(bob.pk).revocation is None
    assert len(queries) == 0


def test_a_group_revocation_invalidates_its_members_only(committed):
    staff = GroupFactory(name="staff")
    member, outsider = UserFactory(), UserFactory()
    committed(lambda: member.groups.add(staff))
    warm(member, outsider)
    committed(lambda: SessionRevocationFactory(group=staff))
    assert resolver.get_policy(member.pk).revocation is not None
    with CaptureQueriesContext(connection) as queries:
        assert resolver.get_policy(outsider.pk).revocation is None
    assert len(queries) == 0


def test_an_everyone_revocation_invalidates_everyone(committed):
    alice, bob = UserFactory(), UserFactory()
    warm(alice, bob)
    committed(lambda: SessionRevocationFactory())
    assert resolver.get_policy(alice.pk).revocation is not None
    assert resolver.get_policy(bob.pk).revocation is not None


def test_a_rolled_back_revocation_invalidates_nothing(user):
    warm(user)
    with transaction.atomic():
        SessionRevocationFactory(user=user)
        transaction.set_rollback(True)
    with CaptureQueriesContext(connection) as queries:
        assert resolver.get_policy(user.pk).revocation is None
    assert len(queries) == 0


def test_deleting_a_revocation_invalidates_the_users_it_applied_to(committed):
    staff = GroupFactory(name="staff")
    member = UserFactory()
    member.groups.add(staff)
    revocation = committed(lambda: SessionRevocationFactory(group=staff))
    assert resolver.get_policy(member.pk).revocation is not None
    committed(revocation.delete)
    assert resolver.get_policy(member.pk).revocation is None


def test_deleting_the_group_invalidates_its_former_members(committed):
    staff = GroupFactory(name="staff")
    member = UserFactory()
    member.groups.add(staff)
    committed(lambda: SessionRevocationFactory(group=staff))
    assert resolver.get_policy(member.pk).revocation is not None
    committed(staff.delete)
    assert resolver.get_policy(member.pk).revocation is None


def test_moving_a_revocation_to_another_user_invalidates_both(committed):
    alice, bob = UserFactory(), UserFactory()
    revocation = committed(lambda: SessionRevocationFactory(user=alice))
    warm(alice, bob)
    assert resolver.get_policy(alice.pk).revocation is not None
    revocation.user = bob
    committed(revocation.save)
    assert resolver.get_policy(alice.pk).revocation is None
    assert resolver.get_policy(bob.pk).revocation is not None


# --- enforcement ---------------------------------------------------------------------------------


@pytest.fixture(params=["sync", "async"])
def get(request, logged_in, async_client):
    """``get(path, **extra)`` through the WSGI or the ASGI handler, as the logged-in user."""
    if request.param == "sync":
        return logged_in.get
    return AsyncRunner(async_client, logged_in).get


def path_for(get) -> str:
    return (
        "/private-async/"
        if isinstance(getattr(get, "__self__", None), AsyncRunner)
        else "/private/"
    )


def assert_signed_out(response, path: str) -> None:
    if path == "/private/":
        assert response.status_code == 302
        assert response["Location"] == LOGIN_REDIRECT
    else:
        assert response.status_code == 403


def is_logged_in(client) -> bool:
    return SESSION_KEY in SessionStore(client.cookies["sessionid"].value).load()


@pytest.fixture(params=["db", "cache"])
def engine(request, settings):
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{request.param}"
    return request.param


@pytest.mark.parametrize("subject", ["user", "group", "everyone"], ids=["own", "group", "everyone"])
def test_a_session_that_logged_in_before_is_ended_on_its_next_request(
    engine, subject, get, logged_in, user, clock, committed
):
    path = path_for(get)
    assert get(path).status_code == 200
    scope = {}
    if subject == "user":
        scope["user"] = user
    elif subject == "group":
        staff = GroupFactory(name="staff")
        user.groups.add(staff)
        scope["group"] = staff
    committed(lambda: SessionRevocationFactory(not_before=at(clock.value + 1), **scope))
    clock.advance(2)
    assert_signed_out(get(path), path)
    assert get(path).status_code != 200  # stays signed out


def test_a_session_that_logged_in_after_is_untouched(get, logged_in, user, clock, committed):
    committed(lambda: SessionRevocationFactory(user=user, not_before=at(clock.value - 1)))
    path = path_for(get)
    for _ in range(3):
        clock.advance(10)
        assert get(path).status_code == 200


def test_login_at_the_very_instant_counts_as_before(logged_in, user, clock, committed):
    committed(lambda: SessionRevocationFactory(user=user, not_before=at(clock.value)))
    assert logged_in.get("/private/").status_code == 302


def test_a_revocation_applies_without_any_limit(settings, get, logged_in, user, clock, committed):
    settings.AUTO_LOGOUT = {}
    path = path_for(get)
    assert get(path).status_code == 200
    committed(lambda: SessionRevocationFactory(user=user, not_before=at(clock.value + 1)))
    assert_signed_out(get(path), path)


def test_other_users_are_not_signed_out(client, clock, committed):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    client.force_login(bob)
    committed(lambda: SessionRevocationFactory(user=alice, not_before=at(clock.value + 1)))
    assert client.get("/private/").status_code == 200


def test_a_new_login_after_the_revocation_works(client, user, clock, committed):
    client.force_login(user)
    committed(lambda: SessionRevocationFactory(user=user, not_before=at(clock.value + 1)))
    assert client.get("/private/").status_code == 302
    clock.advance(5)
    client.force_login(user)
    assert client.get("/private/").status_code == 200


def test_the_message_is_shown_once(logged_in, user, clock, committed):
    committed(lambda: SessionRevocationFactory(user=user, not_before=at(clock.value + 1)))
    response = logged_in.get("/private/", follow=True)
    assert response.redirect_chain == [(LOGIN_REDIRECT, 302)]
    assert response.content.count(REVOKED.encode()) == 1
    assert REVOKED.encode() not in logged_in.get("/accounts/login/").content


def test_the_message_is_configurable_and_escaped(settings, logged_in, user, clock, committed):
    settings.LOGOUT_RULES_REVOKED_MESSAGE = "<b>Bye</b>"
    committed(lambda: SessionRevocationFactory(user=user, not_before=at(clock.value + 1)))
    response = logged_in.get("/", follow=True)
    assert b"&lt;b&gt;Bye&lt;/b&gt;" in response.content
    assert b"<b>Bye</b>" not in response.content


def test_an_empty_message_shows_none(settings, logged_in, user, clock, committed):
    settings.LOGOUT_RULES_REVOKED_MESSAGE = ""
    committed(lambda: SessionRevocationFactory(user=user, not_before=at(clock.value + 1)))
    response = logged_in.get("/")
    assert response.context["user"].is_anonymous
    assert b'class="message"' not in response.content


def test_a_bad_message_setting_falls_back_to_the_default(
    settings, logged_in, user, clock, committed
):
    settings.LOGOUT_RULES_REVOKED_MESSAGE = 5  # logout_rules.E080 at check time
    committed(lambda: SessionRevocationFactory(user=user, not_before=at(clock.value + 1)))
    response = logged_in.get("/private/", headers={"accept": "application/json"})
    assert (response.status_code, response.json()["message"]) == (401, REVOKED)


def test_the_signal_says_revoked(logged_in, user, clock, committed):
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    auto_logout.connect(receiver)
    try:
        login_at = clock.value
        committed(lambda: SessionRevocationFactory(user=user, not_before=at(clock.value + 1)))
        clock.advance(3)
        logged_in.get("/private/")
    finally:
        # Only this receiver: the app's own (the audit trail) stays connected.
        auto_logout.disconnect(receiver)
    assert len(received) == 1
    kwargs = received[0]
    assert kwargs["reason"] == "revoked"
    assert kwargs["user"] == user
    assert kwargs["login_at"] == login_at
    assert kwargs["policy"].revocation == Revocation(login_at + 1, SCOPE_USER)


def test_a_json_client_gets_the_401_with_the_reason(logged_in, user, clock, committed):
    committed(lambda: SessionRevocationFactory(user=user, not_before=at(clock.value + 1)))
    response = logged_in.get("/private/", headers={"accept": "application/json"})
    assert response.status_code == 401
    payload = response.json()
    assert payload["reason"] == "revoked"
    assert payload["message"] == REVOKED


def test_status_answers_signed_out_with_the_reason(logged_in, user, clock, committed):
    committed(lambda: SessionRevocationFactory(user=user, not_before=at(clock.value + 1)))
    response = logged_in.get("/logout-rules/status/")
    assert response.status_code == 200
    payload = response.json()
    assert payload["authenticated"] is False
    assert payload["reason"] == "revoked"
    assert payload["message"] == REVOKED
    assert not is_logged_in(logged_in)


@pytest.mark.parametrize("limits", [{}, {"IDLE_TIME": 600}], ids=["no limit", "a limit"])
def test_the_status_poll_ends_a_revoked_session_once(
    engine, get, settings, user, clock, committed, limits
):
    """What an open page's poll gets, through WSGI and ASGI, with db and cache sessions."""
    settings.AUTO_LOGOUT = {**limits, "REDIRECT_TO_LOGIN_IMMEDIATELY": True}
    assert get("/logout-rules/status/").json()["authenticated"] is True
    committed(lambda: SessionRevocationFactory(user=user, not_before=at(clock.value + 1)))
    clock.advance(2)
    payload = get("/logout-rules/status/").json()
    assert (payload["authenticated"], payload["reason"]) == (False, "revoked")
    assert payload["message"] == REVOKED
    again = get("/logout-rules/status/").json()  # the next poll: already ended, no message
    assert (again["authenticated"], again["reason"], again["message"]) == (False, None, "")


def test_a_warm_request_after_a_revocation_makes_the_bare_queries(
    logged_in, user, clock, committed
):
    committed(lambda: SessionRevocationFactory(user=user, not_before=at(clock.value - 1)))
    logged_in.get("/bare/")  # resolves (cold)
    with CaptureQueriesContext(connection) as queries:
        assert logged_in.get("/bare/").status_code == 200
    assert not any("logout_rules_" in query["sql"] for query in queries.captured_queries)


def test_an_old_revocation_does_not_end_a_later_session_of_a_ruled_user(
    settings, client, user, clock, committed
):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 60}
    committed(
        lambda: SessionRevocationFactory(
            not_before=at(clock.value - timedelta(days=1).total_seconds())
        )
    )
    client.force_login(user)
    clock.advance(30)
    assert client.get("/private/").status_code == 200
    clock.advance(61)
    response = client.get("/private/", headers={"accept": "application/json"})
    assert response.json()["reason"] == "idle"


# --- revocations.py: the one place that creates them ------------------------------------------


def test_revoke_takes_exactly_one_subject(user):
    staff = GroupFactory(name="staff")
    for subject in ({}, {"user": user, "group": staff}, {"user": user, "everyone": True}):
        with pytest.raises(ValueError, match="exactly one"):
            revocations.revoke(**subject)
    assert not SessionRevocation.objects.exists()


def test_revoke_stamps_now_and_the_author(user, clock):
    admin = UserFactory(username="root")
    revocation = revocations.revoke(user=user, reason="  lost laptop  ", by=admin)
    assert revocation.not_before == at(clock.now())
    assert revocation.created_by_id == admin.pk
    assert revocation.reason == "lost laptop"
    anonymous = revocations.revoke(everyone=True, by=AnonymousUser())
    assert anonymous.created_by is None


def test_a_reason_too_long_is_refused_and_nothing_saved(user):
    with pytest.raises(ValidationError):
        revocations.revoke(user=user, reason="x" * 1001)
    with pytest.raises(ValidationError):
        revocations.revoke_each(users=[user], reason="x" * 1001)
    assert not SessionRevocation.objects.exists()


def test_a_saved_revocation_is_never_recorded_again(user):
    revocation = revocations.revoke(user=user)
    with pytest.raises(ValueError, match="never changed"):
        revocations.record(revocation)


def test_revoke_each_makes_one_per_subject_at_one_moment(clock, committed):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    staff = Group.objects.create(name="staff")
    warm(alice, bob)
    rows = committed(
        lambda: revocations.revoke_each(users=[alice, bob, alice], groups=[staff, staff])
    )
    assert [row.scope for row in rows] == [SCOPE_USER, SCOPE_USER, SCOPE_GROUP]
    assert {row.not_before for row in rows} == {at(clock.now())}
    assert resolver.get_policy(alice.pk).revocation is not None
    assert resolver.get_policy(bob.pk).revocation is not None


def test_the_naive_now_without_time_zones(settings, clock):
    settings.USE_TZ = False
    moment = revocations.now()
    assert moment.tzinfo is None
    assert moment.timestamp() == clock.now()


def test_bulk_writes_invalidate_every_cached_policy(user, committed):
    warm(user)
    committed(lambda: SessionRevocation.objects.bulk_create([SessionRevocation(user=user)]))
    assert resolver.get_policy(user.pk).revocation is not None
    committed(lambda: SessionRevocation.objects.update(not_before=at(1000)))
    assert resolver.get_policy(user.pk).revocation == Revocation(1000.0, SCOPE_USER)


# --- rule sets never contain revocations, and never delete them ----------------------------------


def every_export(tmp_path, name: str) -> dict[str, str]:
    texts = {fmt: rulesets.write_export(fmt, None) or "" for fmt in ("json", "yaml")}
    directory = tmp_path / name
    rulesets.write_export("csv", directory)
    for path in sorted(directory.iterdir()):
        texts[f"csv/{path.name}"] = path.read_text()
    return texts


def test_rule_set_files_never_contain_revocations(tmp_path, clock):
    staff = GroupFactory(name="staff")
    alice = UserFactory(username="alice")
    GroupLogoutRuleFactory(group=staff, idle_time=timedelta(minutes=5))
    UserLogoutRuleFactory(user=alice, session_time=timedelta(hours=1))
    before = every_export(tmp_path, "before")
    SessionRevocationFactory(user=alice, reason="revocation-reason-1")
    SessionRevocationFactory(group=staff, reason="revocation-reason-2")
    SessionRevocationFactory(reason="revocation-reason-3")
    after = every_export(tmp_path, "after")
    assert after == before
    assert not any("revocation" in text for text in after.values())


def test_import_prune_never_deletes_revocations(tmp_path, clock):
    staff, other = GroupFactory(name="staff"), GroupFactory(name="other")
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    GroupLogoutRuleFactory(group=staff)
    GroupLogoutRuleFactory(group=other)
    UserLogoutRuleFactory(user=alice)
    UserLogoutRuleFactory(user=bob)
    kept = [
        SessionRevocationFactory(user=alice).pk,
        SessionRevocationFactory(group=staff).pk,
        SessionRevocationFactory().pk,
    ]
    path = tmp_path / "empty.json"
    path.write_text(json.dumps({"version": 1, "groups": [], "users": []}))
    out = StringIO()
    call_command("logout_rules", "import", str(path), "--prune", stdout=out, stderr=StringIO())
    assert "4 deleted" in out.getvalue()
    assert not GroupLogoutRule.objects.exists()
    assert not UserLogoutRule.objects.exists()
    assert sorted(SessionRevocation.objects.values_list("pk", flat=True)) == sorted(kept)


# --- explained -----------------------------------------------------------------------------------


def test_explain_names_the_revocation_that_applies(user, clock):
    staff = GroupFactory(name="staff")
    user.groups.add(staff)
    SessionRevocationFactory(group=staff, not_before=at(1_000_000_000))
    rows = {row.field: row for row in resolver.explain(user.pk)}
    assert rows["revocation"].display == (
        "sessions that logged in at or before 2001-09-09T01:46:40+00:00 are ended"
    )
    assert rows["revocation"].source == 'revocation of group "staff"'


def test_explain_without_a_revocation_has_no_such_row(user):
    assert "revocation" not in [row.field for row in resolver.explain(user.pk)]


def test_the_explain_command_and_the_admin_panel_show_it(user, admin_client):
    from io import StringIO

    from django.core.management import call_command

    from .factories import UserLogoutRuleFactory

    SessionRevocationFactory(user=user, not_before=at(1_000_000_000))
    out = StringIO()
    call_command("logout_rules", "explain", user.username, stdout=out)
    assert "sessions that logged in at or before 2001-09-09T01:46:40+00:00 are ended" in (
        out.getvalue()
    )
    assert "[revocation of user]" in out.getvalue()
    rule = UserLogoutRuleFactory(user=user)
    page = admin_client.get(f"/admin/logout_rules/userlogoutrule/{rule.pk}/change/")
    assert b"revocation of user" in page.content
