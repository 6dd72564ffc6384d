"""The version matrix: the test suite on each supported Django, on the Python that runs nox.

``make matrix`` runs it (``nox -R`` reuses the virtualenvs locally; CI starts from a clean clone).
Each session installs the package with its test dependencies, read from the ``dev`` extra of
``pyproject.toml`` minus the lint-only tools, through pip (so the same indexes as a plain
``pip install``), then pins the Django series under test.

The suite runs without the ``browser`` and ``multiprocess`` markers (they exercise the browser and
the process setup, not the Django version, and run in the other stages); pass extra pytest
arguments after ``--``: ``nox -s tests -- -k faults``.
"""

from __future__ import annotations

import re
from pathlib import Path

import nox
import tomllib

nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).resolve().parent
DJANGO_SERIES = ("4.2", "5.2")
#: In the ``dev`` extra but only needed by ``make lint``.
LINT_ONLY = {"ruff", "mypy", "django-stubs", "types-pyyaml"}
#: The Redis client lets the fault tests use Django's Redis cache backend (at a closed port).
EXTRA = ("redis>=5",)


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return match.group(0).lower().replace("_", "-")


def test_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    own = _name(project["name"])
    requirements = []
    for requirement in project["optional-dependencies"]["dev"]:
        name = _name(requirement)
        if name in LINT_ONLY:
            continue
        if name == own:
            # A self-reference such as "django-logout-rules[formats]": install those extras.
            extras = re.search(r"\[([^\]]+)\]", requirement)
            for extra in extras.group(1).split(",") if extras else ():
                requirements.extend(project["optional-dependencies"][extra.strip()])
            continue
        requirements.append(requirement)
    return [*requirements, *EXTRA]


@nox.session(python=False, name="print-requirements")
def print_requirements(session: nox.Session) -> None:
    """Show what the test sessions install (no virtualenv)."""
    session.log(" ".join(test_requirements()))


@nox.session
@nox.parametrize("django", DJANGO_SERIES)
def tests(session: nox.Session, django: str) -> None:
    """The test suite on one Django series."""
    session.install(".", *test_requirements(), f"django~={django}.0")
    session.run(
        "python",
        "-c",
        "import django, sys; print('Django', django.get_version(), 'on Python', sys.version)",
    )
    session.run(
        "pytest",
        "-p",
        "no:cacheprovider",
        "-m",
        "not browser and not multiprocess",
        *session.posargs,
        env={"PYTHONDONTWRITEBYTECODE": "1"},
    )
