from __future__ import annotations

import importlib
from io import StringIO
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection

from logout_rules.models import GlobalLogoutRule


@pytest.mark.django_db
def test_no_missing_migrations():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_data_migration_creates_the_global_row():
    migration = importlib.import_module("logout_rules.migrations.0002_create_global_rule")
    editor = SimpleNamespace(connection=connection)
    GlobalLogoutRule.objects.all().delete()
    migration.create_global_rule(django_apps, editor)
    assert list(GlobalLogoutRule.objects.values_list("pk", flat=True)) == [1]
    migration.create_global_rule(django_apps, editor)  # migrating again changes nothing
    assert GlobalLogoutRule.objects.count() == 1
