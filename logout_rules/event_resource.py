"""The django-import-export Resource of the audit trail: logout events, export only.

One row per event, every format (CSV, JSON, XLSX):

* ``id``; ``at`` and ``login_at`` in ISO 8601 (UTC with ``USE_TZ``), ``login_at`` empty/``null``
  when the session's login time was unusable;
* ``username`` (kept when the user is deleted), ``reason`` (``idle``, ``session``, ``revoked``);
* ``limit``: the limit that passed as ``HH:MM:SS`` (as in rule files), empty/``null`` for a
  revocation; ``source``: where it came from, in the words of ``explain``.

Text cells are neutralised for spreadsheets the way rule files are (``resources.neutralise``): a
username or group name starting like a formula gets a protecting apostrophe.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from import_export import resources

from .models import LogoutEvent
from .resources import CSVFormat, JSONFormat, XLSXFormat, format_duration_cell, neutralise

#: The formats the events admin offers (those whose libraries are installed).
EVENT_FORMATS: tuple[type[Any], ...] = (CSVFormat, XLSXFormat, JSONFormat)
EVENT_COLUMNS = ("id", "at", "username", "reason", "limit", "source", "login_at")


def available_formats() -> list[type[Any]]:
    """The export formats that work here (XLSX needs openpyxl: without it, it is not offered)."""
    return [format_class for format_class in EVENT_FORMATS if format_class().is_available()]


def _moment(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt_timezone.utc)
    return value.isoformat()


class LogoutEventResource(resources.ModelResource):  # type: ignore[misc]
    class Meta:
        model = LogoutEvent
        fields = EVENT_COLUMNS
        export_order = EVENT_COLUMNS

    def dehydrate_id(self, event: LogoutEvent) -> int:
        return int(event.pk)

    def dehydrate_at(self, event: LogoutEvent) -> str | None:
        return _moment(event.at)

    def dehydrate_login_at(self, event: LogoutEvent) -> str | None:
        return _moment(event.login_at)

    def dehydrate_username(self, event: LogoutEvent) -> str:
        return neutralise(event.username)

    def dehydrate_source(self, event: LogoutEvent) -> str:
        return neutralise(event.source)

    def dehydrate_limit(self, event: LogoutEvent) -> str | None:
        return None if event.limit is None else format_duration_cell(event.limit)
