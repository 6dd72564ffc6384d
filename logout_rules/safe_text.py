"""Showing text that came from outside (files, rule rows, group names) safely.

* ``shown(value)``: a value from a file, for an error message: short (truncated), quoted, with
  control characters escaped; a list or an object is named by its kind, never printed (a YAML
  file of a few hundred bytes can hold a value of 10⁸ items).
* ``terminal_safe(text)``: text for a terminal, with the characters that can drive one (C0
  controls but tab and newline, DEL, C1 controls, Unicode bidirectional controls) shown as
  escapes (``\\x1b``, ``\\x9b``, ``\\u202e``), so ``logout_rules explain`` or an export to
  standard output cannot move the cursor, rewrite lines or change the terminal's title.
* ``json_terminal_safe(text)``: the same for JSON text, using JSON's own escapes (``\\u001b``),
  so what is printed is still the same JSON document.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from decimal import Decimal

#: The longest text ``shown`` prints of a value.
SHOWN_CHARS = 60

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional controls that reorder
# what a terminal shows (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI, and the marks ALM/LRM/RLM).
_TERMINAL_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
# What JSON itself leaves unescaped (with ensure_ascii=False) of the above: C1 and bidi controls.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with every character that can drive a terminal shown as an escape."""
    return _TERMINAL_UNSAFE.sub(_escape, text)


def json_terminal_safe(text: str) -> str:
    """JSON text safe for a terminal, still the same JSON (``\\u009b`` is JSON's own escape)."""
    return _JSON_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def kind(value: object) -> str:
    """What a non-plain value is, in words (``a list``, ``an object``)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, set | frozenset):
        return "a set"
    if isinstance(value, bytes | bytearray):
        return "binary data"
    return f"a value of type {type(value).__name__}"


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """A value from outside, for a message: quoted text (``'maybe'``), a number, ``true``, or the
    kind of a value that is not plain; long text is cut (``'aaaa…' (5000 characters)``)."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # repr() escapes every character that is not printable (controls, bidi controls).
        text = terminal_safe(repr(value[:limit]))
        if len(value) <= limit:
            return text
        return f"{text[:-1]}…{text[-1]} ({len(value)} characters)"
    if isinstance(value, int | float | Decimal):
        try:
            text = str(value)
        except ValueError:  # an int beyond Python's conversion limit
            return "a number too long to show"
        return text if len(text) <= limit else f"a number of {len(text)} digits"
    if isinstance(value, date | time | timedelta):
        return str(value)
    return kind(value)
