"""The duration parser and formatter (``logout_rules.durations``): plain tables, no database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logout_rules import durations
from logout_rules.durations import (
    BARE_NUMBER,
    INVALID,
    MAX_DURATION,
    MONTHS_OR_YEARS,
    TOO_LONG,
    DurationError,
    format_duration,
    parse_duration,
    seconds_or_none,
    seconds_text,
)

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

#: The spellings issue 12 lists, and what they mean (also read by the admin and file tests).
ISSUE_SPELLINGS = [
    ("15m", 15 * MINUTE),
    ("1h 30m", HOUR + 30 * MINUTE),
    ("1h30m", HOUR + 30 * MINUTE),
    ("90s", timedelta(seconds=90)),
    ("2 hours", 2 * HOUR),
    ("45 minutes", 45 * MINUTE),
    ("1 day", DAY),
    ("1d 12h", DAY + 12 * HOUR),
    ("00:15:00", 15 * MINUTE),  # HH:MM:SS
    ("1 12:00:00", DAY + 12 * HOUR),  # D HH:MM:SS
    ("PT15M", 15 * MINUTE),  # ISO 8601
    ("15M", 15 * MINUTE),  # case does not matter: M is minutes
    (" 2 HOURS ", 2 * HOUR),  # nor do spaces
]

ACCEPTED = [
    *ISSUE_SPELLINGS,
    ("720:00:00", 30 * DAY),
    ("P1DT2H", DAY + 2 * HOUR),
    # Every unit spelling.
    *((f"3{unit}", timedelta(seconds=3)) for unit in ("s", "sec", "secs", "second", "seconds")),
    *((f"3{unit}", 3 * MINUTE) for unit in ("m", "min", "mins", "minute", "minutes")),
    *((f"3{unit}", 3 * HOUR) for unit in ("h", "hr", "hrs", "hour", "hours")),
    *((f"3{unit}", 3 * DAY) for unit in ("d", "day", "days")),
    *((f"3{unit}", timedelta(weeks=3)) for unit in ("w", "wk", "wks", "week", "weeks")),
    ("1 second", timedelta(seconds=1)),
    ("1 minute", MINUTE),
    ("1 hour", HOUR),
    ("1 week", timedelta(weeks=1)),
    # Case and spaces do not matter; M is minutes (months are never units).
    ("1H 30M", HOUR + 30 * MINUTE),
    ("  2   Hours ", 2 * HOUR),
    ("1 h 30 m", HOUR + 30 * MINUTE),
    ("1D12H", DAY + 12 * HOUR),
    ("pt15m", 15 * MINUTE),
    ("1 DAY, 2:00:00", DAY + 2 * HOUR),
    # Separators, any order, fractions.
    ("1 hour, 30 minutes", HOUR + 30 * MINUTE),
    ("1 hour and 30 minutes", HOUR + 30 * MINUTE),
    ("30m 1h", HOUR + 30 * MINUTE),
    ("1.5h", HOUR + 30 * MINUTE),
    (".5m", timedelta(seconds=30)),
    ("1m 30.5s", timedelta(seconds=90.5)),
    ("1w 2d 3h 4m 5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
    # Clock forms as Django and Python write them.
    ("10:00", 10 * MINUTE),
    ("0:05:00", 5 * MINUTE),
    ("00:00:01.5", timedelta(seconds=1.5)),
    ("00:00:01,5", timedelta(seconds=1.5)),
    ("00:00:00.000001", timedelta(microseconds=1)),
    ("1 day, 2:00:00", DAY + 2 * HOUR),
    ("2 days, 0:00:00", 2 * DAY),
    ("1d 02:00:00", DAY + 2 * HOUR),
    # ISO 8601 variants.
    ("P0DT0H0M45S", timedelta(seconds=45)),
    ("P2W", timedelta(weeks=2)),
    ("PT1.5H", HOUR + 30 * MINUTE),
    ("P1D", DAY),
    ("PT36H", 36 * HOUR),
    # Signs (validation, not parsing, refuses them).
    ("-5m", -5 * MINUTE),
    ("-00:05:00", -5 * MINUTE),
    ("+5m", 5 * MINUTE),
    ("0s", timedelta(0)),
    ("3650d", MAX_DURATION),
]

REJECTED = [
    # A bare number is an error that names the fix.
    ("15", BARE_NUMBER),
    ("0", BARE_NUMBER),
    ("1.5", BARE_NUMBER),
    (" 600 ", BARE_NUMBER),
    ("-1", BARE_NUMBER),
    # Months and years are never units.
    ("1 month", MONTHS_OR_YEARS),
    ("2 months", MONTHS_OR_YEARS),
    ("1mo", MONTHS_OR_YEARS),
    ("1 year", MONTHS_OR_YEARS),
    ("2 years", MONTHS_OR_YEARS),
    ("1y", MONTHS_OR_YEARS),
    ("1yr", MONTHS_OR_YEARS),
    ("1d 1mo", MONTHS_OR_YEARS),
    ("P1M", MONTHS_OR_YEARS),
    ("P1Y", MONTHS_OR_YEARS),
    ("P1Y2M3DT4H", MONTHS_OR_YEARS),
    # Unreadable.
    ("", INVALID),
    ("   ", INVALID),
    ("abc", INVALID),
    ("ten minutes", INVALID),
    ("15 fortnights", INVALID),
    ("1ms", INVALID),
    ("1h 1h", INVALID),  # a unit twice
    ("5m 10m", INVALID),
    ("1h,", INVALID),
    ("1h and", INVALID),
    ("h", INVALID),
    ("1e3", INVALID),
    ("nan", INVALID),
    ("inf", INVALID),
    ("P", INVALID),
    ("PT", INVALID),
    ("P1H", INVALID),  # hours belong after the T
    ("1:2:3:4", INVALID),
    ("12:", INVALID),
    ("1d12:00:00", INVALID),
    ("00:05:00\x00", INVALID),
    ("5m\n5s\x00", INVALID),
    ("9" * 5000, INVALID),  # longer than any duration needs: refused before any work
    ("-", INVALID),
    # Longer than ten years.
    ("3651d", TOO_LONG),
    ("87601:00:00", TOO_LONG),
    ("P5000D", TOO_LONG),
    ("9" * 50 + "w", TOO_LONG),
    ("-3651d", TOO_LONG),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED, ids=repr)
def test_accepted_spellings(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(("text", "code"), REJECTED, ids=lambda value: repr(value)[:30])
def test_rejected_spellings_say_why(text, code):
    with pytest.raises(DurationError) as raised:
        parse_duration(text)
    assert raised.value.code == code
    assert str(raised.value) == durations.MESSAGES[code]


def test_the_messages_name_the_fix():
    assert durations.MESSAGES[BARE_NUMBER] == "Add a unit, e.g. 15m or 15s."
    assert "use days or weeks" in durations.MESSAGES[MONTHS_OR_YEARS]
    assert durations.MESSAGES[TOO_LONG] == "Enter a duration of at most 3650 days."


def test_hours_and_minutes_are_different_units():
    assert parse_duration("1h 60m") == 2 * HOUR


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("600", 10 * MINUTE),
        ("1.5", timedelta(seconds=1.5)),
        ("0", timedelta(0)),
        ("15m", 15 * MINUTE),
    ],
)
def test_a_bare_number_is_seconds_where_the_caller_says_so(text, expected):
    assert parse_duration(text, bare_seconds=True) == expected


def test_a_huge_bare_number_is_too_long_not_a_crash():
    with pytest.raises(DurationError) as raised:
        parse_duration("9" * 150, bare_seconds=True)
    assert raised.value.code == TOO_LONG


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (timedelta(0), "0s"),
        (timedelta(seconds=1), "1s"),
        (timedelta(seconds=90), "1m 30s"),
        (timedelta(minutes=2), "2m"),
        (timedelta(minutes=30), "30m"),
        (HOUR + 30 * MINUTE, "1h 30m"),
        (DAY + 12 * HOUR, "1d 12h"),
        (timedelta(days=3, seconds=5), "3d 5s"),
        (timedelta(seconds=90.5), "1m 30.5s"),
        (HOUR + timedelta(seconds=0.5), "1h 0.5s"),
        (timedelta(microseconds=1), "0.000001s"),
        (timedelta(seconds=12.345678), "12.345678s"),
        (MAX_DURATION, "3650d"),
        (-5 * MINUTE, "-5m"),
        (5400.0, "1h 30m"),
        (1.5, "1.5s"),
    ],
)
def test_format_duration(value, text):
    assert format_duration(value) == text


@given(st.timedeltas(min_value=-MAX_DURATION, max_value=MAX_DURATION))
def test_what_is_shown_can_be_typed_back(value):
    assert parse_duration(format_duration(value)) == value


@given(st.timedeltas(min_value=timedelta(0), max_value=MAX_DURATION))
def test_python_and_django_spellings_are_read_back(value):
    assert parse_duration(str(value)) == value  # "1 day, 2:00:00", "0:05:00.000001"


@given(st.text(max_size=40))
def test_any_text_parses_or_raises_a_duration_error(text):
    error: DurationError | None = None
    try:
        result = parse_duration(text)
    except DurationError as exc:
        error = exc
    if error is None:
        assert abs(result) <= MAX_DURATION
    else:
        assert error.code in durations.MESSAGES


def test_models_format_duration_is_the_same_function():
    from logout_rules import models

    assert models.format_duration is format_duration


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (600, 600.0),
        (1.5, 1.5),
        (timedelta(minutes=2), 120.0),
        ("15m", 900.0),
        ("1h 30m", 5400.0),
        ("PT1M", 60.0),
        ("600", None),  # a string needs a unit
        ("1 month", None),
        ("soon", None),
        (0, None),
        (-1, None),
        ("0s", None),
        (True, None),
        (None, None),
        (float("nan"), None),
        (float("inf"), None),
        (10**400, None),
        (timedelta(days=3651), None),
        ([600], None),
    ],
)
def test_seconds_or_none_reads_settings_values(value, expected):
    assert seconds_or_none(value) == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(900.0, "900"), (2592000.0, "2592000"), (1.5, "1.5"), (0.000001, "0.000001")],
)
def test_seconds_text_never_uses_exponents(seconds, text):
    assert seconds_text(seconds) == text
