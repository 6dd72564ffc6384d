"""The README's Installation and Migrating steps, as ``make package-check`` reads them.

The package check tries them for real (the built wheel, fresh ``startproject`` projects, see
``tests/packaging/installed.py``); these tests catch a README that drifts from what it can try,
fast and without building anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from .packaging import installed

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.fixture
def project(tmp_path) -> Path:
    """A fresh ``django-admin startproject`` (this Django's own project template)."""
    call_command("startproject", installed.PROJECT, str(tmp_path))
    return tmp_path


def test_installation_is_complete_in_one_place():
    steps = installed.read_steps(README, installed.INSTALL_SECTION, strict=True)
    settings = "\n".join(steps.settings)
    for needed in (
        '"logout_rules"',
        '"logout_rules.middleware.AutoLogoutMiddleware"',
        '"logout_rules.context_processors.auto_logout_client"',
        "AUTO_LOGOUT = {",
        # a policy cache the processes share (a per-process one gets W024 under DEBUG)
        '"django.core.cache.backends.filebased.FileBasedCache"',
        'LOGOUT_RULES_CACHE_ALIAS = "logout_rules"',
    ):
        assert needed in settings
    assert 'path("logout-rules/", include("logout_rules.urls"))' in "\n".join(steps.urls)
    assert set(steps.templates) == {"templates/base.html", "templates/registration/login.html"}
    assert "{{ redirect_to_login_immediately }}" in steps.templates["templates/base.html"]
    assert "{% for message in messages %}" in steps.templates["templates/base.html"]
    assert [command[0] for command in steps.commands] == ["migrate", "collectstatic", "check"]
    assert all(installed.PACKAGE in line for line in steps.pip)


def test_installation_applied_to_a_startproject_gives_valid_python(project):
    steps = installed.read_steps(README, installed.INSTALL_SECTION, strict=True)
    installed.apply_steps(steps, project)
    for name in ("settings.py", "urls.py"):
        source = (project / installed.PROJECT / name).read_text()
        compile(source, name, "exec")
    assert (project / "templates" / "registration" / "login.html").is_file()


def test_migrating_turns_a_django_auto_logout_project_into_ours(project):
    settings = project / installed.PROJECT / "settings.py"
    source = installed.change_list(
        settings.read_text(), "MIDDLEWARE", [], [installed.AUTO_LOGOUT_MIDDLEWARE]
    )
    source = installed.change_list(
        source, "context_processors", [], [installed.AUTO_LOGOUT_CONTEXT_PROCESSOR]
    )
    settings.write_text(source + installed.AUTO_LOGOUT_SETTINGS)
    steps = installed.read_steps(README, installed.MIGRATE_SECTION, strict=False)
    assert steps.diffs
    assert [command[0] for command in steps.commands] == ["migrate", "collectstatic", "check"]

    installed.apply_steps(steps, project)
    namespace: dict[str, object] = {"__file__": str(settings)}
    exec(compile(settings.read_text(), "settings.py", "exec"), namespace)
    assert "django_auto_logout" not in settings.read_text()
    middleware = namespace["MIDDLEWARE"]
    assert isinstance(middleware, list)
    # Where django-auto-logout's middleware was: after sessions, authentication and messages.
    assert middleware[-1] == "logout_rules.middleware.AutoLogoutMiddleware"
    apps = namespace["INSTALLED_APPS"]
    assert isinstance(apps, list)
    assert {"solo", "import_export", "logout_rules"} <= set(apps)
    templates = namespace["TEMPLATES"]
    assert isinstance(templates, list)
    processors = templates[0]["OPTIONS"]["context_processors"]
    assert processors[-1] == "logout_rules.context_processors.auto_logout_client"
    assert 'include("logout_rules.urls")' in (project / installed.PROJECT / "urls.py").read_text()


def test_a_diff_that_does_not_fit_the_settings_is_refused(project):
    settings = (project / installed.PROJECT / "settings.py").read_text()
    diff = ' MIDDLEWARE = [\n     ...\n-    "not.there",\n+    "x",\n ]'
    with pytest.raises(installed.Failure, match=r"'not\.there' is not in the list"):
        installed.apply_diff(settings, diff)


def test_a_block_the_check_cannot_try_is_refused():
    readme = "## Installation\n\n```python\nX = 1\n```\n\n## Next\n"
    with pytest.raises(installed.Failure, match="cannot try"):
        installed.read_steps(readme, installed.INSTALL_SECTION, strict=True)
    readme = "## Installation\n\n```console\nsudo make install\n```\n"
    with pytest.raises(installed.Failure, match="cannot try"):
        installed.read_steps(readme, installed.INSTALL_SECTION, strict=True)


def test_check_output_lines_of_ours_are_found():
    output = (
        "?: (logout_rules.W022) per process\n"
        "?: (logout_rules.W050) not included\n"
        "?: (logout_rules.E010) bad\n"
        "?: (admin.E403) other\n"
    )
    assert installed.our_problems(output) == [
        "?: (logout_rules.W050) not included",
        "?: (logout_rules.E010) bad",
    ]
    assert installed.our_problems(output, every=True) == [
        "?: (logout_rules.W022) per process",
        "?: (logout_rules.W050) not included",
        "?: (logout_rules.E010) bad",
    ]
