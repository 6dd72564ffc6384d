"""The effective policy for a user: the cache first, the database on a miss, settings on top.

Public API: ``get_policy(user_id)`` for the request path, ``explain(user)`` for humans (the
``logout_rules explain`` command and the admin's "effective policy" panel).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from django.db import DatabaseError, transaction

from . import cache, loading, policy
from .conf import conf
from .durations import format_duration
from .models import GlobalLogoutRule


def _load_layer_safely(user_id: object) -> policy.Layer | None:
    """Load from the database; ``None`` when the database fails (never raises)."""
    try:
        if transaction.get_connection(GlobalLogoutRule.objects.db).in_atomic_block:
            # Keep a failure from poisoning the surrounding transaction (ATOMIC_REQUESTS).
            with transaction.atomic(using=GlobalLogoutRule.objects.db):
                return loading.load_layer(user_id)
        return loading.load_layer(user_id)
    except DatabaseError:
        cache.log_rate_limited(
            "database", "logout_rules: the rules could not be loaded from the database"
        )
        return None


def get_layer(user_id: object) -> policy.Layer:
    """The database levels for a user: from the cache when valid, else loaded and cached.

    On a database failure: the last cached value (even if invalidated since), else no database
    rules at all (``settings.AUTO_LOGOUT`` alone applies).

    While this thread's connection holds uncommitted changes of what feeds resolution (a view or
    command that edits rules and resolves in one transaction), the layer is loaded from the
    database for this call alone: it reflects rows that a rollback may still discard and that no
    other connection sees, so it is neither cached nor taken from the cache.
    """
    if cache.has_pending_changes():
        return _uncommitted_layer(user_id)
    layer = cache.cached_layer(user_id)
    if layer is not None:
        return layer
    return _missed_layer(user_id)


def _uncommitted_layer(user_id: object) -> policy.Layer:
    """``get_layer`` while this connection holds uncommitted changes: from the database, for
    this call alone."""
    layer = _load_layer_safely(user_id)
    if layer is None:
        return _best_cached(cache.lookup(user_id))
    return cache.intern_layer(layer)


def _missed_layer(user_id: object) -> policy.Layer:
    """``get_layer`` when this process's memo cannot vouch for the cached layer: one round trip,
    and the database on a miss."""
    found = cache.lookup(user_id)
    if found.layer is not None:
        return found.layer
    tokens = cache.tokens_for_store(user_id, found)
    layer = _load_layer_safely(user_id)
    if layer is None:
        return _best_cached(found)
    cache.store(user_id, tokens, layer)
    return cache.intern_layer(layer)


def _best_cached(found: cache.Lookup) -> policy.Layer:
    """When the database fails: the cached layer, even one invalidated since, else none."""
    if found.layer is not None:
        return found.layer
    return found.stale if found.stale is not None else policy.EMPTY_LAYER


#: ``id(layer)`` → ``(layer, settings rule, ceilings, merged policy)``. Layers come interned from
#: ``cache``, and the settings rule and the ceilings are conf's memos (new objects whenever a
#: setting changes), so a warm request finds its policy here instead of merging again; an entry
#: merged under other settings is replaced (the settings change seldom, and all at once). Pure
#: memoization of ``policy.merge`` (the objects are kept in the value, so an id cannot be reused
#: while its entry exists, and each is compared by identity): it cannot go stale.
_merged: dict[int, tuple[policy.Layer, policy.Rule, policy.Ceilings, policy.Policy]] = {}
MERGED_MEMO_SIZE = 4096


def get_policy(user_id: object) -> policy.Policy:
    """The effective policy for a user id (settings and ceilings merged at call time)."""
    layer = get_layer(user_id)
    settings_rule = conf.settings_rule
    ceilings = conf.ceilings
    hit = _merged.get(id(layer))
    if hit is not None and hit[0] is layer and hit[1] is settings_rule and hit[2] is ceilings:
        return hit[3]
    effective = policy.merge(layer, settings_rule, ceilings)
    if len(_merged) >= MERGED_MEMO_SIZE:
        _merged.clear()
    _merged[id(layer)] = (layer, settings_rule, ceilings, effective)
    return effective


@dataclass(frozen=True, slots=True)
class Explanation:
    """One effective field: its name, its value for humans and where it came from."""

    field: str
    value: object
    display: str
    source: str


def _display(name: str, value: object) -> str:
    if name in policy.DURATION_FIELDS:
        if value is None:
            return "no limit" if name != "warning_time" else "no warning"
        assert isinstance(value, float)
        delta = timedelta(seconds=value)
        return f"{format_duration(delta)} ({delta}, {value:g} s)"
    if name == "message":
        return repr(value) if value else "(no message)"
    return "yes" if value else "no"


def explain_policy(
    effective: policy.Policy, unbounded: policy.Policy | None = None
) -> list[Explanation]:
    """Each field of ``effective`` for humans. ``unbounded`` (the same levels merged without the
    ceilings) lets a value a ceiling decided say what the rules alone would have given."""
    rows = []
    for name in policy.FIELDS:
        value = getattr(effective, name)
        source = effective.source(name)
        label = source.describe()
        if source.kind == policy.KIND_DEFAULT and name not in ("idle_time", "session_time"):
            label = "default"
        if source.kind == policy.KIND_CEILING and unbounded is not None:
            label = f"{label}; the rules say {_rules_say(name, unbounded)}"
        rows.append(Explanation(name, value, _display(name, value), label))
    revocation = effective.revocation
    if revocation is not None:
        when = datetime.fromtimestamp(revocation.not_before, tz=timezone.utc)
        rows.append(
            Explanation(
                "revocation",
                revocation.not_before,
                f"sessions that logged in at or before {when.isoformat(timespec='seconds')} "
                "are ended",
                revocation.describe(),
            )
        )
    return rows


def _rules_say(name: str, unbounded: policy.Policy) -> str:
    value = getattr(unbounded, name)
    source = unbounded.source(name)
    if value is None:
        return "no limit"
    return f"{format_duration(value)} ({source.describe()})"


def resolve_fresh(user_id: object) -> policy.Policy:
    """The effective policy straight from the database (no cache), for explanations."""
    return policy.merge(loading.load_layer(user_id), conf.settings_rule, conf.ceilings)


def explain(user_id: object) -> list[Explanation]:
    """Each effective field for a user, its value and its origin, read from the database."""
    layer = loading.load_layer(user_id)
    effective = policy.merge(layer, conf.settings_rule, conf.ceilings)
    return explain_policy(effective, policy.merge(layer, conf.settings_rule))
