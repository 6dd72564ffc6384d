"""The decisions, and nothing else.

Plain data and pure functions: which rule wins for each field, and whether a session is still alive
at a given instant. No Django imports and no clock of its own: callers pass ``now`` (epoch seconds),
so every rule here is tested with plain tables (``tests/test_policy.py``).

Durations are float seconds. ``None`` always means "not set at this level, inherit".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

#: The fields every rule level may set, in display order.
FIELDS: tuple[str, ...] = (
    "idle_time",
    "session_time",
    "warning_time",
    "message",
    "redirect_to_login_immediately",
)
DURATION_FIELDS: tuple[str, ...] = ("idle_time", "session_time", "warning_time")
#: The limits (a session ends when one passes); a site-wide ceiling can bound each.
LIMIT_FIELDS: tuple[str, ...] = ("idle_time", "session_time")
#: The setting that holds each limit's ceiling (read by ``conf``; named here for ``Source``).
CEILING_SETTINGS: dict[str, str] = {
    "idle_time": "LOGOUT_RULES_MAX_IDLE_TIME",
    "session_time": "LOGOUT_RULES_MAX_SESSION_TIME",
}

Reason = Literal["idle", "session", "revoked"]

# Where an effective value came from (see ``Source.describe``).
KIND_USER = "user"
KIND_GROUP = "group"
KIND_GLOBAL = "global"
KIND_SETTINGS = "settings"
KIND_DEFAULT = "default"
KIND_CEILING = "ceiling"


@dataclass(frozen=True, slots=True)
class Rule:
    """One level's values. ``None`` means the level does not set that field."""

    idle_time: float | None = None
    session_time: float | None = None
    warning_time: float | None = None
    message: str | None = None
    redirect_to_login_immediately: bool | None = None

    def get(self, name: str) -> object:
        return getattr(self, name)

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in FIELDS)


@dataclass(frozen=True, slots=True)
class GroupRule:
    """A group's rule as the resolver sees it: the group's name, its priority and its values."""

    name: str
    priority: int
    rule: Rule


@dataclass(frozen=True, slots=True)
class Source:
    """Where an effective value comes from: ``kind`` is one of the ``KIND_*`` names."""

    kind: str
    name: str = ""

    def describe(self) -> str:
        if self.kind == KIND_USER:
            return "user rule"
        if self.kind == KIND_GROUP:
            return f'group "{self.name}"'
        if self.kind == KIND_GLOBAL:
            return "global rule"
        if self.kind == KIND_SETTINGS:
            return "settings"
        if self.kind == KIND_CEILING:
            return f"ceiling {self.name}"
        return "no limit"


#: Who a revocation ("sign out now") applies to.
SCOPE_USER = "user"
SCOPE_GROUP = "group"
SCOPE_EVERYONE = "everyone"


@dataclass(frozen=True, slots=True)
class Revocation:
    """The latest revocation that applies to a user: sessions that logged in at or before
    ``not_before`` (epoch seconds) are ended. ``scope`` is one of the ``SCOPE_*`` names; ``name``
    is the group's name for a group revocation."""

    not_before: float
    scope: str
    name: str = ""

    def describe(self) -> str:
        """``revocation of user``, ``revocation of group "staff"`` or ``revocation of everyone``."""
        if self.scope == SCOPE_GROUP:
            return f'revocation of group "{self.name}"'
        return f"revocation of {self.scope}"


NO_SOURCE = Source(KIND_DEFAULT)
SETTINGS_SOURCE = Source(KIND_SETTINGS)
USER_SOURCE = Source(KIND_USER)
GLOBAL_SOURCE = Source(KIND_GLOBAL)


@dataclass(frozen=True, slots=True)
class Layer:
    """Per-field values with their sources, for the database levels (user → groups → global).

    This is what the policy cache stores for a user: it does not contain the settings level, which
    is merged at request time so that a settings change (or ``override_settings``) applies at once.
    Unset fields hold ``None`` with ``NO_SOURCE``. ``revocation`` is the latest revocation that
    applies to the user, if any.
    """

    values: Rule = field(default_factory=Rule)
    sources: tuple[Source, ...] = tuple(NO_SOURCE for _ in FIELDS)
    revocation: Revocation | None = None


EMPTY_LAYER = Layer()


@dataclass(frozen=True, slots=True)
class Ceilings:
    """The site-wide upper bounds of the limits (``LOGOUT_RULES_MAX_*``), in seconds.

    ``None`` means no ceiling. Like the settings level, ceilings are merged at request time and
    never stored in the cached ``Layer``, so a changed ceiling applies at once.
    """

    idle_time: float | None = None
    session_time: float | None = None

    def get(self, name: str) -> float | None:
        value: float | None = getattr(self, name)
        return value


NO_CEILINGS = Ceilings()
#: The source of a value a ceiling decided, per limit.
CEILING_SOURCES: dict[str, Source] = {
    name: Source(KIND_CEILING, setting) for name, setting in CEILING_SETTINGS.items()
}


@dataclass(frozen=True, slots=True)
class Policy:
    """The effective policy for one user: every level merged, defaults applied."""

    idle_time: float | None = None
    session_time: float | None = None
    warning_time: float | None = None
    message: str = ""
    redirect_to_login_immediately: bool = False
    sources: tuple[Source, ...] = tuple(NO_SOURCE for _ in FIELDS)
    revocation: Revocation | None = None

    @property
    def has_limit(self) -> bool:
        return self.idle_time is not None or self.session_time is not None

    @property
    def enforced(self) -> bool:
        """Whether sessions of this user must be judged at all (a limit or a revocation)."""
        return (
            self.idle_time is not None
            or self.session_time is not None
            or self.revocation is not None
        )  # ``has_limit``, inlined: asked on every request

    def source(self, name: str) -> Source:
        return self.sources[FIELDS.index(name)]

    def as_dict(self) -> dict[str, object]:
        """JSON-safe values (for signals, logs and the status endpoint)."""
        return {name: getattr(self, name) for name in FIELDS}


NO_POLICY = Policy()


# --- resolution --------------------------------------------------------------------------------


def _strictest(name: str, candidates: Sequence[tuple[str, object]]) -> object:
    """Among equal-priority group values (``(group name, value)``), pick the strictest.

    Shortest duration for the limits; the longest warning (the user is warned earliest); redirect
    flag ``True`` over ``False``; the message of the first group by name.
    """
    values = [value for _, value in candidates]
    if name in ("idle_time", "session_time"):
        return min(values)  # type: ignore[type-var]
    if name == "warning_time":
        return max(values)  # type: ignore[type-var]
    if name == "redirect_to_login_immediately":
        return any(values)
    return min(candidates, key=lambda item: item[0])[1]


def _winning_groups(name: str, groups: Sequence[GroupRule]) -> tuple[object, Source] | None:
    setters = [group for group in groups if group.rule.get(name) is not None]
    if not setters:
        return None
    best = min(group.priority for group in setters)
    top = sorted(
        ((group.name, group.rule.get(name)) for group in setters if group.priority == best),
        key=lambda item: item[0],
    )
    value = _strictest(name, top)
    # Name the group that supplied the value; for a tie on the value, the first by name.
    origin = next(group_name for group_name, candidate in top if candidate == value)
    return value, Source(KIND_GROUP, origin)


def resolve_layer(
    user_rule: Rule | None,
    group_rules: Iterable[GroupRule],
    global_rule: Rule | None,
    revocation: Revocation | None = None,
) -> Layer:
    """Merge the database levels per field: user rule → group rules → global rule.

    Callers pass only enabled rules. Among groups, the rules with the lowest ``priority`` number
    that set the field decide; ties go to the strictest value (see ``_strictest``). The latest
    applicable revocation is carried as is.
    """
    groups = list(group_rules)
    values: dict[str, object] = {}
    sources: list[Source] = []
    for name in FIELDS:
        found: tuple[object, Source] | None = None
        if user_rule is not None and user_rule.get(name) is not None:
            found = user_rule.get(name), USER_SOURCE
        if found is None:
            found = _winning_groups(name, groups)
        if found is None and global_rule is not None and global_rule.get(name) is not None:
            found = global_rule.get(name), GLOBAL_SOURCE
        if found is None:
            values[name] = None
            sources.append(NO_SOURCE)
        else:
            values[name] = found[0]
            sources.append(found[1])
    return Layer(
        values=Rule(**values),  # type: ignore[arg-type]
        sources=tuple(sources),
        revocation=revocation,
    )


def merge(layer: Layer, settings_rule: Rule, ceilings: Ceilings = NO_CEILINGS) -> Policy:
    """Put the settings level (``AUTO_LOGOUT``) under the database levels, bound the limits by
    the ceilings and apply defaults."""
    merged: dict[str, object] = {}
    sources: list[Source] = []
    for index, name in enumerate(FIELDS):
        value = layer.values.get(name)
        source = layer.sources[index]
        if value is None:
            value = settings_rule.get(name)
            source = SETTINGS_SOURCE if value is not None else NO_SOURCE
        merged[name] = value
        sources.append(source)
    if ceilings is not NO_CEILINGS:
        _apply_ceilings(merged, sources, ceilings)
    if merged["message"] is None:
        merged["message"] = ""
    if merged["redirect_to_login_immediately"] is None:
        merged["redirect_to_login_immediately"] = False
    return Policy(sources=tuple(sources), revocation=layer.revocation, **merged)  # type: ignore[arg-type]


def _apply_ceilings(merged: dict[str, object], sources: list[Source], ceilings: Ceilings) -> None:
    """Each limit becomes the smaller of its value and its ceiling; no limit becomes the ceiling.

    When a ceiling lowers a limit to the warning time or below, the warning would show as soon as
    a page loads (or never before the end): it is cut to half the lowered limit, so it still comes
    before the logout. A value equal to its ceiling keeps its own source.
    """
    lowered: list[tuple[float, Source]] = []
    for name in LIMIT_FIELDS:
        ceiling = ceilings.get(name)
        value = merged[name]
        if ceiling is None or (isinstance(value, int | float) and value <= ceiling):
            continue
        source = CEILING_SOURCES[name]
        merged[name] = ceiling
        sources[FIELDS.index(name)] = source
        lowered.append((ceiling, source))
    warning = merged["warning_time"]
    if lowered and isinstance(warning, int | float):
        limit, source = min(lowered, key=lambda item: item[0])
        if warning >= limit:
            merged["warning_time"] = limit / 2
            sources[FIELDS.index("warning_time")] = source


def resolve(
    user_rule: Rule | None,
    group_rules: Iterable[GroupRule],
    global_rule: Rule | None,
    settings_rule: Rule,
    ceilings: Ceilings = NO_CEILINGS,
) -> Policy:
    """All levels at once: user → groups → global → settings → no limit, within the ceilings."""
    return merge(resolve_layer(user_rule, group_rules, global_rule), settings_rule, ceilings)


# --- judging a session -------------------------------------------------------------------------


class Verdict(NamedTuple):
    """Whether a session is still alive at ``now``, and how long each limit has left.

    (A named tuple rather than a frozen dataclass: ``judge`` runs on every request, and a frozen
    dataclass takes three times as long to build.)
    """

    expired: bool
    reason: Reason | None = None
    seconds_until_idle_end: float | None = None
    seconds_until_session_end: float | None = None


def revoked(policy: Policy, login_at: float) -> bool:
    """Whether a revocation ends this session: it logged in at or before ``not_before``."""
    return policy.revocation is not None and login_at <= policy.revocation.not_before


def judge(policy: Policy, now: float, login_at: float, activity_at: float) -> Verdict:
    """Judge a session. It expires when the elapsed time is *strictly greater* than a limit, or
    when a revocation applies to its login (reason ``"revoked"``, which comes first).

    When both limits have passed, the reason is the one whose deadline passed first.
    """
    idle_left = None if policy.idle_time is None else policy.idle_time - (now - activity_at)
    session_left = None if policy.session_time is None else policy.session_time - (now - login_at)
    idle_over = idle_left is not None and idle_left < 0
    session_over = session_left is not None and session_left < 0
    reason: Reason | None = None
    if revoked(policy, login_at):
        reason = "revoked"
    elif idle_over and session_over:
        assert idle_left is not None
        assert session_left is not None
        reason = "session" if session_left <= idle_left else "idle"
    elif idle_over:
        reason = "idle"
    elif session_over:
        reason = "session"
    return Verdict(
        expired=reason is not None,
        reason=reason,
        seconds_until_idle_end=idle_left,
        seconds_until_session_end=session_left,
    )


def alive(policy: Policy, now: float, login_at: float, activity_at: float) -> bool:
    """Whether ``judge`` finds the session alive (not expired), without building its verdict: the
    warm request's check (``judge`` then tells why a session that is not alive expired).

    The very comparisons of ``judge``: ``limit - elapsed < 0`` is ``elapsed > limit`` for floats.
    """
    revocation = policy.revocation
    if revocation is not None and login_at <= revocation.not_before:
        return False
    idle_time = policy.idle_time
    if idle_time is not None and now - activity_at > idle_time:
        return False
    session_time = policy.session_time
    return session_time is None or not now - login_at > session_time


#: The longest time between two activity writes when the idle limit is long.
DEFAULT_MAX_RESOLUTION = 60.0
#: The share of the idle limit used as the activity resolution by default.
DEFAULT_RESOLUTION_SHARE = 0.05


def activity_resolution(idle_time: float | None, configured: float | None) -> float:
    """How stale the recorded activity may get before a request writes it again.

    Default: ``min(60 s, 5 % of the idle limit)``. A configured value is used as given but never
    exceeds half the idle limit, so a logout is at most one resolution early and never late.
    """
    if idle_time is None:
        return math.inf
    if configured is None:
        return min(DEFAULT_MAX_RESOLUTION, idle_time * DEFAULT_RESOLUTION_SHARE)
    return min(configured, idle_time / 2)


def activity_due(policy: Policy, now: float, activity_at: float, configured: float | None) -> bool:
    """Whether this request should record activity (only when an idle limit applies)."""
    idle_time = policy.idle_time
    if idle_time is None:
        return False
    if configured is None:  # ``activity_resolution``, inlined: this runs on every request
        share = idle_time * DEFAULT_RESOLUTION_SHARE
        resolution = DEFAULT_MAX_RESOLUTION if share >= DEFAULT_MAX_RESOLUTION else share
    else:
        resolution = min(configured, idle_time / 2)
    return now - activity_at >= resolution


def seconds_left(value: float | None) -> int | None:
    """Whole seconds for templates and JSON, rounded up so a client never acts too early."""
    if value is None:
        return None
    return max(0, math.ceil(value))


def warning_due(policy: Policy, idle_left: float | None) -> bool:
    """Whether the "you will be logged out" warning should show now."""
    if policy.warning_time is None or idle_left is None:
        return False
    return idle_left <= policy.warning_time
