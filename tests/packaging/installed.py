"""Tries the package as users get it: the built wheel in a fresh virtualenv, never the checkout.

``nox -s package`` (``make package-check``) builds the wheel, installs it next to Django in a fresh
virtualenv, copies this file and the sample site to a temporary folder (so the checkout is not
importable) and runs, with that virtualenv's Python:

    python installed.py sample-site SITE_DIR      # the sample site against the installed copy
    python installed.py readme README.md WORK_DIR  # the README's Installation and Migrating

``sample-site`` runs ``manage.py check``, ``migrate``, the demo's seed and rule-set import, then
logs in through the test client and looks at a page, the status endpoint, the admin, the static
files, the migrations and the French catalogue, all read from the installed package: a file left
out of the package data fails it.

``readme`` follows the README to the letter in two fresh ``django-admin startproject`` projects:

* **Installation**: appends each ``# settings.py`` / ``# urls.py`` block of the section to that
  file, writes each ``{# templates/… #}`` block to that template and runs its ``python manage.py``
  lines (``pip install`` lines must name this package: it is installed already). Any other code
  block in the section is an error, so the README cannot say more than what is tried here.
* **Migrating from django-auto-logout**: a project configured as django-auto-logout's README says
  (its middleware, its context processor, ``AUTO_LOGOUT``), changed by the section's ``diff``
  block and its other blocks as above.

Both must pass ``manage.py check`` without an error of ours and without ``logout_rules.W050``
(the endpoints not included); the Installation project without any message of ours at all (a
per-process policy cache, ``W024``, included), and it must also log a user in, render the base
template with the client script and answer on the status endpoint.

The stdlib and Django only: this runs in the fresh virtualenv, where nothing else is installed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INSTALL_SECTION = "## Installation"
MIGRATE_SECTION = "## Migrating from django-auto-logout"
PACKAGE = "django-logout-rules"
PROJECT = "mysite"
#: How django-auto-logout's README configures a project (the starting point of "Migrating").
AUTO_LOGOUT_MIDDLEWARE = "django_auto_logout.middleware.auto_logout"
AUTO_LOGOUT_CONTEXT_PROCESSOR = "django_auto_logout.context_processors.auto_logout_client"
AUTO_LOGOUT_SETTINGS = """
AUTO_LOGOUT = {
    "IDLE_TIME": 600,
    "SESSION_TIME": 3600,
    "MESSAGE": "The session has expired. Please login again to continue.",
    "REDIRECT_TO_LOGIN_IMMEDIATELY": True,
}
STATIC_ROOT = BASE_DIR / "staticfiles"
"""
FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
TEMPLATE_MARKER = re.compile(r"\{# (templates/[\w./-]+) #\}")


class Failure(Exception):
    """What the user would have run into (printed, exit status 1)."""


def say(text: str) -> None:
    print(f"installed: {text}", flush=True)


# --- reading the README -----------------------------------------------------------------------


@dataclass
class Steps:
    """What one README section asks for, in its order."""

    settings: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    templates: dict[str, str] = field(default_factory=dict)
    diffs: list[str] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)
    pip: list[str] = field(default_factory=list)


def section(readme: str, heading: str) -> str:
    """The text of the ``## `` section whose heading starts with ``heading``."""
    match = re.search(rf"^{re.escape(heading)}.*$", readme, re.MULTILINE)
    if match is None:
        raise Failure(f"README has no section {heading!r}")
    rest = readme[match.end() :]
    following = re.search(r"^## ", rest, re.MULTILINE)
    return rest[: following.start()] if following else rest


def code_blocks(text: str) -> Iterator[tuple[str, str]]:
    """``(language, body)`` of each fenced block."""
    for match in FENCE.finditer(text):
        yield match.group(1), match.group(2)


def console_lines(body: str) -> Iterator[str]:
    for line in body.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line:
            yield line


def read_steps(readme: str, heading: str, *, strict: bool) -> Steps:
    """The steps of one section. ``strict``: every code block must be one that is tried."""
    steps = Steps()
    for language, body in code_blocks(section(readme, heading)):
        first, _, rest = body.partition("\n")
        template = TEMPLATE_MARKER.fullmatch(first.strip())
        if language == "python" and first.strip() == "# settings.py":
            steps.settings.append(rest)
        elif language == "python" and first.strip() == "# urls.py":
            steps.urls.append(rest)
        elif language == "django" and template is not None:
            steps.templates[template.group(1)] = rest
        elif language == "diff":
            steps.diffs.append(body)
        elif language == "console":
            for line in console_lines(body):
                words = line.split()
                if words[:2] == ["pip", "install"]:
                    steps.pip.append(line)
                elif words[:2] == ["python", "manage.py"]:
                    steps.commands.append(words[2:])
                else:
                    raise Failure(f"{heading}: a command this check cannot try: {line!r}")
        elif strict:
            raise Failure(
                f"{heading}: a ```{language} block this check cannot try (mark it "
                f"'# settings.py', '# urls.py' or '{{# templates/NAME #}}'):\n{body}"
            )
    return steps


# --- changing a startproject ------------------------------------------------------------------


def _unquoted(text: str) -> str:
    return text.strip().rstrip(",").strip().strip("'\"")


def list_span(source: str, name: str) -> tuple[int, int]:
    """Where the items of the list literal ``NAME = [`` / ``'name': [`` start and end."""
    opening = re.search(rf"^\s*['\"]?{re.escape(name)}['\"]?\s*[:=]\s*\[\n", source, re.MULTILINE)
    if opening is None:
        raise Failure(f"no list {name!r} in the settings")
    closing = source.index("]", opening.end())
    return opening.end(), source.rindex("\n", 0, closing) + 1


def change_list(source: str, name: str, remove: list[str], add: list[str]) -> str:
    """Remove the items ``remove`` from the list ``name``; put ``add`` where the first removed one
    was, or at the end of the list."""
    start, end = list_span(source, name)
    lines = source[start:end].splitlines(keepends=True)
    indent = lines[0][: len(lines[0]) - len(lines[0].lstrip())] if lines else "    "
    position: int | None = None
    for item in remove:
        found = [index for index, line in enumerate(lines) if _unquoted(line) == item]
        if not found:
            raise Failure(f"{item!r} is not in the list {name!r} of the settings")
        del lines[found[0]]
        position = found[0] if position is None else min(position, found[0])
    at = len(lines) if position is None else position
    lines[at:at] = [f'{indent}"{item}",\n' for item in add]
    return source[:start] + "".join(lines) + source[end:]


def apply_diff(source: str, diff: str) -> str:
    """Apply the README's settings diff: per list (a context line ending in ``[``), its ``-``
    items are removed and its ``+`` items added (``...`` stands for the project's own items)."""
    name: str | None = None
    remove: list[str] = []
    add: list[str] = []
    for line in diff.splitlines():
        mark, text = line[:1], line[1:].strip()
        if mark == " " and text.endswith("["):
            name = _unquoted(re.split(r"\s*[:=]\s*\[$", text)[0])
            remove, add = [], []
        elif mark == " " and text == "]":
            if name is None:
                raise Failure(f"a list closes before it opens in the diff:\n{diff}")
            source = change_list(source, name, remove, add)
            name = None
        elif mark in "-+" and name is not None:
            (remove if mark == "-" else add).append(_unquoted(text))
        elif text not in ("...", ""):
            raise Failure(f"a diff line this check cannot apply: {line!r}")
    return source


def start_project(python: str, where: Path) -> Path:
    where.mkdir(parents=True)
    run([python, "-m", "django", "startproject", PROJECT, str(where)], cwd=where)
    return where


def apply_steps(steps: Steps, project: Path) -> None:
    settings = project / PROJECT / "settings.py"
    urls = project / PROJECT / "urls.py"
    for diff in steps.diffs:
        settings.write_text(apply_diff(settings.read_text(), diff))
    for block in steps.settings:
        settings.write_text(settings.read_text() + "\n" + block)
    for block in steps.urls:
        urls.write_text(urls.read_text() + "\n" + block)
    for name, body in steps.templates.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    for line in steps.pip:
        if PACKAGE not in line:
            raise Failure(f"the README installs something else: {line!r}")


def run(command: list[str], cwd: Path) -> str:
    """Run ``command`` (no input, as in CI); its output, or a failure with it."""
    say("$ " + " ".join(command[1:] if command[0] == sys.executable else command))
    done = subprocess.run(
        command,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise Failure(f"{' '.join(command)} exited {done.returncode}:\n{output}")
    return output


def manage(project: Path, *arguments: str) -> str:
    return run([sys.executable, "manage.py", *arguments], cwd=project)


def our_problems(check_output: str, every: bool = False) -> list[str]:
    """Lines of ``manage.py check`` that are our errors or W050 (``every``: any message of ours)."""
    pattern = r"logout_rules\.[EW]\d+" if every else r"logout_rules\.(E\d+|W050)"
    return [line for line in check_output.splitlines() if re.search(pattern, line)]


def run_commands(steps: Steps, project: Path, heading: str, every: bool = False) -> None:
    wanted = {"migrate", "collectstatic", "check"}
    named = {command[0] for command in steps.commands if command}
    if not wanted <= named:
        raise Failure(f"{heading}: the README must say to run {sorted(wanted - named)}")
    for command in steps.commands:
        output = manage(project, *command)
        if command[0] == "check":
            problems = our_problems(output, every)
            if problems:
                raise Failure(f"{heading}: manage.py check:\n" + "\n".join(problems))
            say(output.strip().splitlines()[-1])


# --- inside a configured project (a new process: one settings module each) -------------------


def setup_django(project: Path, settings_module: str) -> None:
    sys.path.insert(0, str(project))
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()


def installed_package() -> Path:
    """``logout_rules`` as imported: it must be the installed copy."""
    import logout_rules

    location = Path(logout_rules.__file__).resolve().parent
    site_packages = Path(sysconfig.get_paths()["purelib"]).resolve()
    if site_packages not in location.parents:
        raise Failure(f"logout_rules comes from {location}, not from {site_packages}")
    say(f"logout_rules {location}")
    return location


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise Failure(what)


def our_check_messages() -> list[str]:
    from django.core.checks import ERROR, run_checks

    return [
        str(message)
        for message in run_checks(include_deployment_checks=False)
        if (message.id or "").startswith("logout_rules.")
        and (message.level >= ERROR or message.id == "logout_rules.W050")
    ]


def script_tag(html: str) -> str:
    tags = re.findall(r"<script [^>]*data-logout-rules[^>]*>", html)
    expect(len(tags) == 1, f"one logout_rules script tag expected in the page, found {tags}")
    return tags[0]


def expect_status(client: Any, url: str = "/logout-rules/status/") -> dict[str, Any]:
    response = client.get(url)
    expect(response.status_code == 200, f"GET {url}: {response.status_code}")
    payload: dict[str, Any] = json.loads(response.content)
    expect(payload.get("authenticated") is True, f"GET {url}: {payload}")
    return payload


def expect_static(location: Path) -> None:
    from django.contrib.staticfiles import finders

    for name in ("logout_rules/logout_rules.js", "logout_rules/logout_rules.css"):
        found = finders.find(name)
        expect(found is not None, f"static file {name} not found")
        path = Path(str(found)).resolve()
        expect(location in path.parents and path.stat().st_size > 0, f"{name} is {path}")


def expect_migrations(location: Path) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connection)
    ours = sorted(name for app, name in loader.disk_migrations if app == "logout_rules")
    applied = sorted(name for app, name in loader.applied_migrations if app == "logout_rules")
    on_disk = sorted(path.stem for path in (location / "migrations").glob("0*.py"))
    expect(bool(ours) and ours == applied == on_disk, f"migrations {ours} {applied} {on_disk}")
    call_command("makemigrations", "logout_rules", check=True, dry_run=True, verbosity=0)


def expect_translations() -> None:
    from django.utils import translation

    from logout_rules import client

    with translation.override("fr"):
        stay = client.texts()["stay"]
    expect(stay == "Rester connecté", f"French catalogue missing: {stay!r}")


def smoke_sample_site(site: Path) -> None:
    """The sample site (copied out of the checkout), set up by ``manage.py`` commands before."""
    setup_django(site, "sample_site.settings")
    import django
    from django.test import Client

    location = installed_package()
    expect_static(location)
    expect_migrations(location)
    expect_translations()
    expect(our_check_messages() == [], f"checks: {our_check_messages()}")

    client = Client(HTTP_HOST="localhost")
    response = client.post("/login/", {"username": "sam", "password": "demo"})
    expect(response.status_code == 302, f"log in: {response.status_code}")
    response = client.get("/")
    expect(response.status_code == 200, f"GET /: {response.status_code}")
    tag = script_tag(response.content.decode())
    expect('data-status-url="/logout-rules/status/"' in tag, tag)
    policy = response.headers.get("Content-Security-Policy", "")
    if django.VERSION >= (6, 0):
        # Django's own CSP middleware: the tag carries the nonce the header allows.
        nonce = re.search(r'nonce="([^"]+)"', tag)
        expect(nonce is not None, f"no nonce on {tag}")
        assert nonce is not None
        expect(f"'nonce-{nonce.group(1)}'" in policy, f"{policy!r} lacks the nonce of {tag}")
    else:
        expect("script-src 'self'" in policy, policy)
    payload = expect_status(client)
    expect(payload["idle_seconds_left"] is not None, f"status: {payload}")

    admin = Client(HTTP_HOST="localhost")
    admin.post("/admin/login/", {"username": "admin", "password": "admin"})
    for url in (
        "/admin/logout_rules/globallogoutrule/",
        "/admin/logout_rules/grouplogoutrule/",
        "/admin/logout_rules/userlogoutrule/",
    ):
        response = admin.get(url)
        expect(response.status_code == 200, f"GET {url} as admin: {response.status_code}")
    say(
        f"sample site on Django {django.get_version()}: pages, status, admin, static files, "
        "migrations and translations come from the installed package"
    )


def smoke_readme_project(project: Path) -> None:
    """The project that followed the Installation section."""
    setup_django(project, f"{PROJECT}.settings")
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    installed_package()
    expect(our_check_messages() == [], f"checks: {our_check_messages()}")
    for name in ("logout_rules.js", "logout_rules.css"):
        collected = Path(settings.STATIC_ROOT) / "logout_rules" / name
        expect(collected.is_file(), f"collectstatic did not copy {collected}")

    get_user_model().objects.create_user("newcomer", password="a-long-passphrase")
    client = Client(HTTP_HOST="localhost")
    response = client.get("/")
    expect(response.status_code == 302, f"GET / before logging in: {response.status_code}")
    login_url = response.headers["Location"]
    expect(client.get(login_url).status_code == 200, f"GET {login_url}")
    response = client.post(login_url, {"username": "newcomer", "password": "a-long-passphrase"})
    expect(response.status_code == 302, f"log in: {response.status_code}")
    response = client.get(response.headers["Location"])
    expect(response.status_code == 200, f"GET / after logging in: {response.status_code}")
    tag = script_tag(response.content.decode())
    for attribute in ('data-idle-end="600"', 'data-status-url="/logout-rules/status/"'):
        expect(attribute in tag, f"{attribute} not in {tag}")
    expect_status(client)
    say("Installation: the base template has the client script, the status endpoint answers")


# --- the commands -------------------------------------------------------------------------------


def sample_site(site: Path) -> None:
    manage(site, "check", "--fail-level", "WARNING")
    manage(site, "migrate", "--noinput")
    manage(site, "seed_demo")
    manage(site, "logout_rules", "import", "rules.json", "--user", "admin")
    print(run([sys.executable, __file__, "smoke-sample-site", str(site)], cwd=site).strip())


def readme(readme_path: Path, work: Path) -> None:
    text = readme_path.read_text()

    steps = read_steps(text, INSTALL_SECTION, strict=True)
    expect(bool(steps.settings and steps.urls and steps.templates), "Installation: steps missing")
    expect(
        {"templates/base.html", "templates/registration/login.html"} <= set(steps.templates),
        f"Installation: a base template and a login page expected, not {sorted(steps.templates)}",
    )
    project = start_project(sys.executable, work / "installation")
    apply_steps(steps, project)
    run_commands(steps, project, INSTALL_SECTION, every=True)
    print(
        run([sys.executable, __file__, "smoke-readme-project", str(project)], cwd=project).strip()
    )

    steps = read_steps(text, MIGRATE_SECTION, strict=False)
    expect(bool(steps.diffs), "Migrating: no diff")
    project = start_project(sys.executable, work / "migrating")
    settings = project / PROJECT / "settings.py"
    source = change_list(settings.read_text(), "MIDDLEWARE", [], [AUTO_LOGOUT_MIDDLEWARE])
    source = change_list(source, "context_processors", [], [AUTO_LOGOUT_CONTEXT_PROCESSOR])
    settings.write_text(source + AUTO_LOGOUT_SETTINGS)
    apply_steps(steps, project)
    expect("django_auto_logout" not in settings.read_text(), "django_auto_logout left over")
    run_commands(steps, project, MIGRATE_SECTION)
    say("Migrating: the changed project passes manage.py check")


def main(argv: list[str]) -> int:
    commands = {
        "sample-site": lambda: sample_site(Path(argv[1])),
        "readme": lambda: readme(Path(argv[1]), Path(argv[2])),
        "smoke-sample-site": lambda: smoke_sample_site(Path(argv[1])),
        "smoke-readme-project": lambda: smoke_readme_project(Path(argv[1])),
    }
    if not argv or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        commands[argv[0]]()
    except Failure as failure:
        print(f"installed: FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
