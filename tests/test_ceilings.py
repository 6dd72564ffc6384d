"""Site-wide ceilings (``LOGOUT_RULES_MAX_IDLE_TIME`` / ``LOGOUT_RULES_MAX_SESSION_TIME``).

Enforced at resolution (existing looser rows, bulk updates, ``AUTO_LOGOUT`` and "no limit" are all
bounded, sync and async, whatever the session engine), named by ``explain`` and the admin's
effective-policy panel, refused at the door (the three admins, the admin import and the command
line import), and reported by ``manage.py check``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from logout_rules import checks, resolver
from logout_rules.models import GlobalLogoutRule, GroupLogoutRule, UserLogoutRule

from .factories import (
    GroupFactory,
    GroupLogoutRuleFactory,
    UserFactory,
    UserLogoutRuleFactory,
    global_rule,
)
from .rulesets_support import make_population, snapshot
from .test_hostile_input import base_form
from .test_import_export_admin import upload
from .test_middleware import AsyncRunner
from .test_ruleset_cli import run_import

MINUTE = 60
IDLE_ERROR = (
    "2h is above the site's ceiling: LOGOUT_RULES_MAX_IDLE_TIME is 15m (900 seconds). "
    "Enter at most 15m, or leave it empty to inherit."
)
SESSION_ERROR = (
    "1d is above the site's ceiling: LOGOUT_RULES_MAX_SESSION_TIME is 8h (28800 seconds). "
    "Enter at most 8h, or leave it empty to inherit."
)


@pytest.fixture(autouse=True)
def _no_settings_limits(settings):
    """Only the rules and the ceilings decide here."""
    settings.AUTO_LOGOUT = {}


@pytest.fixture(
    params=["django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cache"],
    ids=["db-sessions", "cache-sessions"],
)
def engine(request, settings):
    settings.SESSION_ENGINE = request.param
    return request.param


@pytest.fixture(params=["sync", "async"])
def get(request, engine, user, clock, async_client):
    """``get()`` of a page through the WSGI or the ASGI stack, as a freshly logged-in ``user``."""
    client = Client()
    client.force_login(user)
    if request.param == "sync":
        return lambda: client.get("/private/")
    runner = AsyncRunner(async_client, client)
    return lambda: runner.get("/private-async/")


def logged_in(response) -> bool:
    return response.status_code == 200


# --- enforced at resolution ---------------------------------------------------------------------


def test_an_existing_looser_rule_is_bounded_by_the_idle_ceiling(get, settings, user, clock):
    group = GroupFactory(name="staff")
    GroupLogoutRuleFactory(group=group, idle_time=timedelta(hours=2))  # saved before the ceiling
    user.groups.add(group)
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 15 * MINUTE
    assert logged_in(get())
    clock.advance(15 * MINUTE)
    assert logged_in(get())  # exactly the ceiling: not over it
    clock.advance(15 * MINUTE + 1)
    assert not logged_in(get())


def test_no_limit_becomes_the_session_ceiling(get, settings, clock):
    settings.LOGOUT_RULES_MAX_SESSION_TIME = timedelta(hours=1)
    for _ in range(6):
        clock.advance(10 * MINUTE)
        assert logged_in(get())  # active all along
    clock.advance(1)
    assert not logged_in(get())


def test_a_bulk_update_cannot_exceed_the_ceiling(
    get, settings, user, clock, django_capture_on_commit_callbacks
):
    UserLogoutRuleFactory(user=user, idle_time=timedelta(minutes=5))
    settings.LOGOUT_RULES_MAX_IDLE_TIME = "10m"
    with django_capture_on_commit_callbacks(execute=True):
        UserLogoutRule.objects.update(idle_time=timedelta(days=30))  # no validation on this path
    assert logged_in(get())
    clock.advance(10 * MINUTE + 1)
    assert not logged_in(get())


def test_auto_logout_is_bounded_too(get, settings, clock):
    settings.AUTO_LOGOUT = {"IDLE_TIME": timedelta(hours=8)}
    settings.LOGOUT_RULES_MAX_IDLE_TIME = "20 minutes"
    assert logged_in(get())
    clock.advance(20 * MINUTE + 1)
    assert not logged_in(get())


def test_a_changed_ceiling_applies_to_the_next_request_despite_the_cached_policy(
    settings, user, clock, logged_in_client, committed
):
    committed(lambda: UserLogoutRuleFactory(user=user, idle_time=timedelta(hours=2)))
    assert logged_in(logged_in_client.get("/private/"))  # the policy is now cached (and merged)
    clock.advance(30 * MINUTE)
    with override_settings(LOGOUT_RULES_MAX_IDLE_TIME=20 * MINUTE):
        with CaptureQueriesContext(connection) as queries:
            response = logged_in_client.get("/private/")
        assert not logged_in(response)
    # The ceiling lives in settings, never in the cached layer: no rule query was needed (the one
    # statement of ours is the audit trail's record of this logout).
    ours = [q["sql"] for q in queries.captured_queries if "logout_rules_" in q["sql"]]
    assert [sql.split()[0] for sql in ours] == ["INSERT"]
    assert all("logout_rules_logoutevent" in sql for sql in ours)


def test_removing_a_ceiling_applies_at_once(settings, user, clock, logged_in_client):
    UserLogoutRuleFactory(user=user, idle_time=timedelta(hours=2))
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 10 * MINUTE
    assert resolver.get_policy(user.pk).idle_time == 600
    settings.LOGOUT_RULES_MAX_IDLE_TIME = None
    assert resolver.get_policy(user.pk).idle_time == 7200
    assert logged_in(logged_in_client.get("/private/"))
    clock.advance(30 * MINUTE)
    assert logged_in(logged_in_client.get("/private/"))


def test_the_warning_still_comes_before_a_lowered_idle_limit(settings, user, clock):
    UserLogoutRuleFactory(
        user=user, idle_time=timedelta(hours=2), warning_time=timedelta(minutes=20)
    )
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 15 * MINUTE
    client = Client()
    client.force_login(user)
    status = client.get(reverse("logout_rules:status")).json()
    assert status["idle_seconds_left"] == 900
    assert status["warning_seconds"] == 450  # half the lowered limit
    assert status["warning_due"] is False
    clock.advance(451)
    status = client.get(reverse("logout_rules:status")).json()
    assert status["warning_due"] is True
    assert status["seconds_left"] == 449


@pytest.fixture
def logged_in_client(user, clock) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- explain and the effective-policy panel ------------------------------------------------------


def test_explain_names_the_ceiling_and_what_the_rules_say(settings, user):
    UserLogoutRuleFactory(user=user, idle_time=timedelta(hours=2), warning_time=timedelta(hours=1))
    settings.LOGOUT_RULES_MAX_IDLE_TIME = timedelta(minutes=15)
    settings.LOGOUT_RULES_MAX_SESSION_TIME = "8h"
    rows = {row.field: row for row in resolver.explain(user.pk)}
    assert rows["idle_time"].value == 900
    assert rows["idle_time"].source == (
        "ceiling LOGOUT_RULES_MAX_IDLE_TIME; the rules say 2h (user rule)"
    )
    assert rows["session_time"].source == (
        "ceiling LOGOUT_RULES_MAX_SESSION_TIME; the rules say no limit"
    )
    assert rows["warning_time"].display.startswith("7m 30s")
    assert rows["warning_time"].source == (
        "ceiling LOGOUT_RULES_MAX_IDLE_TIME; the rules say 1h (user rule)"
    )
    out = StringIO()
    call_command("logout_rules", "explain", "alice", stdout=out)
    assert "[ceiling LOGOUT_RULES_MAX_IDLE_TIME; the rules say 2h (user rule)]" in out.getvalue()


def test_explain_names_the_rule_when_it_is_within_the_ceiling(settings, user):
    UserLogoutRuleFactory(user=user, idle_time=timedelta(minutes=5))
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 15 * MINUTE
    rows = {row.field: row for row in resolver.explain(user.pk)}
    assert (rows["idle_time"].value, rows["idle_time"].source) == (300, "user rule")


def test_the_effective_policy_panel_names_the_ceiling(settings, superuser_client):
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 15 * MINUTE
    rule = UserLogoutRuleFactory(user=UserFactory(username="erin"), idle_time=timedelta(hours=2))
    page = superuser_client.get(
        reverse("admin:logout_rules_userlogoutrule_change", args=[rule.pk])
    ).content.decode()
    panel = page.split("logout-rules-effective")[1].split("</table>")[0]
    assert "ceiling LOGOUT_RULES_MAX_IDLE_TIME; the rules say 2h (user rule)" in panel


# --- refused at the door: the admins --------------------------------------------------------------


@pytest.fixture
def superuser_client(db, clock) -> Client:
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def rule_form(kind: str, **values: str) -> tuple[str, dict[str, object]]:
    """A valid form for a new rule of ``kind`` (global: the singleton), with ``values``."""
    url, data = base_form(kind)
    return url, {**data, "idle_time": "", **values}


def all_rules() -> list[tuple[object, ...]]:
    found: list[tuple[object, ...]] = []
    for model in (GlobalLogoutRule, GroupLogoutRule, UserLogoutRule):
        found += model.objects.order_by("pk").values_list("pk", "idle_time", "session_time")
    return found


@pytest.mark.parametrize("kind", ["global", "group", "user"])
def test_the_admins_refuse_a_value_above_a_ceiling_and_save_nothing(
    settings, superuser_client, kind
):
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 15 * MINUTE
    settings.LOGOUT_RULES_MAX_SESSION_TIME = timedelta(hours=8)
    url, data = rule_form(kind, idle_time="2h", session_time="1 day")
    before = all_rules()
    response = superuser_client.post(url, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["idle_time"] == [IDLE_ERROR]
    assert errors["session_time"] == [SESSION_ERROR]
    assert all_rules() == before


@pytest.mark.parametrize("kind", ["global", "group", "user"])
def test_the_admins_accept_the_ceiling_itself_and_empty(settings, superuser_client, kind):
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 15 * MINUTE
    url, data = rule_form(kind, idle_time="15m")
    assert superuser_client.post(url, data).status_code == 302
    settings.LOGOUT_RULES_MAX_SESSION_TIME = 8 * 60 * MINUTE
    url = url if kind == "global" else url.replace("/add/", f"/{all_rules()[-1][0]}/change/")
    data.update(idle_time="", session_time="")
    assert superuser_client.post(url, data).status_code == 302  # inherit: the ceiling applies


def test_the_form_names_the_ceiling_in_its_help_text(settings, superuser_client):
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 15 * MINUTE
    page = superuser_client.get(reverse("admin:logout_rules_grouplogoutrule_add")).content
    assert b"At most 15m: the site's ceiling LOGOUT_RULES_MAX_IDLE_TIME." in page
    assert b"LOGOUT_RULES_MAX_SESSION_TIME" not in page


def test_a_stored_rule_above_a_new_ceiling_must_be_lowered_to_be_saved(settings, superuser_client):
    rule = GroupLogoutRuleFactory(group=GroupFactory(name="staff"), idle_time=timedelta(hours=2))
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 15 * MINUTE
    url = reverse("admin:logout_rules_grouplogoutrule_change", args=[rule.pk])
    _, data = rule_form("global", idle_time="2h")
    data.update(group=rule.group_id, priority=10, enabled="")
    response = superuser_client.post(url, data)
    assert response.context["adminform"].form.errors["idle_time"] == [IDLE_ERROR]
    assert GroupLogoutRule.objects.get().enabled is True


# --- refused at the door: imports ---------------------------------------------------------------


def test_a_command_line_import_above_a_ceiling_is_refused_whole(settings, tmp_path, db):
    make_population()
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 15 * MINUTE
    settings.LOGOUT_RULES_MAX_SESSION_TIME = timedelta(hours=8)
    before = snapshot()
    path = tmp_path / "rules.json"
    path.write_text(
        json.dumps(
            {
                "global": {"idle_time": "15m"},
                "groups": [
                    {"group": "staff", "idle_time": "00:05:00"},
                    {"group": "everyone", "idle_time": "2h"},
                ],
                "users": [{"user": "sam", "session_time": "1 day"}],
            }
        )
    )
    status, _, err = run_import(path, "--user", "admin")
    assert status == 2
    assert f"groups, row 2: idle_time: {IDLE_ERROR}" in err
    assert f"users, row 1: session_time: {SESSION_ERROR}" in err
    assert snapshot() == before
    status, _, err = run_import(path, "--user", "admin", "--dry-run")
    assert status == 2
    assert "LOGOUT_RULES_MAX_IDLE_TIME is 15m" in err


def test_an_import_within_the_ceilings_uses_every_notation(settings, tmp_path, db):
    make_population()
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 15 * MINUTE
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "groups.csv").write_text(
        "group,idle_time,session_time,warning_time\n"
        "staff,15m,1h 30m,90\n"
        "everyone,PT10M,2 hours,00:01:00\n"
        "contractors,600,1d 12h,45 seconds\n"
    )
    status, _, err = run_import(directory, "--user", "admin")
    assert status == 0, err
    groups = snapshot()["groups"]
    assert groups["staff"]["idle_time"] == timedelta(minutes=15)
    assert groups["staff"]["session_time"] == timedelta(hours=1, minutes=30)
    assert groups["staff"]["warning_time"] == timedelta(seconds=90)  # bare number: seconds
    assert groups["everyone"]["idle_time"] == timedelta(minutes=10)
    assert groups["everyone"]["session_time"] == timedelta(hours=2)
    assert groups["contractors"]["idle_time"] == timedelta(minutes=10)
    assert groups["contractors"]["session_time"] == timedelta(days=1, hours=12)
    assert groups["contractors"]["warning_time"] == timedelta(seconds=45)


def test_an_unchanged_row_above_a_new_ceiling_does_not_block_an_import(settings, tmp_path, db):
    """Only values being written are refused: the check (W094) reports the stored ones."""
    make_population()
    GroupLogoutRuleFactory(group=GroupFactory(name="staff"), idle_time=timedelta(hours=2))
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 15 * MINUTE
    path = tmp_path / "groups.csv"
    path.write_text("group,idle_time\nstaff,02:00:00\neveryone,10m\n")
    status, out, err = run_import(path, "--user", "admin")
    assert status == 0, err
    assert "1 unchanged" in out


def test_the_admin_import_refuses_a_value_above_a_ceiling(settings, client, db):
    admin = make_population()
    client.force_login(admin)
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 15 * MINUTE
    before = snapshot()
    response = upload(
        client, "grouplogoutrule", "groups.csv", b"group,idle_time\nstaff,10m\neveryone,2 hours\n"
    )
    assert response.status_code == 200
    assert response.context.get("confirm_form") is None
    invalid = response.context["result"].invalid_rows
    assert [(row.number, row.error_dict) for row in invalid] == [(2, {"idle_time": [IDLE_ERROR]})]
    assert "LOGOUT_RULES_MAX_IDLE_TIME is 15m (900 seconds)" in response.content.decode()
    assert snapshot() == before


# --- manage.py check ------------------------------------------------------------------------------


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_stored_enabled_rules_above_a_ceiling_are_warnings(settings, db):
    global_rule(idle_time=timedelta(hours=1))
    for name in ("b-team", "a-team"):
        GroupLogoutRuleFactory(group=GroupFactory(name=name), idle_time=timedelta(hours=3))
    GroupLogoutRuleFactory(
        group=GroupFactory(name="off"), idle_time=timedelta(hours=3), enabled=False
    )
    GroupLogoutRuleFactory(group=GroupFactory(name="fine"), idle_time=timedelta(minutes=5))
    UserLogoutRuleFactory(user=UserFactory(username="bob"), session_time=timedelta(days=2))
    assert checks.check_stored_rules() == []  # no ceiling: no query, nothing to say
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 15 * MINUTE
    settings.LOGOUT_RULES_MAX_SESSION_TIME = "1d"
    idle, session = checks.check_stored_rules()
    assert idle.id == "logout_rules.W094"
    assert idle.msg == (
        "3 enabled logout rule(s) set an idle time above LOGOUT_RULES_MAX_IDLE_TIME "
        '(15m, 900 seconds): global rule, group "a-team", group "b-team". The ceiling applies '
        "to them instead."
    )
    assert session.id == "logout_rules.W095"
    assert 'above LOGOUT_RULES_MAX_SESSION_TIME (1d, 86400 seconds): user "bob".' in session.msg


def test_the_stored_rules_check_names_a_few_and_counts_the_rest(settings, db):
    for number in range(4):
        GroupLogoutRuleFactory(group=GroupFactory(name=f"g{number}"), idle_time=timedelta(1))
    for number in range(4):
        UserLogoutRuleFactory(user=UserFactory(username=f"u{number}"), idle_time=timedelta(1))
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 15 * MINUTE
    (warning,) = checks.check_stored_rules()
    assert "8 enabled logout rule(s)" in warning.msg
    assert 'group "g0", group "g1", group "g2", group "g3", user "u0" and 3 more.' in warning.msg
    # Past the first five, the other models are counted, not listed.
    global_rule(idle_time=timedelta(1))
    UserLogoutRuleFactory(user=UserFactory(username="u9"), idle_time=timedelta(1))
    (warning,) = checks.check_stored_rules()
    assert 'global rule, group "g0", group "g1", group "g2", group "g3" and 5 more.' in warning.msg


def test_resolve_fresh_applies_the_ceilings(settings, user):
    UserLogoutRuleFactory(user=user, idle_time=timedelta(hours=2))
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 15 * MINUTE
    assert resolver.resolve_fresh(user.pk).idle_time == 900


def test_the_stored_rules_check_queries_only_with_a_ceiling(settings, db):
    with CaptureQueriesContext(connection) as queries:
        assert checks.check_stored_rules() == []
    assert queries.captured_queries == []


def test_the_stored_rules_check_survives_missing_tables(settings, db, monkeypatch):
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 15 * MINUTE
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE logout_rules_userlogoutrule")  # rolled back after the test
    assert checks.check_stored_rules() == []
    assert GroupLogoutRule.objects.count() == 0  # the connection is still usable


def test_the_stored_rules_check_survives_no_database(settings):
    settings.LOGOUT_RULES_MAX_IDLE_TIME = 15 * MINUTE
    assert checks.check_stored_rules() == []  # queries are forbidden here: no crash


def test_the_checks_are_registered(settings, db):
    settings.LOGOUT_RULES_MAX_IDLE_TIME = "15"
    from django.core.management.base import SystemCheckError

    with pytest.raises(SystemCheckError, match=r"logout_rules\.E090"):
        call_command("check")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"LOGOUT_RULES_MAX_IDLE_TIME": 900}, []),
        ({"LOGOUT_RULES_MAX_IDLE_TIME": None, "LOGOUT_RULES_MAX_SESSION_TIME": None}, []),
        ({"LOGOUT_RULES_MAX_IDLE_TIME": "15"}, ["logout_rules.E090"]),
        ({"LOGOUT_RULES_MAX_SESSION_TIME": 0}, ["logout_rules.E091"]),
        (
            {"LOGOUT_RULES_MAX_IDLE_TIME": 300, "AUTO_LOGOUT": {"IDLE_TIME": "10m"}},
            ["logout_rules.W092"],
        ),
        (
            {"LOGOUT_RULES_MAX_SESSION_TIME": "1h", "AUTO_LOGOUT": {"SESSION_TIME": 7200}},
            ["logout_rules.W093"],
        ),
        (
            {"LOGOUT_RULES_MAX_SESSION_TIME": "1h", "AUTO_LOGOUT": {"SESSION_TIME": 3600}},
            [],
        ),
        (
            {"LOGOUT_RULES_MAX_IDLE_TIME": "bad", "AUTO_LOGOUT": {"IDLE_TIME": 10**6}},
            ["logout_rules.E090"],
        ),
    ],
)
def test_ceiling_setting_checks(settings, values, expected):
    for name, value in values.items():
        setattr(settings, name, value)
    assert ids(checks.check_ceilings()) == expected


def test_ceiling_check_messages(settings):
    settings.LOGOUT_RULES_MAX_IDLE_TIME = "15"
    settings.AUTO_LOGOUT = {"SESSION_TIME": timedelta(days=2)}
    settings.LOGOUT_RULES_MAX_SESSION_TIME = timedelta(days=1)
    invalid, above = checks.check_ceilings()
    assert invalid.msg == (
        "LOGOUT_RULES_MAX_IDLE_TIME is invalid: '15'. It is ignored: no idle-time ceiling applies."
    )
    assert "a string with a unit such as '15m'" in invalid.hint
    assert above.msg == (
        "AUTO_LOGOUT['SESSION_TIME'] (2d) is above LOGOUT_RULES_MAX_SESSION_TIME (1d, 86400 "
        "seconds): the ceiling applies instead."
    )


def test_an_invalid_ceiling_never_causes_a_500(settings, user, clock, logged_in_client):
    UserLogoutRuleFactory(user=user, idle_time=timedelta(minutes=5))
    settings.LOGOUT_RULES_MAX_IDLE_TIME = "fifteen"
    settings.LOGOUT_RULES_MAX_SESSION_TIME = [1]
    assert logged_in(logged_in_client.get("/private/"))
    clock.advance(5 * MINUTE + 1)
    response = logged_in_client.get("/private/")
    assert response.status_code == 302
    assert SESSION_KEY not in logged_in_client.session


def test_the_readme_example_is_what_explain_prints(settings, db):
    from pathlib import Path

    settings.AUTO_LOGOUT = {"MESSAGE": "The session has expired."}
    settings.LOGOUT_RULES_MAX_IDLE_TIME = "15m"
    settings.LOGOUT_RULES_MAX_SESSION_TIME = timedelta(hours=12)
    UserLogoutRuleFactory(user=UserFactory(username="bob"), idle_time=timedelta(hours=2))
    out = StringIO()
    call_command("logout_rules", "explain", "bob", stdout=out)
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    example = readme.split("$ python manage.py logout_rules explain bob\n")[1].split("```")[0]
    assert (
        out.getvalue()
        == "\n".join(line.removeprefix("  ") for line in example.rstrip().splitlines()) + "\n"
    )


def test_the_demo_sets_ceilings_that_its_own_rules_respect(settings, db, monkeypatch):
    import importlib.util

    # The demo's settings import its own apps (on Django 6, demo.csp), as manage.py would find them.
    monkeypatch.syspath_prepend("sample_site")

    spec = importlib.util.spec_from_file_location(
        "demo_settings", "sample_site/sample_site/settings.py"
    )
    assert spec is not None
    assert spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    settings.AUTO_LOGOUT = demo.AUTO_LOGOUT
    settings.LOGOUT_RULES_MAX_IDLE_TIME = demo.LOGOUT_RULES_MAX_IDLE_TIME
    settings.LOGOUT_RULES_MAX_SESSION_TIME = demo.LOGOUT_RULES_MAX_SESSION_TIME
    assert checks.check_ceilings() == []
    make_population()
    from pathlib import Path

    status, _, err = run_import(Path("sample_site/rules.json"), "--user", "admin")
    assert status == 0, err
    assert checks.check_stored_rules() == []
    client = Client()
    client.force_login(UserFactory(username="admin"))
    page = client.get(reverse("admin:logout_rules_grouplogoutrule_add")).content.decode()
    assert "At most 30m: the site's ceiling LOGOUT_RULES_MAX_IDLE_TIME." in page
    assert "At most 12h: the site's ceiling LOGOUT_RULES_MAX_SESSION_TIME." in page
