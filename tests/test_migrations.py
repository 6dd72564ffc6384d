from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from logout_rules.models import GlobalLogoutRule


@pytest.mark.django_db
def test_no_missing_migrations():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_data_migration_creates_the_global_row():
    assert GlobalLogoutRule.objects.filter(pk=1).exists()
