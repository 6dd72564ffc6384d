"""Hostile files: every import path (the admin's preview and confirmation, the command line) and
every format (CSV, XLSX, JSON, YAML) reads within bounds (``logout_rules.reading``).

A refused file is an invalid file: a clear message, exit status 2 on the command line, a form
error (never a 500) in the admin, nothing written, memory bounded, and no raw input in messages.
"""

from __future__ import annotations

import io
import json
import re
import sys
import time
import tracemalloc
import zipfile
from io import StringIO
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]
import pytest
from django.core.management import CommandError, call_command

from logout_rules import reading
from logout_rules.models import UserLogoutRule
from logout_rules.reading import FileRefused
from logout_rules.resources import FORMATS, CSVFormat, JSONFormat, XLSXFormat, YAMLFormat
from logout_rules.safe_text import json_terminal_safe, shown, terminal_safe

from .rulesets_support import make_population, snapshot
from .test_import_export_admin import FORMAT_INDEX, confirm, upload, url
from .test_ruleset_cli import run_import

# --- hostile contents ---------------------------------------------------------------------------


def deep_json(levels: int = 900) -> bytes:
    return b"[" * levels + b"]" * levels


def deep_cell_json(levels: int = 900) -> bytes:
    return b'[{"user": "sam", "message": ' + deep_json(levels) + b"}]"


def yaml_bomb(key: str = "message") -> bytes:
    """A few hundred bytes that a plain YAML loader turns into 10**8 items (nested aliases)."""
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in "bcdefgh":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [{', '.join(['*' + previous] * 10)}]")
    lines.append(f"rows:\n  - user: sam\n    {key}: *h")
    return ("\n".join(lines) + "\n").encode()


def xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rewrite_sheet(data: bytes, change) -> bytes:
    """The workbook with its first sheet's XML changed by ``change(xml) -> xml``."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = change(content.decode()).encode()
            target.writestr(item, content)
    return out.getvalue()


DIMENSION = re.compile(r'<dimension ref="[^"]*"\s*/>')


def declared(dimension: str) -> bytes:
    """A small workbook whose sheet declares ``dimension`` (``A1:XFD1048576``)."""
    small = xlsx([["user", "idle_time"], ["sam", 60]])
    return rewrite_sheet(small, lambda xml: DIMENSION.sub(f'<dimension ref="{dimension}"/>', xml))


def gap_workbook() -> bytes:
    """No declared dimension, and a row at the very bottom of the sheet: a reader that fills
    the missing rows would build a million of them."""
    small = xlsx([["user", "idle_time"], ["sam", 60]])

    def change(xml: str) -> str:
        xml = DIMENSION.sub("", xml)
        far = '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row>'
        return xml.replace("</sheetData>", far + "</sheetData>")

    return rewrite_sheet(small, change)


def many_rows_csv(count: int) -> bytes:
    return ("user,idle_time\n" + "sam,60\n" * count).encode()


@pytest.fixture
def few_rows(settings):
    settings.LOGOUT_RULES_IMPORT_MAX_ROWS = 100
    return 100


# --- the readers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content", "expected"),
    [
        (JSONFormat, deep_json(), "nested more than 10 levels deep"),
        (JSONFormat, deep_json(100_000), "nested more than 10 levels deep"),
        (JSONFormat, deep_cell_json(), "nested more than 10 levels deep"),
        (JSONFormat, b'[{"user": "sam", "message": ["a"]}]', "message: expected a plain value"),
        (JSONFormat, b'[{"user": "sam", "message": {"a": 1}}]', "not an object"),
        (JSONFormat, b'[{"user": "' + b"x" * 3000 + b'"}]', "3000 characters, more than"),
        (JSONFormat, b'[{"user": 1' + b"0" * 5000 + b"}]", "is not valid JSON"),
        (JSONFormat, b"[" + b"{}," * 200 + b"{}]", "more than 100 rows"),
        (YAMLFormat, yaml_bomb(), "anchors and aliases"),
        (YAMLFormat, b"- [[[[[[[[[[[[1]]]]]]]]]]]]", "nested more than 10 levels deep"),
        (YAMLFormat, b"- user: !!binary aGVsbG8=", "expected a plain value, not binary data"),
        (YAMLFormat, b"- {user: sam, message: [a]}", "message: expected a plain value"),
        (YAMLFormat, b"".join(b"- {user: u%d}\n" % n for n in range(101)), "more than 100"),
        (YAMLFormat, b"- user: sam\n\t- bad", "is not valid YAML: "),
        (CSVFormat, many_rows_csv(101), "more than 100 rows"),
        (CSVFormat, b"user,idle_time\n" + b"\n" * 500, "more than 100 rows"),
        (CSVFormat, b",".join([b"c"] * 40) + b"\n", "40 columns, more than 32"),
        (CSVFormat, b"user\n" + b"x" * 3000 + b"\n", "3000 characters"),
        (CSVFormat, b"user\nsam,extra\n", "2 cells, more than the 1 columns"),
        (CSVFormat, b'user\n"' + b"x" * 140_000 + b'"\n', "is not valid CSV: field larger"),
        (XLSXFormat, declared("A1:XFD1048576"), "declares 1048575 rows"),
        (XLSXFormat, declared("A1:XFD2"), "declares 16384 columns"),
        (XLSXFormat, gap_workbook(), "more than 100 rows"),
        (XLSXFormat, xlsx([["user"]] + [["sam"]] * 101), "declares 101 rows"),
        (XLSXFormat, b"PK\x03\x04 not a workbook", "is not an XLSX workbook"),
        (XLSXFormat, xlsx([["user", None], ["sam", "x"]]), "a value outside the columns"),
        (CSVFormat, b"user\n" + (b"x" * 2001 + b"\n") * 30, "And 10 more problems."),
        (CSVFormat, b"x" * 2001 + b"\n", "A column name of 2001 characters: 'xxx"),
        (YAMLFormat, b"- {true: 1}", "A column name must be text, not a value of type bool."),
        (YAMLFormat, b"- [" + b"1, " * 7000 + b"]", "more than 100 rows"),
        (JSONFormat, b"]]]", "is not valid JSON"),
        (JSONFormat, json.dumps([{f"c{n}": 1 for n in range(40)}]).encode(), "33 columns"),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_hostile_files_are_refused_with_a_clear_message(few_rows, fmt, content, expected):
    with pytest.raises(FileRefused) as caught:
        fmt(encoding="utf-8").create_dataset(content)
    assert expected in str(caught.value)
    assert len(str(caught.value)) < 2000


def test_an_xlsx_bomb_is_refused_with_little_memory_and_time():
    tracemalloc.start()
    started = time.perf_counter()
    try:
        for content in (declared("A1:XFD1048576"), gap_workbook()):
            with pytest.raises(FileRefused):
                XLSXFormat().create_dataset(content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 1024 * 1024, peak  # the unbounded reader took gigabytes
    print(f"\nrefused two XLSX bombs in {time.perf_counter() - started:.2f} s, peak {peak} B")


def test_a_csv_of_100k_rows_is_refused_early_with_little_memory(people, tmp_path):
    """The issue's example: 0.7 MB of CSV, 100,000 rows (1.1 GB before), default limits."""
    path = tmp_path / "users.csv"
    path.write_bytes(many_rows_csv(100_000))
    assert path.stat().st_size < 1024 * 1024
    tracemalloc.start()
    try:
        status, _, err = run_import(path, "--user", "admin")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 2
    assert "more than 10000 rows" in err
    assert peak < 64 * 1024 * 1024, peak
    assert not UserLogoutRule.objects.exists()


def test_a_yaml_bomb_is_refused_before_anything_is_expanded():
    tracemalloc.start()
    try:
        with pytest.raises(FileRefused, match="anchors and aliases"):
            reading.load_yaml(yaml_bomb().decode())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024, peak


def test_an_xlsx_whose_parts_unpack_to_too_much_is_refused_before_it_is_opened(monkeypatch):
    monkeypatch.setattr(reading, "MAX_XLSX_UNPACKED", 1000)
    opened = []
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: opened.append(1))
    with pytest.raises(FileRefused, match="unpacks to"):
        XLSXFormat().create_dataset(xlsx([["user"], ["sam"]]))
    assert opened == []


def test_the_limits_still_read_a_plain_file_of_every_format(db):
    content = {
        "csv": b"user,idle_time\nsam,60\n",
        "xlsx": xlsx([["user", "idle_time"], ["sam", 60]]),
        "json": b'[{"user": "sam", "idle_time": 60}]',
        "yaml": b"- {user: sam, idle_time: 60}\n",
    }
    for fmt in FORMATS:
        dataset = fmt(encoding="utf-8").create_dataset(content[fmt().get_title()])
        assert dataset.dict == [{"user": "sam", "idle_time": dataset.dict[0]["idle_time"]}]
        assert str(dataset.dict[0]["idle_time"]) in ("60", "60.0")


def test_csv_keeps_tablibs_reading_of_blank_lines_and_short_rows():
    dataset = CSVFormat().create_dataset("user,idle_time,message\n\nsam,60\n\nolivia,,hi,,\n")
    assert dataset.dict == [
        {"user": "sam", "idle_time": "60", "message": ""},
        {"user": "olivia", "idle_time": "", "message": "hi"},
    ]


def test_a_bad_size_limit_of_rows_is_a_check_error_and_the_default_applies(settings):
    from logout_rules import checks
    from logout_rules.conf import DEFAULT_IMPORT_MAX_ROWS, conf

    for value in (0, -1, "10", True, 1.5, None):
        settings.LOGOUT_RULES_IMPORT_MAX_ROWS = value
        assert [message.id for message in checks.check_app_settings()] == ["logout_rules.E041"]
        assert conf.IMPORT_MAX_ROWS == DEFAULT_IMPORT_MAX_ROWS == 10_000
    settings.LOGOUT_RULES_IMPORT_MAX_ROWS = 50
    assert checks.check_app_settings() == []
    assert conf.IMPORT_MAX_ROWS == 50


# --- the admin ----------------------------------------------------------------------------------


@pytest.fixture
def admin_client(db, client):
    client.force_login(make_population())
    return client


@pytest.mark.parametrize(
    ("name", "content", "fmt", "expected"),
    [
        ("deep.json", deep_json(), "json", "nested more than 10 levels deep"),
        ("cell.json", deep_cell_json(), "json", "nested more than 10 levels deep"),
        ("cell.json", b'[{"user": "sam", "message": [[1]]}]', "json", "expected a plain value"),
        ("bomb.yaml", yaml_bomb(), "yaml", "anchors and aliases"),
        ("huge.xlsx", declared("A1:XFD1048576"), "xlsx", "declares 1048575 rows"),
        ("gap.xlsx", gap_workbook(), "xlsx", "more than 100 rows"),
        ("many.csv", many_rows_csv(101), "csv", "more than 100 rows"),
        ("bad.json", b"user: sam", "json", "This file is not valid JSON"),
        ("bad.xlsx", b"not a workbook", "xlsx", "This is not an XLSX workbook."),
    ],
)
def test_admin_preview_refuses_hostile_files_with_a_form_error(
    admin_client, few_rows, name, content, fmt, expected
):
    before = snapshot()
    response = upload(admin_client, "userlogoutrule", name, content, fmt)
    assert response.status_code == 200
    assert response.context.get("confirm_form") is None
    errors = response.context["form"].errors["import_file"]
    assert any(expected in error for error in errors), errors
    assert snapshot() == before


def confirmed_preview(client, content: bytes = b"user,idle_time\nsam,60\n"):
    preview = upload(client, "userlogoutrule", "users.csv", content)
    return dict(preview.context["confirm_form"].initial)


def refused_confirmation(client, data) -> list[str]:
    response = client.post(url("userlogoutrule", "process_import"), data)
    assert response.status_code == 302
    assert response["Location"] == url("userlogoutrule", "import")
    return [str(message) for message in response.wsgi_request._messages]


TAMPERED = [
    *(("format", value, "Unknown file format.") for value in ("99", "-1", "x", "", "1.0", "٣")),
    *(("resource", value, "Unknown kind of rules.") for value in ("99", "-1", "x")),
    ("import_file_name", "no-such-upload", "The uploaded file is no longer there."),
]


@pytest.mark.parametrize(("field", "value", "problem"), TAMPERED)
def test_a_tampered_confirmation_is_refused_cleanly(admin_client, field, value, problem):
    data = confirmed_preview(admin_client)
    data[field] = value
    assert refused_confirmation(admin_client, data) == [
        f"Nothing was imported: {problem} Upload the file again."
    ]
    assert not UserLogoutRule.objects.exists()


def test_the_confirmation_reads_the_file_within_the_same_bounds(admin_client, settings):
    data = confirmed_preview(admin_client)
    # The stored upload becomes a hostile file of the chosen format (or the format is changed
    # to one that reads the same bytes differently): the confirmation reads it again.
    data["format"] = FORMAT_INDEX["json"]
    stored = Path(__import__("tempfile").gettempdir()) / data["import_file_name"]
    stored.write_bytes(deep_json())
    messages = refused_confirmation(admin_client, data)
    assert messages == [
        "Nothing was imported: The file is nested more than 10 levels deep. Upload the file again."
    ]
    stored.write_bytes(b"x" * 200)
    settings.LOGOUT_RULES_IMPORT_MAX_BYTES = 100
    assert "more than the limit of 100 bytes" in refused_confirmation(admin_client, data)[-1]
    assert not UserLogoutRule.objects.exists()


def test_a_plain_confirmation_still_imports(admin_client):
    preview = upload(admin_client, "userlogoutrule", "users.csv", b"user,idle_time\nsam,60\n")
    assert confirm(admin_client, "userlogoutrule", preview).status_code == 302
    assert UserLogoutRule.objects.filter(user__username="sam").exists()


@pytest.mark.parametrize(("module", "title"), [("openpyxl", "xlsx"), ("yaml", "yaml")])
def test_admin_offers_only_the_formats_whose_package_is_installed(
    admin_client, monkeypatch, module, title
):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if it were not installed
    for model in ("grouplogoutrule", "userlogoutrule"):
        for view in ("import", "export"):
            response = admin_client.get(url(model, view))
            assert response.status_code == 200
            content = response.content.decode()
            assert f">{title}</option>" not in content
            assert ">csv</option>" in content
    response = admin_client.post(url("grouplogoutrule", "export"), {"resource": "0", "format": "0"})
    assert response.status_code == 200
    assert response.content.startswith(b"group,priority")


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture
def people(db):
    return make_population()


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("deep.json", deep_json(), "The file is nested more than 10 levels deep."),
        ("deep.json", b'{"users": [{"user": "sam", "message": ' + deep_json() + b"}]}", "nested"),
        ("bomb.yaml", yaml_bomb(), "YAML anchors and aliases (& and *) are not allowed here."),
        ("version.yaml", yaml_bomb().replace(b"rows:", b"version: *h\nx:"), "anchors"),
        ("many.json", json.dumps({"users": [{"user": "sam"}] * 101}).encode(), "more than 100"),
        (
            "split.json",
            json.dumps({"groups": [{"group": "g"}] * 60, "users": [{"user": "u"}] * 60}).encode(),
            "more than 100 rows",
        ),
        ("users.csv", many_rows_csv(101), "users: The file has more than 100 rows"),
        (
            "keys.json",
            json.dumps({f"key{n}": 1 for n in range(100)}).encode(),
            "And 80 more keys.",
        ),
        ("long.json", b'{"version": "' + b"9" * 5000 + b'"}', "(5000 characters)"),
    ],
)
def test_command_refuses_hostile_files_with_exit_2(
    people, few_rows, tmp_path, name, content, expected
):
    path = tmp_path / name
    path.write_bytes(content)
    before = snapshot()
    status, out, err = run_import(path, "--user", "admin")
    assert status == 2
    assert expected in err, err
    assert "Traceback" not in err
    assert f"{name} was not applied: nothing was written." in err
    assert len(err) < 5000
    assert out == ""
    assert snapshot() == before


def test_command_without_pyyaml_exits_2_naming_the_extra(people, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(CommandError) as caught:
        call_command("logout_rules", "export", "--format", "yaml", stdout=StringIO())
    assert caught.value.returncode == 2
    assert 'pip install "django-logout-rules[formats]"' in str(caught.value)
    assert "PyYAML" in str(caught.value)
    path = tmp_path / "rules.yaml"
    path.write_text("groups: []\n")
    status, _, err = run_import(path, "--user", "admin")
    assert status == 2
    assert "The YAML format needs PyYAML, which is not installed" in err
    # JSON and CSV do not need it.
    assert json.loads(call_command_output("export"))["version"] == 1


def call_command_output(*args: str) -> str:
    out = StringIO()
    call_command("logout_rules", *args, stdout=out)
    return out.getvalue()


# --- showing values safely ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("maybe", "'maybe'"),
        ("it's", '"it\'s"'),
        ("\x1b[2J\x9b\u202e", "'\\x1b[2J\\x9b\\u202e'"),
        ("x" * 100, "'" + "x" * 60 + "…' (100 characters)"),
        (None, "empty"),
        (True, "true"),
        (2, "2"),
        (10**100, "a number of 101 digits"),
        ([1, [2]], "a list"),
        ({"a": 1}, "an object"),
        (b"x", "binary data"),
    ],
)
def test_values_are_shown_short_escaped_and_by_kind(value, text):
    assert shown(value) == text


def test_terminal_text_keeps_tabs_and_newlines_and_escapes_the_rest():
    assert terminal_safe("a\tb\nc\x1b]0;title\x07\r\x7f\x85\u2066") == (
        "a\tb\nc\\x1b]0;title\\x07\\x0d\\x7f\\x85\\u2066"
    )
    text = json.dumps({"m": "\x9b\x1b"}, ensure_ascii=False)
    assert json.loads(json_terminal_safe(text)) == {"m": "\x9b\x1b"}
    assert "\x9b" not in json_terminal_safe(text)
