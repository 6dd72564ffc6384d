"""Real-browser tests: Debian's Chromium driven by playwright against pytest-django's live server.

Locally they are skipped, with the reason, when Chromium (or playwright) is missing; with
``CI=true`` a missing browser is a failure (``.ci/run`` installs Chromium first).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from . import views

# playwright's sync API keeps an event loop running in the test thread; Django refuses ORM calls
# from such a thread unless told that it is safe (it is: the loop is idle while Django runs).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("LOGOUT_RULES_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium per run. ``launch()`` gives it a fresh temporary user-data dir."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed: pip install -e '.[browser]'")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Site:
    """The live server with the browser tests' URLconf, and a way to log a browser in."""

    url: str

    def at(self, path: str) -> str:
        return self.url + path

    def log_in(self, context: Any, user: Any) -> None:
        """Log ``user`` in (a real login: ``user_logged_in`` starts the session clock)."""
        client = Client()
        client.force_login(user)
        name = django_settings.SESSION_COOKIE_NAME
        context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": self.url}])


@pytest.fixture
def site(browser, live_server, transactional_db, settings) -> Site:
    """The live server on the browser tests' URLconf (which renders with its own templates)."""
    settings.ROOT_URLCONF = "tests.browser.urls"
    views.POSTED.clear()
    views.STATUS_REQUESTS.clear()
    return Site(live_server.url)


@dataclass
class Watched:
    """A browser context whose console errors, page errors and dialogs are recorded."""

    context: Any
    errors: list[str] = field(default_factory=list)
    navigations: list[tuple[str, str]] = field(default_factory=list)

    def open(self, url: str) -> Any:
        page = self.context.new_page()
        page.goto(url)
        return page


@pytest.fixture
def browser_context(browser) -> Iterator[Watched]:
    """A fresh context (cookies, storage) per test; fails the test on any unexpected error.

    A test that expects an error removes it from ``errors`` before it ends.
    """
    context = browser.new_context(viewport={"width": 900, "height": 560})
    watched = Watched(context)

    def on_console(message: Any) -> None:
        if message.type == "error":
            watched.errors.append(message.text)

    def on_dialog(dialog: Any) -> None:
        watched.errors.append(f"unexpected {dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_request(request: Any) -> None:
        if request.is_navigation_request():
            watched.navigations.append((request.method, request.url))

    context.on("console", on_console)
    context.on("weberror", lambda error: watched.errors.append(str(error.error)))
    context.on("dialog", on_dialog)
    context.on("request", on_request)
    yield watched
    context.close()
    assert watched.errors == []
