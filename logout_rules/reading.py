"""Reading rule files within bounds: CSV, XLSX, JSON and YAML into rows of plain values.

Shared by the admin's import formats (``resources.py``) and the ``logout_rules import`` command
(``rulesets.py``), so every path refuses the same files the same way, and *before* the expensive
work (a 5 KB workbook can declare a million rows, a YAML file of a few hundred bytes can expand to
10⁸ items):

* size: a file is at most ``LOGOUT_RULES_IMPORT_MAX_BYTES`` (checked before it is read);
* rows: at most ``LOGOUT_RULES_IMPORT_MAX_ROWS`` per file (a JSON/YAML rule set: all its scopes
  together); every reader stops at the first row past the limit;
* columns: at most ``MAX_COLUMNS``; cells: plain values only (text, numbers, true/false, empty,
  a spreadsheet's dates and times), text of at most ``MAX_CELL_CHARS`` characters;
* JSON and YAML: nested at most ``MAX_DEPTH`` levels (checked on the raw JSON text before it is
  parsed, and while YAML is composed); YAML anchors and aliases are refused;
* XLSX: the workbook's parts may unpack to at most ``MAX_XLSX_UNPACKED`` bytes, the sheet's
  declared dimension is checked before reading, and the reader never pads rows or columns past
  the limits.

A refused file raises ``FileRefused`` (a ``ValueError``): its message says why, shows values only
through ``safe_text.shown`` and is safe to put in a page or a terminal; nothing is written.

XLSX needs openpyxl and YAML needs PyYAML (installed with django-logout-rules); ``require``
names the package when one is missing, instead of an ``ImportError``.
"""

from __future__ import annotations

import csv
import importlib
import io
import itertools
import json
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any

import tablib

from .conf import conf
from .safe_text import kind, shown, terminal_safe

#: The most columns a file may have (a rule file has at most 9; unknown ones are reported).
MAX_COLUMNS = 32
#: The longest text a cell may hold (a message is at most 1000 characters).
MAX_CELL_CHARS = 2000
#: How deep JSON and YAML may nest (a rule set needs 3 levels: document, scope, rule).
MAX_DEPTH = 10
#: How much the parts of an XLSX workbook may unpack to, and how many parts it may have.
MAX_XLSX_UNPACKED = 64 * 1024 * 1024
MAX_XLSX_PARTS = 1000
#: Lists and objects a JSON/YAML file may hold besides its rows (document, scopes, global rule).
EXTRA_CONTAINERS = 8
#: How many problems of one file are listed (the others are counted).
MAX_LISTED_PROBLEMS = 20
#: The extra that installs every format's package.
FORMATS_EXTRA = "django-logout-rules[formats]"
#: The module each optional format needs, and the package that provides it.
FORMAT_PACKAGES = {"xlsx": ("openpyxl", "openpyxl"), "yaml": ("yaml", "PyYAML")}

_PLAIN = (str, int, float, Decimal, date, time, timedelta)  # and None; bool is an int


class FileRefused(ValueError):
    """A file refused as a whole: nothing is written. ``problems`` holds ``(row, text)`` pairs
    (``row`` is ``None`` for the file as a whole; row 1 is the first rule)."""

    def __init__(self, *problems: str | tuple[int | None, str]) -> None:
        self.problems: list[tuple[int | None, str]] = [
            (None, problem) if isinstance(problem, str) else problem for problem in problems
        ]
        super().__init__(
            " ".join(text if row is None else f"Row {row}: {text}" for row, text in self.problems)
        )


class FormatUnavailable(FileRefused):
    """A format whose package is not installed."""


def format_problem(fmt: str) -> str | None:
    """Why the format ``fmt`` (``"xlsx"``, ``"yaml"``…) cannot be used here, or ``None``."""
    needed = FORMAT_PACKAGES.get(fmt.lower())
    if needed is None:
        return None
    module, package = needed
    try:
        importlib.import_module(module)
    except ImportError:
        return (
            f"The {fmt.upper()} format needs {package}, which is not installed: "
            f'pip install "{FORMATS_EXTRA}" (or pip install {package}).'
        )
    return None


def require(fmt: str) -> None:
    """Raise ``FormatUnavailable`` when the package of ``fmt`` is not installed."""
    problem = format_problem(fmt)
    if problem is not None:
        raise FormatUnavailable(problem)


# --- limits -------------------------------------------------------------------------------------


def max_rows() -> int:
    return conf.IMPORT_MAX_ROWS


def too_many_rows(limit: int) -> FileRefused:
    return FileRefused(
        f"The file has more than {limit} rows, the limit (LOGOUT_RULES_IMPORT_MAX_ROWS)."
    )


def check_size(size: int, name: str = "This file") -> None:
    """Refuse a file larger than ``LOGOUT_RULES_IMPORT_MAX_BYTES`` (before it is read)."""
    limit = conf.IMPORT_MAX_BYTES
    if size > limit:
        raise FileRefused(
            f"{name} is {size} bytes, more than the limit of {limit} bytes "
            "(LOGOUT_RULES_IMPORT_MAX_BYTES)."
        )


def _too_many_columns(count: int) -> FileRefused:
    return FileRefused(f"The file has {count} columns, more than {MAX_COLUMNS}.")


class _Problems:
    """The problems of one file's cells, listed up to ``MAX_LISTED_PROBLEMS``."""

    def __init__(self) -> None:
        self.found: list[tuple[int | None, str]] = []
        self.more = 0

    def add(self, row: int | None, text: str) -> None:
        if len(self.found) < MAX_LISTED_PROBLEMS:
            self.found.append((row, text))
        else:
            self.more += 1

    def cell(self, row: int, column: str, value: object) -> None:
        """Note what is wrong with a cell's value, if anything."""
        if value is None or isinstance(value, bool):
            return
        if not isinstance(value, _PLAIN):
            self.add(row, f"{column}: expected a plain value, not {kind(value)}.")
        elif isinstance(value, str) and len(value) > MAX_CELL_CHARS:
            self.add(
                row,
                f"{column}: {len(value)} characters, more than the {MAX_CELL_CHARS} a cell "
                "may hold.",
            )

    def raise_any(self) -> None:
        if self.more:
            self.found.append((None, f"And {self.more} more problems."))
        if self.found:
            raise FileRefused(*self.found)


def _header(cells: Sequence[object]) -> list[str]:
    """A header row's names (every one a plain, short value)."""
    if len(cells) > MAX_COLUMNS:
        raise _too_many_columns(len(cells))
    names = []
    for cell in cells:
        if cell is not None and (not isinstance(cell, _PLAIN) or isinstance(cell, bool)):
            raise FileRefused(f"A column name must be text, not {kind(cell)}.")
        name = "" if cell is None else str(cell)
        if len(name) > MAX_CELL_CHARS:
            raise FileRefused(f"A column name of {len(name)} characters: {shown(name)}.")
        names.append(name)
    return names


# --- CSV ----------------------------------------------------------------------------------------


def read_csv(text: str, name: str = "This file") -> tablib.Dataset:
    """CSV text (the first row names the columns) → a Dataset. Blank lines are skipped, short
    rows get empty cells; a row with more cells than the header is a problem unless they are
    empty."""
    limit = max_rows()
    dataset = tablib.Dataset()
    problems = _Problems()
    reader = csv.reader(io.StringIO(text))
    try:
        first = next(reader, None)
        if first is None:
            return dataset
        headers = _header(first)
        width = len(headers)
        dataset.headers = headers
        number = 0
        for read, row in enumerate(reader, 1):
            if read > 2 * limit + 100:  # blank lines count too: the reading is what is bounded
                raise too_many_rows(limit)
            if not row:
                continue
            number += 1
            if number > limit:
                raise too_many_rows(limit)
            if len(row) > width:
                if any(cell.strip() for cell in row[width:]):
                    problems.add(
                        number, f"{len(row)} cells, more than the {width} columns named above."
                    )
                    continue
                del row[width:]
            row.extend([""] * (width - len(row)))
            for header, cell in zip(headers, row, strict=True):
                problems.cell(number, header, cell)
            dataset.append(row)
    except csv.Error as exc:
        raise FileRefused(f"{name} is not valid CSV: {exc}.") from None
    problems.raise_any()
    return dataset


# --- XLSX ---------------------------------------------------------------------------------------


def read_xlsx(data: bytes) -> tablib.Dataset:
    """The active sheet of an XLSX workbook (the first row names the columns) → a Dataset."""
    require("xlsx")
    import openpyxl  # type: ignore[import-untyped]

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise FileRefused("This is not an XLSX workbook.") from None
    unpacked = sum(part.file_size for part in parts)
    if len(parts) > MAX_XLSX_PARTS or unpacked > MAX_XLSX_UNPACKED:
        raise FileRefused(
            f"This workbook unpacks to {unpacked} bytes in {len(parts)} parts, more than "
            f"{MAX_XLSX_UNPACKED} bytes or {MAX_XLSX_PARTS} parts."
        )
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl's errors for whatever is not a workbook it can read
        raise FileRefused("This is not an XLSX workbook that can be read.") from None
    try:
        return _read_sheet(book.active)
    except FileRefused:
        raise
    except Exception:  # a broken sheet inside a readable workbook
        raise FileRefused("This workbook's sheet cannot be read.") from None
    finally:
        book.close()


def _read_sheet(sheet: Any) -> tablib.Dataset:
    limit = max_rows()
    if sheet is None or not hasattr(sheet, "iter_rows"):
        raise FileRefused("This workbook has no sheet of cells.")
    # The declared dimension (``A1:XFD1048576``) is what openpyxl would pad the rows to.
    declared_rows, declared_columns = sheet.max_row, sheet.max_column
    if isinstance(declared_rows, int) and declared_rows - 1 > limit:
        raise FileRefused(
            f"The sheet declares {declared_rows - 1} rows, more than the limit of {limit} "
            "(LOGOUT_RULES_IMPORT_MAX_ROWS)."
        )
    if isinstance(declared_columns, int) and declared_columns > MAX_COLUMNS:
        raise FileRefused(
            f"The sheet declares {declared_columns} columns, more than {MAX_COLUMNS}."
        )
    columns = declared_columns if isinstance(declared_columns, int) else MAX_COLUMNS + 1
    rows = sheet.iter_rows(min_row=1, max_row=limit + 2, max_col=columns, values_only=True)
    dataset = tablib.Dataset()
    first = next(rows, None)
    if first is None:
        return dataset
    cells = list(first)
    while cells and cells[-1] is None:
        cells.pop()
    headers = _header(cells)
    width = len(headers)
    dataset.headers = headers
    problems = _Problems()
    for number, row in enumerate(rows, 1):
        if number > limit:
            raise too_many_rows(limit)
        values = list(row)
        if any(value is not None for value in values[width:]):
            problems.add(number, "a value outside the columns named in the first row.")
            continue
        values = values[:width] + [None] * (width - len(values))
        for header, value in zip(headers, values, strict=True):
            problems.cell(number, header, value)
        dataset.append(values)
    problems.raise_any()
    return dataset


# --- JSON and YAML ------------------------------------------------------------------------------

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _nested_too_deep() -> FileRefused:
    return FileRefused(f"The file is nested more than {MAX_DEPTH} levels deep.")


def load_json(text: str, name: str = "This file") -> object:
    """Parse JSON text after checking, on the text itself, how many lists and objects it holds
    and how deep they nest (so the parser never recurses deep or builds millions of objects)."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    limit = max_rows()
    containers = limit + EXTRA_CONTAINERS
    # The nesting is checked on as many brackets as a file within the limit can have: if there
    # are more, either the count below refuses the file or the parser stops at a stray bracket
    # before it reaches them.
    depth = 0
    for bracket in itertools.islice(brackets, 2 * containers + 1):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_DEPTH:
            raise _nested_too_deep()
        if depth < 0:
            break  # a stray bracket: the parser says where
    if brackets.count("[") + brackets.count("{") > containers:
        raise too_many_rows(limit)
    try:
        return json.loads(text)
    except RecursionError:
        raise _nested_too_deep() from None
    except ValueError as exc:  # JSONDecodeError, and integers too long to convert
        raise FileRefused(f"{name} is not valid JSON: {terminal_safe(str(exc))}.") from None


_yaml_loader: list[type[Any]] = []


def _bounded_yaml_loader() -> type[Any]:
    """``yaml.SafeLoader`` that refuses anchors and aliases and counts what it composes."""
    if _yaml_loader:
        return _yaml_loader[0]
    import yaml

    class BoundedSafeLoader(yaml.SafeLoader):
        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.depth = 0
            self.collections = 0
            self.scalars = 0
            self.row_limit = max_rows()

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()  # type: ignore[no-untyped-call]
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise FileRefused("YAML anchors and aliases (& and *) are not allowed here.")
            if isinstance(event, yaml.ScalarEvent):
                self.scalars += 1
                if self.scalars > 2 * MAX_COLUMNS * (self.row_limit + EXTRA_CONTAINERS):
                    raise too_many_rows(self.row_limit)
                return super().compose_node(parent, index)
            self.collections += 1
            if self.collections > self.row_limit + EXTRA_CONTAINERS:
                raise too_many_rows(self.row_limit)
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _nested_too_deep()
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    _yaml_loader.append(BoundedSafeLoader)
    return BoundedSafeLoader


def load_yaml(text: str, name: str = "This file") -> object:
    """Parse YAML text with the safe loader, refusing anchors, aliases, deep nesting and more
    lists and objects than the row limit allows, while it is read."""
    require("yaml")
    import yaml

    loader = _bounded_yaml_loader()(text)
    try:
        return loader.get_single_data()
    except RecursionError:
        raise _nested_too_deep() from None
    except yaml.YAMLError as exc:
        raise FileRefused(f"{name} is not valid YAML: {_yaml_problem(exc)}.") from None
    finally:
        loader.dispose()


def _yaml_problem(exc: Exception) -> str:
    """What PyYAML found, and where; never the file's text itself."""
    problem = getattr(exc, "problem", None) or type(exc).__name__
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return terminal_safe(" ".join(str(problem).split())[:200]) + where


def records_to_dataset(records: object, columns: Sequence[str] = ()) -> tablib.Dataset:
    """JSON/YAML rows (a list of objects) → a Dataset whose columns are every key in any row.

    tablib alone takes the columns from the first row and silently drops the others, which would
    hide an unknown or misspelt key; here every key becomes a column (a row without it gets an
    empty cell, which means the default). An empty list gets the ``columns`` given. Every cell
    must be a plain value.
    """
    if records is None:
        records = []
    if not isinstance(records, list):
        raise FileRefused("Expected a list of rules (one object per rule).")
    limit = max_rows()
    if len(records) > limit:
        raise too_many_rows(limit)
    headers: dict[str, None] = {}
    for number, record in enumerate(records, 1):
        if not isinstance(record, Mapping):
            raise FileRefused(f"Row {number} is not an object of column: value pairs.")
        for key in record:
            if key not in headers:
                headers.update(dict.fromkeys(_header([key])))
                if len(headers) > MAX_COLUMNS:
                    raise _too_many_columns(len(headers))
    if not records:
        headers = dict.fromkeys(columns)
    problems = _Problems()
    dataset = tablib.Dataset(headers=list(headers) or None)
    for number, record in enumerate(records, 1):
        keyed = {str(key): value for key, value in record.items()}
        row = [keyed.get(header) for header in headers]
        for header, value in zip(headers, row, strict=True):
            problems.cell(number, header, value)
        dataset.append(row)
    problems.raise_any()
    return dataset


def count_rows(scopes: Iterable[object]) -> int:
    """How many rows the scopes of a rule-set document hold (a list: its items; else one)."""
    return sum(len(rows) if isinstance(rows, list) else 1 for rows in scopes)
