"""django-import-export Resources for the rule rows: one row of a file is one rule.

Shared by the admin (import/export buttons), the ``logout_rules import/export`` command
(``rulesets.py``) and the tests, so every path reads and writes files the same way.

The columns (every format: CSV, JSON, YAML, XLSX):

* the subject, by natural key only (never a database id): ``group`` (the group's name) or
  ``user`` (the user's ``USERNAME_FIELD``); the global rule has no subject column;
* ``priority`` (group rules only): a whole number ≥ 1, lower wins;
* ``idle_time``, ``session_time``, ``warning_time``: exported as ``HH:MM:SS`` (hours may exceed
  24, e.g. ``720:00:00`` for 30 days; ``.ffffff`` is appended only when there are fractions of a
  second); imported from that form, plain seconds (``600``: in files a bare number stays
  seconds) and every notation ``durations.parse_duration`` reads (``15m``, ``1h 30m``,
  ``2 hours``, ``D HH:MM:SS``, ISO 8601 ``PT10M``…). Empty means inherit. Zero, negative and
  unparseable durations are rejected, and so are limits above a site-wide ceiling (the model's
  validation, ``LOGOUT_RULES_MAX_*``);
* ``message``: empty (or JSON/YAML ``null``) means inherit; the marker ``(no message)`` means
  "explicitly no message" (the empty string in the database); anything else is the text;
* ``redirect_to_login_immediately``: ``true``/``false`` (also ``yes``/``no``, ``1``/``0``);
  empty means inherit;
* ``enabled``: ``true``/``false``;
* ``delete`` (import only, optional): ``true`` deletes that subject's rule.

A row describes its rule completely: an empty cell, a ``null`` or a column the file leaves out
gives the field its default (inherit; ``enabled`` true; ``priority`` 100).

Spreadsheet safety: a text cell that would start with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is exported with a leading apostrophe (``'=cmd``), so no spreadsheet runs it as a
formula, and so is every place inside a cell that a common separator (``,`` ``;`` tab ``|``
newline) would make the start of a cell (``Bye;'=cmd``); the import removes those apostrophes
again, so files round-trip exactly. The neutralisation is done here, in every format, whatever
``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT`` says (the format classes below switch that setting's
own, lossy escaping off).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import time, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import tablib
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.utils import timezone
from import_export import resources, widgets
from import_export.fields import Field
from import_export.formats import base_formats
from import_export.instance_loaders import BaseInstanceLoader
from import_export.resources import Diff
from import_export.results import RowResult

from . import reading
from .durations import INVALID, TOO_LONG, DurationError, from_seconds, parse_duration
from .models import (
    GlobalLogoutRule,
    GroupLogoutRule,
    LogoutRuleFields,
    UserLogoutRule,
    validate_duration,
)
from .safe_text import shown

#: Marks "explicitly no message" (``""``) in a file; an empty cell means inherit (``None``).
NO_MESSAGE = "(no message)"
#: Also accepted on import for "inherit" (exports write an empty cell / ``null``).
INHERIT = "(inherit)"

DURATION_COLUMNS = ("idle_time", "session_time", "warning_time")
RULE_COLUMNS = (*DURATION_COLUMNS, "message", "redirect_to_login_immediately", "enabled")
DELETE_COLUMN = "delete"

DEFAULT_PRIORITY = 100
# SQLite accepts at most 999 parameters per query in Django's estimate: look rows up in chunks.
_CHUNK = 500

# --- spreadsheet-formula neutralisation ---------------------------------------------------------

# A spreadsheet reads a formula in a cell that starts with = + - @ (or a tab or carriage return
# before one), and a file opened with another separator than the one it was written with cuts a
# cell into several: "Bye;=HYPERLINK(…)" read with ";" as the separator gives a second cell
# "=HYPERLINK(…)". So every place that starts a cell, once cut by any common separator (, ; tab |
# newline, carriage return), gets a protecting apostrophe when it would start a formula (after
# spaces, which an import may trim, and after the apostrophes it already has). A cell that is
# exactly one of our markers gets one too, so that text equal to a marker survives the round
# trip. Apostrophes are neither separators, spaces nor formula characters, so adding one at each
# such place, and removing one from each on import, is an exact inverse.
_SEPARATORS = ",;\t|\n\r"
_PLACE = rf"(?:^|(?<=[{re.escape(_SEPARATORS)}]))(?P<blank>[^\S\t\n\r]*)"
_FORMULA_START = r"(?=[=+\-@\t\r])"
_FORMULA = re.compile(_PLACE + r"(?P<quotes>'*)" + _FORMULA_START)
_QUOTED_FORMULA = re.compile(_PLACE + r"'(?P<quotes>'*)" + _FORMULA_START)
_MARKER = re.compile(r"'*(?:" + re.escape(NO_MESSAGE) + "|" + re.escape(INHERIT) + ")")


def neutralise(text: str) -> str:
    """Make ``text`` safe to open in a spreadsheet, whatever separator it is read with (inverse:
    ``restore``)."""
    if _MARKER.fullmatch(text):
        return "'" + text
    return _FORMULA.sub(r"\g<blank>'\g<quotes>", text)


def restore(text: str) -> str:
    """Undo ``neutralise``: drop one protecting apostrophe from each place that has one."""
    if text.startswith("'") and _MARKER.fullmatch(text[1:]):
        return text[1:]
    return _QUOTED_FORMULA.sub(r"\g<blank>\g<quotes>", text)


# --- cell values --------------------------------------------------------------------------------

DURATION_HELP = (
    "use seconds (600), units (15m, 1h 30m, 2 hours), HH:MM:SS (00:10:00) or ISO 8601 (PT10M), "
    "or leave it empty to inherit"
)
_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def format_duration_cell(value: timedelta) -> str:
    """``timedelta(minutes=10)`` → ``"00:10:00"``; 30 days → ``"720:00:00"``."""
    total = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if total < 0 else ""
    seconds, micro = divmod(abs(total), 1_000_000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{text}.{micro:06d}" if micro else text


def parse_duration_cell(value: object) -> timedelta | None:
    """A cell → a positive ``timedelta`` (``None`` for an empty cell); ``ValueError`` otherwise.

    Text is read by ``durations.parse_duration``; in a file a bare number means seconds.
    """
    if _is_blank(value):
        return None
    delta: timedelta | None = None
    try:
        if isinstance(value, timedelta):
            delta = value
        elif isinstance(value, time):  # a spreadsheet that turned "00:10:00" into a time
            delta = timedelta(
                hours=value.hour,
                minutes=value.minute,
                seconds=value.second,
                microseconds=value.microsecond,
            )
        elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            delta = from_seconds(value)
        elif isinstance(value, str):
            delta = parse_duration(value, bare_seconds=True)
    except DurationError as exc:
        if exc.code == TOO_LONG:
            raise ValueError(str(exc)) from None
        if exc.code != INVALID:
            raise ValueError(f"{shown(value)} is not a duration. {exc}") from None
    if delta is None:
        raise ValueError(f"{shown(value)} is not a duration: {DURATION_HELP}.")
    try:
        validate_duration(delta)
    except ValidationError as exc:
        raise ValueError(" ".join(exc.messages)) from None
    return delta


def parse_flag(value: object) -> bool | None:
    """``true``/``false`` (``yes``/``no``, ``1``/``0``, ``on``/``off``) → bool; empty → ``None``."""
    if _is_blank(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError(f"{shown(value)} is not a yes/no value: use true or false.")


def parse_priority(value: object) -> int | None:
    """A whole number ≥ 1; empty → ``None`` (the default)."""
    if _is_blank(value):
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and re.fullmatch(r"\s*\+?\d+\s*", value)
    ):
        number = int(value)
    if number is None or number < 1:
        raise ValueError(f"{shown(value)} is not a priority: use a whole number of at least 1.")
    return number


def parse_message(value: object) -> str | None:
    """Empty / ``(inherit)`` → ``None``; ``(no message)`` → ``""``; otherwise the text."""
    if _is_blank(value):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{shown(value)} is not a message: use text.")
    text = str(value)
    if text.strip() == NO_MESSAGE:
        return ""
    if text.strip() == INHERIT:
        return None
    return restore(text)


def describe(column: str, value: object) -> str:
    """A stored value for humans (diffs and history): ``(inherit)``, ``00:10:00``, ``true``…"""
    if value is None:
        return "(inherit)"
    if isinstance(value, timedelta):
        return format_duration_cell(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if column == "message":
        return NO_MESSAGE if value == "" else json.dumps(value, ensure_ascii=False)
    if isinstance(value, models.Model):
        return str(subject_key(value))
    return str(value)


def subject_key(obj: models.Model) -> str:
    """A group's name or a user's ``USERNAME_FIELD`` value."""
    if isinstance(obj, Group):
        return obj.name
    return str(getattr(obj, get_user_model().USERNAME_FIELD))


# --- widgets ------------------------------------------------------------------------------------


class DurationWidget(widgets.Widget):  # type: ignore[misc]
    def clean(self, value: object, row: Any = None, **kwargs: Any) -> timedelta | None:
        return parse_duration_cell(value)

    def render(self, value: timedelta | None, obj: Any = None, **kwargs: Any) -> str | None:
        return None if value is None else format_duration_cell(value)


class FlagWidget(widgets.Widget):  # type: ignore[misc]
    def clean(self, value: object, row: Any = None, **kwargs: Any) -> bool | None:
        return parse_flag(value)

    def render(self, value: bool | None, obj: Any = None, **kwargs: Any) -> bool | None:
        return value


class PriorityWidget(widgets.Widget):  # type: ignore[misc]
    def clean(self, value: object, row: Any = None, **kwargs: Any) -> int | None:
        return parse_priority(value)

    def render(self, value: int | None, obj: Any = None, **kwargs: Any) -> int | None:
        return value


class MessageWidget(widgets.Widget):  # type: ignore[misc]
    def clean(self, value: object, row: Any = None, **kwargs: Any) -> str | None:
        return parse_message(value)

    def render(self, value: str | None, obj: Any = None, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return NO_MESSAGE if value == "" else neutralise(value)


class SubjectWidget(widgets.Widget):  # type: ignore[misc]
    """A group by name or a user by ``USERNAME_FIELD``: never a database id.

    ``known`` is filled in bulk before an import (one query per 500 names); a name that was not
    looked up yet costs one query.
    """

    def __init__(self, model: type[models.Model] | None, label: str) -> None:
        super().__init__(coerce_to_string=False)
        self._model = model
        self.label = label
        self.known: dict[str, models.Model] = {}
        self.missing: set[str] = set()

    @property
    def model(self) -> type[models.Model]:
        return self._model or get_user_model()

    @property
    def key(self) -> str:
        return "name" if self.model is Group else get_user_model().USERNAME_FIELD

    def name(self, value: object) -> str:
        if _is_blank(value):
            raise ValueError(f"Enter the {self.label}'s {self.key}.")
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a spreadsheet that turned "42" into a number
        return restore(str(value))

    def preload(self, names: Iterable[str]) -> None:
        wanted = sorted(set(names) - self.known.keys() - self.missing)
        manager = self.model._default_manager
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            for obj in manager.filter(**{f"{self.key}__in": chunk}):
                self.known[str(getattr(obj, self.key))] = obj
            self.missing.update(name for name in chunk if name not in self.known)

    def clean(self, value: object, row: Any = None, **kwargs: Any) -> models.Model:
        name = self.name(value)
        if name not in self.known and name not in self.missing:
            self.preload([name])
        found = self.known.get(name)
        if found is None:
            raise ValueError(f"No {self.label} with {self.key} {shown(name)}.")
        return found

    def render(self, value: models.Model | None, obj: Any = None, **kwargs: Any) -> str | None:
        return None if value is None else neutralise(subject_key(value))


# --- formats ------------------------------------------------------------------------------------


class _NoLossyEscape:
    """``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT`` deletes a leading ``=`` and turns every cell
    (even ``None``) into text. The resources below already neutralise formulae losslessly, so the
    setting's own escaping is switched off for our files."""

    def _escape_formulae(self, dataset: tablib.Dataset) -> None:
        return None


class _BoundedText:
    """A text format read within bounds (``reading.py``): the file's size is checked first."""

    encoding: str | None

    def text(self, in_stream: str | bytes) -> str:
        reading.check_size(len(in_stream))
        if isinstance(in_stream, str):
            return in_stream
        try:
            return in_stream.decode(self.encoding or "utf-8-sig")
        except UnicodeDecodeError:
            raise reading.FileRefused("This file is not UTF-8 text.") from None


class CSVFormat(_BoundedText, _NoLossyEscape, base_formats.CSV):  # type: ignore[misc]
    def create_dataset(self, in_stream: str | bytes, **kwargs: Any) -> tablib.Dataset:
        return reading.read_csv(self.text(in_stream))


class XLSXFormat(_NoLossyEscape, base_formats.XLSX):  # type: ignore[misc]
    def create_dataset(self, in_stream: bytes, **kwargs: Any) -> tablib.Dataset:
        reading.check_size(len(in_stream))
        return reading.read_xlsx(in_stream)


class JSONFormat(_BoundedText, _NoLossyEscape, base_formats.JSON):  # type: ignore[misc]
    def create_dataset(self, in_stream: str | bytes, **kwargs: Any) -> tablib.Dataset:
        return reading.records_to_dataset(reading.load_json(self.text(in_stream)))


class YAMLFormat(_BoundedText, _NoLossyEscape, base_formats.YAML):  # type: ignore[misc]
    def create_dataset(self, in_stream: str | bytes, **kwargs: Any) -> tablib.Dataset:
        return reading.records_to_dataset(reading.load_yaml(self.text(in_stream)))


#: Every format of the admin's import and export views.
FORMATS: tuple[type[Any], ...] = (CSVFormat, XLSXFormat, JSONFormat, YAMLFormat)


def available_formats() -> list[type[Any]]:
    """The formats whose package is installed here (XLSX needs openpyxl, YAML PyYAML)."""
    return [fmt for fmt in FORMATS if reading.format_problem(fmt().get_title()) is None]


# --- resources ----------------------------------------------------------------------------------


class _PreviewDiff(Diff):  # type: ignore[misc]
    """The admin preview's diff of a row: an empty value is shown empty (as in the file), not as
    the text ``None``."""

    left: list[Any]
    right: list[Any]

    def as_html(self) -> list[str]:
        self.left = ["" if value is None else value for value in self.left]
        self.right = ["" if value is None else value for value in self.right]
        html: list[str] = super().as_html()
        return html


class _Loader(BaseInstanceLoader):  # type: ignore[misc]
    """Finds the existing rule for a row in the rules the resource loaded in bulk."""

    def get_instance(self, row: Mapping[str, Any]) -> models.Model | None:
        existing: models.Model | None = self.resource.existing_rule(row)
        return existing


def _duration_field(name: str) -> Field:
    return Field(attribute=name, column_name=name, widget=DurationWidget())


class RuleResource(resources.ModelResource):  # type: ignore[misc]
    """What the three rule resources share: the rule fields, the checks of the file's columns,
    duplicate subjects, deletes, and the description of each change (for diffs and history)."""

    #: The subject column ("group"/"user"), or "" for the global rule.
    subject: ClassVar[str] = ""
    #: Columns that must be present in a file.
    required_columns: ClassVar[tuple[str, ...]] = ()
    #: Name of this kind of rule, for messages.
    label: ClassVar[str] = "rule"
    #: import-export's options (set by its metaclass).
    _meta: ClassVar[Any]

    idle_time = _duration_field("idle_time")
    session_time = _duration_field("session_time")
    warning_time = _duration_field("warning_time")
    message = Field(attribute="message", column_name="message", widget=MessageWidget())
    redirect_to_login_immediately = Field(
        attribute="redirect_to_login_immediately",
        column_name="redirect_to_login_immediately",
        widget=FlagWidget(),
    )
    enabled = Field(attribute="enabled", column_name="enabled", widget=FlagWidget(), default=True)

    class Meta:
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True
        store_instance = True
        instance_loader_class = _Loader

    def __init__(self, *, bulk: bool = False, may_delete: bool = True, **kwargs: Any) -> None:
        """``bulk=True`` (large command-line imports): rows are written with ``bulk_create`` /
        ``bulk_update`` in batches instead of one ``save()`` and savepoint each, and without
        import-export's diff (a deep copy of every row and its user, only needed for the admin's
        HTML preview). Unchanged rows are still skipped and changes still described: this class
        tracks the values it needs itself. The models' bulk writes invalidate the policy cache
        after commit, like the per-row signals do.

        ``may_delete=False`` (an admin without the delete permission): a row asking for a
        delete is a row error, so the import writes nothing."""
        super().__init__(**kwargs)
        self.may_delete = may_delete
        if bulk:
            # This instance's own copy of the class-wide options.
            options = copy.copy(self._meta)
            options.use_bulk = True
            options.skip_diff = True
            self.__dict__["_meta"] = options
        self._existing: dict[object, models.Model] = {}
        # The stored values of the row being imported (None for a new rule).
        self._before: dict[str, object] | None = None
        self._row_problems: dict[int, ValidationError] = {}

    # --- columns

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        """The exported columns, in order."""
        return tuple(cls._meta.export_order)

    @classmethod
    def accepted_columns(cls) -> tuple[str, ...]:
        return cls.columns() + ((DELETE_COLUMN,) if cls.subject else ())

    @classmethod
    def get_diff_class(cls) -> type[Diff]:
        return _PreviewDiff

    def get_export_order(self) -> tuple[str, ...]:
        return self.columns()

    def get_import_order(self) -> tuple[str, ...]:
        return self.columns()

    def column_problems(self, headers: Sequence[object]) -> list[str]:
        """What is wrong with a file's header row (unknown, repeated or missing columns)."""
        problems = []
        accepted = self.accepted_columns()
        seen: set[str] = set()
        for header in headers:
            name = "" if header is None else str(header)
            if name in seen:
                problems.append(f"Column {shown(name)} appears more than once.")
            seen.add(name)
            if name not in accepted:
                problems.append(
                    f"Unknown column {shown(name)}. The columns are: {', '.join(accepted)}."
                )
        problems.extend(
            f"Missing required column {shown(name)}."
            for name in self.required_columns
            if name not in seen
        )
        return problems

    # --- import

    def import_data(self, dataset: tablib.Dataset, *args: Any, **kwargs: Any) -> Any:
        """All or nothing, whoever calls: a row that fails validation rolls back every row."""
        kwargs["rollback_on_validation_errors"] = True
        return super().import_data(dataset, *args, **kwargs)

    def before_import(self, dataset: tablib.Dataset, **kwargs: Any) -> None:
        super().before_import(dataset, **kwargs)
        self._row_problems = {}
        if dataset.headers:
            dataset.headers = [
                header.strip() if isinstance(header, str) else header for header in dataset.headers
            ]
        # Trailing blank rows (spreadsheets keep formatted, empty rows) are not rules.
        while len(dataset) and all(_is_blank(cell) for cell in dataset[-1]):
            dataset.pop()
        headers = list(dataset.headers or [])
        problems = self.column_problems(headers)
        if any(column not in headers for column in self.required_columns):
            # Without the subject no row can be checked: report the columns only.
            del dataset[0 : len(dataset)]
            raise ValueError(" ".join(problems))
        missing = [column for column in self.columns() if column not in headers]
        if missing and not len(dataset):
            dataset.wipe()  # tablib checks new headers against the old width, even without rows
            dataset.headers = [*headers, *missing]
        for column in missing if len(dataset) else ():
            dataset.append_col([None] * len(dataset), header=column)
        self.prepare(dataset)
        if problems:
            # Unknown or repeated columns: reported here, and the rows are still checked (the
            # extra columns are never read), so one run lists every problem.
            raise ValueError(" ".join(problems))

    def prepare(self, dataset: tablib.Dataset) -> None:
        """Load what the rows refer to in bulk and find the rows that repeat a subject."""

    def before_import_row(self, row: Mapping[str, Any], **kwargs: Any) -> None:
        problem = self._row_problems.get(kwargs.get("row_number", -1))
        if problem is not None:
            raise problem

    def existing_rule(self, row: Mapping[str, Any]) -> models.Model | None:
        raise NotImplementedError

    def validate_instance(
        self,
        instance: models.Model,
        import_validation_errors: dict[str, Any] | None = None,
        validate_unique: bool = True,
    ) -> None:
        # The subject was found by the widget (a query per row to re-check it would cost 10,000
        # queries for 10,000 rows) and is unique by construction (duplicates are row errors).
        errors = dict(import_validation_errors or {})
        exclude = {*errors, self.subject} if self.subject else set(errors)
        try:
            instance.full_clean(exclude=exclude, validate_unique=False)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def for_delete(self, row: Mapping[str, Any], instance: models.Model) -> bool:
        if DELETE_COLUMN not in row:
            return False
        try:
            delete = bool(parse_flag(row[DELETE_COLUMN]))
        except ValueError as exc:
            raise ValidationError({DELETE_COLUMN: str(exc)}) from None
        if delete and not self.may_delete:
            rules = self._meta.model._meta.verbose_name_plural
            raise ValidationError(
                {
                    DELETE_COLUMN: f"You may not delete {rules}: deleting through an import "
                    "needs the delete permission."
                }
            )
        return delete

    def stored_values(self, instance: models.Model) -> dict[str, object]:
        """The values a file sets (the subject by id): all immutable, so a dict is a snapshot."""
        return {
            column: getattr(instance, f"{column}_id" if column == self.subject else column)
            for column in self.columns()
        }

    def after_init_instance(
        self, instance: models.Model, new: bool, row: Mapping[str, Any], **kwargs: Any
    ) -> None:
        super().after_init_instance(instance, new, row, **kwargs)
        self._before = None if new else self.stored_values(instance)

    def skip_row(
        self,
        instance: models.Model,
        original: models.Model | None,
        row: Mapping[str, Any],
        import_validation_errors: Any = None,
    ) -> bool:
        """Unchanged rows are skipped (and reported), with or without import-export's diff."""
        if import_validation_errors or self._before is None:
            return False
        return self.stored_values(instance) == self._before

    def after_import_row(self, row: Mapping[str, Any], row_result: Any, **kwargs: Any) -> None:
        super().after_import_row(row, row_result, **kwargs)
        instance = row_result.instance
        row_result.subject_label = self.subject_label(instance) if instance is not None else ""
        row_result.field_changes = []
        if row_result.import_type == RowResult.IMPORT_TYPE_NEW:
            before = self.stored_values(self._meta.model())
            row_result.field_changes = self.changes(before, instance)
        elif row_result.import_type == RowResult.IMPORT_TYPE_UPDATE and self._before is not None:
            row_result.field_changes = self.changes(self._before, instance)

    def changes(
        self, before: Mapping[str, object], after: models.Model
    ) -> list[tuple[str, str, str]]:
        """``(column, old, new)`` for each field that differs (values as ``describe`` shows)."""
        found = []
        for column in self.columns():
            if column == self.subject:
                continue
            old, new = before[column], getattr(after, column)
            if old != new:
                found.append((column, describe(column, old), describe(column, new)))
        return found

    def subject_label(self, instance: models.Model) -> str:
        """``group "staff"``, ``user "sam"`` or ``global rule``."""
        if not self.subject:
            return self.label
        return f"{self.label} {json.dumps(subject_key(getattr(instance, self.subject)))}"


class _SubjectRuleResource(RuleResource):
    """Group and user rules: one rule per subject, found by the subject's natural key."""

    subject_model: ClassVar[type[models.Model] | None] = None

    def subject_widget(self) -> SubjectWidget:
        widget: SubjectWidget = self.fields[self.subject].widget
        return widget

    def prepare(self, dataset: tablib.Dataset) -> None:
        widget = self.subject_widget()
        names: list[str | None] = []
        for cell in dataset[self.subject] if len(dataset) else []:
            try:
                names.append(widget.name(cell))
            except ValueError:
                names.append(None)
        widget.preload(name for name in names if name is not None)
        first_row: dict[object, int] = {}
        subject_ids = []
        for number, name in enumerate(names, 1):
            found = widget.known.get(name) if name is not None else None
            if found is None:
                continue  # reported by the widget when the row is imported
            if found.pk in first_row:
                self._row_problems[number] = ValidationError(
                    {
                        self.subject: f"{self.label.capitalize()} {shown(name)} appears more than "
                        f"once in the file (first in row {first_row[found.pk]})."
                    }
                )
            else:
                first_row[found.pk] = number
                subject_ids.append(found.pk)
        attname = f"{self.subject}_id"
        subjects = {obj.pk: obj for obj in widget.known.values()}
        self._existing = {}
        manager = self._meta.model._default_manager
        for start in range(0, len(subject_ids), _CHUNK):
            chunk = subject_ids[start : start + _CHUNK]
            for rule in manager.filter(**{f"{attname}__in": chunk}):
                subject_id = getattr(rule, attname)
                setattr(rule, self.subject, subjects[subject_id])  # already loaded above
                self._existing[subject_id] = rule

    def existing_rule(self, row: Mapping[str, Any]) -> models.Model | None:
        try:
            subject = self.fields[self.subject].clean(row)
        except ValueError:
            # An unknown subject: reported with the row's other problems when the new rule's
            # fields are read.
            return None
        return self._existing.get(subject.pk)

    def get_bulk_update_fields(self) -> list[str]:
        return [*(name for name in self.columns() if name != self.subject), "updated_at"]

    def before_save_instance(self, instance: LogoutRuleFields, row: Any, **kwargs: Any) -> None:
        super().before_save_instance(instance, row, **kwargs)
        if self._meta.use_bulk:
            # bulk_update() does not run auto_now.
            instance.updated_at = timezone.now()


class GroupRuleResource(_SubjectRuleResource):
    """Group rules, keyed by the group's name."""

    subject = "group"
    required_columns = ("group",)
    label = "group"
    group = Field(attribute="group", column_name="group", widget=SubjectWidget(Group, "group"))
    priority = Field(
        attribute="priority",
        column_name="priority",
        widget=PriorityWidget(),
        default=DEFAULT_PRIORITY,
    )

    class Meta:
        model = GroupLogoutRule
        name = "Group logout rules"
        fields = ("group", "priority", *RULE_COLUMNS)
        export_order = ("group", "priority", *RULE_COLUMNS)
        import_id_fields = ("group",)

    def get_queryset(self) -> models.QuerySet[GroupLogoutRule]:
        return GroupLogoutRule.objects.select_related("group").order_by("priority", "group__name")


class UserRuleResource(_SubjectRuleResource):
    """User rules, keyed by the user's ``USERNAME_FIELD``."""

    subject = "user"
    required_columns = ("user",)
    label = "user"
    user = Field(attribute="user", column_name="user", widget=SubjectWidget(None, "user"))

    class Meta:
        model = UserLogoutRule
        name = "User logout rules"
        fields = ("user", *RULE_COLUMNS)
        export_order = ("user", *RULE_COLUMNS)
        import_id_fields = ("user",)

    def get_queryset(self) -> models.QuerySet[UserLogoutRule]:
        username = get_user_model().USERNAME_FIELD
        return UserLogoutRule.objects.select_related("user").order_by(f"user__{username}")


class GlobalRuleResource(RuleResource):
    """The site-wide rule's values: one row, no subject column."""

    label = "global rule"

    class Meta:
        model = GlobalLogoutRule
        name = "Global logout rule"
        fields = RULE_COLUMNS
        export_order = RULE_COLUMNS
        import_id_fields = ()

    def get_queryset(self) -> models.QuerySet[GlobalLogoutRule]:
        return GlobalLogoutRule.objects.filter(pk=GlobalLogoutRule.singleton_instance_id)

    def prepare(self, dataset: tablib.Dataset) -> None:
        for number in range(2, len(dataset) + 1):
            self._row_problems[number] = ValidationError(
                {NON_FIELD_ERRORS: "The global rule is a single row; remove the extra rows."}
            )

    def existing_rule(self, row: Mapping[str, Any]) -> models.Model | None:
        found: GlobalLogoutRule | None = self.get_queryset().first()
        return found

    def init_instance(self, row: Mapping[str, Any] | None = None) -> GlobalLogoutRule:
        return GlobalLogoutRule(pk=GlobalLogoutRule.singleton_instance_id)

    def export_one(self) -> dict[str, Any]:
        """The global rule's values as one row (defaults when the row does not exist yet)."""
        instance = self.get_queryset().first() or self.init_instance()
        dataset = self.export(queryset=[instance])
        row: dict[str, Any] = dataset.dict[0]
        return row
