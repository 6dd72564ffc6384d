"""``manage.py logout_rules export`` / ``import``: rule sets on the command line."""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from logout_rules.models import GlobalLogoutRule, GroupLogoutRule, UserLogoutRule

from .factories import GroupFactory, UserFactory, UserLogoutRuleFactory
from .rulesets_support import (
    SAMPLE_RULES,
    SAMPLES,
    count_invalidations,
    make_population,
    snapshot,
)

BAD = SAMPLES / "bad"
SAMPLE_SETS = [SAMPLES / "ruleset.json", SAMPLES / "ruleset.yaml", SAMPLES / "ruleset-csv"]


@pytest.fixture
def admin(db):
    return make_population()


@pytest.fixture
def sample_rules(admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run_import(SAMPLES / "ruleset.json", "--user", "admin")
    return admin


def run_export(*args: str) -> str:
    out = StringIO()
    call_command("logout_rules", "export", *args, stdout=out)
    return out.getvalue()


def run_import(path: Path, *args: str) -> tuple[int, str, str]:
    """``(exit status, stdout, stderr)`` of ``logout_rules import``."""
    out, err = StringIO(), StringIO()
    try:
        call_command("logout_rules", "import", str(path), *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue() + str(exc)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else -1
        return code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


# --- the sample files ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLE_SETS, ids=lambda path: path.name)
def test_each_sample_format_describes_the_same_rules(admin, path):
    status, out, _ = run_import(path, "--user", "admin")
    assert status == 0, out
    assert snapshot() == SAMPLE_RULES
    assert "7 changes: 6 new, 1 updated, 0 deleted; 0 unchanged." in out


def test_json_export_is_exactly_the_sample(sample_rules):
    assert run_export() == (SAMPLES / "ruleset.json").read_text()


def test_csv_export_is_exactly_the_sample(sample_rules, tmp_path):
    run_export("--format", "csv", "-o", str(tmp_path / "policy"))
    for name in ("global.csv", "groups.csv", "users.csv"):
        written = (tmp_path / "policy" / name).read_bytes()
        assert written == (SAMPLES / "ruleset-csv" / name).read_bytes(), name


def test_yaml_export_is_the_same_document(sample_rules):
    exported = yaml.safe_load(run_export("--format", "yaml"))
    assert exported == json.loads((SAMPLES / "ruleset.json").read_text())


def test_durations_in_every_accepted_notation(admin):
    status, out, _ = run_import(SAMPLES / "durations.users.csv", "--user", "admin")
    assert status == 0, out
    users = snapshot()["users"]
    assert users["sam"]["idle_time"] == timedelta(minutes=10)
    assert users["sam"]["session_time"] == timedelta(hours=1)
    assert users["sam"]["warning_time"] == timedelta(seconds=30)
    assert users["olivia"]["idle_time"] == timedelta(minutes=10)
    assert users["olivia"]["session_time"] == timedelta(days=1)
    assert users["olivia"]["warning_time"] == timedelta(seconds=45)
    assert users["-dash"]["idle_time"] == timedelta(seconds=600.5)
    assert users["-dash"]["session_time"] == timedelta(days=1, hours=2)


# --- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "yaml", "csv"])
def test_export_then_import_changes_nothing(sample_rules, fmt, tmp_path, monkeypatch):
    target = tmp_path / ("policy" if fmt == "csv" else f"policy.{fmt}")
    run_export("--format", fmt, "-o", str(target))
    before = snapshot()
    invalidations = count_invalidations(monkeypatch)
    status, out, _ = run_import(target, "--dry-run")
    assert status == 0
    assert out.startswith("No changes: the database matches ")
    status, out, _ = run_import(target, "--prune")
    assert status == 0
    assert "No changes" in out
    assert snapshot() == before
    assert invalidations == []
    assert not LogEntry.objects.filter(change_message__contains=target.name).exists()


@pytest.mark.parametrize("fmt", ["json", "yaml", "csv"])
def test_an_export_recreates_identical_rules_in_an_empty_database(sample_rules, fmt, tmp_path):
    target = tmp_path / ("policy" if fmt == "csv" else f"policy.{fmt}")
    run_export("--format", fmt, "-o", str(target))
    before = snapshot()
    GroupLogoutRule.objects.all().delete()
    UserLogoutRule.objects.all().delete()
    GlobalLogoutRule.objects.update(session_time=None)
    status, out, _ = run_import(target, "--user", "admin")
    assert status == 0, out
    assert snapshot() == before
    status, out, _ = run_import(target, "--dry-run")
    assert status == 0
    assert out.startswith("No changes")


@pytest.mark.parametrize("fmt", ["json", "yaml", "csv"])
def test_hostile_names_and_messages_round_trip_exactly(admin, fmt, tmp_path):
    from .test_resources import HOSTILE_MESSAGES, HOSTILE_NAMES, exposes_a_formula

    for name, message in zip(HOSTILE_NAMES, HOSTILE_MESSAGES, strict=True):
        GroupLogoutRule.objects.create(
            group=GroupFactory(name=name), message=message, idle_time=timedelta(minutes=5)
        )
    before = snapshot()
    target = tmp_path / ("policy" if fmt == "csv" else f"policy.{fmt}")
    run_export("--format", fmt, "-o", str(target))
    document = json.loads(run_export())
    for row in document["groups"]:
        assert not exposes_a_formula(row["group"])
        assert not exposes_a_formula(row["message"])
    GroupLogoutRule.objects.all().delete()
    status, _, err = run_import(target, "--user", "admin")
    assert status == 0, err
    assert snapshot() == before


def test_json_export_to_standard_output_has_natural_keys_only(sample_rules):
    document = json.loads(run_export())
    assert document["version"] == 1
    assert [row["group"] for row in document["groups"]] == ["staff", "contractors", "everyone"]
    assert [row["user"] for row in document["users"]] == ["'-dash", "olivia", "sam"]
    assert all("id" not in row for row in document["groups"] + document["users"])
    assert "id" not in document["global"]


def test_csv_export_to_stdout_shows_each_file(sample_rules):
    out = run_export("--format", "csv")
    blocks = out.split("\n# ")
    assert [block.split("\n", 1)[0].lstrip("# ") for block in blocks] == [
        "global.csv",
        "groups.csv",
        "users.csv",
    ]
    for block in blocks:
        name, text = block.lstrip("# ").split("\n", 1)
        expected = (SAMPLES / "ruleset-csv" / name).read_bytes().decode()
        # (On a terminal, lines end with "\n"; the files written with -o keep CSV's "\r\n".)
        assert text.rstrip() == expected.replace("\r\n", "\n").rstrip()


def test_csv_export_to_a_csv_name_round_trips(sample_rules, tmp_path):
    run_export("--format", "csv", "-o", str(tmp_path / "policy.csv"))
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == ["policy.global.csv", "policy.groups.csv", "policy.users.csv"]
    status, out, _ = run_import(tmp_path / "policy.csv", "--dry-run")
    assert status == 0
    assert "No changes" in out


# --- dry run and drift --------------------------------------------------------------------------


def drifted(tmp_path: Path) -> Path:
    """The sample with the staff idle time changed, a new rule and one rule left out."""
    document = json.loads((SAMPLES / "ruleset.json").read_text())
    document["groups"][0]["idle_time"] = "00:01:00"
    document["users"] = [row for row in document["users"] if row["user"] != "olivia"]
    document["users"].append({"user": "admin", "session_time": "PT12H"})
    path = tmp_path / "drifted.json"
    path.write_text(json.dumps(document))
    return path


def test_dry_run_reports_drift_with_exit_1_and_touches_nothing(
    sample_rules, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    path = drifted(tmp_path)
    before = snapshot()
    entries = LogEntry.objects.count()
    invalidations = count_invalidations(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        status, out, _ = run_import(path, "--dry-run", "--prune")
    assert status == 1
    assert '~ group "staff": idle_time 00:02:00 -> 00:01:00' in out
    assert '+ user "admin": new (session_time 12:00:00)' in out
    assert '- user "olivia": delete (not in the file)' in out
    assert "3 changes: 1 new, 1 updated, 1 deleted; 5 unchanged." in out
    assert "Dry run: nothing was written." in out
    assert snapshot() == before
    assert LogEntry.objects.count() == entries
    assert callbacks == []
    assert invalidations == []


def test_dry_run_without_drift_exits_0(sample_rules):
    status, out, _ = run_import(SAMPLES / "ruleset.yaml", "--dry-run")
    assert status == 0
    assert out == "No changes: the database matches ruleset.yaml (7 rules unchanged).\n"


def test_import_applies_the_changes_and_invalidates_once_after_commit(
    sample_rules, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    invalidations = count_invalidations(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        status, out, _ = run_import(drifted(tmp_path), "--user", "admin")
        assert invalidations == []  # not before the commit
    assert status == 0
    assert out.splitlines()[-1] == "Applied drifted.json."
    assert invalidations == ["all"]
    rules = snapshot()
    assert rules["groups"]["staff"]["idle_time"] == timedelta(minutes=1)
    assert rules["users"]["admin"]["session_time"] == timedelta(hours=12)
    assert "olivia" in rules["users"]  # kept: no --prune
    # The file now matches every rule it mentions, but the database still holds olivia's rule,
    # which the file does not: that is drift too.
    status, out, _ = run_import(drifted(tmp_path), "--dry-run")
    assert status == 1
    assert out.splitlines()[0] == (
        '? user "olivia": only in the database, not in drifted.json (kept; --prune deletes it)'
    )


def test_prune_deletes_the_rules_the_file_leaves_out(sample_rules, tmp_path):
    status, out, _ = run_import(drifted(tmp_path), "--prune", "--user", "admin")
    assert status == 0
    assert "olivia" not in snapshot()["users"]
    assert '- user "olivia": delete (not in the file)' in out


def test_prune_leaves_scopes_the_file_does_not_contain(sample_rules, tmp_path):
    path = tmp_path / "groups-only.json"
    path.write_text(json.dumps({"groups": [{"group": "staff", "priority": 5}]}))
    status, _, _ = run_import(path, "--prune", "--user", "admin")
    assert status == 0
    rules = snapshot()
    assert list(rules["groups"]) == ["staff"]
    assert rules["groups"]["staff"]["priority"] == 5
    assert rules["users"] == SAMPLE_RULES["users"]
    assert rules["global"] == SAMPLE_RULES["global"]


def test_prune_with_an_empty_scope_deletes_all_of_its_rules(sample_rules, tmp_path):
    path = tmp_path / "no-users.yaml"
    path.write_text("users: []\n")
    status, out, _ = run_import(path, "--prune", "--user", "admin")
    assert status == 0
    assert snapshot()["users"] == {}
    assert "3 changes: 0 new, 0 updated, 3 deleted; 0 unchanged." in out


# --- history ------------------------------------------------------------------------------------


def test_every_imported_change_leaves_a_history_entry(sample_rules, tmp_path):
    LogEntry.objects.all().delete()
    run_import(drifted(tmp_path), "--prune", "--user", "admin")
    entries = {
        (entry.object_repr, entry.action_flag): entry
        for entry in LogEntry.objects.select_related("user")
    }
    assert set(entries) == {
        ('Logout rule for group "staff"', CHANGE),
        ('Logout rule for user "admin"', ADDITION),
        ('Logout rule for user "olivia"', DELETION),
    }
    assert all(entry.user.username == "admin" for entry in entries.values())
    changed = entries[('Logout rule for group "staff"', CHANGE)]
    assert changed.change_message == (
        "Changed by import of drifted.json (manage.py logout_rules import): "
        "idle_time 00:02:00 -> 00:01:00."
    )
    staff_rule = GroupLogoutRule.objects.get(group__name="staff")
    assert changed.object_id == str(staff_rule.pk)
    assert changed.get_edited_object() == staff_rule
    pruned = entries[('Logout rule for user "olivia"', DELETION)]
    assert pruned.change_message.endswith("not in the file (--prune).")


def test_history_defaults_to_the_account_named_like_the_os_login(admin, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "sam")
    status, _, _ = run_import(SAMPLES / "ruleset.json")
    assert status == 0
    assert set(LogEntry.objects.values_list("user__username", flat=True)) == {"sam"}


def test_an_unknown_explicit_history_account_is_an_error(admin):
    status, _, err = run_import(SAMPLES / "ruleset.json", "--user", "ghost")
    assert status == 2
    assert "No account 'ghost' to record" in err
    assert not GroupLogoutRule.objects.exists()


def test_without_an_account_the_import_applies_without_history(admin, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "nobody-here")
    status, _, err = run_import(SAMPLES / "ruleset.json")
    assert status == 0
    assert GroupLogoutRule.objects.exists()
    assert not LogEntry.objects.exists()
    assert "No admin history entries were written" in err
    assert "--user USERNAME" in err


# --- bad files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("unknown-group.json", ["groups, row 2: group: No group with name 'nobody'."]),
        ("unknown-user.json", ["users, row 2: user: No user with username 'ghost'."]),
        (
            "duplicate.json",
            ["users, row 3: user: User 'sam' appears more than once in the file (first in row 1)."],
        ),
        (
            "durations.yaml",
            [
                "users, row 1: idle_time: Enter a duration longer than zero",
                "users, row 2: idle_time: Enter a duration of at most 3650 days.",
                "users, row 2: session_time: Enter a duration longer than zero",
                "users, row 3: warning_time: 'ten minutes' is not a duration: use seconds (600),",
            ],
        ),
        (
            "flags.json",
            [
                "groups, row 1: redirect_to_login_immediately: 'maybe' is not a yes/no value",
                "groups, row 2: enabled: 2 is not a yes/no value",
                "groups, row 3: priority: 0 is not a priority",
            ],
        ),
        (
            "unknown-column.json",
            ["users: Unknown column 'idle'. The columns are: user, idle_time, session_time"],
        ),
        (
            "missing-column.users.csv",
            ["users: Unknown column 'username'.", "Missing required column 'user'."],
        ),
        ("empty.json", ["empty.json is empty."]),
        ("not-json.json", ["not-json.json is not valid JSON: Expecting value: line 1 column 1"]),
        ("not-yaml.yaml", ["not-yaml.yaml is not valid YAML: "]),
        ("not-text.users.csv", ["not-text.users.csv is not UTF-8 text, so not a CSV file."]),
        ("not-a-ruleset.json", ["not-a-ruleset.json is not a rule set: expected an object"]),
    ],
)
def test_a_bad_file_writes_nothing_and_names_every_bad_row(
    sample_rules, name, expected, monkeypatch, django_capture_on_commit_callbacks
):
    before = snapshot()
    entries = LogEntry.objects.count()
    invalidations = count_invalidations(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        status, out, err = run_import(BAD / name, "--user", "admin")
    assert status == 2
    for fragment in expected:
        assert fragment in err, err
    assert f"{name} was not applied: nothing was written." in err
    assert out == ""
    assert snapshot() == before
    assert LogEntry.objects.count() == entries
    assert callbacks == []
    assert invalidations == []


def test_good_rows_are_not_written_when_another_row_is_bad(admin):
    # unknown-group.json has a valid "staff" row before the bad one.
    status, _, _ = run_import(BAD / "unknown-group.json", "--user", "admin")
    assert status == 2
    assert not GroupLogoutRule.objects.exists()


def test_a_bad_row_in_one_scope_rolls_back_the_other_scopes(admin, tmp_path):
    path = tmp_path / "mixed.json"
    path.write_text(
        json.dumps(
            {
                "global": {"idle_time": "00:10:00"},
                "groups": [{"group": "staff", "idle_time": "00:05:00"}],
                "users": [{"user": "sam", "enabled": "perhaps"}],
            }
        )
    )
    status, _, err = run_import(path, "--user", "admin")
    assert status == 2
    assert "users, row 1: enabled: 'perhaps' is not a yes/no value" in err
    assert not GroupLogoutRule.objects.exists()
    assert GlobalLogoutRule.objects.get().idle_time is None


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(admin, settings, tmp_path):
    settings.LOGOUT_RULES_IMPORT_MAX_BYTES = 100
    status, _, err = run_import(SAMPLES / "ruleset.json", "--user", "admin")
    assert status == 2
    size = (SAMPLES / "ruleset.json").stat().st_size
    assert (
        f"ruleset.json is {size} bytes, more than the limit of 100 bytes "
        "(LOGOUT_RULES_IMPORT_MAX_BYTES)." in err
    )
    assert not GroupLogoutRule.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{}", "has no rules: expected at least one of the keys global, groups, users."),
        ('{"version": 2, "groups": []}', "Unsupported version 2: this is version 1."),
        ('{"group": []}', "Unknown key 'group': the keys are version, global, groups, users."),
        ('{"global": []}', "global: The global rule must be one object."),
        ('{"users": {"user": "sam"}}', "users: Expected a list of rules"),
        ('{"users": [{"user": "sam", "message": ["a"]}]}', "users, row 1: message: expected a"),
    ],
)
def test_documents_that_are_not_rule_sets(admin, tmp_path, content, message):
    path = tmp_path / "doc.json"
    path.write_text(content)
    status, _, err = run_import(path, "--user", "admin")
    assert status == 2
    assert message in err


def test_files_whose_format_cannot_be_told(admin, tmp_path):
    path = tmp_path / "rules.txt"
    path.write_text('{"groups": []}')
    status, _, err = run_import(path)
    assert status == 2
    assert "Cannot tell the format of rules.txt: use --format json, yaml or csv." in err
    status, _, _ = run_import(path, "--format", "json", "--dry-run")
    assert status == 0
    csv_file = tmp_path / "rules.csv"
    csv_file.write_text("group\n")
    status, _, err = run_import(csv_file)
    assert status == 2
    assert "Cannot tell which rules rules.csv holds" in err
    status, _, err = run_import(tmp_path / "missing.json")
    assert status == 2
    assert "does not exist" in err
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    status, _, err = run_import(empty_dir)
    assert status == 2
    assert "contains none of global.csv, groups.csv, users.csv" in err


def test_a_csv_directory_may_hold_some_scopes_only(sample_rules, tmp_path):
    policy = tmp_path / "policy"
    policy.mkdir()
    shutil.copy(SAMPLES / "ruleset-csv" / "groups.csv", policy / "groups.csv")
    status, out, _ = run_import(policy, "--dry-run", "--prune")
    assert (status, out.splitlines()[0]) == (
        0,
        "No changes: the database matches policy/ (3 rules unchanged).",
    )


# --- live sessions and scale --------------------------------------------------------------------


def test_a_stricter_imported_rule_logs_a_live_session_out_on_its_next_request(
    logged_in, clock, user, tmp_path, django_capture_on_commit_callbacks
):
    UserFactory(username="admin")
    assert logged_in.get("/private/").status_code == 200  # the policy is now cached
    clock.advance(90)
    assert logged_in.get("/private/").status_code == 200  # 90 s idle is fine under 10 min
    path = tmp_path / "strict.json"
    path.write_text(json.dumps({"users": [{"user": "alice", "idle_time": 60}]}))
    with django_capture_on_commit_callbacks(execute=True):
        status, _, _ = run_import(path, "--user", "admin")
    assert status == 0
    clock.advance(61)
    response = logged_in.get("/private/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/private/"


def test_ten_thousand_user_rules_import_in_seconds_with_one_invalidation(
    db, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    user_model = get_user_model()
    user_model.objects.bulk_create([user_model(username=f"user{n:05d}") for n in range(10_000)])
    admin = UserFactory(username="admin")
    rows = [
        {"user": f"user{n:05d}", "idle_time": "00:10:00", "session_time": 3600, "message": "Bye"}
        for n in range(10_000)
    ]
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"users": rows}))
    invalidations = count_invalidations(monkeypatch)
    started = time.perf_counter()
    with django_capture_on_commit_callbacks(execute=True):
        status, out, _ = run_import(path, "--user", "admin")
    elapsed = time.perf_counter() - started
    print(f"\nimported 10,000 user rules in {elapsed:.1f} s")
    assert status == 0
    assert "10000 changes: 10000 new, 0 updated, 0 deleted; 0 unchanged." in out
    assert UserLogoutRule.objects.count() == 10_000
    assert LogEntry.objects.filter(user=admin, action_flag=ADDITION).count() == 10_000
    assert invalidations == ["all"]
    assert elapsed < 60
    started = time.perf_counter()
    status, out, _ = run_import(path, "--dry-run")
    print(f"re-checked 10,000 unchanged user rules in {time.perf_counter() - started:.1f} s")
    assert status == 0


def test_sample_site_rule_set_matches_the_seeded_demo(db, tmp_path):
    # The demo app is not installed in the test settings: load its seed command from its file.
    spec = importlib.util.spec_from_file_location(
        "seed_demo", "sample_site/demo/management/commands/seed_demo.py"
    )
    assert spec is not None
    assert spec.loader is not None
    seed_demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed_demo)
    seed_demo.Command(stdout=StringIO()).handle()
    status, out, _ = run_import(Path("sample_site/rules.json"), "--dry-run")
    assert (status, out.splitlines()[0][:10]) == (0, "No changes")
    # And on a database where the rules drifted, it restores them.
    GroupLogoutRule.objects.filter(group__name="staff").update(idle_time=timedelta(hours=1))
    UserLogoutRuleFactory(user=UserFactory(username="sam"), idle_time=timedelta(hours=2))
    status, _, _ = run_import(Path("sample_site/rules.json"), "--user", "admin")
    assert status == 0
    assert GroupLogoutRule.objects.get(group__name="staff").idle_time == timedelta(minutes=2)


# --- edges --------------------------------------------------------------------------------------


def test_csv_edges(sample_rules, tmp_path):
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "global.csv").write_text("idle_time\n600\n1200\n")
    (policy / "users.csv").write_text("user,user,delete\n,,\nsam,sam,perhaps\n")
    status, _, err = run_import(policy, "--user", "admin")
    assert status == 2
    for fragment in (
        "global, row 2: The global rule is a single row; remove the extra rows.",
        "users: Column 'user' appears more than once.",
        "users, row 1: user: Enter the user's username.",
        "users, row 2: delete: 'perhaps' is not a yes/no value",
    ):
        assert fragment in err, err
    assert snapshot() == SAMPLE_RULES


def test_trailing_blank_rows_are_ignored_and_a_header_only_file_means_no_rules(
    sample_rules, tmp_path
):
    users = tmp_path / "users.csv"
    users.write_text("user,idle_time\nsam,00:05:00\n,\n,\n")
    status, out, _ = run_import(users, "--dry-run")
    assert status == 1
    assert '~ user "sam": session_time 01:00:00 -> (inherit)' in out
    users.write_text("user\n")
    status, out, _ = run_import(users, "--prune", "--user", "admin")
    assert status == 0
    assert snapshot()["users"] == {}


def test_the_global_rule_is_created_when_its_row_is_missing(admin, tmp_path):
    GlobalLogoutRule.objects.all().delete()
    document = json.loads(run_export())
    assert document["global"]["session_time"] is None
    path = tmp_path / "global.json"
    path.write_text(json.dumps({"global": {"idle_time": "PT20M"}}))
    status, out, _ = run_import(path, "--user", "admin")
    assert status == 0
    assert "+ global rule: new (idle_time 00:20:00)" in out
    assert GlobalLogoutRule.objects.get().idle_time == timedelta(minutes=20)


def test_history_ids_on_databases_without_returning_bulk_inserts(admin, monkeypatch):
    # MySQL cannot return the ids of bulk-inserted rows: they are looked up for the history.
    from django.db import connection

    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    status, _, _ = run_import(SAMPLES / "ruleset.json", "--user", "admin")
    assert status == 0
    for entry in LogEntry.objects.filter(action_flag=ADDITION):
        assert entry.get_edited_object() is not None


def test_export_errors_exit_2(db, tmp_path):
    with pytest.raises(CommandError, match="Cannot write") as caught:
        run_export("-o", str(tmp_path))  # a directory is not a JSON file
    assert caught.value.returncode == 2


def test_a_directory_is_not_a_json_file(admin, tmp_path):
    status, _, err = run_import(tmp_path, "--format", "json")
    assert status == 2
    assert "is a directory, not a JSON file." in err


@pytest.mark.parametrize("value", [0, -1, "10", True, 1.5])
def test_a_bad_size_limit_is_a_check_error_and_the_default_applies(settings, value):
    from logout_rules import checks
    from logout_rules.conf import DEFAULT_IMPORT_MAX_BYTES, conf

    settings.LOGOUT_RULES_IMPORT_MAX_BYTES = value
    assert [message.id for message in checks.check_app_settings()] == ["logout_rules.E040"]
    assert conf.IMPORT_MAX_BYTES == DEFAULT_IMPORT_MAX_BYTES
    settings.LOGOUT_RULES_IMPORT_MAX_BYTES = 1024
    assert checks.check_app_settings() == []
    assert conf.IMPORT_MAX_BYTES == 1024


# --- what the terminal shows --------------------------------------------------------------------

ESCAPES = "\x1b[2J\x1b]0;owned\x07\x9b31m\u202e\r"


@pytest.fixture
def escaping_rules(sample_rules):
    GroupLogoutRule.objects.filter(group__name="staff").update(message=f"bye{ESCAPES}")
    return sample_rules


def has_terminal_controls(text: str) -> bool:
    return any(char in text for char in "\x1b\x07\x9b\u202e\r")


@pytest.mark.parametrize("fmt", ["csv", "json", "yaml"])
def test_export_to_standard_output_never_sends_terminal_escapes(escaping_rules, fmt, tmp_path):
    out = run_export("--format", fmt)
    assert not has_terminal_controls(out)
    if fmt == "json":  # still the same document, through JSON's own escapes
        document = json.loads(out)
        staff = next(row for row in document["groups"] if row["group"] == "staff")
        assert staff["message"] == f"bye{ESCAPES}"
    if fmt == "csv":
        assert "bye\\x1b[2J" in out
    # A file written with -o is exact.
    target = tmp_path / ("policy" if fmt == "csv" else f"policy.{fmt}")
    run_export("--format", fmt, "-o", str(target))
    if fmt == "csv":
        assert f"bye{ESCAPES}" in (target / "groups.csv").read_bytes().decode()
    else:
        load = json.loads if fmt == "json" else yaml.safe_load
        document = load(target.read_text(encoding="utf-8"))
        assert f"bye{ESCAPES}" in [row["message"] for row in document["groups"]]
    status, out, _ = run_import(target, "--dry-run")
    assert (status, out.splitlines()[0][:10]) == (0, "No changes")


def test_import_output_never_sends_terminal_escapes(sample_rules, tmp_path):
    path = tmp_path / "escapes.json"
    path.write_text(
        json.dumps(
            {
                "groups": [{"group": "staff", "message": f"hi{ESCAPES}"}],
                "users": [{"user": f"gh{ESCAPES}ost"}],
            }
        )
    )
    status, out, err = run_import(path, "--dry-run")
    assert status == 2
    assert not has_terminal_controls(out + err)
    assert "No user with username 'gh\\x1b[2J" in err
    path.write_text(json.dumps({"groups": [{"group": "staff", "message": f"hi{ESCAPES}"}]}))
    status, out, err = run_import(path, "--dry-run")
    assert status == 1
    assert '~ group "staff"' in out
    assert not has_terminal_controls(out + err)


# --- the history account ------------------------------------------------------------------------


def test_an_unknown_history_account_is_an_error_even_in_a_dry_run(sample_rules):
    status, out, err = run_import(SAMPLES / "ruleset.json", "--dry-run", "--user", "nobody")
    assert status == 2
    assert "No account 'nobody' to record the changes" in err
    assert out == ""


# --- drift: rules only in the database ----------------------------------------------------------


def test_a_dry_run_reports_rules_that_exist_only_in_the_database(sample_rules):
    UserLogoutRuleFactory(user=UserFactory(username="extra"), idle_time=timedelta(hours=1))
    status, out, _ = run_import(SAMPLES / "ruleset.json", "--dry-run")
    assert status == 1
    assert out.splitlines() == [
        '? user "extra": only in the database, not in ruleset.json (kept; --prune deletes it)',
        "0 changes: 0 new, 0 updated, 0 deleted; 7 unchanged; 1 only in the database.",
        "Dry run: nothing was written.",
    ]
    # --prune --dry-run shows the same rule as a delete; both catch the drift.
    status, out, _ = run_import(SAMPLES / "ruleset.json", "--dry-run", "--prune")
    assert status == 1
    assert '- user "extra": delete (not in the file)' in out


def test_applying_without_prune_keeps_and_names_the_rules_only_in_the_database(sample_rules):
    UserLogoutRuleFactory(user=UserFactory(username="extra"), idle_time=timedelta(hours=1))
    status, out, _ = run_import(SAMPLES / "ruleset.json", "--user", "admin")
    assert status == 0
    assert out.splitlines() == [
        '? user "extra": only in the database, not in ruleset.json (kept; --prune deletes it)',
        "0 changes: 0 new, 0 updated, 0 deleted; 7 unchanged; 1 only in the database.",
        "Nothing was written.",
    ]
    assert UserLogoutRule.objects.filter(user__username="extra").exists()


def test_scopes_the_file_leaves_out_are_not_drift(sample_rules, tmp_path):
    path = tmp_path / "groups.json"
    path.write_text(json.dumps({"groups": json.loads(run_export())["groups"]}))
    status, out, _ = run_import(path, "--dry-run")
    assert (status, out) == (
        0,
        "No changes: the database matches groups.json (3 rules unchanged).\n",
    )


# --- a running development server ---------------------------------------------------------------


def test_an_import_says_when_a_running_server_keeps_its_own_cache(admin, settings, tmp_path):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    status, _, err = run_import(SAMPLES / "ruleset.json", "--user", "admin")
    assert status == 0
    assert "the policy cache 'default' (LocMemCache) is per process" in err
    assert "restart" in err
    status, _, err = run_import(SAMPLES / "ruleset.json", "--user", "admin")  # nothing changed
    assert "per process" not in err
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"users": [{"user": "sam", "idle_time": 60}]}))
    status, _, err = run_import(path, "--user", "admin")
    assert status == 0
    assert "per process" not in err
