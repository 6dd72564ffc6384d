"""Hostile and bad input from people: admin forms, HTML/JS in messages and names, ``next`` targets.

* Admin forms (global, group and user rules): zero, negative, absurdly large and non-numeric
  durations, bad priorities, overlong or NUL-bearing messages, unknown choices and unknown fields
  get a clear error (or are ignored, for unknown fields), and nothing is saved.
* Messages and group names containing HTML or JavaScript are escaped in pages (the messages
  framework, the admin), in the JSON answers, and in the JavaScript configuration.
* ``next`` parameters of the login URLs this app builds point to this host only.
"""

from __future__ import annotations

import json
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from logout_rules.middleware import login_url
from logout_rules.models import GlobalLogoutRule, GroupLogoutRule, UserLogoutRule

from .factories import GroupFactory, GroupLogoutRuleFactory, UserFactory, UserLogoutRuleFactory

XSS = "<script>alert('x')</script><img src=x onerror=alert(1)>&amp;\"'"
ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"


@pytest.fixture
def admin_client(db, clock) -> Client:
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    return client


# === admin forms ==============================================================================


def base_form(kind: str) -> tuple[str, dict[str, object]]:
    """A valid form for a new rule of ``kind`` (global: the singleton's form) and its URL."""
    data: dict[str, object] = {
        "idle_time": "00:05:00",
        "session_time": "",
        "warning_time": "",
        "message_mode": "inherit",
        "message": "",
        "redirect_to_login_immediately": "unknown",
        "enabled": "on",
    }
    if kind == "global":
        return reverse("admin:logout_rules_globallogoutrule_change"), data
    if kind == "group":
        group = GroupFactory(name="target")
        return reverse("admin:logout_rules_grouplogoutrule_add"), {
            **data,
            "group": group.pk,
            "priority": 10,
        }
    user = UserFactory(username="target")
    return reverse("admin:logout_rules_userlogoutrule_add"), {**data, "user": user.pk}


def rows() -> list[tuple[object, ...]]:
    found: list[tuple[object, ...]] = []
    for model in (GlobalLogoutRule, GroupLogoutRule, UserLogoutRule):
        found += model.objects.order_by("pk").values_list(
            "pk", "idle_time", "session_time", "warning_time", "message", "enabled"
        )
    return found


DURATION_CASES = [
    ("0", "Add a unit, e.g. 15m or 15s."),
    ("0s", "longer than zero"),
    ("00:00:00", "longer than zero"),
    ("P0D", "longer than zero"),
    ("-1", "Add a unit, e.g. 15m or 15s."),
    ("-1s", "longer than zero"),
    ("-00:00:01", "longer than zero"),
    ("3651 00:00:00", "at most 3650 days"),
    ("3651d", "at most 3650 days"),
    ("P4000D", "at most 3650 days"),
    ("999999999 23:59:59", "at most 3650 days"),
    ("1000000000 00:00:00", "at most 3650 days"),
    ("9" * 5000, "Enter a valid duration"),
    ("9" * 5000 + "s", "Enter a valid duration"),
    ("1e400", "Enter a valid duration"),
    ("abc", "Enter a valid duration"),
    ("10 fortnights", "Enter a valid duration"),
    ("1 month", "Months and years are not units"),
    ("nan", "Enter a valid duration"),
    ("inf", "Enter a valid duration"),
    ("00:05:00\x00", "Enter a valid duration"),
]


@pytest.mark.parametrize("kind", ["global", "group", "user"])
@pytest.mark.parametrize("field", ["idle_time", "session_time", "warning_time"])
@pytest.mark.parametrize(("value", "error"), DURATION_CASES, ids=lambda v: repr(v)[:20])
def test_bad_durations_get_a_clear_error_and_nothing_is_saved(
    admin_client, kind, field, value, error
):
    url, data = base_form(kind)
    before = rows()
    response = admin_client.post(url, {**data, field: value})
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert field in form.errors
    assert error in " ".join(form.errors[field])
    assert rows() == before


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("0", "greater than or equal to 1"),
        ("-1", "greater than or equal to"),
        ("abc", "Enter a whole number"),
        ("1.5", "Enter a whole number"),
        ("99999999999999999999", "less than or equal to"),
        ("", "This field is required"),
    ],
)
def test_bad_priorities_get_a_clear_error_and_nothing_is_saved(admin_client, value, error):
    url, data = base_form("group")
    response = admin_client.post(url, {**data, "priority": value})
    assert response.status_code == 200
    assert error in " ".join(response.context["adminform"].form.errors["priority"])
    assert not GroupLogoutRule.objects.exists()


@pytest.mark.parametrize("kind", ["global", "group", "user"])
@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"message_mode": "custom", "message": "x" * 1001}, "message", "at most 1000"),
        ({"message_mode": "custom", "message": "   "}, "message", "Enter the message"),
        ({"message_mode": "custom", "message": "bye\x00"}, "message", "Null characters"),
        ({"message_mode": "sometimes"}, "message_mode", "Select a valid choice"),
        ({"message_mode": ""}, "message_mode", "This field is required"),
    ],
    ids=["overlong", "blank", "nul", "unknown-mode", "no-mode"],
)
def test_bad_messages_get_a_clear_error_and_nothing_is_saved(
    admin_client, kind, changes, field, error
):
    url, data = base_form(kind)
    before = rows()
    response = admin_client.post(url, {**data, **changes})
    assert response.status_code == 200
    assert error in " ".join(response.context["adminform"].form.errors[field])
    assert rows() == before


@pytest.mark.parametrize(
    ("kind", "changes", "field"),
    [
        ("group", {"group": 999999}, "group"),
        ("group", {"group": "staff"}, "group"),
        ("user", {"user": 999999}, "user"),
        ("user", {"user": "<script>"}, "user"),
    ],
)
def test_bad_subjects_are_rejected(admin_client, kind, changes, field):
    url, data = base_form(kind)
    before = rows()
    response = admin_client.post(url, {**data, **changes})
    assert response.status_code == 200
    assert "Select a valid choice" in " ".join(response.context["adminform"].form.errors[field])
    assert rows() == before


def test_a_second_rule_for_the_same_group_is_rejected(admin_client):
    url, data = base_form("group")
    GroupLogoutRuleFactory(group_id=data["group"], idle_time=timedelta(hours=1))
    before = rows()
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "already exists" in str(response.context["adminform"].form.errors)
    assert rows() == before


@pytest.mark.parametrize("kind", ["global", "group", "user"])
def test_unknown_fields_are_ignored_and_change_nothing_else(admin_client, kind):
    url, data = base_form(kind)
    other_user = UserFactory(username="other")
    forged = {
        "id": 999,
        "pk": 999,
        "updated_at": "2000-01-01 00:00:00",
        "is_superuser": "on",
        "user_id": other_user.pk,
        "group_id": 424242,
        "priority__gt": 5,
        "idle_time__raw": "DROP TABLE",
    }
    response = admin_client.post(url, {**data, **forged})
    assert response.status_code == 302
    model = {"global": GlobalLogoutRule, "group": GroupLogoutRule, "user": UserLogoutRule}[kind]
    (rule,) = model.objects.exclude(idle_time=None)
    assert rule.idle_time == timedelta(minutes=5)
    assert rule.pk != 999
    assert rule.updated_at.year != 2000
    assert not other_user.__class__.objects.get(pk=other_user.pk).is_superuser
    if kind == "user":
        assert rule.user.username == "target"
    if kind == "group":
        assert rule.group.name == "target"


def test_bad_change_leaves_an_existing_rule_unchanged(admin_client):
    rule = GroupLogoutRuleFactory(
        group=GroupFactory(name="staff"), idle_time=timedelta(minutes=5), message="keep"
    )
    url = reverse("admin:logout_rules_grouplogoutrule_change", args=[rule.pk])
    before = rows()
    response = admin_client.post(
        url,
        {
            "group": rule.group_id,
            "priority": 10,
            "idle_time": "-5",
            "session_time": "abc",
            "message_mode": "custom",
            "message": "x" * 5000,
            "redirect_to_login_immediately": "unknown",
            "enabled": "on",
        },
    )
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) >= {"idle_time", "session_time"}
    assert rows() == before


# === HTML and JavaScript in messages and names ===============================================


@pytest.fixture
def hostile_rule(db, user, settings):
    """alice's group has an XSS-laden name and message, a warning and the redirect flag."""
    settings.AUTO_LOGOUT = {"IDLE_TIME": 600}
    group = GroupFactory(name="<b onmouseover=alert(1)>staff</b>")
    GroupLogoutRuleFactory(
        group=group,
        idle_time=timedelta(seconds=60),
        warning_time=timedelta(seconds=20),
        message=XSS,
        redirect_to_login_immediately=True,
    )
    user.groups.add(group)
    return group


def test_message_is_escaped_in_pages(hostile_rule, logged_in, clock):
    assert logged_in.get("/page/").status_code == 200
    clock.advance(61)
    response = logged_in.get("/page/", follow=True)  # logged out → login page, with the message
    html = response.content.decode()
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert ESCAPED in html


def test_message_is_escaped_in_the_json_401(hostile_rule, logged_in, clock):
    clock.advance(61)
    response = logged_in.get("/private/", HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"<" not in response.content  # no markup at all, even if sniffed or embedded
    assert b">" not in response.content
    assert json.loads(response.content)["message"] == XSS  # the data itself is intact


def test_message_is_escaped_in_the_status_endpoint(hostile_rule, logged_in, clock):
    clock.advance(61)
    response = logged_in.get("/logout-rules/status/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert b"<" not in response.content
    body = json.loads(response.content)
    assert body["authenticated"] is False
    assert body["message"] == XSS


class ScriptTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.tags.append(dict(attrs))


def test_javascript_configuration_is_inert_attributes(hostile_rule, logged_in, clock, settings):
    """The client script is configured by data- attributes (no inline script): every value is
    an escaped attribute, so nothing from a rule or a translation can open a tag or a script."""
    response = logged_in.get("/page/")
    html = response.content.decode()
    parser = ScriptTags()
    parser.feed(html)
    assert len(parser.tags) == 1
    (tag,) = parser.tags
    assert str(tag["src"]).endswith("logout_rules.js")
    assert "data-logout-rules" in tag
    for name, value in tag.items():
        assert name in ("src", "defer", "nonce") or name.startswith("data-"), name
        assert value is None or "<" not in value or name == "data-texts", (name, value)
    if tag.get("data-texts"):
        json.loads(tag["data-texts"])  # valid JSON once the attribute is unescaped
    assert "<script>alert" not in html
    assert XSS not in html


def test_group_name_and_message_are_escaped_in_the_admin(hostile_rule, admin_client, user):
    rule = GroupLogoutRule.objects.get()
    pages = [
        reverse("admin:logout_rules_grouplogoutrule_changelist"),
        reverse("admin:logout_rules_grouplogoutrule_change", args=[rule.pk]),
    ]
    user_rule = UserLogoutRuleFactory(user=user, session_time=timedelta(hours=1))
    pages.append(reverse("admin:logout_rules_userlogoutrule_change", args=[user_rule.pk]))
    for url in pages:
        html = admin_client.get(url).content.decode()
        assert "<b onmouseover" not in html, url
        assert "<script>alert" not in html, url
        assert "<img src=x" not in html, url
    panel = admin_client.get(pages[-1]).content.decode()
    assert "&lt;b onmouseover=alert(1)&gt;staff&lt;/b&gt;" in panel  # the effective-policy panel


# === next parameters ==========================================================================


def next_of(url: str) -> str:
    (value,) = parse_qs(urlsplit(url).query)["next"]
    return value


def is_same_host_path(target: str) -> bool:
    parts = urlsplit(target)
    return (
        not parts.scheme
        and not parts.netloc
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
    )


HOSTILE_PATHS = [
    "//evil.example/",
    "/\\evil.example/",
    "///evil.example/private/?a=1",
    "/\t/evil.example/",
    "/%2F/evil.example/",
]
HOSTILE_REFERERS = [
    "https://evil.example/page/",
    "//evil.example/page/",
    "http://testserver.evil.example/",
    "javascript:alert(1)",
    "/\\evil.example/",
]


@pytest.mark.parametrize("referer", ["", "http://testserver/page/?x=1", *HOSTILE_REFERERS])
def test_next_of_the_json_401_is_same_host(logged_in, clock, referer):
    clock.advance(601)
    headers = {"HTTP_ACCEPT": "application/json"}
    if referer:
        headers["HTTP_REFERER"] = referer
    response = logged_in.get("/private/", **headers)
    assert response.status_code == 401
    target = next_of(json.loads(response.content)["login_url"])
    assert is_same_host_path(target), target
    assert target == ("/page/?x=1" if referer.startswith("http://testserver/") else "/private/")


@pytest.mark.parametrize("path", HOSTILE_PATHS)
@pytest.mark.parametrize("referer", ["", *HOSTILE_REFERERS])
def test_next_built_from_a_hostile_request_path_is_same_host(path, referer):
    """A request line like ``GET //evil.example/`` reaches Django with that path (the test
    client would normalise it, so the request is built by hand)."""
    request = (
        RequestFactory().get("/", HTTP_REFERER=referer) if referer else RequestFactory().get("/")
    )
    request.path = request.path_info = path.split("?")[0]
    request.META["QUERY_STRING"] = path.partition("?")[2]
    target = next_of(login_url(request))
    assert is_same_host_path(target), target
    assert "evil.example" in target  # the same path, kept on this host


@pytest.mark.parametrize("referer", ["", "http://testserver/page/", *HOSTILE_REFERERS])
def test_next_of_the_status_endpoint_is_same_host(logged_in, clock, referer):
    clock.advance(601)
    headers = {"HTTP_REFERER": referer} if referer else {}
    body = logged_in.get("/logout-rules/status/", **headers).json()
    assert body["authenticated"] is False
    target = next_of(body["login_url"])
    assert is_same_host_path(target), target
    if referer == "http://testserver/page/":
        assert target == "/page/"


def test_the_login_page_refuses_an_off_host_next_anyway(db, clock, user):
    """Defence in depth: Django's login view never follows an off-host ``next``."""
    client = Client()
    response = client.post(
        "/accounts/login/?next=//evil.example/",
        {"username": "alice", "password": "pw"},
    )
    assert response.status_code == 302
    assert is_same_host_path(response["Location"])
