"""``manage.py logout_rules <subcommand>``.

* ``explain <username>``: each effective field, its value and where it came from.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...resolver import explain


class Command(BaseCommand):
    help = "Inspect and manage logout rules."

    def add_arguments(self, parser: CommandParser) -> None:
        subcommands = parser.add_subparsers(
            dest="subcommand", required=True, title="subcommands", parser_class=_SubParser(self)
        )
        explain_parser = subcommands.add_parser(
            "explain", help="Show a user's effective policy and where each value comes from."
        )
        explain_parser.add_argument("username", help="The user's USERNAME_FIELD value.")

    def handle(self, *args: Any, **options: Any) -> None:
        handler = getattr(self, f"handle_{options['subcommand']}")
        handler(**options)

    def handle_explain(self, username: str, **options: Any) -> None:
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist as exc:
            raise CommandError(f"No user with {user_model.USERNAME_FIELD} {username!r}.") from exc
        self.stdout.write(f"Effective logout policy for {username}:")
        rows = explain(user.pk)
        width = max(len(row.field) for row in rows)
        for row in rows:
            self.stdout.write(f"  {row.field.ljust(width)}  {row.display}  [{row.source}]")


def _SubParser(command: BaseCommand) -> Any:
    """Sub-parsers that report errors like Django's own (CommandError, exit status 2)."""

    class SubParser(CommandParser):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault(
                "called_from_command_line", getattr(command, "_called_from_command_line", False)
            )
            super().__init__(**kwargs)

    return SubParser
