""" "Sign out now" reaches pages left open: the client asks the status endpoint every
``LOGOUT_RULES_STATUS_POLL`` seconds (one tab per browser) and leaves with the message once.

The polls are counted on the server side (``views.STATUS_REQUESTS``). Real time, a poll interval
of one second; the bounds leave room for a loaded machine.
"""

from __future__ import annotations

import time

import pytest

from logout_rules.models import SessionRevocation

from ..factories import UserFactory
from . import views
from .test_client_browser import LOGIN, messages_on

pytestmark = pytest.mark.browser

POLL = 1
REVOKED = "You have been signed out by an administrator."


@pytest.fixture
def user(transactional_db):
    return UserFactory(username="alice")


@pytest.fixture
def polling(settings):
    """No limit at all (only a revocation can end the session), polling every second."""
    settings.AUTO_LOGOUT = {"REDIRECT_TO_LOGIN_IMMEDIATELY": True}
    settings.LOGOUT_RULES_STATUS_POLL = POLL
    settings.LOGOUT_RULES_REVOKED_MESSAGE = REVOKED


def test_open_pages_leave_by_themselves_after_sign_out_now_with_the_message_once(
    site, browser, browser_context, user, polling
):
    site.log_in(browser_context.context, user)
    first = browser_context.open(site.at("/page/"))
    second = browser_context.open(site.at("/page/"))
    first.wait_for_timeout(1500)  # a poll or two: the session is alive
    assert (first.url, second.url) == (site.at("/page/"), site.at("/page/"))

    # An administrator, in another browser, uses "Sign out now" (both fields empty: everyone).
    admin_context = browser.new_context()
    try:
        root = UserFactory(username="root", is_staff=True, is_superuser=True)
        site.log_in(admin_context, root)
        admin_page = admin_context.new_page()
        admin_page.goto(site.at("/admin/logout_rules/sessionrevocation/add/"))
        admin_page.fill("textarea[name=reason]", "incident 7")
        admin_page.get_by_role("button", name="Sign out now").click()
        admin_page.wait_for_load_state()
        signed_out_at = time.monotonic()
        assert SessionRevocation.objects.get().reason == "incident 7"
    finally:
        admin_context.close()

    first.wait_for_url(LOGIN, timeout=8000)
    second.wait_for_url(LOGIN, timeout=8000)
    assert time.monotonic() - signed_out_at < POLL + 5
    assert first.url == site.at("/accounts/login/?next=/page/")
    assert messages_on(first, second) == [REVOKED]
    first.reload()
    assert messages_on(first) == []
    assert {method for method, _ in browser_context.navigations} == {"GET"}


@pytest.mark.parametrize("transport", ["BroadcastChannel", "localStorage"])
def test_two_open_tabs_make_one_poll_between_them(site, browser_context, user, polling, transport):
    if transport == "localStorage":
        browser_context.context.add_init_script("delete window.BroadcastChannel;")
    site.log_in(browser_context.context, user)
    tabs = [browser_context.open(site.at("/page/")) for _ in range(2)]
    start = time.monotonic()
    views.STATUS_REQUESTS.clear()
    tabs[0].wait_for_timeout(6500)
    polls = [at - start for at in views.STATUS_REQUESTS if at <= start + 6.5]
    # One tab alone asks about 6 times in 6.5 s; two tabs asking each would be about 12.
    assert 3 <= len(polls) <= 8, polls
    assert all(tab.url == site.at("/page/") for tab in tabs)


def test_without_polling_an_open_page_stays_until_its_next_request(
    site, browser_context, user, polling, settings
):
    settings.LOGOUT_RULES_STATUS_POLL = None
    settings.AUTO_LOGOUT = {"IDLE_TIME": 3600, "REDIRECT_TO_LOGIN_IMMEDIATELY": True}
    site.log_in(browser_context.context, user)
    page = browser_context.open(site.at("/page/"))
    SessionRevocation.objects.create()  # everyone, now
    page.wait_for_timeout(2500)
    assert views.STATUS_REQUESTS == []
    assert page.url == site.at("/page/")
    page.reload()  # the next request ends the session
    page.wait_for_url(LOGIN, timeout=8000)
    assert messages_on(page) == [REVOKED]
