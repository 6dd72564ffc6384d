"""The import and export buttons of the group-rule and user-rule admins."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import openpyxl  # type: ignore[import-untyped]
import pytest
import yaml
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from logout_rules.models import GroupLogoutRule, UserLogoutRule
from logout_rules.resources import FORMATS

from .factories import UserFactory
from .rulesets_support import SAMPLES, count_invalidations, make_population, snapshot

FORMAT_INDEX = {
    fmt.__name__.removesuffix("Format").lower(): str(i) for i, fmt in enumerate(FORMATS)
}
MODELS = ("grouplogoutrule", "userlogoutrule")


@pytest.fixture
def sample_rules(db, client):
    admin = make_population()
    client.force_login(admin)
    response = upload(client, "grouplogoutrule", "groups.csv", sample_csv("groups.csv"))
    confirm(client, "grouplogoutrule", response)
    response = upload(client, "userlogoutrule", "users.csv", sample_csv("users.csv"))
    confirm(client, "userlogoutrule", response)
    return admin


def sample_csv(name: str) -> bytes:
    return (SAMPLES / "ruleset-csv" / name).read_bytes()


def url(model: str, view: str) -> str:
    return reverse(f"admin:logout_rules_{model}_{view}")


def upload(client: Client, model: str, name: str, content: bytes, fmt: str = "csv"):
    """Step 1: upload a file; the response is the preview (or the errors)."""
    return client.post(
        url(model, "import"),
        {
            "resource": "0",
            "format": FORMAT_INDEX[fmt],
            "import_file": SimpleUploadedFile(name, content),
        },
    )


def confirm(client: Client, model: str, preview):
    """Step 2: confirm the previewed import."""
    form = preview.context["confirm_form"]
    assert form is not None, preview.content.decode()
    return client.post(url(model, "process_import"), form.initial)


def export(client: Client, model: str, fmt: str):
    return client.post(url(model, "export"), {"resource": "0", "format": FORMAT_INDEX[fmt]})


def preview_types(preview) -> list[str]:
    return [row.import_type for row in preview.context["result"].valid_rows()]


# --- buttons and round trips --------------------------------------------------------------------


def test_changelists_offer_import_and_export(sample_rules, client):
    for model in MODELS:
        content = client.get(url(model, "changelist")).content.decode()
        assert url(model, "import") in content
        assert url(model, "export") in content
        assert "staff" in content or "olivia" in content  # the usual columns are still there


def test_import_and_export_pages_offer_csv_xlsx_json_yaml(sample_rules, client):
    for model in MODELS:
        for view in ("import", "export"):
            content = client.get(url(model, view)).content.decode()
            for title in ("csv", "xlsx", "json", "yaml"):
                assert f">{title}</option>" in content, (model, view, title)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json", "yaml"])
@pytest.mark.parametrize("model", MODELS)
def test_export_then_import_is_all_unchanged(sample_rules, client, model, fmt):
    before = snapshot()
    response = export(client, model, fmt)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    preview = upload(client, model, f"rules.{fmt}", response.content, fmt)
    assert preview.status_code == 200
    assert preview_types(preview) == ["skip", "skip", "skip"]
    assert "Skipped" in preview.content.decode()
    confirmed = confirm(client, model, preview)
    assert confirmed.status_code == 302
    assert snapshot() == before


def test_exports_are_safe_in_a_spreadsheet(sample_rules, client, settings):
    settings.IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = False  # ours does not depend on it
    text = export(client, "userlogoutrule", "csv").content.decode()
    assert "'=HYPERLINK" in text
    workbook = openpyxl.load_workbook(io.BytesIO(export(client, "userlogoutrule", "xlsx").content))
    assert all(cell.data_type != "f" for row in workbook.active.iter_rows() for cell in row)


def test_json_and_yaml_exports_encode_inherit_and_no_message(sample_rules, client):
    rows = json.loads(export(client, "grouplogoutrule", "json").content)
    messages = {row["group"]: row["message"] for row in rows}
    assert messages["everyone"] is None
    assert messages["contractors"] == "(no message)"
    rows = yaml.safe_load(export(client, "grouplogoutrule", "yaml").content)
    assert {row["group"]: row["message"] for row in rows} == messages


# --- the preview, the confirmation and the history ----------------------------------------------


def test_preview_shows_new_updated_unchanged_and_deleted_rows_and_writes_nothing(
    sample_rules, client, monkeypatch, django_capture_on_commit_callbacks
):
    Group.objects.create(name="auditors")
    content = (
        b"group,priority,idle_time,delete\n"
        b"staff,10,00:01:00,\n"  # updated
        b"auditors,5,PT3M,\n"  # new
        b"contractors,,,true\n"  # deleted
        b"everyone,100,00:30:00,\n"  # unchanged
    )
    before = snapshot()
    invalidations = count_invalidations(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        preview = upload(client, "grouplogoutrule", "changes.csv", content)
    assert preview_types(preview) == ["update", "new", "delete", "skip"]
    page = preview.content.decode()
    for label in ("Update", "New", "Delete", "Skipped", "Confirm import"):
        assert label in page
    assert snapshot() == before
    assert callbacks == []
    assert invalidations == []

    LogEntry.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        response = confirm(client, "grouplogoutrule", preview)
    assert response.status_code == 302
    assert response["Location"] == url("grouplogoutrule", "changelist")
    assert invalidations == ["all"]
    groups = snapshot()["groups"]
    assert groups["staff"]["idle_time"] == timedelta(minutes=1)
    assert groups["auditors"]["idle_time"] == timedelta(minutes=3)
    assert "contractors" not in groups
    entries = {
        (entry.object_repr, entry.action_flag): entry.change_message
        for entry in LogEntry.objects.filter(user=sample_rules)
    }
    assert entries == {
        ('Logout rule for group "staff"', CHANGE): (
            "Changed by import of changes.csv (admin): idle_time 00:02:00 -> 00:01:00; "
            "session_time 00:30:00 -> (inherit); warning_time 00:00:30 -> (inherit); "
            'message "Staff sessions end after 2 idle minutes." -> (inherit); '
            "redirect_to_login_immediately true -> (inherit)."
        ),
        ('Logout rule for group "auditors"', ADDITION): (
            "Added by import of changes.csv (admin): priority 5; idle_time 00:03:00."
        ),
        ('Logout rule for group "contractors"', DELETION): (
            "Deleted by import of changes.csv (admin)."
        ),
    }
    messages = [str(message) for message in response.wsgi_request._messages]
    assert messages == [
        "Import finished: 1 new, 1 updated, 1 deleted and 1 skipped group logout rules."
    ]


def test_preview_shows_empty_cells_empty(sample_rules, client):
    preview = upload(client, "userlogoutrule", "users.csv", b"user,idle_time\nadmin,60\n")
    page = preview.content.decode()
    table = page[page.index('<table class="import-preview">') :]
    table = table[: table.index("</table>")]
    assert "00:01:00" in table
    assert "None" not in table


def test_history_is_written_even_when_the_project_skips_the_admin_log(
    sample_rules, client, settings
):
    settings.IMPORT_EXPORT_SKIP_ADMIN_LOG = True
    LogEntry.objects.all().delete()
    preview = upload(client, "userlogoutrule", "users.csv", b"user,idle_time\nadmin,60\n")
    confirm(client, "userlogoutrule", preview)
    assert LogEntry.objects.filter(action_flag=ADDITION, user=sample_rules).count() == 1


def test_confirmation_is_always_asked(sample_rules, client, settings):
    settings.IMPORT_EXPORT_SKIP_ADMIN_CONFIRM = True
    preview = upload(client, "userlogoutrule", "users.csv", b"user,idle_time\nadmin,60\n")
    assert preview.status_code == 200
    assert preview.context["confirm_form"] is not None
    assert not UserLogoutRule.objects.filter(user__username="admin").exists()


def test_a_confirmation_that_no_longer_applies_writes_nothing(sample_rules, client):
    Group.objects.create(name="auditors")
    preview = upload(
        client, "grouplogoutrule", "g.csv", b"group,idle_time\nstaff,60\nauditors,60\n"
    )
    assert preview.context["confirm_form"] is not None
    Group.objects.filter(name="auditors").delete()  # between the preview and the confirmation
    before = snapshot()
    LogEntry.objects.all().delete()
    response = confirm(client, "grouplogoutrule", preview)
    assert response.status_code == 302
    assert response["Location"] == url("grouplogoutrule", "import")
    assert snapshot() == before
    assert not LogEntry.objects.exists()
    messages = [str(message) for message in response.wsgi_request._messages]
    assert messages == [
        "Nothing was imported: the file no longer applies cleanly. Upload it again."
    ]


# --- bad files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "content", "fmt", "expected"),
    [
        ("grouplogoutrule", b"group,idle_time\nstaff,60\nnobody,60\n", "csv", "No group with name"),
        ("userlogoutrule", b"user,idle_time\nghost,60\n", "csv", "No user with username"),
        ("userlogoutrule", b"user,idle_time\nsam,0\nsam,PT1M\n", "csv", "appears more than once"),
        ("userlogoutrule", b"user,idle_time\nsam,-60\n", "csv", "longer than zero"),
        ("userlogoutrule", b"user,idle_time\nsam,soon\n", "csv", "is not a duration"),
        ("userlogoutrule", b"user,enabled\nsam,maybe\n", "csv", "is not a yes/no value"),
        ("userlogoutrule", b"user,idle\nsam,60\n", "csv", "Unknown column"),
        ("userlogoutrule", b"name,idle_time\nsam,60\n", "csv", "Missing required column"),
        ("userlogoutrule", b"", "csv", "The submitted file is empty."),
        ("userlogoutrule", b"user,idle_time\n", "csv", "No valid data to import"),
        ("userlogoutrule", b"user: sam", "json", "This file is not valid JSON: Expecting"),
        ("userlogoutrule", b"not a workbook", "xlsx", "This is not an XLSX workbook."),
    ],
)
def test_a_bad_file_shows_the_problems_and_cannot_be_confirmed(
    sample_rules, client, model, content, fmt, expected
):
    before = snapshot()
    response = upload(client, model, f"bad.{fmt}", content, fmt)
    assert response.status_code == 200
    assert response.context.get("confirm_form") is None
    assert expected in response.content.decode()
    assert snapshot() == before


def test_a_bad_row_shows_its_row_number(sample_rules, client):
    response = upload(client, "userlogoutrule", "u.csv", b"user,idle_time\nsam,60\nghost,60\n")
    invalid = response.context["result"].invalid_rows
    assert [(row.number, row.error_dict) for row in invalid] == [
        (2, {"user": ["No user with username 'ghost'."]})
    ]


def test_a_file_over_the_size_limit_is_refused(sample_rules, client, settings):
    settings.LOGOUT_RULES_IMPORT_MAX_BYTES = 10
    response = upload(client, "userlogoutrule", "u.csv", b"user,idle_time\nsam,60\n")
    assert response.context.get("confirm_form") is None
    assert "more than the limit of 10 bytes" in response.content.decode()


# --- permissions --------------------------------------------------------------------------------


@pytest.fixture
def staff(db):
    return UserFactory(username="staffer", is_staff=True)


def grant(user, *codenames: str) -> None:
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))


def views_status(staff_user, model: str) -> dict[str, int]:
    client = Client()
    client.force_login(staff_user)
    return {
        "import": client.get(url(model, "import")).status_code,
        "process_import": client.post(url(model, "process_import"), {}).status_code,
        "export": client.get(url(model, "export")).status_code,
    }


@pytest.mark.parametrize("model", MODELS)
def test_staff_without_permission_gets_403_on_import_and_export(staff, model):
    assert views_status(staff, model) == {"import": 403, "process_import": 403, "export": 403}


@pytest.mark.parametrize("model", MODELS)
def test_view_permission_allows_export_only(staff, model):
    grant(staff, f"view_{model}")
    assert views_status(staff, model) == {"import": 403, "process_import": 403, "export": 200}


@pytest.mark.parametrize(("model", "codename"), [(m, c) for m in MODELS for c in ("add", "change")])
def test_import_needs_both_add_and_change(staff, model, codename):
    grant(staff, f"view_{model}", f"{codename}_{model}")
    assert views_status(staff, model)["import"] == 403


@pytest.mark.parametrize("model", MODELS)
def test_add_and_change_allow_import(staff, model, settings):
    # Project-wide import-export permission settings do not change our rules.
    settings.IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "delete"
    settings.IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "delete"
    grant(staff, f"add_{model}", f"change_{model}")
    # (An empty confirmation is refused with a message: a redirect to the import page.)
    assert views_status(staff, model) == {"import": 200, "process_import": 302, "export": 200}


DELETING = b"group,delete\ncontractors,true\nstaff,false\n"


@pytest.mark.parametrize("model", MODELS)
def test_deleting_through_an_import_needs_the_delete_permission(sample_rules, staff, model):
    grant(staff, f"view_{model}", f"add_{model}", f"change_{model}")
    client = Client()
    client.force_login(staff)
    content = DELETING if model == "grouplogoutrule" else b"user,delete\nsam,yes\n"
    before = snapshot()
    preview = upload(client, model, "deleting.csv", content)
    assert preview.status_code == 200
    assert preview.context.get("confirm_form") is None
    invalid = preview.context["result"].invalid_rows
    label = "group" if model == "grouplogoutrule" else "user"
    assert [(row.number, row.error_dict) for row in invalid] == [
        (
            1,
            {
                "delete": [
                    f"You may not delete {label} logout rules: deleting through an import "
                    "needs the delete permission."
                ]
            },
        )
    ]
    assert snapshot() == before


def test_a_confirmation_posted_without_delete_permission_deletes_nothing(sample_rules, staff):
    # The preview was made by someone allowed to delete; the confirmation is posted by a staff
    # member who is not (a forged or shared confirmation form).
    preview = upload(Client(), "grouplogoutrule", "deleting.csv", DELETING)  # anonymous: no
    assert preview.status_code == 302
    root = Client()
    root.force_login(sample_rules)
    preview = upload(root, "grouplogoutrule", "deleting.csv", DELETING)
    form = preview.context["confirm_form"]
    grant(staff, "view_grouplogoutrule", "add_grouplogoutrule", "change_grouplogoutrule")
    client = Client()
    client.force_login(staff)
    before = snapshot()
    response = client.post(url("grouplogoutrule", "process_import"), form.initial)
    assert response.status_code == 302
    assert response["Location"] == url("grouplogoutrule", "import")
    assert snapshot() == before
    assert "contractors" in snapshot()["groups"]


def test_view_only_staff_sees_the_export_button_but_not_import(staff):
    grant(staff, "view_userlogoutrule")
    client = Client()
    client.force_login(staff)
    content = client.get(url("userlogoutrule", "changelist")).content.decode()
    assert url("userlogoutrule", "export") in content
    assert url("userlogoutrule", "import") not in content


def test_the_other_admin_pages_still_work(sample_rules, client):
    rule = UserLogoutRule.objects.get(user__username="sam")
    page = client.get(reverse("admin:logout_rules_userlogoutrule_change", args=[rule.pk]))
    assert page.status_code == 200
    assert "What this user really gets, and why" in page.content.decode()
    assert GroupLogoutRule.objects.count() == 3


def test_the_admin_import_reads_every_notation_and_bare_seconds(sample_rules, client):
    content = (
        b"group,priority,idle_time,session_time,warning_time\n"
        b"staff,10,15m,1h 30m,90\n"
        b"everyone,100,PT10M,2 hours,00:01:00\n"
        b"contractors,50,600,1d 12h,45 seconds\n"
    )
    preview = upload(client, "grouplogoutrule", "notations.csv", content)
    assert not preview.context["result"].invalid_rows
    assert confirm(client, "grouplogoutrule", preview).status_code == 302
    rules = {rule.group.name: rule for rule in GroupLogoutRule.objects.select_related("group")}
    assert (rules["staff"].idle_time, rules["staff"].session_time) == (
        timedelta(minutes=15),
        timedelta(hours=1, minutes=30),
    )
    assert rules["staff"].warning_time == timedelta(seconds=90)  # a bare number: seconds
    assert rules["everyone"].idle_time == timedelta(minutes=10)
    assert rules["contractors"].idle_time == timedelta(minutes=10)
    assert rules["contractors"].session_time == timedelta(days=1, hours=12)
    assert rules["contractors"].warning_time == timedelta(seconds=45)
