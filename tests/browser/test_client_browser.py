"""The client in a real Chromium, with short limits (seconds) and real time on both sides.

Every page of these tests is sent with ``Content-Security-Policy: script-src 'self'`` (and no
inline style either); the ``browser_context`` fixture fails a test on any console error, page
error or JavaScript dialog it did not expect.
"""

from __future__ import annotations

import os
import re
import shutil
import time

import django
import pytest
from django.contrib.sessions.models import Session

from logout_rules import client as client_module
from logout_rules import session as session_store

from ..conftest import CSP_MIDDLEWARE
from ..factories import UserFactory, global_rule
from . import views
from .conftest import ROOT

pytestmark = pytest.mark.browser

LOGIN = "**/accounts/login/**"
SCREENSHOT = ROOT / "docs" / "warning-dialog.png"


@pytest.fixture
def user(transactional_db):
    return UserFactory(username="alice")


@pytest.fixture
def short_warnings(monkeypatch):
    """Let the warning come a few seconds before the end (the product's minimum is 20 s)."""
    monkeypatch.setattr(client_module, "MIN_WARNING_SECONDS", 1)


def stored_activity(user) -> float:
    """The activity time stored in the user's session (what the server will judge by)."""
    (session,) = [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id")]
    return float(session.get_decoded()[session_store.ACTIVITY_KEY])


def messages_on(*pages) -> list[str]:
    return [text for page in pages for text in page.locator(".message").all_inner_texts()]


def status(page) -> dict:
    """Ask the status endpoint with the browser's cookies (passive: changes nothing)."""
    return page.request.get(page.url.split("/page/")[0] + "/logout-rules/status/").json()


def test_leaves_for_the_login_page_and_shows_the_message_once(
    site, browser_context, user, settings
):
    settings.AUTO_LOGOUT = {
        "IDLE_TIME": 2,
        "MESSAGE": "Signed out after 2 idle seconds.",
        "REDIRECT_TO_LOGIN_IMMEDIATELY": True,
    }
    site.log_in(browser_context.context, user)
    page = browser_context.open(site.at("/page/"))
    start = time.monotonic()
    page.wait_for_url(LOGIN, timeout=8000)
    elapsed = time.monotonic() - start
    assert 1.5 < elapsed < 5
    assert page.url == site.at("/accounts/login/?next=/page/")
    assert messages_on(page) == ["Signed out after 2 idle seconds."]
    page.reload()
    assert messages_on(page) == []
    assert {method for method, _ in browser_context.navigations} == {"GET"}


def test_a_page_shown_after_a_post_is_left_with_a_get(site, browser_context, user, settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 3, "REDIRECT_TO_LOGIN_IMMEDIATELY": True}
    site.log_in(browser_context.context, user)
    page = browser_context.open(site.at("/form/"))
    page.fill("#note", "posted once")
    page.click("#save")
    page.wait_for_selector("#saved")  # the answer to the POST, with the client script
    page.wait_for_url(LOGIN, timeout=8000)
    assert views.POSTED == ["posted once"]
    methods = [method for method, _ in browser_context.navigations]
    assert methods.count("POST") == 1
    assert methods[methods.index("POST") + 1 :] == ["GET", "GET"]  # /form/, then the login page
    assert page.url == site.at("/accounts/login/?next=/form/")


def test_warning_dialog_is_accessible_and_stay_signed_in_keeps_the_session(
    site, browser_context, user, settings
):
    settings.AUTO_LOGOUT = {
        "IDLE_TIME": 62,  # the dialog comes at about 2 s, after the typing below
        "WARNING_TIME": 60,
        "REDIRECT_TO_LOGIN_IMMEDIATELY": True,
    }
    site.log_in(browser_context.context, user)
    page = browser_context.open(site.at("/page/"))
    page.fill("#draft", "Minutes of the meeting: the budget for next year is")
    assert page.input_value("#draft").startswith("Minutes of the meeting")
    loaded_activity = stored_activity(user)

    dialog = page.get_by_role("alertdialog", name="Are you still there?")
    dialog.wait_for(timeout=5000)
    assert dialog.get_attribute("aria-modal") == "true"
    description = page.locator("#" + dialog.get_attribute("aria-describedby"))
    assert "you will be signed out in" in description.inner_text()
    countdown = dialog.get_by_role("timer")
    assert countdown.inner_text() in ("1:00", "0:59", "0:58")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Stay signed in"
    countdown.filter(has_text="0:59").wait_for()  # a stable picture
    SCREENSHOT.parent.mkdir(exist_ok=True)
    shot = ROOT / "test-results" / "warning-dialog.png"
    shot.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(shot), animations="disabled")  # the fade-in finished
    if os.environ.get("LOGOUT_RULES_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, SCREENSHOT)

    page.keyboard.press("Enter")  # the focused "Stay signed in"
    dialog.wait_for(state="hidden", timeout=3000)
    assert stored_activity(user) >= loaded_activity + 2  # the server recorded the extension
    assert status(page)["idle_seconds_left"] >= 60
    # Focus returns to where it was; nothing typed is lost.
    assert page.evaluate("document.activeElement.id") == "draft"
    assert page.input_value("#draft").startswith("Minutes of the meeting")
    assert page.url == site.at("/page/")


def test_stay_signed_in_never_passes_the_session_limit(
    site, browser_context, user, settings, short_warnings
):
    settings.AUTO_LOGOUT = {
        "IDLE_TIME": 4,
        "WARNING_TIME": 3,
        "SESSION_TIME": 6,  # counted from the login, a moment before the page loads
        "MESSAGE": "Your session is over.",
        "REDIRECT_TO_LOGIN_IMMEDIATELY": True,
    }
    site.log_in(browser_context.context, user)
    page = browser_context.open(site.at("/page/"))
    start = time.monotonic()
    stay = page.get_by_role("button", name="Stay signed in")
    stay.wait_for(timeout=5000)  # the idle limit comes first: warned at about 1 s
    time.sleep(max(0.0, start + 2.5 - time.monotonic()))
    with page.expect_response("**/logout-rules/extend/") as extended:
        stay.click()
    # The server extended the idle limit (to 6.5 s) but not the session limit (under 6 s)...
    answer = extended.value.json()
    assert answer["idle_seconds_left"] == 4
    assert answer["session_seconds_left"] <= 4
    assert answer["ends_by"] == "session"
    # ...so the dialog now announces the session's end, which no button can postpone.
    page.get_by_role("alertdialog", name="Your session is ending").wait_for(timeout=3000)
    page.keyboard.press("Escape")  # answers the notice like its "OK" button
    page.locator("dialog[open]").wait_for(state="detached", timeout=2000)
    page.wait_for_url(LOGIN, timeout=8000)
    assert 4.5 < time.monotonic() - start < 9
    assert messages_on(page) == ["Your session is over."]


@pytest.mark.parametrize("transport", ["BroadcastChannel", "localStorage"])
def test_two_tabs_follow_the_latest_activity_and_leave_together(
    site, browser_context, user, settings, short_warnings, transport
):
    settings.AUTO_LOGOUT = {
        "IDLE_TIME": 6,
        "WARNING_TIME": 3,
        "MESSAGE": "Signed out in every tab.",
        "REDIRECT_TO_LOGIN_IMMEDIATELY": True,
    }
    if transport == "localStorage":
        browser_context.context.add_init_script("delete window.BroadcastChannel;")
    site.log_in(browser_context.context, user)
    first = browser_context.open(site.at("/page/"))
    start = time.monotonic()
    second = browser_context.open(site.at("/page/"))

    def at(seconds: float) -> None:
        time.sleep(max(0.0, start + seconds - time.monotonic()))

    at(1.5)
    first.reload()  # activity in the first tab postpones the second one's warning (due at 3 s)
    at(3.7)
    assert second.locator("dialog[open]").count() == 0
    second_dialog = second.get_by_role("alertdialog")
    second_dialog.wait_for(timeout=3000)  # due at 1.5 + 6 - 3 = 4.5 s
    first.get_by_role("button", name="Stay signed in").click(timeout=3000)
    second_dialog.wait_for(state="hidden", timeout=3000)  # "Stay signed in" in the other tab
    stayed = time.monotonic() - start
    at(8.8)  # past the end the second tab knew before (1.5 + 6 + 1)
    assert second.url == site.at("/page/")
    assert first.url == site.at("/page/")

    first.wait_for_url(LOGIN, timeout=8000)
    second.wait_for_url(LOGIN, timeout=8000)
    left = time.monotonic() - start
    assert stayed + 6 < left < stayed + 6 + 4.5
    assert messages_on(first, second) == ["Signed out in every tab."]


def test_no_console_errors_under_a_strict_csp_and_no_reload_loop(
    site, browser_context, user, settings
):
    settings.AUTO_LOGOUT = {
        "IDLE_TIME": 30 * 86400,  # longer than the browser's longest timer (24.8 days)
        "SESSION_TIME": 40 * 86400,
        "WARNING_TIME": 60,
        "REDIRECT_TO_LOGIN_IMMEDIATELY": True,
    }
    site.log_in(browser_context.context, user)
    page = browser_context.context.new_page()
    response = page.goto(site.at("/tag/"))
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # The client (from {% logout_rules_script %}) loaded its stylesheet under the CSP.
    page.wait_for_function(
        "() => [...document.styleSheets].some(s => (s.href || '').endsWith('logout_rules.css'))"
    )
    page.wait_for_timeout(1500)
    assert browser_context.navigations == [("GET", site.at("/tag/"))]
    # The CSP is really enforced: the page's own inline script was refused, and only it.
    assert page.title() == "tag"
    assert len(browser_context.errors) == 1
    assert "Content Security Policy" in browser_context.errors.pop()


@pytest.mark.skipif(
    django.VERSION < (6, 0), reason="Django's own CSP middleware comes with Django 6.0"
)
def test_djangos_csp_middleware_with_a_nonce_policy(
    site, browser_context, user, settings, short_warnings
):
    """``ContentSecurityPolicyMiddleware`` + ``SECURE_CSP`` whose scripts and styles need the
    request's nonce ('self' is not enough): the script tag and the stylesheet the script adds
    carry it, the warning dialog is styled, and "Stay signed in" works, without a CSP error."""
    from django.utils.csp import CSP

    assert CSP_MIDDLEWARE in settings.MIDDLEWARE
    settings.SECURE_CSP = {
        "default-src": [CSP.SELF],
        "script-src": [CSP.NONCE],
        "style-src": [CSP.NONCE],
        "object-src": [CSP.NONE],
        "base-uri": [CSP.NONE],
    }
    settings.AUTO_LOGOUT = {
        "IDLE_TIME": 5,  # the dialog comes at about 2 s
        "WARNING_TIME": 3,
        "REDIRECT_TO_LOGIN_IMMEDIATELY": True,
    }
    site.log_in(browser_context.context, user)
    page = browser_context.context.new_page()
    response = page.goto(site.at("/nonce/"))
    header = response.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in header.split(";"))
    nonce = directives["script-src"].removeprefix("'nonce-").removesuffix("'")
    assert directives["script-src"] == directives["style-src"] == f"'nonce-{nonce}'"
    # The tag as served, and as the browser sees it (the nonce attribute is hidden from the DOM).
    (tag,) = re.findall(r"<script [^>]*data-logout-rules[^>]*>", response.text())
    assert f'nonce="{nonce}"' in tag
    assert page.eval_on_selector("script[data-logout-rules]", "s => s.nonce") == nonce
    # The script ran and added its stylesheet, with the nonce it took from its own element.
    page.wait_for_function("() => document.querySelector('link[data-logout-rules]')?.sheet")
    assert page.eval_on_selector("link[data-logout-rules]", "l => l.nonce") == nonce
    dialog = page.get_by_role("alertdialog", name="Are you still there?")
    dialog.wait_for(timeout=6000)
    border = dialog.evaluate("d => getComputedStyle(d).borderTopColor")
    assert border == "rgb(180, 83, 9)"  # .logout-rules-dialog in logout_rules.css
    dialog.get_by_role("button", name="Stay signed in").click()
    dialog.wait_for(state="hidden", timeout=3000)
    answer = page.request.get(site.at("/logout-rules/status/")).json()
    assert answer["idle_seconds_left"] >= 4  # the server recorded the extension
    assert page.url == site.at("/nonce/")
    # The policy is enforced: the page's inline script (no nonce) was refused, and only it.
    assert page.title() == "nonce"
    assert len(browser_context.errors) == 1
    assert "Content Security Policy" in browser_context.errors.pop()


def test_polling_the_status_endpoint_does_not_keep_an_idle_session_alive(
    site, browser_context, user, settings
):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 3, "REDIRECT_TO_LOGIN_IMMEDIATELY": True}
    site.log_in(browser_context.context, user)
    polls: list[int] = []

    def on_response(response) -> None:
        if "/logout-rules/status/" in response.url:
            polls.append(response.status)

    browser_context.context.on("response", on_response)
    page = browser_context.open(site.at("/page/"))
    start = time.monotonic()
    # A widget polling every 300 ms (as the sample site's does, slower).
    page.evaluate("setInterval(() => fetch('/logout-rules/status/'), 300)")
    page.wait_for_url(LOGIN, timeout=8000)
    assert time.monotonic() - start < 7
    assert len(polls) >= 8
    assert set(polls) == {200}


def test_an_admin_entered_message_with_html_is_shown_as_text(site, browser_context, settings):
    settings.AUTO_LOGOUT = {"IDLE_TIME": 3, "REDIRECT_TO_LOGIN_IMMEDIATELY": True}
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    global_rule()
    site.log_in(browser_context.context, admin)
    message = "<b>Bye</b> <img src=x onerror=\"document.title='pwned'\"> & <script>x()</script>"
    page = browser_context.open(site.at("/admin/logout_rules/globallogoutrule/"))
    page.check("input[name=message_mode][value=custom]")
    page.fill("textarea[name=message]", message)
    page.click("input[name=_save]")
    page.get_by_text("was changed successfully").wait_for()
    page.goto(site.at("/page/"))
    page.wait_for_url(LOGIN, timeout=10000)
    assert messages_on(page) == [message]
    assert page.locator(".message b, .message img, .message script").count() == 0
    assert page.title() == "login"
