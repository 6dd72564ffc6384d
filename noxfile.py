"""The version matrix: the test suite on each supported Django series, each on its own Python.

``make matrix`` runs it (``nox -R`` reuses the virtualenvs locally; CI starts from a clean clone).
``make test`` and ``make test-services`` already cover Python 3.11 + Django 5.2; the pairs here are

* Python 3.10 + Django 5.2 (the oldest pair),
* Python 3.12 + Django 6.0,
* Python 3.13 + Django 6.1 (the newest pair): the **whole** suite, ``browser`` and
  ``multiprocess`` markers included, on PostgreSQL + Redis (the services of
  ``make test-services``, under their own test database and Redis prefix, see ``services_env``).

The other pairs leave out the ``browser`` and ``multiprocess`` markers (they exercise the browser
and the process setup, not the version). Each session installs the package from the checkout (not
editable) with its test dependencies, read from the extras of ``pyproject.toml`` (``dev`` minus the
lint-only tools; ``services`` and ``browser`` for the whole suite), through pip, then pins the
Django series under test.

The interpreters are looked up in pyenv (``$PYENV_ROOT``, else ``~/.pyenv``) before ``PATH``, so a
machine whose only Python on ``PATH`` is ``python3`` runs the matrix as it is; nox never downloads
one. Extra pytest arguments follow ``--``: ``nox -s "tests(python='3.12', django='6.0')" -- -k
faults``.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import nox
import tomllib

nox.options.sessions = ["tests"]  # `nox -s package` is `make package-check`
nox.options.error_on_missing_interpreters = True
nox.options.download_python = "never"

ROOT = Path(__file__).resolve().parent
#: (Python, Django series): every supported series on at least one Python, the newest on the newest.
PAIRS = (("3.10", "5.2"), ("3.12", "6.0"), ("3.13", "6.1"))
#: The pair that runs the whole suite on the services.
WHOLE_SUITE = PAIRS[-1]
#: The tests that only compute (run in parallel) and those that wait on real time (one at a time).
PARALLEL = "not browser and not multiprocess"
SERIAL = "browser or multiprocess"
#: In the ``dev`` extra but only needed by ``make lint``; nox does not run inside a session.
LEAVE_OUT = {"ruff", "mypy", "django-stubs", "types-pyyaml", "nox"}
#: The Redis clients: the fault tests use Django's Redis cache backend (at a closed port), and the
#: notification channel's tests run through Django's backend and django-redis on a private Redis.
EXTRA = ("redis>=5", "django-redis>=5.4")
#: What the wheel must hold besides the modules: a file left out of the package data fails.
PACKAGE_DATA = (
    "logout_rules/py.typed",
    "logout_rules/static/logout_rules/logout_rules.js",
    "logout_rules/static/logout_rules/logout_rules.css",
    "logout_rules/locale/fr/LC_MESSAGES/django.po",
    "logout_rules/locale/fr/LC_MESSAGES/django.mo",
    "logout_rules/migrations/0001_initial.py",
)


def pyenv_bin_dirs(versions: list[str]) -> list[str]:
    """The ``bin`` folder of pyenv's newest patch release of each ``X.Y`` in ``versions``."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = []
    for version in versions:
        releases = [
            path
            for path in root.glob(f"{version}.*")
            if re.fullmatch(rf"{re.escape(version)}\.\d+", path.name)
            and (path / "bin" / f"python{version}").exists()
        ]
        if releases:
            newest = max(releases, key=lambda path: int(path.name.rsplit(".", 1)[1]))
            found.append(str(newest / "bin"))
    return found


os.environ["PATH"] = os.pathsep.join(
    [*pyenv_bin_dirs(sorted({python for python, _ in PAIRS})), os.environ.get("PATH", "")]
)


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return match.group(0).lower().replace("_", "-")


def test_requirements(*extras: str) -> list[str]:
    """What a session installs besides the package: the ``dev`` extra and ``extras``, resolved."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    own = _name(project["name"])
    optional = project["optional-dependencies"]
    requirements: list[str] = []
    pending = [requirement for extra in ("dev", *extras) for requirement in optional[extra]]
    while pending:
        requirement = pending.pop(0)
        name = _name(requirement)
        if name in LEAVE_OUT:
            continue
        if name == own:
            # A self-reference such as "django-logout-rules[formats]": install those extras.
            found = re.search(r"\[([^\]]+)\]", requirement)
            for extra in found.group(1).split(",") if found else ():
                pending.extend(optional[extra.strip()])
            continue
        if requirement not in requirements:
            requirements.append(requirement)
    return [*requirements, *(extra for extra in EXTRA if extra not in requirements)]


def services_env() -> dict[str, str]:
    """PostgreSQL + Redis for the whole-suite session, under names of its own.

    The test database and Redis prefix are ``LOGOUT_RULES_MATRIX_DB_NAME`` and
    ``LOGOUT_RULES_MATRIX_REDIS_PREFIX`` when set, else those of ``make test-services``
    (``LOGOUT_RULES_TEST_DB_NAME``, ``LOGOUT_RULES_REDIS_PREFIX``) with ``_matrix`` added, so the
    two stages never share a database or keys.
    """
    database = os.environ.get("LOGOUT_RULES_TEST_DB_NAME", "test_logout_rules") + "_matrix"
    prefix = os.environ.get("LOGOUT_RULES_REDIS_PREFIX", "logout_rules_tests") + "_matrix"
    return {
        "LOGOUT_RULES_TEST_DB": "postgresql",
        "LOGOUT_RULES_TEST_CACHE": "redis",
        "LOGOUT_RULES_TEST_DB_NAME": os.environ.get("LOGOUT_RULES_MATRIX_DB_NAME", database),
        "LOGOUT_RULES_REDIS_PREFIX": os.environ.get("LOGOUT_RULES_MATRIX_REDIS_PREFIX", prefix),
    }


@nox.session(python=False, name="print-requirements")
def print_requirements(session: nox.Session) -> None:
    """Show what the test sessions install (no virtualenv)."""
    session.log("other pairs: " + " ".join(test_requirements()))
    session.log("whole suite: " + " ".join(test_requirements("services", "browser")))


@nox.session
@nox.parametrize(("python", "django"), PAIRS)
def tests(session: nox.Session, django: str) -> None:
    """The test suite on one (Python, Django series) pair."""
    whole = (session.python, django) == WHOLE_SUITE
    extras = ("services", "browser") if whole else ()
    session.install(".", *test_requirements(*extras), f"django~={django}.0")
    session.run(
        "python",
        "-c",
        "import django, sys; print('Django', django.get_version(), 'on Python', sys.version)",
    )
    env = {"PYTHONDONTWRITEBYTECODE": "1"}
    if whole:
        env.update(services_env())
        session.run("python", "-m", "tests.services.precheck", env=env)
    # As in `make test`: the tests that only compute in parallel processes (pytest-xdist), then,
    # for the whole suite, those that drive a browser or start servers, one at a time.
    workers = os.environ.get("PYTEST_WORKERS", "2")
    pytest = ("pytest", "-p", "no:cacheprovider")
    session.run(*pytest, "-n", workers, "-m", PARALLEL, *session.posargs, env=env)
    if whole:
        session.run(*pytest, "-m", SERIAL, *session.posargs, env=env)


@nox.session(python=WHOLE_SUITE[0])
def package(session: nox.Session) -> None:
    """The package as users get it (``make package-check``).

    Builds the sdist and the wheel (``python -m build``, with the tools of the virtualenv that runs
    nox; a build warning fails), checks them (``twine check --strict``, the wheel's package data),
    installs the wheel (not editable) into this session's fresh virtualenv next to the newest
    Django on the newest Python, proves that pip left Django alone, and tries the installed copy
    from a temporary folder (the checkout is not importable there) with
    ``tests/packaging/installed.py``: the sample site, then the README's Installation and
    Migrating sections in fresh ``startproject`` projects.
    """
    django = WHOLE_SUITE[1]
    with tempfile.TemporaryDirectory(prefix="logout-rules-package-") as folder:
        work = Path(folder)
        dist = work / "dist"
        args = ("-m", "build", "--sdist", "--wheel", "--outdir", str(dist), str(ROOT))
        # (byte-compiling stays on: setuptools warns when PYTHONDONTWRITEBYTECODE turns it off)
        env = {"PYTHONDONTWRITEBYTECODE": ""}
        output = session.run(sys.executable, *args, external=True, silent=True, env=env) or ""
        warnings = [line for line in output.splitlines() if re.search(r"warning", line, re.I)]
        if warnings:
            session.error("the build warns:\n" + "\n".join(warnings))
        (wheel,) = dist.glob("*.whl")
        (sdist,) = dist.glob("*.tar.gz")
        session.log(f"built {wheel.name} and {sdist.name}")
        session.run(
            sys.executable,
            "-m",
            "twine",
            "check",
            "--strict",
            str(wheel),
            str(sdist),
            external=True,
        )
        with zipfile.ZipFile(wheel) as archive:
            names = set(archive.namelist())
        missing = [name for name in PACKAGE_DATA if name not in names]
        stray = sorted({name.split("/")[0] for name in names} - {"logout_rules"})
        if missing or any(not name.endswith(".dist-info") for name in stray):
            session.error(f"the wheel lacks {missing} or holds {stray}")

        session.install(f"django~={django}.0")
        version = "import django; print(django.get_version())"
        before = (session.run("python", "-c", version, silent=True) or "").strip()
        log = session.run("python", "-m", "pip", "install", str(wheel), silent=True) or ""
        after = (session.run("python", "-c", version, silent=True) or "").strip()
        touched = re.findall(r"(?im)^.*\b(?:uninstall\w*|installed)\b.*\bdjango-\d.*$", log)
        if before != after or touched:
            session.error(f"pip changed Django {before} -> {after}: {touched}")
        session.log(f"the wheel installed next to Django {after}, which pip left alone")
        session.run("python", "-m", "pip", "check")

        shutil.copytree(
            ROOT / "sample_site",
            work / "sample_site",
            ignore=shutil.ignore_patterns("db.sqlite3", "__pycache__"),
        )
        script = shutil.copy(ROOT / "tests" / "packaging" / "installed.py", work)
        env = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": ""}
        session.run("python", script, "sample-site", str(work / "sample_site"), env=env)
        session.run(
            "python", script, "readme", str(ROOT / "README.md"), str(work / "readme"), env=env
        )
