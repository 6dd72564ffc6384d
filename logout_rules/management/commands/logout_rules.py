"""``manage.py logout_rules <subcommand>``.

* ``explain <username>``: each effective field, its value and where it came from.
* ``export [--format json|yaml|csv] [-o PATH]``: the whole policy as a rule set (``rulesets.py``).
* ``import PATH [--dry-run] [--prune] [--user USERNAME]``: apply a rule set, all or nothing.
  Exit status: 0 applied (or, with ``--dry-run``, the database matches the file); 1 with
  ``--dry-run`` when it does not (drift: a change to make, or a rule only in the database); 2 on
  any error (nothing written).
* ``prune [--dry-run]``: delete the logout events older than ``LOGOUT_RULES_EVENT_RETENTION`` and
  the session revocations that can no longer end a session, in batches; print the counts (with
  ``--dry-run``: what would be deleted, deleting nothing). Exit status 0.
* ``revoke (--user USERNAME | --group NAME | --everyone) [--reason TEXT]``: sign out now (one
  session revocation, ``revocations.py``). Exit status 0 done; 2 for an unknown user or group or
  a reason that is too long (nothing written).

Every subcommand exits 2 on an error. Output to the terminal never carries control characters
(``safe_text.terminal_safe``); files written with ``-o`` are exact. After a change (and with
``explain``), the commands say when the policy cache is per process, so that a running server
does not see the change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import events, revocations, rulesets
from ...cache import per_process_backend
from ...conf import conf
from ...resolver import explain
from ...safe_text import json_terminal_safe, shown, terminal_safe


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
            "1 drift (--dry-run), 2 error (nothing written).",
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
            help="Print the changes without writing them; exit 1 if there are any, or if the "
            "database holds rules the file does not mention (drift).",
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

    # Everything written to the terminal goes through ``terminal_safe``: group names, messages
    # and file contents come from outside, and must not drive the terminal. Files written with
    # ``export -o`` are exact.

    def say(self, line: str) -> None:
        self.stdout.write(terminal_safe(line))

    def warn(self, line: str) -> None:
        self.stderr.write(terminal_safe(line))

    def note_per_process_cache(self) -> None:
        """Say when a running server cannot see a change made here (a per-process cache)."""
        backend = per_process_backend()
        if backend is not None:
            self.warn(
                f"Note: the policy cache {conf.CACHE_ALIAS!r} ({backend}) is per process: a "
                "server that is already running (runserver, other workers) keeps the policies it "
                "has cached until it restarts, or for up to LOGOUT_RULES_CACHE_TIMEOUT "
                f"({conf.CACHE_TIMEOUT} s). Use a cache shared by your processes (README: "
                '"A shared cache is required").'
            )

    def handle_explain(self, username: str, **options: Any) -> None:
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist as exc:
            raise CommandError(
                f"No user with {user_model.USERNAME_FIELD} {shown(username)}.", returncode=2
            ) from exc
        self.say(f"Effective logout policy for {username}:")
        rows = explain(user.pk)
        width = max(len(row.field) for row in rows)
        for row in rows:
            self.say(f"  {row.field.ljust(width)}  {row.display}  [{row.source}]")
        self.note_per_process_cache()

    def handle_export(self, format: str, output: Path | None, **options: Any) -> None:
        try:
            text = rulesets.write_export(format, output)
        except rulesets.RuleSetError as exc:
            raise CommandError(terminal_safe(str(exc)), returncode=2) from exc
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc}", returncode=2) from exc
        if text is None:
            return
        if format == "json":
            self.stdout.write(json_terminal_safe(text), ending="")
        else:
            self.stdout.write(terminal_safe(text.replace("\r\n", "\n")), ending="")

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
            # An account named with --user must exist, dry run or not.
            account = rulesets.history_account(user) if user else None
            ruleset = rulesets.read(path, format)
            report = rulesets.apply(
                ruleset,
                dry_run=dry_run,
                prune=prune,
                account=(lambda: account) if user else (lambda: rulesets.history_account(None)),
            )
        except rulesets.RuleSetError as exc:
            for problem in exc.problems:
                self.warn(str(problem))
            raise CommandError(
                terminal_safe(f"{path.name or path} was not applied: nothing was written."),
                returncode=2,
            ) from exc
        except OSError as exc:
            raise CommandError(terminal_safe(f"Cannot read {path}: {exc}"), returncode=2) from exc
        for line in report.lines():
            self.say(line)
        if report.history_skipped:
            self.warn(
                "No admin history entries were written: no account is named like your OS login. "
                "Pass --user USERNAME to record them."
            )
        if report.changed and not dry_run:
            self.note_per_process_cache()
        if dry_run and report.drift:
            raise SystemExit(1)

    def handle_prune(self, dry_run: bool, **options: Any) -> None:
        for line in events.prune(dry_run=dry_run).lines():
            self.say(line)

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
                    terminal_safe(
                        f"No user with {user_model.USERNAME_FIELD} {shown(user)}: "
                        "nothing was written."
                    ),
                    returncode=2,
                ) from exc
        elif group is not None:
            try:
                subject = {"group": Group.objects.get_by_natural_key(group)}
            except Group.DoesNotExist as exc:
                raise CommandError(
                    terminal_safe(f"No group named {shown(group)}: nothing was written."),
                    returncode=2,
                ) from exc
        try:
            revocation = revocations.revoke(**subject, reason=reason)
        except ValidationError as exc:
            raise CommandError(
                terminal_safe(f"{' '.join(exc.messages)} Nothing was written."), returncode=2
            ) from exc
        self.say(revocations.describe(revocation))
        self.note_per_process_cache()


def _SubParser(command: BaseCommand) -> Any:
    """Sub-parsers that report errors like Django's own (CommandError, exit status 2)."""

    class SubParser(CommandParser):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault(
                "called_from_command_line", getattr(command, "_called_from_command_line", False)
            )
            super().__init__(**kwargs)

    return SubParser
