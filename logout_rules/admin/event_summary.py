"""The summary above the logout events list: automatic logouts per day and per reason over the last
30 days, as a server-rendered SVG bar chart plus a table.

Built for the strict Content-Security-Policy of the sample site (``script-src 'self'; style-src
'self'``): no script, no ``style`` attribute or element. The chart is geometry attributes only,
coloured by classes from the static stylesheet ``logout_rules/admin/events.css``. It is readable
without colour: each reason has its own fill pattern (solid, stripes, dots), each bar carries its
total as a label, the legend names each reason with its count, and a table below gives every
number. One aggregate query (``events.daily_counts``), whatever the number of rows; every text is
escaped by the template.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils import formats
from django.utils.translation import gettext, ngettext

from .. import events
from ..models import LogoutEvent

#: The SVG's coordinate system (it scales to the width of the list).
WIDTH = 720
HEIGHT = 210
PLOT_LEFT = 36.0
PLOT_RIGHT = WIDTH - 34.0  # room for the last day's label
PLOT_TOP = 20.0
PLOT_BOTTOM = HEIGHT - 28.0
BAR_SHARE = 0.7
#: Every how many days the x axis is labelled (counted back from today, which is always labelled).
TICK_EVERY = 5


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason: its value, its label, the CSS class and pattern of its bars, its total."""

    value: str
    label: str
    css: str
    pattern: str
    total: int


@dataclass(frozen=True, slots=True)
class Segment:
    """One reason's part of one day's bar (coordinates as SVG attribute text)."""

    reason: Reason
    count: int
    y: str
    height: str
    title: str


@dataclass(frozen=True, slots=True)
class Bar:
    """One day: its bar (stacked segments), its total label and, every few days, its tick."""

    day: date
    label: str
    tick_label: str
    counts: tuple[int, ...]
    total: int
    x: str
    width: str
    center: str
    segments: tuple[Segment, ...]
    total_y: str
    tick: bool


@dataclass(frozen=True, slots=True)
class GridLine:
    value: int
    y: str


@dataclass(frozen=True, slots=True)
class Summary:
    days: int
    reasons: tuple[Reason, ...]
    bars: tuple[Bar, ...]
    grid: tuple[GridLine, ...]
    total: int
    busiest: Bar | None
    description: str
    # The fixed geometry, as SVG attribute text (never localised: "36", not "36,0").
    width: str = str(WIDTH)
    height: str = str(HEIGHT)
    plot_left: str = f"{PLOT_LEFT:g}"
    plot_right: str = f"{PLOT_RIGHT:g}"
    axis_value_x: str = f"{PLOT_LEFT - 4:g}"
    axis_label_y: str = f"{HEIGHT - 10:g}"


def _scale_top(highest: int) -> int:
    """The top of the y axis: the smallest 1, 2 or 5 times a power of ten at or above the
    highest bar."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if top * step >= highest:
                return top * step
        top *= 10


def _number(value: float) -> str:
    """An SVG coordinate: one decimal at most, never localised."""
    return f"{round(value, 1):g}"


def _reasons(counts: dict[tuple[date, str], int]) -> tuple[Reason, ...]:
    reasons = []
    for value, label in LogoutEvent.REASONS:
        total = sum(count for (_, reason), count in counts.items() if reason == value)
        css = f"logout-events-{value}"
        reasons.append(Reason(str(value), str(label), css, f"{css}-pattern", total))
    return tuple(reasons)


def _describe(days: int, total: int, reasons: tuple[Reason, ...], busiest: Bar | None) -> str:
    if total == 0:
        return gettext("No automatic logouts in the last %(days)d days.") % {"days": days}
    parts = ", ".join(f"{reason.total} {reason.label}" for reason in reasons)
    text = ngettext(
        "%(total)d automatic logout in the last %(days)d days (%(parts)s).",
        "%(total)d automatic logouts in the last %(days)d days (%(parts)s).",
        total,
    ) % {"total": total, "days": days, "parts": parts}
    if busiest is not None:
        text += " " + gettext("The busiest day was %(day)s, with %(count)d.") % {
            "day": busiest.label,
            "count": busiest.total,
        }
    return text


def build(now: float | None = None, days: int = events.SUMMARY_DAYS) -> Summary:
    """The chart and table of the last ``days`` days (one query)."""
    day_list = events.summary_days(now, days)
    counts = events.daily_counts(day_list)
    reasons = _reasons(counts)
    totals = [sum(counts.get((day, reason.value), 0) for reason in reasons) for day in day_list]
    top = _scale_top(max(totals, default=0))
    plot_height = PLOT_BOTTOM - PLOT_TOP
    slot = (PLOT_RIGHT - PLOT_LEFT) / max(len(day_list), 1)
    bars = []
    for index, day in enumerate(day_list):
        x = PLOT_LEFT + index * slot + slot * (1 - BAR_SHARE) / 2
        width = slot * BAR_SHARE
        label = formats.date_format(day, "SHORT_DATE_FORMAT")
        segments = []
        base = PLOT_BOTTOM
        day_counts = tuple(counts.get((day, reason.value), 0) for reason in reasons)
        for reason, count in zip(reasons, day_counts, strict=True):
            if not count:
                continue
            height = count / top * plot_height
            base -= height
            segments.append(
                Segment(
                    reason=reason,
                    count=count,
                    y=_number(base),
                    height=_number(height),
                    title=f"{label}: {count} {reason.label}",
                )
            )
        bars.append(
            Bar(
                day=day,
                label=label,
                tick_label=formats.date_format(day, "MONTH_DAY_FORMAT"),
                counts=day_counts,
                total=totals[index],
                x=_number(x),
                width=_number(width),
                center=_number(x + width / 2),
                segments=tuple(segments),
                total_y=_number(base - 4),
                tick=(len(day_list) - 1 - index) % TICK_EVERY == 0,
            )
        )
    marks = (0, top // 2, top) if top % 2 == 0 else (0, top)
    grid = tuple(
        GridLine(value, _number(PLOT_BOTTOM - value / top * plot_height)) for value in marks
    )
    total = sum(totals)
    busiest = max(bars, key=lambda bar: (bar.total, bar.day)) if total else None
    return Summary(
        days=days,
        reasons=reasons,
        bars=tuple(bars),
        grid=grid,
        total=total,
        busiest=busiest,
        description=_describe(days, total, reasons, busiest),
    )
