"""The logout events admin: read-only pages and permissions, filters, search, date hierarchy,
export (CSV, JSON, XLSX) and the summary of the last 30 days (no inline script or style, readable
without colour, constant queries)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone

import openpyxl  # type: ignore[import-untyped]
import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from logout_rules.admin import event_summary
from logout_rules.event_resource import EVENT_COLUMNS, EVENT_FORMATS, available_formats
from logout_rules.models import LogoutEvent

from .factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:logout_rules_logoutevent_changelist")
EXPORT = reverse("admin:logout_rules_logoutevent_export")
ADD = reverse("admin:logout_rules_logoutevent_add")
FORMAT_INDEX = {
    fmt.__name__.removesuffix("Format").lower(): str(index)
    for index, fmt in enumerate(EVENT_FORMATS)
}


def client_for(username: str, *permissions: str, superuser: bool = False) -> Client:
    user = UserFactory(username=username, is_staff=True, is_superuser=superuser)
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def root(db, clock) -> Client:
    return client_for("root", superuser=True)


def today(clock) -> date:
    return datetime.fromtimestamp(clock.value, tz=dt_timezone.utc).date()


def noon(clock, days_ago: int, hour: int = 12) -> datetime:
    return datetime.combine(
        today(clock) - timedelta(days=days_ago), time(hour), tzinfo=dt_timezone.utc
    )


def event(clock, days_ago: int = 0, **values) -> LogoutEvent:
    values.setdefault("username", "alice")
    values.setdefault("reason", "idle")
    values.setdefault("source", "settings")
    values.setdefault("limit", timedelta(minutes=10) if values["reason"] != "revoked" else None)
    return LogoutEvent.objects.create(at=noon(clock, days_ago), **values)


def usernames(response) -> list[str]:
    return [row.username for row in response.context["cl"].result_list]


def summary_html(content: bytes) -> str:
    text = content.decode()
    match = re.search(r'<figure id="logout-events-summary".*?</figure>', text, re.S)
    assert match, "no summary on the page"
    return match.group(0)


ROW = re.compile(
    r'<tr><th scope="row"><time datetime="(\d{4}-\d\d-\d\d)">[^<]*</time></th>'
    r"<td>(\d+)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td></tr>"
)


def summary_table(content: bytes) -> dict[str, tuple[int, int, int, int]]:
    """``{"YYYY-MM-DD": (idle, session, revoked, total)}`` from the summary's table."""
    return {
        day: (int(idle), int(session), int(revoked), int(total))
        for day, idle, session, revoked, total in ROW.findall(summary_html(content))
    }


# --- read-only, and permissions -------------------------------------------------------------------


def test_superuser_may_view_and_delete_but_never_add_or_change(root, clock):
    row = event(clock)
    change = reverse("admin:logout_rules_logoutevent_change", args=[row.pk])
    delete = reverse("admin:logout_rules_logoutevent_delete", args=[row.pk])
    assert root.get(CHANGELIST).status_code == 200
    assert root.get(ADD).status_code == 403
    assert root.post(ADD, {"username": "mallory", "reason": "idle"}).status_code == 403
    page = root.get(change)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # shown read-only
    assert b"alice" in page.content
    assert root.post(change, {"username": "mallory", "reason": "idle"}).status_code == 403
    assert LogoutEvent.objects.get().username == "alice"
    assert root.post(delete, {"post": "yes"}).status_code == 302
    assert not LogoutEvent.objects.exists()


def test_the_list_offers_no_add_button(root, clock):
    event(clock)
    assert ADD.encode() not in root.get(CHANGELIST).content


def test_staff_without_permission_get_403_everywhere(db, clock):
    row = event(clock)
    staff = client_for("staffer")
    pages = [
        CHANGELIST,
        EXPORT,
        ADD,
        reverse("admin:logout_rules_logoutevent_change", args=[row.pk]),
        reverse("admin:logout_rules_logoutevent_delete", args=[row.pk]),
        reverse("admin:logout_rules_logoutevent_history", args=[row.pk]),
    ]
    for url in pages:
        assert staff.get(url).status_code == 403, url
        assert staff.post(url, {"post": "yes", "format": "0"}).status_code == 403, url
    assert LogoutEvent.objects.count() == 1


def test_view_permission_may_view_and_export_only(db, clock):
    row = event(clock)
    viewer = client_for("viewer", "view_logoutevent")
    change = reverse("admin:logout_rules_logoutevent_change", args=[row.pk])
    delete = reverse("admin:logout_rules_logoutevent_delete", args=[row.pk])
    assert viewer.get(CHANGELIST).status_code == 200
    assert viewer.get(change).status_code == 200
    assert viewer.get(EXPORT).status_code == 200
    assert viewer.post(EXPORT, {"format": FORMAT_INDEX["csv"]}).status_code == 200
    assert viewer.get(delete).status_code == 403
    assert viewer.post(delete, {"post": "yes"}).status_code == 403
    bulk = viewer.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}
    )
    assert bulk.status_code in (200, 302)
    assert LogoutEvent.objects.count() == 1
    assert viewer.get(ADD).status_code == 403


def test_delete_permission_allows_the_bulk_delete(db, clock):
    rows = [event(clock), event(clock, 1)]
    deleter = client_for("deleter", "view_logoutevent", "delete_logoutevent")
    response = deleter.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [r.pk for r in rows], "post": "yes"},
    )
    assert response.status_code == 302
    assert not LogoutEvent.objects.exists()


@pytest.mark.parametrize("who", ["anonymous", "not staff"])
def test_non_staff_are_sent_to_the_admin_login(db, clock, who):
    if who == "anonymous":
        client = Client()
    else:
        client = Client()
        client.force_login(UserFactory(username="plain", is_staff=False))
    for url in (CHANGELIST, EXPORT):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


# --- the list: filters, search, date hierarchy, escaping ------------------------------------------


@pytest.fixture
def mixed(clock):
    event(clock, 0, username="alice", reason="idle", source='group "staff"')
    event(clock, 1, username="bob", reason="session", source="user rule")
    event(clock, 2, username="carol", reason="revoked", source="revocation of everyone")
    event(clock, 40, username="alicia", reason="idle", source="settings")


def test_the_list_shows_every_column(root, mixed):
    content = root.get(CHANGELIST).content.decode()
    for text in ("alice", "bob", "carol", "10m", "revocation of everyone", "user rule"):
        assert text in content


def test_filter_by_reason(root, mixed):
    assert usernames(root.get(CHANGELIST, {"reason": "session"})) == ["bob"]
    assert sorted(usernames(root.get(CHANGELIST, {"reason": "idle"}))) == ["alice", "alicia"]


def test_filter_by_source(root, mixed):
    response = root.get(CHANGELIST)
    assert "user rule" in [
        choice["display"]
        for spec in response.context["cl"].filter_specs
        for choice in spec.choices(response.context["cl"])
    ]
    assert usernames(root.get(CHANGELIST, {"source": 'group "staff"'})) == ["alice"]
    assert usernames(root.get(CHANGELIST, {"source": "revocation of everyone"})) == ["carol"]


def test_search_by_username(root, mixed):
    assert sorted(usernames(root.get(CHANGELIST, {"q": "ali"}))) == ["alice", "alicia"]
    assert usernames(root.get(CHANGELIST, {"q": "bob"})) == ["bob"]
    assert usernames(root.get(CHANGELIST, {"q": "nobody"})) == []


def test_date_hierarchy(root, mixed, clock):
    old = noon(clock, 40)
    response = root.get(
        CHANGELIST, {"at__year": old.year, "at__month": old.month, "at__day": old.day}
    )
    assert usernames(response) == ["alicia"]
    assert response.context["cl"].date_hierarchy == "at"


def test_admin_text_is_escaped(root, clock):
    event(clock, username="<b>eve</b>", source='group "<script>x</script>"')
    content = root.get(CHANGELIST).content.decode()
    assert "&lt;b&gt;eve&lt;/b&gt;" in content
    assert "<script>x</script>" not in content
    assert "<b>eve</b>" not in content


# --- export -------------------------------------------------------------------------------------


def export(client: Client, fmt: str, query: str = ""):
    response = client.post(f"{EXPORT}{query}", {"format": FORMAT_INDEX[fmt]})
    assert response.status_code == 200
    return response


def test_the_export_page_offers_csv_xlsx_and_json(root, clock):
    event(clock)
    content = root.get(EXPORT).content.decode()
    for name in ("csv", "xlsx", "json"):
        assert f">{name}<" in content
    assert "yaml" not in content
    assert EXPORT.encode() in root.get(CHANGELIST).content  # the button


def test_csv_export(root, clock):
    row = event(clock, 3, username="alice", reason="idle", source='group "staff"')
    login = noon(clock, 3, hour=9)
    LogoutEvent.objects.filter(pk=row.pk).update(login_at=login)
    event(clock, 2, username="bob", reason="revoked", source="revocation of user")
    response = export(root, "csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(rows[0]) == list(EVENT_COLUMNS)
    by_name = {r["username"]: r for r in rows}
    assert by_name["alice"]["reason"] == "idle"
    assert by_name["alice"]["limit"] == "00:10:00"
    assert by_name["alice"]["source"] == 'group "staff"'
    assert by_name["alice"]["at"] == noon(clock, 3).isoformat()
    assert by_name["alice"]["login_at"] == login.isoformat()
    assert by_name["bob"]["limit"] == ""
    assert by_name["bob"]["login_at"] == ""


def test_json_export_has_nulls(root, clock):
    event(clock, username="bob", reason="revoked", source="revocation of everyone")
    rows = json.loads(export(root, "json").content)
    assert rows == [
        {
            "id": LogoutEvent.objects.get().pk,
            "at": noon(clock, 0).isoformat(),
            "username": "bob",
            "reason": "revoked",
            "limit": None,
            "source": "revocation of everyone",
            "login_at": None,
        }
    ]


def test_xlsx_export(root, clock):
    event(clock, username="carol", reason="session", limit=timedelta(hours=8))
    content = export(root, "xlsx").content
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == list(EVENT_COLUMNS)
    assert values[1][2:5] == ["carol", "session", "08:00:00"]


def test_exports_are_safe_in_a_spreadsheet(root, clock):
    event(clock, username="=cmd|' /C calc'!A0", source='group "+staff"')
    rows = list(csv.DictReader(io.StringIO(export(root, "csv").content.decode())))
    assert rows[0]["username"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["source"] == 'group "+staff"'  # starts with a letter: nothing to do
    sheet = openpyxl.load_workbook(io.BytesIO(export(root, "xlsx").content)).active
    assert sheet.cell(row=2, column=3).value == "'=cmd|' /C calc'!A0"


def test_export_follows_the_filters_and_search(root, mixed):
    rows = json.loads(export(root, "json", "?reason=idle").content)
    assert sorted(row["username"] for row in rows) == ["alice", "alicia"]
    rows = json.loads(export(root, "json", "?q=bob").content)
    assert [row["username"] for row in rows] == ["bob"]


def test_xlsx_is_offered_only_when_it_can_be_written(monkeypatch):
    from logout_rules.resources import XLSXFormat

    assert XLSXFormat in available_formats()
    monkeypatch.setattr(XLSXFormat, "is_available", lambda self: False)
    assert XLSXFormat not in available_formats()


# --- the summary ----------------------------------------------------------------------------------


def test_the_summary_counts_per_day_and_reason(root, clock):
    for _ in range(3):
        event(clock, 0, reason="idle")
    event(clock, 0, reason="revoked", source="revocation of everyone")
    event(clock, 5, reason="session")
    event(clock, 5, reason="session")
    event(clock, 29, reason="idle")
    event(clock, 30, reason="idle")  # a day too old
    event(clock, 100, reason="revoked")
    response = root.get(CHANGELIST)
    table = summary_table(response.content)
    assert len(table) == 30
    assert table[str(today(clock))] == (3, 0, 1, 4)
    assert table[str(today(clock) - timedelta(days=5))] == (0, 2, 0, 2)
    assert table[str(today(clock) - timedelta(days=29))] == (1, 0, 0, 1)
    assert str(today(clock) - timedelta(days=30)) not in table
    assert sum(row[3] for row in table.values()) == 7
    html = summary_html(response.content)
    assert "7 automatic logouts in the last 30 days (4 idle, 2 session limit, 1 revoked)" in html


def test_the_summary_draws_a_bar_per_reason_with_patterns_and_labels(root, clock):
    event(clock, 0, reason="idle")
    event(clock, 0, reason="session")
    event(clock, 0, reason="revoked")
    event(clock, 3, reason="idle")
    html = summary_html(root.get(CHANGELIST).content)
    segments = re.findall(r'<rect [^>]*class="logout-events-segment (logout-events-\w+)"', html)
    # Two idle bars and one of each other reason, plus the three legend swatches.
    assert sorted(segments) == sorted(
        ["logout-events-idle"] * 3 + ["logout-events-session"] * 2 + ["logout-events-revoked"] * 2
    )
    for reason in ("idle", "session", "revoked"):
        assert f'<pattern id="logout-events-{reason}-pattern"' in html
        assert f'fill="url(#logout-events-{reason}-pattern)"' in html
    # Direct labels: each day's total above its bar, and every segment has a title.
    totals = re.findall(r'class="logout-events-total">(\d+)</text>', html)
    assert sorted(totals) == ["1", "3"]
    assert html.count("<title") == 1 + 4  # the chart's own, and one per segment


def test_the_summary_has_no_inline_script_or_style(root, clock):
    event(clock, username="<script>alert(1)</script>", source='group "<style>"')
    content = root.get(CHANGELIST).content.decode()
    html = summary_html(content.encode())
    assert "<script" not in html
    assert "<style" not in html
    assert "style=" not in html
    # Nor anywhere on the page: no style attribute, and every script is a file.
    assert "style=" not in content
    assert "<style" not in content
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", content)
    assert "logout_rules/admin/events.css" in content


def test_the_summary_is_accessible(root, clock):
    event(clock)
    html = summary_html(root.get(CHANGELIST).content)
    assert 'role="img"' in html
    assert 'aria-labelledby="logout-events-chart-title logout-events-chart-desc"' in html
    assert "<table>" in html
    assert "<caption>" in html


def test_an_empty_summary_says_so(root, clock):
    html = summary_html(root.get(CHANGELIST).content)
    assert "No automatic logouts in the last 30 days." in html
    assert all(row == (0, 0, 0, 0) for row in summary_table(html.encode()).values())


def page_queries(client: Client, url: str) -> tuple[int, int]:
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    statements = [q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"].upper()]
    return len(statements), len(response.context["cl"].result_list)


def many_events(clock, count: int, start: int = 0) -> None:
    reasons = ("idle", "session", "revoked")
    LogoutEvent.objects.bulk_create(
        LogoutEvent(
            username=f"user{number}",
            reason=reasons[number % 3],
            at=noon(clock, number % 45),
            source=f'group "g{number % 7}"',
        )
        for number in range(start, start + count)
    )


@pytest.mark.parametrize("query", ["", "?reason=idle", "?q=user1", "?at__year=2020"])
def test_the_list_and_summary_make_constant_queries(root, clock, query):
    many_events(clock, 3)
    small, _ = page_queries(root, CHANGELIST + query)
    many_events(clock, 400, start=3)
    large, shown = page_queries(root, CHANGELIST + query)
    assert large == small
    assert shown <= 100


def test_the_summary_is_one_query(clock):
    many_events(clock, 200)
    with CaptureQueriesContext(connection) as captured:
        summary = event_summary.build()
    assert len(captured.captured_queries) == 1
    assert summary.total == sum(1 for number in range(200) if number % 45 < 30)


def test_the_scale_is_readable(clock):
    assert [event_summary._scale_top(n) for n in (0, 1, 2, 3, 6, 11, 49, 51, 101)] == [
        1,
        1,
        2,
        5,
        10,
        20,
        50,
        100,
        200,
    ]


# --- the demo -----------------------------------------------------------------------------------


def test_the_demo_seeds_a_few_events_once(root, clock):
    import importlib
    from io import StringIO

    # The demo app is not installed in the test settings: its command is imported as a module.
    seed_demo = importlib.import_module("sample_site.demo.management.commands.seed_demo")
    seed_demo.Command(stdout=StringIO()).handle()
    seeded = LogoutEvent.objects.count()
    assert seeded >= 10
    assert set(LogoutEvent.objects.values_list("reason", flat=True)) == {
        "idle",
        "session",
        "revoked",
    }
    seed_demo.Command(stdout=StringIO()).handle()
    assert LogoutEvent.objects.count() == seeded  # idempotent
    html = summary_html(root.get(CHANGELIST).content)
    assert "No automatic logouts" not in html
