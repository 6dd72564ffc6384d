"""Create the global rule's single row, so request-time reads never write."""

from typing import Any

from django.db import migrations


def create_global_rule(apps: Any, schema_editor: Any) -> None:
    GlobalLogoutRule = apps.get_model("logout_rules", "GlobalLogoutRule")
    GlobalLogoutRule.objects.using(schema_editor.connection.alias).get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("logout_rules", "0001_initial")]

    operations = [migrations.RunPython(create_global_rule, migrations.RunPython.noop)]
