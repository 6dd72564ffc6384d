"""Durations people can type, and the one way we show them.

The parser serves the admin forms, the rule-set files and string values in settings; the
formatter serves the admin's lists and forms, and ``explain``. Pure: no Django imports, tested
with plain tables (``tests/test_durations.py``).

Accepted (case and spaces do not matter):

* units: ``15m``, ``90s``, ``1h 30m``, ``1h30m``, ``2 hours``, ``45 minutes``, ``1 day``,
  ``1d 12h``, ``1.5h``, ``1 hour, 30 minutes``, ``1 hour and 30 minutes``. The units are
  s/sec/secs/second/seconds, m/min/mins/minute/minutes, h/hr/hrs/hour/hours, d/day/days and
  w/wk/wks/week/weeks, each at most once. ``15M`` is 15 minutes: months and years are never
  units (a month or a year is refused with a message saying so);
* clock forms: ``MM:SS``, ``HH:MM:SS`` (hours may pass 24), ``D HH:MM:SS`` and Python's own
  ``1 day, 2:00:00``, with fractions of a second (``00:00:01.5``);
* ISO 8601 durations without months or years: ``PT15M``, ``P1DT2H``, ``P2W``;
* a bare number (``600``) only where the caller says it means seconds (rule-set files); elsewhere
  it is an error that names the fix (``BARE_NUMBER``).

A leading ``-`` gives a negative duration, so that the caller's validation can say "longer than
zero" instead of "unreadable". Durations are exact to the microsecond (``Decimal`` arithmetic).
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

#: The longest duration accepted anywhere (settings, admin, imports): ten years.
MAX_DURATION = timedelta(days=3650)
#: The longest text the parser reads (no duration needs more; bounds the work on hostile input).
MAX_TEXT_LENGTH = 200

# DurationError codes (the admin form turns each into a translated message).
INVALID = "invalid"
BARE_NUMBER = "bare_number"
MONTHS_OR_YEARS = "months_or_years"
TOO_LONG = "too_long"

MESSAGES = {
    INVALID: "Enter a valid duration, e.g. 15m, 1h 30m, 2 hours or 00:15:00.",
    BARE_NUMBER: "Add a unit, e.g. 15m or 15s.",
    MONTHS_OR_YEARS: "Months and years are not units (their length varies): use days or weeks, "
    "e.g. 30d or 4w.",
    TOO_LONG: f"Enter a duration of at most {MAX_DURATION.days} days.",
}

#: Seconds per unit, by every spelling accepted.
UNITS: dict[str, int] = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 604800),
}
#: Words that look like units but are refused with their own message.
MONTH_AND_YEAR_WORDS = frozenset(
    ("mo", "mos", "mon", "month", "months", "y", "yr", "yrs", "year", "years")
)

_MAX_SECONDS = Decimal(int(MAX_DURATION.total_seconds()))
_MICRO = Decimal(1_000_000)
_NUMBER = r"(?:\d+(?:\.\d+)?|\.\d+)"
_BARE = re.compile(rf"{_NUMBER}")
_PART = rf"({_NUMBER})\s*([a-z]+)"
_UNITS_FORM = re.compile(rf"{_PART}(?:(?:\s*,\s*|\s+and\s+|\s*){_PART})*")
_UNIT_PARTS = re.compile(_PART)
_CLOCK = re.compile(
    r"(?:(?P<days>\d+)\s*(?:d|days?)?\s*,?\s+)?"
    r"(?:(?P<hours>\d+):)?(?P<minutes>\d+):(?P<seconds>\d+(?:[.,]\d+)?)"
)
_ISO_NUMBER = r"\d+(?:[.,]\d+)?"
_ISO = re.compile(
    rf"p(?=\d|t\d)(?:(?P<weeks>{_ISO_NUMBER})w)?(?:(?P<days>{_ISO_NUMBER})d)?"
    rf"(?:t(?=\d)(?:(?P<hours>{_ISO_NUMBER})h)?(?:(?P<minutes>{_ISO_NUMBER})m)?"
    rf"(?:(?P<seconds>{_ISO_NUMBER})s)?)?"
)
# ISO 8601 with years, or months (an M before the T): refused with their own message.
_ISO_CALENDAR = re.compile(r"p[\d.,ymwd]*(?:y|\d[.,\d]*m)")


class DurationError(ValueError):
    """The text is not a duration; ``code`` is one of the codes above, the message says why."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(MESSAGES[code])


def _decimal(text: str) -> Decimal:
    return Decimal(text.replace(",", "."))


def from_seconds(seconds: Decimal | int | float) -> timedelta:
    """Seconds → an exact ``timedelta`` (to the microsecond); ``TOO_LONG`` past ``MAX_DURATION``
    either way. Non-finite numbers are ``INVALID``."""
    try:
        amount = Decimal(seconds)
    except (InvalidOperation, TypeError):  # pragma: no cover - callers pass numbers
        raise DurationError(INVALID) from None
    if not amount.is_finite():
        raise DurationError(INVALID)
    if abs(amount) > _MAX_SECONDS:
        raise DurationError(TOO_LONG)
    micro = (amount * _MICRO).to_integral_value(rounding=ROUND_HALF_EVEN)
    return timedelta(microseconds=int(micro))


def _units(text: str) -> Decimal | None:
    if not _UNITS_FORM.fullmatch(text):
        return None
    total = Decimal(0)
    seen: set[int] = set()
    for number, word in _UNIT_PARTS.findall(text):
        if word in MONTH_AND_YEAR_WORDS:
            raise DurationError(MONTHS_OR_YEARS)
        size = UNITS.get(word)
        if size is None or size in seen:
            raise DurationError(INVALID)
        seen.add(size)
        total += _decimal(number) * size
    return total


def _clock(text: str) -> Decimal | None:
    match = _CLOCK.fullmatch(text)
    if match is None:
        return None
    days, hours, minutes, seconds = match.group("days", "hours", "minutes", "seconds")
    return (
        Decimal(days or 0) * 86400
        + Decimal(hours or 0) * 3600
        + Decimal(minutes) * 60
        + _decimal(seconds)
    )


def _iso(text: str) -> Decimal | None:
    match = _ISO.fullmatch(text)
    if match is None:
        if _ISO_CALENDAR.match(text):
            raise DurationError(MONTHS_OR_YEARS)
        return None
    total = Decimal(0)
    for name, size in (("weeks", 604800), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if match.group(name):
            total += _decimal(match.group(name)) * size
    if match.group("seconds"):
        total += _decimal(match.group("seconds"))
    return total


def parse_duration(text: str, *, bare_seconds: bool = False) -> timedelta:
    """``"1h 30m"`` → ``timedelta(hours=1, minutes=30)``; ``DurationError`` when unreadable.

    ``bare_seconds``: a number without a unit (``"600"``) means seconds; otherwise it is an error
    (``BARE_NUMBER``: "Add a unit, e.g. 15m or 15s."). Zero and negative durations are returned
    as such (the caller decides whether they are allowed); longer than ``MAX_DURATION`` is an
    error (``TOO_LONG``).
    """
    if len(text) > MAX_TEXT_LENGTH:
        raise DurationError(INVALID)
    normal = " ".join(text.split()).lower()
    sign = 1
    if normal[:1] in ("-", "+"):
        sign = -1 if normal[0] == "-" else 1
        normal = normal[1:].lstrip()
    if not normal:
        raise DurationError(INVALID)
    try:
        if _BARE.fullmatch(normal):
            if not bare_seconds:
                raise DurationError(BARE_NUMBER)
            seconds: Decimal | None = Decimal(normal)
        elif normal.startswith("p"):
            seconds = _iso(normal)
        elif ":" in normal:
            seconds = _clock(normal)
        else:
            seconds = _units(normal)
    except InvalidOperation:  # pragma: no cover - every number matched a decimal pattern
        seconds = None
    if seconds is None:
        raise DurationError(INVALID)
    return from_seconds(sign * seconds)


def microseconds(value: timedelta | float) -> int:
    """A duration in whole microseconds (exact for a ``timedelta``)."""
    if isinstance(value, timedelta):
        return (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    return round(value * 1_000_000)


def format_duration(value: timedelta | float | None) -> str:
    """``timedelta(seconds=5400)`` → ``"1h 30m"``; ``None`` → ``"—"``.

    Days, hours, minutes and seconds, largest first, zero parts left out; fractions of a second
    are kept exactly (``"1m 30.5s"``), so ``parse_duration`` reads every output back to the same
    value (the admin's forms show this, and what a form shows can be typed back).
    """
    if value is None:
        return "—"
    total = microseconds(value)
    sign = "-" if total < 0 else ""
    whole, fraction = divmod(abs(total), 1_000_000)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = ((days, "d"), (hours, "h"), (minutes, "m"))
    parts = [f"{amount}{unit}" for amount, unit in units if amount]
    if fraction:
        parts.append(f"{secs}.{fraction:06d}".rstrip("0") + "s")
    elif secs:
        parts.append(f"{secs}s")
    return sign + (" ".join(parts) or "0s")


def seconds_text(seconds: float) -> str:
    """``900.0`` → ``"900"``, ``1.5`` → ``"1.5"``: seconds for messages (never ``9e+05``)."""
    if seconds == int(seconds):
        return str(int(seconds))
    return f"{seconds:.6f}".rstrip("0")


def seconds_or_none(value: object) -> float | None:
    """A settings value → positive float seconds, or ``None`` when it is not a valid duration.

    ``int``/``float`` seconds, a ``timedelta``, or a string with units (``"15m"``: a string
    without a unit is refused, as in the admin). Booleans, zero, negative, non-finite values and
    values longer than ``MAX_DURATION`` are not durations.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = parse_duration(value)
        except DurationError:
            return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond any float
            return None
    else:
        return None
    if not seconds > 0 or seconds > MAX_DURATION.total_seconds():
        return None
    return seconds
