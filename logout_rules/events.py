"""The audit trail: what a logout event is made of, writing it, counting it and how long it is kept.

One ``LogoutEvent`` row per automatic logout, written by ``record`` (called by a receiver of our own
``auto_logout`` signal, see ``receivers.py``): never on the warm path, only on the request that has
just been logged out. ``LOGOUT_RULES_EVENTS = False`` turns it off.

A failure to write (the table missing, the database down, a constraint) is logged at most once a
minute per process and never reaches the request: the logout has already happened and stands, and
no 500 is raised. When the middleware runs inside a transaction (a project's transaction
middleware, a test, a management command that drives requests) the insert runs in a savepoint, so
a failed insert does not abort the surrounding transaction.

``prune`` deletes what ``LOGOUT_RULES_EVENT_RETENTION`` no longer keeps, in batches: events older
than the retention, and session revocations once they can no longer end a session.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.conf import settings
from django.db import router, transaction
from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from . import cache, clock, policy
from .conf import conf
from .models import LogoutEvent, SessionRevocation, format_duration

#: The source of an event whose session was ended because its stored times were unusable
#: (tampered, or written by another version): the middleware fails closed with reason "session",
#: and no limit passed.
SOURCE_UNUSABLE_SESSION = "unusable session data"
#: The source of a revocation whose scope the policy does not say (not sent by our middleware).
SOURCE_REVOCATION = "revocation"
#: How many rows ``prune`` deletes per transaction.
BATCH_SIZE = 1000
#: The days the admin's summary covers.
SUMMARY_DAYS = 30

_LIMIT_FIELDS = {LogoutEvent.REASON_IDLE: "idle_time", LogoutEvent.REASON_SESSION: "session_time"}


# --- what an event is made of --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cause:
    """Why a session was ended: the limit that passed (seconds; ``None`` for a revocation or an
    unusable session) and where it came from, in the words of ``explain``."""

    limit: float | None
    source: str


def cause(reason: str, effective: policy.Policy, login_at: float | None) -> Cause:
    """The limit and source of a logout with this reason under this policy.

    ``idle``: the idle limit and its source (``group "staff"``, ``user rule``, ``settings``…);
    ``session``: the session limit and its source; ``revoked``: no limit, and the revocation
    (``revocation of user``, ``revocation of group "staff"``, ``revocation of everyone``). A
    session ended for unusable stored times (``login_at`` is ``None``) has no limit and the
    source ``SOURCE_UNUSABLE_SESSION``.
    """
    if reason == LogoutEvent.REASON_REVOKED:
        revocation = effective.revocation
        return Cause(None, SOURCE_REVOCATION if revocation is None else revocation.describe())
    name = _LIMIT_FIELDS.get(reason)
    if name is None or login_at is None:
        return Cause(None, SOURCE_UNUSABLE_SESSION)
    return Cause(getattr(effective, name), effective.source(name).describe())


def _moment(epoch: float) -> datetime:
    """Epoch seconds as the database wants them (aware in UTC, or naive local time without
    ``USE_TZ``, like ``timezone.now()``)."""
    return datetime.fromtimestamp(epoch, tz=dt_timezone.utc if settings.USE_TZ else None)


def _truncated(text: str, field: str) -> str:
    """``text`` cut to the column's length (a custom user model may allow longer usernames)."""
    limit = getattr(LogoutEvent._meta.get_field(field), "max_length", None)
    return text if limit is None else text[:limit]


def build(user: Any, reason: str, effective: policy.Policy, login_at: float | None) -> LogoutEvent:
    """The unsaved row for one automatic logout, at ``clock.now()``."""
    found = cause(reason, effective, login_at)
    return LogoutEvent(
        user=user,
        username=_truncated(str(user.get_username()), "username"),
        reason=reason,
        at=_moment(clock.now()),
        login_at=None if login_at is None else _moment(login_at),
        limit=None if found.limit is None else timedelta(seconds=found.limit),
        source=_truncated(found.source, "source"),
    )


# --- writing -------------------------------------------------------------------------------------


def record(
    user: Any, reason: str, effective: policy.Policy, login_at: float | None
) -> LogoutEvent | None:
    """Write the event of one automatic logout; ``None`` when recording is off or failed.

    Never raises: a failure is logged (rate-limited) and the logout goes on as if nothing
    happened.
    """
    if not conf.EVENTS:
        return None
    try:
        event = build(user, reason, effective, login_at)
        using = router.db_for_write(LogoutEvent, instance=event)
        if transaction.get_connection(using).in_atomic_block:
            # A savepoint: a failed insert must not abort the surrounding transaction.
            with transaction.atomic(using=using):
                event.save(using=using, force_insert=True)
        else:
            event.save(using=using, force_insert=True)
    except Exception:  # any failure at all: the logout must stand, without a 500
        cache.log_rate_limited(
            "events", "logout_rules: an automatic logout (%s) could not be recorded", reason
        )
        return None
    return event


# --- the summary ---------------------------------------------------------------------------------


def _local_midnight(day: date) -> datetime:
    moment = datetime.combine(day, time.min)
    return timezone.make_aware(moment) if settings.USE_TZ else moment


def summary_days(now: float | None = None, days: int = SUMMARY_DAYS) -> list[date]:
    """The last ``days`` days up to today (in the current time zone), oldest first."""
    moment = _moment(clock.now() if now is None else now)
    today = timezone.localdate(moment) if settings.USE_TZ else moment.date()
    return [today - timedelta(days=back) for back in range(days - 1, -1, -1)]


def daily_counts(days: list[date]) -> dict[tuple[date, str], int]:
    """Automatic logouts per (day, reason) over ``days`` (consecutive, oldest first), in one
    aggregate query whatever the number of rows."""
    if not days:
        return {}
    rows = (
        LogoutEvent.objects.filter(
            at__gte=_local_midnight(days[0]),
            at__lt=_local_midnight(days[-1] + timedelta(days=1)),
        )
        .annotate(day=TruncDate("at"))
        .values("day", "reason")
        .annotate(count=Count("pk"))
        .order_by()
    )
    counts: dict[tuple[date, str], int] = {}
    for row in rows:
        key = (row["day"], row["reason"])
        counts[key] = counts.get(key, 0) + row["count"]
    return counts


# --- retention -----------------------------------------------------------------------------------


def event_cutoff(now: float | None = None) -> datetime | None:
    """Events at or after this moment are kept; ``None``: all are kept."""
    retention = conf.EVENT_RETENTION
    if retention is None:
        return None
    return _moment((clock.now() if now is None else now) - retention)


def revocation_cutoff(now: float | None = None) -> datetime | None:
    """Revocations whose ``not_before`` is before this moment can no longer end a session: older
    than both the retention and ``SESSION_COOKIE_AGE`` (every session that logged in before them
    has expired). ``None``: all are kept (the retention is ``None``)."""
    retention = conf.EVENT_RETENTION
    if retention is None:
        return None
    keep = max(retention, float(settings.SESSION_COOKIE_AGE))
    return _moment((clock.now() if now is None else now) - keep)


def expired_events(now: float | None = None) -> QuerySet[LogoutEvent]:
    cutoff = event_cutoff(now)
    if cutoff is None:
        return LogoutEvent.objects.none()
    return LogoutEvent.objects.filter(at__lt=cutoff)


def expired_revocations(now: float | None = None) -> QuerySet[SessionRevocation]:
    cutoff = revocation_cutoff(now)
    if cutoff is None:
        return SessionRevocation.objects.none()
    return SessionRevocation.objects.filter(not_before__lt=cutoff)


def _batches(queryset: QuerySet[Any], batch_size: int) -> Iterator[int]:
    """Delete ``queryset`` in transactions of at most ``batch_size`` rows (by primary key); yield
    how many rows each deleted. ``QuerySet.delete()`` sends ``pre_delete``/``post_delete`` per
    row for models with receivers (revocations invalidate the cache that way, after commit)."""
    label = queryset.model._meta.label
    using = queryset.db
    while True:
        with transaction.atomic(using=using):
            last = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not last:
                return
            _, per_model = queryset.filter(pk__lte=last[-1]).delete()
        yield per_model.get(label, 0)
        if len(last) < batch_size:
            return


def delete_in_batches(queryset: QuerySet[Any], batch_size: int = BATCH_SIZE) -> int:
    """Delete every row of ``queryset``, never in one giant transaction; the number deleted."""
    return sum(_batches(queryset, batch_size))


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What ``prune`` deleted (or, in a dry run, would delete)."""

    dry_run: bool
    retention: float | None
    events: int
    event_cutoff: datetime | None
    revocations: int
    revocation_cutoff: datetime | None

    def lines(self) -> list[str]:
        verb = "would be deleted" if self.dry_run else "deleted"
        if self.retention is None:
            return [
                "LOGOUT_RULES_EVENT_RETENTION is None: logout events and session revocations "
                "are kept; nothing " + verb + "."
            ]
        assert self.event_cutoff is not None
        assert self.revocation_cutoff is not None
        kept = format_duration(self.retention)
        return [
            f"Logout events older than {kept} (before "
            f"{self.event_cutoff.isoformat(timespec='seconds')}): {self.events} {verb}.",
            "Session revocations that can no longer end a session (not before "
            f"{self.revocation_cutoff.isoformat(timespec='seconds')}): {self.revocations} "
            f"{verb}.",
        ]


def prune(dry_run: bool = False, batch_size: int = BATCH_SIZE) -> PruneReport:
    """Delete the events and revocations the retention no longer keeps (or count them)."""
    now = clock.now()
    events = expired_events(now)
    revocations = expired_revocations(now)
    if dry_run:
        events_count, revocations_count = events.count(), revocations.count()
    else:
        events_count = delete_in_batches(events, batch_size)
        revocations_count = delete_in_batches(revocations, batch_size)
    return PruneReport(
        dry_run=dry_run,
        retention=conf.EVENT_RETENTION,
        events=events_count,
        event_cutoff=event_cutoff(now),
        revocations=revocations_count,
        revocation_cutoff=revocation_cutoff(now),
    )
