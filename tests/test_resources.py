"""``logout_rules.resources``: cell values, formula neutralisation, and the Resources' round trip
in every admin format."""

from __future__ import annotations

import io
import re
from datetime import time, timedelta
from decimal import Decimal

import openpyxl  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from logout_rules import rulesets
from logout_rules.models import GroupLogoutRule, UserLogoutRule
from logout_rules.resources import (
    FORMATS,
    CSVFormat,
    GroupRuleResource,
    JSONFormat,
    UserRuleResource,
    XLSXFormat,
    YAMLFormat,
    format_duration_cell,
    neutralise,
    parse_duration_cell,
    parse_flag,
    parse_message,
    restore,
)

from .factories import GroupFactory, GroupLogoutRuleFactory, UserFactory, UserLogoutRuleFactory
from .rulesets_support import SAMPLE_RULES, SAMPLES, make_population, snapshot
from .test_durations import ISSUE_SPELLINGS

# --- durations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("600", timedelta(minutes=10)),
        (600, timedelta(minutes=10)),
        (600.0, timedelta(minutes=10)),
        (" 600 ", timedelta(minutes=10)),
        ("1.5", timedelta(seconds=1.5)),
        ("00:10:00", timedelta(minutes=10)),
        ("0:10:00", timedelta(minutes=10)),
        ("10:00", timedelta(minutes=10)),
        ("720:00:00", timedelta(days=30)),
        ("1 02:00:00", timedelta(days=1, hours=2)),
        ("1 day, 2:00:00", timedelta(days=1, hours=2)),
        ("PT10M", timedelta(minutes=10)),
        *ISSUE_SPELLINGS,  # 15m, 1h 30m, 2 hours, 1d 12h…: what the admin reads
        ("2w", timedelta(weeks=2)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("P0DT0H0M45S", timedelta(seconds=45)),
        (time(0, 10), timedelta(minutes=10)),  # a spreadsheet's time cell
        (timedelta(hours=1), timedelta(hours=1)),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_durations_are_read_from_seconds_hh_mm_ss_and_iso_8601(cell, expected):
    assert parse_duration_cell(cell) == expected


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("0", "longer than zero"),
        (0, "longer than zero"),
        ("00:00:00", "longer than zero"),
        ("PT0S", "longer than zero"),
        ("-5", "longer than zero"),
        ("-00:05:00", "longer than zero"),
        ("3651 00:00:00", "at most 3650 days"),
        ("ten minutes", "is not a duration"),
        ("10 fortnights", "is not a duration: use seconds"),
        ("1 month", "is not a duration. Months and years are not units"),
        ("P1M", "is not a duration. Months and years are not units"),
        ("99999999999999999999", "at most 3650 days"),
        ("3651d", "at most 3650 days"),
        (10**400, "at most 3650 days"),
        (Decimal("NaN"), "is not a duration"),
        (float("nan"), "is not a duration"),
        (float("inf"), "is not a duration"),
        (True, "is not a duration"),
        ([600], "is not a duration"),
    ],
)
def test_bad_durations_are_rejected_with_a_reason(cell, reason):
    with pytest.raises(ValueError, match=reason):
        parse_duration_cell(cell)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(minutes=10), "00:10:00"),
        (timedelta(hours=4), "04:00:00"),
        (timedelta(days=30), "720:00:00"),
        (timedelta(seconds=1.5), "00:00:01.500000"),
        (timedelta(days=3650), "87600:00:00"),
    ],
)
def test_durations_are_exported_as_hh_mm_ss(value, text):
    assert format_duration_cell(value) == text


@given(st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=3650)))
def test_every_valid_duration_round_trips(value):
    assert parse_duration_cell(format_duration_cell(value)) == value


# --- flags and messages -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (True, True),
        ("true", True),
        ("True", True),
        ("YES", True),
        (1, True),
        ("1", True),
        (False, False),
        ("false", False),
        ("no", False),
        (0, False),
        ("0", False),
        ("", None),
        (None, None),
    ],
)
def test_flags(cell, expected):
    assert parse_flag(cell) is expected


@pytest.mark.parametrize("cell", ["maybe", "2", 2, "tru", 0.5])
def test_non_boolean_flags_are_rejected(cell):
    with pytest.raises(ValueError, match="not a yes/no value"):
        parse_flag(cell)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("(inherit)", None),
        ("(no message)", ""),
        (" (no message) ", ""),
        ("'(no message)", "(no message)"),
        ("'=1+1", "=1+1"),
        ("Bye", "Bye"),
        ("'quoted' text", "'quoted' text"),
    ],
)
def test_message_cells(cell, expected):
    assert parse_message(cell) == expected


# --- neutralisation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("'=x", "''=x"),
        ("(no message)", "'(no message)"),
        ("plain", "plain"),
        ("'plain", "'plain"),
        ("a=b", "a=b"),
        # What a separator (, ; tab | newline) can expose inside a cell is protected too.
        ('Bye;=HYPERLINK("http://evil.example")', 'Bye;\'=HYPERLINK("http://evil.example")'),
        ("a,+1", "a,'+1"),
        ("a|-1", "a|'-1"),
        ("a\t@x", "a\t'@x"),
        ("line\n=cmd", "line\n'=cmd"),
        ("line\r\n=cmd", "line\r\n'=cmd"),
        ("a; =cmd", "a; '=cmd"),
        (" =cmd", " '=cmd"),
        ("a;'=x", "a;''=x"),
        ("a;b=c", "a;b=c"),
        ("x,\t=y", "x,'\t'=y"),
    ],
)
def test_formula_cells_get_one_protecting_apostrophe(text, cell):
    assert neutralise(text) == cell
    assert restore(cell) == text


SEPARATORS = (",", ";", "\t", "|", "\n", "\r")
FORMULA_START = re.compile(r"[^\S\t\n\r]*[=+\-@\t\r]")


def exposes_a_formula(cell: str) -> bool:
    """Whether the cell, or a piece of it that a common separator cuts out, would start a
    formula in a spreadsheet (leading spaces trimmed)."""
    return any(
        FORMULA_START.match(piece) for sep in SEPARATORS for piece in [cell, *cell.split(sep)]
    )


@given(st.text(alphabet=st.sampled_from("=+-@'\t\r\n,;| ab(no message)")) | st.text())
def test_neutralise_is_reversible_and_never_exposes_a_formula(text):
    cell = neutralise(text)
    assert restore(cell) == text
    assert not exposes_a_formula(cell)


# --- resources ----------------------------------------------------------------------------------


@pytest.fixture
def sample_rules(db):
    admin = make_population()
    rulesets.apply(rulesets.read(SAMPLES / "ruleset.json"), account=lambda: admin)
    assert snapshot() == SAMPLE_RULES
    return admin


def export_bytes(resource, fmt) -> bytes | str:
    return fmt().export_data(resource.export())


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda fmt: fmt.__name__)
@pytest.mark.parametrize("resource_class", [GroupRuleResource, UserRuleResource])
def test_admin_formats_round_trip_with_zero_changes(sample_rules, fmt, resource_class, settings):
    # The project-wide (lossy) escaping does not touch our files.
    settings.IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True
    before = snapshot()
    data = export_bytes(resource_class(), fmt)
    dataset = fmt(encoding="utf-8").create_dataset(data)
    result = resource_class().import_data(dataset, dry_run=False, raise_errors=True)
    assert not result.has_errors()
    assert not result.has_validation_errors()
    assert result.totals["skip"] == len(dataset) > 0
    assert result.totals["new"] == result.totals["update"] == 0
    assert snapshot() == before


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda fmt: fmt.__name__)
def test_admin_formats_recreate_identical_rules(sample_rules, fmt):
    before = snapshot()
    data = {
        resource: export_bytes(resource(), fmt)
        for resource in (GroupRuleResource, UserRuleResource)
    }
    GroupLogoutRule.objects.all().delete()
    UserLogoutRule.objects.all().delete()
    for resource, content in data.items():
        result = resource().import_data(fmt(encoding="utf-8").create_dataset(content))
        assert result.totals["new"] == 3
    assert snapshot() == before


HOSTILE_NAMES = ('Sales;=HYPERLINK("http://evil.example")', "a,'=b", " -x", "t\t@y")
HOSTILE_MESSAGES = ("Bye;=cmd|' /C calc'!A0", "ok,\n+1", "x|'-2", "semi; @SUM(A1)")


@pytest.fixture
def hostile_rules(db):
    for name, message in zip(HOSTILE_NAMES, HOSTILE_MESSAGES, strict=True):
        group = GroupFactory(name=name)
        GroupLogoutRuleFactory(group=group, message=message, idle_time=timedelta(minutes=5))
        user = UserFactory(username=name.replace("\t", "_"))
        UserLogoutRuleFactory(user=user, message=message)
    return snapshot()


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda fmt: fmt.__name__)
@pytest.mark.parametrize("resource_class", [GroupRuleResource, UserRuleResource])
def test_hostile_names_and_messages_are_safe_and_round_trip(hostile_rules, fmt, resource_class):
    dataset = resource_class().export()
    for row in dataset:
        for cell in row:
            assert not (isinstance(cell, str) and exposes_a_formula(cell)), cell
    data = fmt().export_data(dataset)
    GroupLogoutRule.objects.all().delete()
    UserLogoutRule.objects.all().delete()
    result = resource_class().import_data(fmt(encoding="utf-8").create_dataset(data))
    assert not result.has_errors()
    assert not result.has_validation_errors(), [r.error_dict for r in result.invalid_rows]
    assert result.totals["new"] == len(HOSTILE_NAMES)
    key = "groups" if resource_class is GroupRuleResource else "users"
    assert snapshot()[key] == hostile_rules[key]


def test_csv_export_neutralises_formulae_and_marks_no_message(sample_rules):
    text = CSVFormat().export_data(UserRuleResource().export())
    assert "'=HYPERLINK" in text
    assert "'-dash" in text
    groups = CSVFormat().export_data(GroupRuleResource().export())
    assert "contractors,50,00:15:00,720:00:00,,(no message),False,False" in groups
    for line in (text + groups).splitlines():
        for cell in line.split(","):
            assert not cell.startswith(("=", "+", "-", "@")), line


def test_xlsx_export_has_no_formula_cells(sample_rules):
    content = XLSXFormat().export_data(UserRuleResource().export())
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert cells
    assert all(cell.data_type != "f" for cell in cells)
    assert '\'=HYPERLINK("http://evil.example")' in [cell.value for cell in cells]


@pytest.mark.parametrize("fmt", [JSONFormat, YAMLFormat], ids=lambda fmt: fmt.__name__)
def test_json_and_yaml_keep_inherit_and_no_message_apart(sample_rules, fmt):
    text = fmt().export_data(GroupRuleResource().export())
    dataset = fmt().create_dataset(text)
    messages = dict(zip(dataset["group"], dataset["message"], strict=True))
    assert messages["everyone"] is None
    assert messages["contractors"] == "(no message)"


def test_export_has_natural_keys_and_no_database_ids(sample_rules):
    dataset = UserRuleResource().export()
    assert dataset.headers == [
        "user",
        "idle_time",
        "session_time",
        "warning_time",
        "message",
        "redirect_to_login_immediately",
        "enabled",
    ]
    assert dataset["user"] == ["'-dash", "olivia", "sam"]
    assert "id" not in GroupRuleResource().export().headers


def test_users_are_found_by_username_field(db):
    UserFactory(username="sam")
    dataset = CSVFormat().create_dataset("user,idle_time\nsam,PT10M\n")
    result = UserRuleResource().import_data(dataset)
    assert result.totals["new"] == 1
    assert UserLogoutRule.objects.get(user__username="sam").idle_time == timedelta(minutes=10)


def test_a_missing_column_means_the_default(sample_rules):
    # A row describes its rule completely: leaving a column out resets it to the default.
    dataset = CSVFormat().create_dataset("group,idle_time\nstaff,00:03:00\n")
    result = GroupRuleResource().import_data(dataset)
    assert result.totals["update"] == 1
    staff = GroupLogoutRule.objects.get(group__name="staff")
    assert staff.idle_time == timedelta(minutes=3)
    assert staff.priority == 100
    assert staff.session_time is None
    assert staff.message is None
    assert staff.redirect_to_login_immediately is None
    assert staff.enabled is True


def test_the_delete_column_deletes_that_rule(sample_rules):
    dataset = CSVFormat().create_dataset("group,delete\ncontractors,true\nnewcomers,\n")
    result = GroupRuleResource().import_data(dataset)
    assert result.has_validation_errors()  # "newcomers" is not a group: nothing is written
    assert GroupLogoutRule.objects.filter(group__name="contractors").exists()
    dataset = CSVFormat().create_dataset("group,delete\ncontractors,true\n")
    result = GroupRuleResource().import_data(dataset)
    assert result.totals["delete"] == 1
    assert not GroupLogoutRule.objects.filter(group__name="contractors").exists()


def test_json_rows_with_different_keys_are_all_checked(db):
    # tablib alone would take the columns from the first row and drop "bogus" silently.
    dataset = JSONFormat().create_dataset('[{"user": "sam"}, {"user": "sam", "bogus": 1}]')
    assert "bogus" in dataset.headers
    result = UserRuleResource().import_data(dataset)
    assert "Unknown column 'bogus'" in str(result.base_errors[0].error)


def test_json_that_is_not_a_list_of_rows_is_refused():
    with pytest.raises(ValueError, match="list of rules"):
        JSONFormat().create_dataset('{"user": "sam"}')
    with pytest.raises(ValueError, match="Row 2 is not an object"):
        JSONFormat().create_dataset('[{"user": "sam"}, 3]')
