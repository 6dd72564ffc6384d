"""The demo as a new user runs it: ``make demo`` (runserver) and, in another terminal,
``manage.py logout_rules import``. The change applies on the server's very next request, because
the sample site's policy cache is shared by its processes (a file cache), not per process.

The sample site is copied to a temporary directory (its SQLite database and cache directory live
there), so the test never touches a developer's demo database.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .services.http import Browser
from .services.servers import ROOT, free_port

pytestmark = pytest.mark.multiprocess

SAMPLE = ROOT / "sample_site"


def manage(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("demo") / "sample_site"
    shutil.copytree(
        SAMPLE, site, ignore=shutil.ignore_patterns("db.sqlite3", ".cache", "__pycache__")
    )
    for args in (
        ("migrate", "--noinput"),
        ("seed_demo",),
        ("logout_rules", "import", "rules.json", "--user", "admin"),
    ):
        done = manage(site, *args)
        assert done.returncode == 0, done.stdout + done.stderr
    return site


@pytest.fixture(scope="module")
def server(site) -> Iterator[int]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log = (site / "runserver.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=site,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (site / "runserver.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, (site / "runserver.log").read_text()
                time.sleep(0.1)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def test_the_sample_site_has_no_cache_warning(site):
    done = manage(site, "check")
    assert done.returncode == 0, done.stderr
    assert "logout_rules.W02" not in done.stdout + done.stderr


def test_an_import_in_another_terminal_applies_on_the_servers_next_request(site, server):
    olivia = Browser("127.0.0.1", server)
    olivia.login("olivia", "demo", login_path="/login/")
    assert olivia.get("/").status == 200  # her policy (idle 10 min) is now cached by the server
    strict = site / "strict.json"
    strict.write_text(json.dumps({"users": [{"user": "olivia", "idle_time": 1}]}))
    done = manage(site, "logout_rules", "import", str(strict), "--user", "admin")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "per process" not in done.stderr
    time.sleep(1.5)
    response = olivia.get("/")
    assert response.status == 302
    assert response.location.startswith("/login/")
