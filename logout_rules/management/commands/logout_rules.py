"""``manage.py logout_rules <subcommand>``.

* ``explain <username>``: each effective field, its value and where it came from.
* ``export [--format json|yaml|csv] [-o PATH]``: the whole policy as a rule set (``rulesets.py``).
* ``import PATH [--dry-run] [--prune] [--user USERNAME]``: apply a rule set, all or nothing.
  Exit status: 0 applied (or, with ``--dry-run``, nothing would change); 1 with ``--dry-run`` when
  something would change (drift); 2 on any error (nothing written).
* ``prune [--dry-run]``: delete the logout events older than ``LOGOUT_RULES_EVENT_RETENTION`` and
  the session revocations that can no longer end a session, in batches; print the counts (with
  ``--dry-run``: what would be deleted, deleting nothing). Exit status 0.
* ``revoke (--user USERNAME | --group NAME | --everyone) [--reason TEXT]``: sign out now (one
  session revocation, ``revocations.py``). Exit status 0 done; 2 for an unknown user or group or
  a reason that is too long (nothing written).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import events, revocations, rulesets
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
        export_parser = subcommands.add_parser(
            "export", help="Write the global, group and user rules as one rule set."
        )
        export_parser.add_argument(
            "--format", choices=rulesets.FORMATS, default="json", help="Default: json."
        )
        export_parser.add_argument(
            "-o",
            "--output",
            type=Path,
            help="The file to write (default: standard output). For csv: a directory, which "
            "receives global.csv, groups.csv and users.csv.",
        )
        import_parser = subcommands.add_parser(
            "import",
            help="Apply a rule set, all or nothing. Exit status: 0 done / no drift, "
            "1 drift (--dry-run), 2 error.",
        )
        import_parser.add_argument(
            "path",
            type=Path,
            help="A .json or .yaml/.yml file, a directory of CSV files, or one scope's "
            "CSV file (global.csv, groups.csv, users.csv).",
        )
        import_parser.add_argument(
            "--format", choices=rulesets.FORMATS, help="Default: from the file name."
        )
        import_parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print the changes without writing them; exit 1 if there are any.",
        )
        import_parser.add_argument(
            "--prune",
            action="store_true",
            help="Also delete the group/user rules the file does not mention (a full sync).",
        )
        import_parser.add_argument(
            "--user",
            help="The account the admin history is recorded under (default: the account "
            "named like your OS login).",
        )

        prune_parser = subcommands.add_parser(
            "prune",
            help="Delete the logout events older than LOGOUT_RULES_EVENT_RETENTION and the "
            "session revocations that can no longer end a session (in batches).",
        )
        prune_parser.add_argument(
            "--dry-run", action="store_true", help="Print what would be deleted; delete nothing."
        )

        revoke_parser = subcommands.add_parser(
            "revoke",
            help="Sign out now: end, on their next request, the sessions that logged in before "
            "now of a user, of a group's members or of everyone. Exit status: 0 done, 2 error.",
        )
        whom = revoke_parser.add_mutually_exclusive_group(required=True)
        whom.add_argument("--user", metavar="USERNAME", help="The user's USERNAME_FIELD value.")
        whom.add_argument("--group", metavar="NAME", help="Every member of this group.")
        whom.add_argument("--everyone", action="store_true", help="Every signed-in user.")
        revoke_parser.add_argument(
            "--reason", default="", help="Why (kept with the revocation; never shown to users)."
        )

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

    def handle_export(self, format: str, output: Path | None, **options: Any) -> None:
        try:
            text = rulesets.write_export(format, output)
        except rulesets.RuleSetError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc}", returncode=2) from exc
        if text is not None:
            self.stdout.write(text, ending="")

    def handle_import(
        self,
        path: Path,
        format: str | None,
        dry_run: bool,
        prune: bool,
        user: str | None,
        **options: Any,
    ) -> None:
        try:
            ruleset = rulesets.read(path, format)
            report = rulesets.apply(
                ruleset,
                dry_run=dry_run,
                prune=prune,
                account=lambda: rulesets.history_account(user),
            )
        except rulesets.RuleSetError as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                f"{path.name or path} was not applied: nothing was written.", returncode=2
            ) from exc
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}", returncode=2) from exc
        for line in report.lines():
            self.stdout.write(line)
        if report.history_skipped:
            self.stderr.write(
                "No admin history entries were written: no account is named like your OS login. "
                "Pass --user USERNAME to record them."
            )
        if dry_run and report.changed:
            raise SystemExit(1)

    def handle_prune(self, dry_run: bool, **options: Any) -> None:
        for line in events.prune(dry_run=dry_run).lines():
            self.stdout.write(line)

    def handle_revoke(
        self,
        user: str | None,
        group: str | None,
        everyone: bool,
        reason: str,
        **options: Any,
    ) -> None:
        subject: dict[str, Any] = {"everyone": everyone}
        if user is not None:
            user_model = get_user_model()
            try:
                subject = {"user": user_model._default_manager.get_by_natural_key(user)}
            except user_model.DoesNotExist as exc:
                raise CommandError(
                    f"No user with {user_model.USERNAME_FIELD} {user!r}: nothing was written.",
                    returncode=2,
                ) from exc
        elif group is not None:
            try:
                subject = {"group": Group.objects.get_by_natural_key(group)}
            except Group.DoesNotExist as exc:
                raise CommandError(
                    f"No group named {group!r}: nothing was written.", returncode=2
                ) from exc
        try:
            revocation = revocations.revoke(**subject, reason=reason)
        except ValidationError as exc:
            raise CommandError(
                f"{' '.join(exc.messages)} Nothing was written.", returncode=2
            ) from exc
        self.stdout.write(revocations.describe(revocation))


def _SubParser(command: BaseCommand) -> Any:
    """Sub-parsers that report errors like Django's own (CommandError, exit status 2)."""

    class SubParser(CommandParser):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault(
                "called_from_command_line", getattr(command, "_called_from_command_line", False)
            )
            super().__init__(**kwargs)

    return SubParser
