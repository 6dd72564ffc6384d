"""Rule sets: the whole policy (global, group and user rules) as one reviewable file.

Used by ``manage.py logout_rules export/import``; the rows are read and written by the Resources
in ``resources.py`` (the same ones the admin uses), so a file means the same thing everywhere.

Formats:

* JSON and YAML: one document ``{"version": 1, "global": {...}, "groups": [...], "users": [...]}``;
* CSV: one file per scope in a directory, ``global.csv``, ``groups.csv`` and ``users.csv``.

Applying a rule set is all-or-nothing: every scope is imported in one transaction, and a single
bad row (or a bad file) rolls everything back and reports every problem with its scope and row
number. The policy cache is invalidated by the model signals, once, after the commit; a dry run
rolls back, so it neither writes nor invalidates anything.

A scope the file leaves out is left alone; ``prune`` deletes the group/user rules whose subject a
scope present in the file does not mention.
"""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tablib
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import models, router, transaction
from import_export.results import Result, RowResult

from . import reading
from .models import GroupLogoutRule
from .resources import (
    GlobalRuleResource,
    GroupRuleResource,
    RuleResource,
    UserRuleResource,
)
from .safe_text import shown

VERSION = 1
SCOPES = ("global", "groups", "users")
FORMATS = ("json", "yaml", "csv")
RESOURCES: dict[str, type[RuleResource]] = {
    "global": GlobalRuleResource,
    "groups": GroupRuleResource,
    "users": UserRuleResource,
}
#: CSV: the file of each scope, inside the directory given to ``export -o`` / ``import``.
CSV_FILES = {scope: f"{scope}.csv" for scope in SCOPES}
_SUFFIXES = {".json": "json", ".yaml": "yaml", ".yml": "yaml", ".csv": "csv"}
_CSV_SCOPE = re.compile(r"(?:^|[._-])(global|groups|users)$")
_CHUNK = 500


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a rule set cannot be applied: where (scope, row) and why."""

    message: str
    scope: str = ""
    row: int | None = None

    def __str__(self) -> str:
        where = self.scope + (f", row {self.row}" if self.row is not None else "")
        return f"{where}: {self.message}" if where else self.message


class RuleSetError(Exception):
    """The file cannot be applied; nothing was written. ``problems`` lists every reason."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True, slots=True)
class Change:
    """A rule that is (or would be) created, changed or deleted."""

    scope: str
    subject: str
    kind: str  # RowResult.IMPORT_TYPE_NEW / _UPDATE / _DELETE
    fields: tuple[tuple[str, str, str], ...] = ()
    pruned: bool = False

    @property
    def values(self) -> str:
        """``idle_time 00:05:00; …`` for a new rule, ``idle_time 00:02:00 -> 00:05:00; …`` for a
        changed one."""
        if self.kind == RowResult.IMPORT_TYPE_NEW:
            return "; ".join(f"{name} {new}" for name, _, new in self.fields)
        return "; ".join(f"{name} {old} -> {new}" for name, old, new in self.fields)

    def describe(self) -> str:
        """One line of the command's diff."""
        return self.words(DIFF, subject=self.subject)

    def words(self, which: int, **names: str) -> str:
        """This change in the words of ``WORDING[...][which]`` (``DIFF`` or ``HISTORY``), with
        the ``str.format`` fields ``values`` and ``names``."""
        if self.kind == RowResult.IMPORT_TYPE_DELETE:
            parts = ["delete", "pruned"] if self.pruned else ["delete"]
        elif self.kind == RowResult.IMPORT_TYPE_NEW:
            parts = ["new", "new_values"] if self.values else ["new"]
        else:
            parts = ["update"]
        template = "".join(WORDING[part][which] for part in [*parts, "end"])
        return template.format(values=self.values, **names)


#: How a change is put in words: the command's diff line (``DIFF``) and the admin history text
#: (``HISTORY``). ``pruned`` follows ``delete`` for a rule deleted by ``prune``; ``new_values``
#: follows ``new`` when the new rule sets values.
DIFF, HISTORY = 0, 1
WORDING: dict[str, tuple[str, str]] = {
    "delete": ("- {subject}: delete", "Deleted by import of {source}"),
    "pruned": (" (not in the file)", ": not in the file (--prune)"),
    "new": ("+ {subject}: new", "Added by import of {source}"),
    "new_values": (" ({values})", ": {values}"),
    "update": ("~ {subject}: {values}", "Changed by import of {source}: {values}"),
    "end": ("", "."),
}


@dataclass(slots=True)
class Report:
    """What applying a rule set did (or, for a dry run, would do)."""

    source: str
    dry_run: bool
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    #: Rules of a scope the file contains that the file does not mention, kept (no ``prune``).
    only_in_database: list[str] = field(default_factory=list)
    #: True when changes were applied without admin history entries (no account to record under).
    history_skipped: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    @property
    def drift(self) -> bool:
        """Whether the database differs from the file: a change to make, or a rule the file does
        not mention in a scope it contains."""
        return bool(self.changes or self.only_in_database)

    def count(self, kind: str) -> int:
        return sum(1 for change in self.changes if change.kind == kind)

    def lines(self) -> list[str]:
        lines = [change.describe() for change in self.changes]
        lines.extend(
            f"? {subject}: only in the database, not in {self.source} (kept; --prune deletes it)"
            for subject in self.only_in_database
        )
        if not self.drift:
            lines.append(
                f"No changes: the database matches {self.source} "
                f"({_plural(self.unchanged, 'rule')} unchanged)."
            )
            return lines
        summary = (
            f"{_plural(len(self.changes), 'change')}: {self.count(RowResult.IMPORT_TYPE_NEW)} new, "
            f"{self.count(RowResult.IMPORT_TYPE_UPDATE)} updated, "
            f"{self.count(RowResult.IMPORT_TYPE_DELETE)} deleted; {self.unchanged} unchanged"
        )
        if self.only_in_database:
            summary += f"; {len(self.only_in_database)} only in the database"
        lines.append(summary + ".")
        if self.dry_run:
            lines.append("Dry run: nothing was written.")
        else:
            lines.append(f"Applied {self.source}." if self.changes else "Nothing was written.")
        return lines


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# --- export -------------------------------------------------------------------------------------


def export_document() -> dict[str, Any]:
    """The whole policy as plain data (the JSON/YAML document)."""
    return {
        "version": VERSION,
        "global": GlobalRuleResource().export_one(),
        "groups": GroupRuleResource().export().dict,
        "users": UserRuleResource().export().dict,
    }


def export_text(fmt: str) -> str:
    """The whole policy as one JSON or YAML document."""
    unavailable = reading.format_problem(fmt)
    if unavailable is not None:
        raise RuleSetError([Problem(unavailable)])
    document = export_document()
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        import yaml

        text: str = yaml.safe_dump(
            document, sort_keys=False, allow_unicode=True, default_flow_style=False
        )
        return text
    raise ValueError(f"{shown(fmt)} is a one-file format: use json or yaml.")


def export_csv() -> dict[str, str]:
    """The whole policy as one CSV text per scope, keyed by file name (``CSV_FILES``)."""
    global_resource = GlobalRuleResource()
    global_row = global_resource.export_one()
    global_set = tablib.Dataset(headers=list(global_row))
    global_set.append(list(global_row.values()))
    datasets = {
        "global": global_set,
        "groups": GroupRuleResource().export(),
        "users": UserRuleResource().export(),
    }
    return {CSV_FILES[scope]: datasets[scope].export("csv") for scope in SCOPES}


def csv_paths(output: Path) -> dict[str, Path]:
    """Where a CSV export goes: ``DIR/global.csv`` …, or for ``-o NAME.csv`` the files
    ``NAME.global.csv``, ``NAME.groups.csv`` and ``NAME.users.csv`` beside it."""
    if output.suffix.lower() == ".csv" and not output.is_dir():
        return {scope: output.with_name(f"{output.stem}.{scope}.csv") for scope in SCOPES}
    return {scope: output / name for scope, name in CSV_FILES.items()}


def write_export(fmt: str, output: Path | None) -> str | None:
    """Write an export to ``output`` (a file; for CSV a directory or a ``NAME.csv`` stem). Without
    ``output``, return the document; for CSV, the three files one after the other, each under a
    ``# global.csv`` style line (for reading: to import CSV, write the files with ``-o``)."""
    if fmt == "csv":
        texts = export_csv()
        if output is None:
            return "\n".join(f"# {name}\n{text}" for name, text in texts.items())
        paths = csv_paths(output)
        for scope, path in paths.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(texts[CSV_FILES[scope]], encoding="utf-8", newline="")
        return None
    text = export_text(fmt)
    if output is None:
        return text
    output.write_text(text, encoding="utf-8")
    return None


# --- reading ------------------------------------------------------------------------------------


@dataclass(slots=True)
class RuleSet:
    """A parsed file: one dataset per scope the file contains."""

    source: str
    datasets: dict[str, tablib.Dataset]


def guess_format(path: Path) -> str | None:
    if path.is_dir():
        return "csv"
    return _SUFFIXES.get(path.suffix.lower())


def read(path: Path, fmt: str | None = None) -> RuleSet:
    """Read a rule set (a JSON/YAML file, a CSV directory or one scope's CSV file), within the
    bounds of ``reading.py``."""
    fmt = fmt or guess_format(path)
    if fmt is None:
        raise RuleSetError(
            [Problem(f"Cannot tell the format of {path.name}: use --format json, yaml or csv.")]
        )
    if fmt not in FORMATS:
        raise RuleSetError([Problem(f"Unknown format {shown(fmt)}: use json, yaml or csv.")])
    unavailable = reading.format_problem(fmt)
    if unavailable is not None:
        raise RuleSetError([Problem(unavailable)])
    if fmt == "csv":
        return _read_csv(path)
    if not path.exists():
        raise RuleSetError([Problem(f"{path} does not exist.")])
    if path.is_dir():
        raise RuleSetError([Problem(f"{path} is a directory, not a {fmt.upper()} file.")])
    text = _read_text(path, fmt)
    load = reading.load_json if fmt == "json" else reading.load_yaml
    try:
        document = load(text, path.name)
    except reading.FileRefused as exc:
        raise RuleSetError(refused(exc)) from None
    return parse_document(document, path.name)


def refused(exc: reading.FileRefused, scope: str = "") -> list[Problem]:
    """The problems of a refused file (or of one scope of it)."""
    return [Problem(text, scope, row) for row, text in exc.problems]


def _read_text(path: Path, fmt: str) -> str:
    try:
        reading.check_size(path.stat().st_size, path.name)
    except reading.FileRefused as exc:
        raise RuleSetError(refused(exc)) from None
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RuleSetError(
            [Problem(f"{path.name} is not UTF-8 text, so not a {fmt.upper()} file.")]
        ) from None
    if not text.strip():
        raise RuleSetError([Problem(f"{path.name} is empty.")])
    return text


def parse_document(document: object, source: str) -> RuleSet:
    """A JSON/YAML document → the datasets of the scopes it contains."""
    expected = ", ".join(("version", *SCOPES))
    if not isinstance(document, Mapping):
        raise RuleSetError(
            [Problem(f"{source} is not a rule set: expected an object with the keys {expected}.")]
        )
    limit = reading.max_rows()
    if reading.count_rows(document[scope] for scope in SCOPES if scope in document) > limit:
        raise RuleSetError(refused(reading.too_many_rows(limit)))
    unknown = [key for key in document if key not in ("version", *SCOPES)]
    problems = [
        Problem(f"Unknown key {shown(key)}: the keys are {expected}.")
        for key in unknown[: reading.MAX_LISTED_PROBLEMS]
    ]
    if len(unknown) > reading.MAX_LISTED_PROBLEMS:
        problems.append(Problem(f"And {len(unknown) - reading.MAX_LISTED_PROBLEMS} more keys."))
    if "version" in document and document["version"] != VERSION:
        problems.append(
            Problem(f"Unsupported version {shown(document['version'])}: this is version {VERSION}.")
        )
    datasets: dict[str, tablib.Dataset] = {}
    for scope in SCOPES:
        if scope not in document:
            continue
        rows = document[scope]
        if scope == "global":
            if rows is not None and not isinstance(rows, Mapping):
                problems.append(Problem("The global rule must be one object.", scope))
                continue
            rows = [rows or {}]
        try:
            datasets[scope] = reading.records_to_dataset(rows, RESOURCES[scope].columns())
        except reading.FileRefused as exc:
            problems.extend(refused(exc, scope))
    if not datasets and not problems:
        problems.append(
            Problem(
                f"{source} has no rules: expected at least one of the keys {', '.join(SCOPES)}."
            )
        )
    if problems:
        raise RuleSetError(problems)
    return RuleSet(source, datasets)


def _read_csv(path: Path) -> RuleSet:
    if not path.exists() and path.suffix.lower() == ".csv":
        # ``export --format csv -o NAME.csv`` wrote NAME.global.csv, NAME.groups.csv, …
        siblings = {scope: file for scope, file in csv_paths(path).items() if file.exists()}
        if siblings:
            return _read_csv_files(path, siblings)
    if not path.exists():
        raise RuleSetError([Problem(f"{path} does not exist.")])
    if path.is_dir():
        files = {scope: path / name for scope, name in CSV_FILES.items() if (path / name).exists()}
        if not files:
            names = ", ".join(CSV_FILES.values())
            raise RuleSetError([Problem(f"{path} contains none of {names}.")])
    else:
        match = _CSV_SCOPE.search(path.stem.lower())
        if match is None:
            raise RuleSetError(
                [
                    Problem(
                        f"Cannot tell which rules {path.name} holds: name it global.csv, "
                        "groups.csv or users.csv (or import the directory)."
                    )
                ]
            )
        files = {match.group(1): path}
    return _read_csv_files(path, files)


def _read_csv_files(path: Path, files: dict[str, Path]) -> RuleSet:
    datasets: dict[str, tablib.Dataset] = {}
    problems: list[Problem] = []
    for scope, file in files.items():
        try:
            datasets[scope] = reading.read_csv(_read_text(file, "csv"), file.name)
        except RuleSetError as exc:
            problems.extend(exc.problems)
        except reading.FileRefused as exc:
            problems.extend(refused(exc, scope))
    if problems:
        raise RuleSetError(problems)
    source = f"{path.name}/" if path.is_dir() else path.name
    return RuleSet(source, datasets)


# --- applying -----------------------------------------------------------------------------------


def problems_of(scope: str, result: Result) -> list[Problem]:
    """Every problem import-export found, with the row number (1 = the scope's first rule)."""
    problems = [Problem(str(error.error), scope) for error in result.base_errors]
    for invalid in result.invalid_rows:
        for name, messages in invalid.error_dict.items():
            for message in messages:
                text = message if name == NON_FIELD_ERRORS else f"{name}: {message}"
                problems.append(Problem(text, scope, invalid.number))
    for failed in result.error_rows:
        problems.extend(Problem(str(error.error), scope, failed.number) for error in failed.errors)
    return sorted(problems, key=lambda problem: problem.row or 0)


def history_account(username: str | None) -> Any:
    """The account the admin history is recorded under: ``username``, else the account named like
    the OS login (as ``changepassword`` does), else ``None`` (no history is written).

    A ``username`` that names no account is an error: the caller asked for it explicitly.
    """
    user_model = get_user_model()
    try:
        name = username or getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        return None
    try:
        return user_model._default_manager.get_by_natural_key(name)
    except user_model.DoesNotExist:
        if not username:
            return None
        raise RuleSetError(
            [
                Problem(
                    f"No account {shown(name)} to record the changes in the admin history "
                    "under: pass --user USERNAME."
                )
            ]
        ) from None


@dataclass(slots=True)
class _Applied:
    change: Change
    instance: models.Model


def apply(
    ruleset: RuleSet,
    *,
    dry_run: bool = False,
    prune: bool = False,
    account: Callable[[], Any] | None = None,
    via: str = "manage.py logout_rules import",
) -> Report:
    """Apply a rule set, all or nothing. Raises ``RuleSetError`` (nothing written) on any problem.

    ``account`` is called when there is something to write, to get the user the admin history
    entries are recorded under (``history_account``); without it no history is written.
    """
    report = Report(ruleset.source, dry_run)
    applied: list[_Applied] = []
    using = router.db_for_write(GroupLogoutRule)
    with transaction.atomic(using=using):
        results: list[tuple[str, RuleResource, Result]] = []
        problems: list[Problem] = []
        for scope in SCOPES:
            if scope not in ruleset.datasets:
                continue
            resource = RESOURCES[scope](bulk=True)
            result = resource.import_data(
                ruleset.datasets[scope],
                dry_run=dry_run,
                raise_errors=False,
                use_transactions=True,
                retain_instance_in_row_result=True,
            )
            problems.extend(problems_of(scope, result))
            results.append((scope, resource, result))
        if problems:
            raise RuleSetError(problems)  # leaves the atomic block: everything is rolled back
        for scope, resource, result in results:
            _fill_missing_pks(resource, result)
            for row in result.rows:
                if row.import_type == RowResult.IMPORT_TYPE_SKIP:
                    report.unchanged += 1
                    continue
                change = Change(scope, row.subject_label, row.import_type, tuple(row.field_changes))
                applied.append(_Applied(change, row.instance))
        unmentioned = _unmentioned(results)
        if prune:
            applied.extend(unmentioned)
            if not dry_run:
                _delete(item.instance for item in unmentioned)
        else:
            report.only_in_database = [item.change.subject for item in unmentioned]
        report.changes = [item.change for item in applied]
        if dry_run:
            transaction.set_rollback(True, using=using)
        elif applied and account is not None:
            user = account()
            if user is not None:
                record_history(user, applied, f"{ruleset.source} ({via})")
            else:
                report.history_skipped = True
    return report


def _fill_missing_pks(resource: RuleResource, result: Result) -> None:
    """Databases that cannot return ids from a bulk insert (MySQL) leave new rules without a pk:
    the history needs it, so look the new rules up by subject."""
    missing = [
        row.instance
        for row in result.rows
        if row.import_type == RowResult.IMPORT_TYPE_NEW and row.instance.pk is None
    ]
    if not missing or not resource.subject:
        return
    attname = f"{resource.subject}_id"
    wanted = {getattr(instance, attname): instance for instance in missing}
    ids = list(wanted)
    manager = resource._meta.model._default_manager
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for subject_id, pk in manager.filter(**{f"{attname}__in": chunk}).values_list(
            attname, "pk"
        ):
            wanted[subject_id].pk = pk


def _unmentioned(results: list[tuple[str, RuleResource, Result]]) -> list[_Applied]:
    """The group/user rules of the file's scopes whose subject the file does not mention, as the
    deletes ``prune`` makes of them."""
    found: list[_Applied] = []
    for scope, resource, result in results:
        if not resource.subject:
            continue
        attname = f"{resource.subject}_id"
        mentioned = {
            getattr(row.instance, attname) for row in result.rows if row.instance is not None
        }
        model = resource._meta.model
        unmentioned = [
            pk
            for subject_id, pk in model._default_manager.values_list(attname, "pk")
            if subject_id not in mentioned
        ]
        for start in range(0, len(unmentioned), _CHUNK):
            chunk = unmentioned[start : start + _CHUNK]
            for rule in model._default_manager.filter(pk__in=chunk).select_related(
                resource.subject
            ):
                change = Change(
                    scope, resource.subject_label(rule), RowResult.IMPORT_TYPE_DELETE, pruned=True
                )
                found.append(_Applied(change, rule))
    return found


def _delete(rules: Iterable[models.Model]) -> None:
    """Delete rules, by model, in chunks (the model signals invalidate after the commit)."""
    by_model: dict[type[models.Model], list[object]] = {}
    for rule in rules:
        by_model.setdefault(type(rule), []).append(rule.pk)
    for model, pks in by_model.items():
        for start in range(0, len(pks), _CHUNK):
            model._default_manager.filter(pk__in=pks[start : start + _CHUNK]).delete()


_ACTIONS = {
    RowResult.IMPORT_TYPE_NEW: ADDITION,
    RowResult.IMPORT_TYPE_UPDATE: CHANGE,
    RowResult.IMPORT_TYPE_DELETE: DELETION,
}


def change_message(change: Change, source: str) -> str:
    """The admin history text: what changed, from which file, old and new values."""
    return change.words(HISTORY, source=source)


def record_history(user: Any, applied: Iterable[_Applied], source: str) -> None:
    """One admin ``LogEntry`` per created, changed or deleted rule (bulk-inserted)."""
    entries = []
    content_types: dict[type[models.Model], int] = {}
    for item in applied:
        model = type(item.instance)
        if model not in content_types:
            content_types[model] = ContentType.objects.get_for_model(model).pk
        entries.append(
            LogEntry(
                user_id=user.pk,
                content_type_id=content_types[model],
                object_id=str(item.instance.pk),
                object_repr=str(item.instance)[:200],
                action_flag=_ACTIONS[item.change.kind],
                change_message=change_message(item.change, source),
            )
        )
    LogEntry.objects.bulk_create(entries, batch_size=_CHUNK)


def record_result_history(user: Any, scope: str, result: Result, source: str) -> None:
    """Admin history for an import-export ``Result`` (the admin's confirmed import)."""
    applied = [
        _Applied(
            Change(scope, row.subject_label, row.import_type, tuple(row.field_changes)),
            row.instance,
        )
        for row in result.rows
        if row.import_type in _ACTIONS and row.instance is not None
    ]
    record_history(user, applied, source)
