"""The pure decisions, as plain tables (no database, no Django)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from logout_rules.policy import (
    FIELDS,
    KIND_CEILING,
    KIND_DEFAULT,
    KIND_GLOBAL,
    KIND_GROUP,
    KIND_SETTINGS,
    KIND_USER,
    NO_CEILINGS,
    NO_SOURCE,
    SCOPE_EVERYONE,
    SCOPE_GROUP,
    SCOPE_USER,
    SETTINGS_SOURCE,
    USER_SOURCE,
    Ceilings,
    GroupRule,
    Policy,
    Revocation,
    Rule,
    Source,
    activity_due,
    activity_resolution,
    judge,
    merge,
    resolve,
    resolve_layer,
    seconds_left,
    warning_due,
)

MIN = 60.0
NO_SETTINGS = Rule()


def group(name: str, priority: int, **values: object) -> GroupRule:
    return GroupRule(name, priority, Rule(**values))


def test_issue_example_staff_beats_everyone_and_user_rule_keeps_group_idle():
    """The example from the issue: staff (prio 10, idle 5 min) + everyone (prio 100, 30 min)."""
    groups = [group("staff", 10, idle_time=5 * MIN), group("everyone", 100, idle_time=30 * MIN)]
    effective = resolve(None, groups, None, NO_SETTINGS)
    assert effective.idle_time == 5 * MIN
    assert effective.source("idle_time") == Source(KIND_GROUP, "staff")

    with_user_rule = resolve(Rule(session_time=60 * MIN), groups, None, NO_SETTINGS)
    assert with_user_rule.session_time == 60 * MIN
    assert with_user_rule.source("session_time").kind == KIND_USER
    assert with_user_rule.idle_time == 5 * MIN
    assert with_user_rule.source("idle_time") == Source(KIND_GROUP, "staff")


# (user rule, groups, global rule, settings) -> expected (idle, idle source kind)
LEVEL_TABLE = [
    pytest.param(
        Rule(idle_time=1),
        [group("g", 1, idle_time=2)],
        Rule(idle_time=3),
        Rule(idle_time=4),
        (1, KIND_USER),
        id="user-wins",
    ),
    pytest.param(
        None,
        [group("g", 1, idle_time=2)],
        Rule(idle_time=3),
        Rule(idle_time=4),
        (2, KIND_GROUP),
        id="group-over-global",
    ),
    pytest.param(
        Rule(session_time=9),
        [group("g", 1, session_time=2)],
        Rule(idle_time=3),
        Rule(idle_time=4),
        (3, KIND_GLOBAL),
        id="global-when-no-one-above-sets-it",
    ),
    pytest.param(None, [], None, Rule(idle_time=4), (4, KIND_SETTINGS), id="settings"),
    pytest.param(None, [], None, NO_SETTINGS, (None, KIND_DEFAULT), id="no-limit"),
    pytest.param(
        Rule(), [group("g", 1)], Rule(), Rule(idle_time=4), (4, KIND_SETTINGS), id="empty-rules"
    ),
]


@pytest.mark.parametrize(("user", "groups", "global_", "settings_", "expected"), LEVEL_TABLE)
def test_most_specific_level_that_sets_the_field_wins(user, groups, global_, settings_, expected):
    effective = resolve(user, groups, global_, settings_)
    assert (effective.idle_time, effective.source("idle_time").kind) == expected


GROUP_TABLE = [
    # groups, field, expected value, expected source group
    pytest.param(
        [group("a", 10, idle_time=600), group("b", 10, idle_time=300)],
        "idle_time",
        300,
        "b",
        id="tie-shortest-idle",
    ),
    pytest.param(
        [group("a", 10, session_time=600), group("b", 50, session_time=60)],
        "session_time",
        600,
        "a",
        id="lower-priority-number-wins-even-if-longer",
    ),
    pytest.param(
        [group("a", 10), group("b", 50, session_time=60)],
        "session_time",
        60,
        "b",
        id="only-setters-compete",
    ),
    pytest.param(
        [
            group("a", 5, redirect_to_login_immediately=False),
            group("b", 5, redirect_to_login_immediately=True),
        ],
        "redirect_to_login_immediately",
        True,
        "b",
        id="tie-redirect-true-over-false",
    ),
    pytest.param(
        [group("zeta", 5, message="from zeta"), group("alpha", 5, message="from alpha")],
        "message",
        "from alpha",
        "alpha",
        id="tie-message-first-by-name",
    ),
    pytest.param(
        [group("zeta", 1, message=""), group("alpha", 5, message="alpha")],
        "message",
        "",
        "zeta",
        id="explicit-no-message-from-priority-group",
    ),
    pytest.param(
        [group("a", 5, warning_time=30), group("b", 5, warning_time=60)],
        "warning_time",
        60,
        "b",
        id="tie-longest-warning",
    ),
    pytest.param(
        [group("b", 5, idle_time=60), group("a", 5, idle_time=60)],
        "idle_time",
        60,
        "a",
        id="tie-same-value-names-first-group",
    ),
]


@pytest.mark.parametrize(("groups", "name", "value", "origin"), GROUP_TABLE)
def test_group_tie_breaks(groups, name, value, origin):
    effective = resolve(None, groups, None, NO_SETTINGS)
    assert getattr(effective, name) == value
    assert effective.source(name) == Source(KIND_GROUP, origin)


def test_message_none_inherits_and_empty_string_means_no_message():
    settings_rule = Rule(message="from settings")
    assert resolve(Rule(message=None), [], None, settings_rule).message == "from settings"
    explicit = resolve(Rule(message=""), [], None, settings_rule)
    assert explicit.message == ""
    assert explicit.source("message").kind == KIND_USER


def test_defaults_when_nothing_is_set():
    effective = resolve(None, [], None, NO_SETTINGS)
    assert effective == Policy()
    assert not effective.has_limit
    assert effective.message == ""
    assert effective.redirect_to_login_immediately is False
    assert [source.describe() for source in effective.sources] == ["no limit"] * len(FIELDS)


def test_layer_then_merge_equals_resolve():
    groups = [group("g", 3, idle_time=10, message="g")]
    layer = resolve_layer(Rule(session_time=5), groups, Rule(redirect_to_login_immediately=True))
    settings_rule = Rule(idle_time=99, warning_time=3)
    assert merge(layer, settings_rule) == resolve(
        Rule(session_time=5), groups, Rule(redirect_to_login_immediately=True), settings_rule
    )


@pytest.mark.parametrize(
    ("source", "text"),
    [
        (Source(KIND_USER), "user rule"),
        (Source(KIND_GROUP, "staff"), 'group "staff"'),
        (Source(KIND_GLOBAL), "global rule"),
        (Source(KIND_SETTINGS), "settings"),
        (Source(KIND_DEFAULT), "no limit"),
    ],
)
def test_source_descriptions(source, text):
    assert source.describe() == text


# --- judging -----------------------------------------------------------------------------------

IDLE_60 = Policy(idle_time=60)
SESSION_100 = Policy(session_time=100)
BOTH = Policy(idle_time=60, session_time=100)

# policy, now, login_at, activity_at -> (expired, reason)
JUDGE_TABLE = [
    pytest.param(IDLE_60, 60, 0, 0, (False, None), id="idle-exactly-at-limit-alive"),
    pytest.param(IDLE_60, 60.001, 0, 0, (True, "idle"), id="idle-just-past-limit"),
    pytest.param(SESSION_100, 100, 0, 100, (False, None), id="session-exactly-at-limit-alive"),
    pytest.param(SESSION_100, 100.5, 0, 100, (True, "session"), id="session-past-limit"),
    pytest.param(BOTH, 90, 0, 50, (False, None), id="both-alive"),
    pytest.param(BOTH, 101, 0, 80, (True, "session"), id="session-only"),
    pytest.param(BOTH, 200, 0, 10, (True, "idle"), id="idle-deadline-passed-first"),
    pytest.param(BOTH, 200, 0, 90, (True, "session"), id="session-deadline-passed-first"),
    pytest.param(Policy(), 10**9, 0, 0, (False, None), id="no-limits-never-expire"),
]


@pytest.mark.parametrize(("effective", "now", "login_at", "activity_at", "expected"), JUDGE_TABLE)
def test_judge(effective, now, login_at, activity_at, expected):
    verdict = judge(effective, now, login_at, activity_at)
    assert (verdict.expired, verdict.reason) == expected


def test_judge_reports_time_left():
    verdict = judge(BOTH, 30, 0, 20)
    assert verdict.seconds_until_idle_end == 50
    assert verdict.seconds_until_session_end == 70
    assert judge(Policy(), 30, 0, 20).seconds_until_idle_end is None


@pytest.mark.parametrize(
    ("idle", "configured", "expected"),
    [
        (None, None, math.inf),
        (600, None, 30),  # 5 % of 10 minutes
        (3600, None, 60),  # capped at 60 s
        (3600, 5, 5),
        (10, 20, 5),  # never more than half the idle limit
        (600, 0, 0),
    ],
)
def test_activity_resolution(idle, configured, expected):
    assert activity_resolution(idle, configured) == expected


def test_activity_due_only_with_idle_limit_and_after_resolution():
    assert not activity_due(SESSION_100, 1000, 0, None)
    assert not activity_due(IDLE_60, 2.9, 0, None)  # resolution = 3 s
    assert activity_due(IDLE_60, 3, 0, None)


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), (1.2, 2), (0.0, 0), (-5, 0), (59.0, 59)]
)
def test_seconds_left_rounds_up_and_never_negative(value, expected):
    assert seconds_left(value) == expected


def test_warning_due():
    effective = Policy(idle_time=60, warning_time=20)
    assert not warning_due(effective, 21)
    assert warning_due(effective, 20)
    assert not warning_due(Policy(idle_time=60), 1)
    assert not warning_due(effective, None)


# --- revocations ("sign out now") ----------------------------------------------------------------


def revoked_policy(not_before: float, **limits: float) -> Policy:
    return replace(
        Policy(**limits),
        revocation=Revocation(not_before, SCOPE_USER),
    )


@pytest.mark.parametrize(
    ("login_at", "expired"),
    [(999.0, True), (1000.0, True), (1000.000001, False), (5000.0, False)],
    ids=["before", "at", "just-after", "long-after"],
)
def test_a_revocation_ends_sessions_that_logged_in_at_or_before_it(login_at, expired):
    verdict = judge(revoked_policy(1000.0), now=6000.0, login_at=login_at, activity_at=5999.0)
    assert verdict.expired is expired
    assert verdict.reason == ("revoked" if expired else None)


def test_a_revocation_comes_before_a_passed_limit():
    effective = revoked_policy(1000.0, idle_time=60.0, session_time=100.0)
    verdict = judge(effective, now=5000.0, login_at=500.0, activity_at=500.0)
    assert verdict.reason == "revoked"


def test_a_revocation_is_enforced_without_any_limit():
    assert not Policy().enforced
    effective = revoked_policy(1000.0)
    assert not effective.has_limit
    assert effective.enforced


@pytest.mark.parametrize(
    ("revocation", "text"),
    [
        (Revocation(1.0, SCOPE_USER), "revocation of user"),
        (Revocation(1.0, SCOPE_GROUP, "staff"), 'revocation of group "staff"'),
        (Revocation(1.0, SCOPE_EVERYONE), "revocation of everyone"),
    ],
)
def test_revocation_sources_in_explain_words(revocation, text):
    assert revocation.describe() == text


def test_merge_carries_the_revocation_of_the_layer():
    revocation = Revocation(1.0, SCOPE_GROUP, "staff")
    layer = resolve_layer(None, [], None, revocation)
    assert merge(layer, Rule(idle_time=60.0)).revocation is revocation


# --- ceilings (LOGOUT_RULES_MAX_*) ----------------------------------------------------------------

IDLE_CEILING = Source(KIND_CEILING, "LOGOUT_RULES_MAX_IDLE_TIME")
SESSION_CEILING = Source(KIND_CEILING, "LOGOUT_RULES_MAX_SESSION_TIME")

# (database layer values, settings, ceilings) -> (idle, idle source, session, session source)
CEILING_TABLE = [
    pytest.param(
        Rule(idle_time=120 * MIN),
        Rule(),
        Ceilings(idle_time=15 * MIN),
        (15 * MIN, IDLE_CEILING, None, NO_SOURCE),
        id="looser-rule-lowered",
    ),
    pytest.param(
        Rule(idle_time=5 * MIN),
        Rule(),
        Ceilings(idle_time=15 * MIN),
        (5 * MIN, USER_SOURCE, None, NO_SOURCE),
        id="stricter-rule-kept",
    ),
    pytest.param(
        Rule(idle_time=15 * MIN),
        Rule(),
        Ceilings(idle_time=15 * MIN),
        (15 * MIN, USER_SOURCE, None, NO_SOURCE),
        id="equal-keeps-its-source",
    ),
    pytest.param(
        Rule(),
        Rule(),
        Ceilings(idle_time=15 * MIN, session_time=8 * 60 * MIN),
        (15 * MIN, IDLE_CEILING, 8 * 60 * MIN, SESSION_CEILING),
        id="no-limit-becomes-the-ceiling",
    ),
    pytest.param(
        Rule(),
        Rule(idle_time=60 * MIN, session_time=60 * MIN),
        Ceilings(idle_time=30 * MIN, session_time=2 * 60 * MIN),
        (30 * MIN, IDLE_CEILING, 60 * MIN, SETTINGS_SOURCE),
        id="settings-bounded-too",
    ),
    pytest.param(
        Rule(idle_time=120 * MIN, session_time=10 * 60 * MIN),
        Rule(),
        NO_CEILINGS,
        (120 * MIN, USER_SOURCE, 10 * 60 * MIN, USER_SOURCE),
        id="no-ceilings",
    ),
    pytest.param(
        Rule(idle_time=120 * MIN),
        Rule(),
        Ceilings(session_time=60 * MIN),
        (120 * MIN, USER_SOURCE, 60 * MIN, SESSION_CEILING),
        id="only-a-session-ceiling",
    ),
]


@pytest.mark.parametrize(("values", "settings_rule", "ceilings", "expected"), CEILING_TABLE)
def test_ceilings_bound_every_limit(values, settings_rule, ceilings, expected):
    layer = resolve_layer(values, [], None)
    effective = merge(layer, settings_rule, ceilings)
    assert (
        effective.idle_time,
        effective.source("idle_time"),
        effective.session_time,
        effective.source("session_time"),
    ) == expected


def test_a_ceiling_bounds_groups_and_global_rules_too():
    groups = [group("staff", 10, idle_time=60 * MIN)]
    effective = resolve(
        None,
        groups,
        Rule(session_time=48 * 60 * MIN),
        NO_SETTINGS,
        Ceilings(idle_time=15 * MIN, session_time=8 * 60 * MIN),
    )
    assert (effective.idle_time, effective.session_time) == (15 * MIN, 8 * 60 * MIN)
    assert effective.source("idle_time").describe() == "ceiling LOGOUT_RULES_MAX_IDLE_TIME"
    assert effective.source("session_time").describe() == "ceiling LOGOUT_RULES_MAX_SESSION_TIME"


# (limits, warning, ceilings) -> (warning, its source kind)
WARNING_TABLE = [
    pytest.param(
        Rule(idle_time=120 * MIN, warning_time=5 * MIN),
        Ceilings(idle_time=15 * MIN),
        (5 * MIN, KIND_USER),
        id="warning-still-shorter-kept",
    ),
    pytest.param(
        Rule(idle_time=120 * MIN, warning_time=20 * MIN),
        Ceilings(idle_time=15 * MIN),
        (7.5 * MIN, KIND_CEILING),
        id="warning-longer-than-lowered-limit-halved",
    ),
    pytest.param(
        Rule(idle_time=120 * MIN, warning_time=15 * MIN),
        Ceilings(idle_time=15 * MIN),
        (7.5 * MIN, KIND_CEILING),
        id="warning-equal-to-lowered-limit-halved",
    ),
    pytest.param(
        Rule(warning_time=20 * MIN),
        Ceilings(idle_time=15 * MIN),
        (7.5 * MIN, KIND_CEILING),
        id="no-limit-became-the-ceiling",
    ),
    pytest.param(
        Rule(idle_time=120 * MIN, session_time=120 * MIN, warning_time=20 * MIN),
        Ceilings(idle_time=60 * MIN, session_time=10 * MIN),
        (5 * MIN, KIND_CEILING),
        id="the-smaller-lowered-limit-decides",
    ),
    pytest.param(
        Rule(idle_time=10 * MIN, warning_time=20 * MIN),
        Ceilings(idle_time=15 * MIN),
        (20 * MIN, KIND_USER),
        id="ceiling-did-not-decide-untouched",
    ),
    pytest.param(
        Rule(idle_time=120 * MIN),
        Ceilings(idle_time=15 * MIN),
        (None, KIND_DEFAULT),
        id="no-warning-stays-none",
    ),
]


@pytest.mark.parametrize(("values", "ceilings", "expected"), WARNING_TABLE)
def test_the_warning_still_comes_before_a_lowered_limit(values, ceilings, expected):
    effective = merge(resolve_layer(values, [], None), NO_SETTINGS, ceilings)
    assert (effective.warning_time, effective.source("warning_time").kind) == expected
    limits = [value for value in (effective.idle_time, effective.session_time) if value]
    if effective.warning_time is not None and effective.source("warning_time").kind == KIND_CEILING:
        assert effective.warning_time < min(limits)
        # Whatever the activity, the warning shows before the end: half the limit is left.
        assert warning_due(effective, min(limits) / 2)
        assert not warning_due(effective, min(limits) - 1)
