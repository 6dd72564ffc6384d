"""Property-based tests (hypothesis) of the pure decisions in ``logout_rules.policy``.

The table tests in ``test_policy.py`` pin examples; these state the rules for every input:

* per field, the most specific level that sets it wins (user → groups → global → settings);
* among the winning-priority groups, the strictest value wins;
* adding a stricter rule never lengthens a limit;
* a session is never judged alive past its limit, and activity recorded at most once per
  resolution makes a logout at most one resolution early, never late.
"""

from __future__ import annotations

import math

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from logout_rules.policy import (
    FIELDS,
    KIND_DEFAULT,
    KIND_GLOBAL,
    KIND_GROUP,
    KIND_SETTINGS,
    KIND_USER,
    GroupRule,
    Policy,
    Revocation,
    Rule,
    activity_due,
    activity_resolution,
    alive,
    judge,
    resolve,
)

LIMITS = ("idle_time", "session_time")

durations = st.floats(min_value=0.001, max_value=10 * 365 * 86400.0, allow_nan=False)
maybe_duration = st.none() | durations
messages = st.none() | st.text(max_size=20)
flags = st.none() | st.booleans()

rules = st.builds(
    Rule,
    idle_time=maybe_duration,
    session_time=maybe_duration,
    warning_time=maybe_duration,
    message=messages,
    redirect_to_login_immediately=flags,
)
maybe_rule = st.none() | rules


@st.composite
def group_lists(draw: st.DrawFn, max_size: int = 6) -> list[GroupRule]:
    names = draw(
        st.lists(st.text("abcdefgh", min_size=1, max_size=4), unique=True, max_size=max_size)
    )
    return [GroupRule(name, draw(st.integers(1, 4)), draw(rules)) for name in names]


def strictest(name: str, groups: list[GroupRule]) -> object:
    """The reference for the tie-break among equal-priority groups, written out per field."""
    values = sorted((group.name, group.rule.get(name)) for group in groups)
    if name in LIMITS:
        return min(value for _, value in values)  # type: ignore[type-var]
    if name == "warning_time":
        return max(value for _, value in values)  # type: ignore[type-var]
    if name == "redirect_to_login_immediately":
        return any(value for _, value in values)
    return values[0][1]  # the message of the first group by name


def expected(
    name: str,
    user: Rule | None,
    groups: list[GroupRule],
    global_rule: Rule | None,
    settings_rule: Rule,
) -> tuple[object, str]:
    """The resolution rule as the README states it, for one field: (value, source kind)."""
    if user is not None and user.get(name) is not None:
        return user.get(name), KIND_USER
    setters = [group for group in groups if group.rule.get(name) is not None]
    if setters:
        best = min(group.priority for group in setters)
        return strictest(name, [g for g in setters if g.priority == best]), KIND_GROUP
    if global_rule is not None and global_rule.get(name) is not None:
        return global_rule.get(name), KIND_GLOBAL
    if settings_rule.get(name) is not None:
        return settings_rule.get(name), KIND_SETTINGS
    return None, KIND_DEFAULT


def limit(value: float | None) -> float:
    """A limit as a number: no limit is infinitely long."""
    return math.inf if value is None else value


@given(maybe_rule, group_lists(), maybe_rule, rules)
def test_the_most_specific_level_that_sets_a_field_wins(user, groups, global_rule, settings_rule):
    effective = resolve(user, groups, global_rule, settings_rule)
    for name in FIELDS:
        value, kind = expected(name, user, groups, global_rule, settings_rule)
        if value is None and name == "message":
            value = ""
        if value is None and name == "redirect_to_login_immediately":
            value = False
        assert getattr(effective, name) == value, name
        assert effective.source(name).kind == kind, name


@given(group_lists(), st.sampled_from(FIELDS))
def test_among_equal_priority_groups_the_strictest_value_wins(groups, name):
    setters = [group for group in groups if group.rule.get(name) is not None]
    assume(setters)
    best = min(group.priority for group in setters)
    top = [group for group in setters if group.priority == best]
    effective = resolve(None, groups, None, Rule())
    value = getattr(effective, name)
    if name in LIMITS:
        assert value == min(group.rule.get(name) for group in top)
        # No group of that priority has a shorter limit, and the named source has this value.
        source = next(g for g in top if g.name == effective.source(name).name)
        assert source.rule.get(name) == value
    elif name == "redirect_to_login_immediately":
        assert value is any(group.rule.get(name) for group in top)
    else:
        assert value == strictest(name, top)


@given(maybe_rule, group_lists(), maybe_rule, rules, st.sampled_from(LIMITS), durations, st.data())
def test_adding_a_stricter_group_rule_never_lengthens_a_limit(
    user, groups, global_rule, settings_rule, name, candidate, data
):
    before = limit(getattr(resolve(user, groups, global_rule, settings_rule), name))
    assume(candidate <= before)
    new_name = data.draw(st.text("xyz", min_size=1, max_size=3))
    assume(all(group.name != new_name for group in groups))
    stricter = GroupRule(new_name, data.draw(st.integers(1, 4)), Rule(**{name: candidate}))
    after = limit(getattr(resolve(user, [*groups, stricter], global_rule, settings_rule), name))
    assert after <= before


@given(maybe_rule, group_lists(), maybe_rule, rules, st.sampled_from(LIMITS), durations)
def test_a_stricter_value_at_any_level_never_lengthens_a_limit(
    user, groups, global_rule, settings_rule, name, candidate
):
    """Setting a field, at the user level or on every level below it, to a value no longer than
    the current effective one never makes the effective limit longer."""
    before = limit(getattr(resolve(user, groups, global_rule, settings_rule), name))
    assume(candidate <= before)

    def tightened(rule: Rule | None) -> Rule:
        values = {field: None if rule is None else rule.get(field) for field in FIELDS}
        values[name] = min(limit(values[name]), candidate)
        return Rule(**values)

    as_user = resolve(tightened(user), groups, global_rule, settings_rule)
    assert limit(getattr(as_user, name)) <= before
    everywhere = resolve(
        user if user is None or user.get(name) is None else tightened(user),
        [GroupRule(g.name, g.priority, tightened(g.rule)) for g in groups],
        tightened(global_rule),
        tightened(settings_rule),
    )
    assert limit(getattr(everywhere, name)) <= before


policies = st.builds(Policy, idle_time=maybe_duration, session_time=maybe_duration)
instants = st.floats(min_value=0, max_value=1e9, allow_nan=False)
gaps = st.floats(min_value=0, max_value=1e7, allow_nan=False)


@given(policies, instants, gaps, gaps)
def test_a_session_is_never_judged_alive_past_its_limit(effective, login_at, idle_for, since):
    activity_at = login_at + since
    now = activity_at + idle_for
    verdict = judge(effective, now, login_at, activity_at)
    over_idle = effective.idle_time is not None and now - activity_at > effective.idle_time
    over_session = effective.session_time is not None and now - login_at > effective.session_time
    assert verdict.expired == (over_idle or over_session)
    if verdict.expired:
        assert verdict.reason in ("idle", "session")
        assert verdict.reason != "idle" or over_idle
        assert verdict.reason != "session" or over_session


@settings(max_examples=200)
@given(
    st.floats(min_value=1, max_value=86400, allow_nan=False),
    st.none() | st.floats(min_value=0, max_value=3600, allow_nan=False),
    st.lists(st.floats(min_value=0, max_value=5000, allow_nan=False), min_size=1, max_size=30),
    st.data(),
)
def test_activity_written_once_per_resolution_expires_never_late_at_most_one_resolution_early(
    idle, configured, request_gaps, data
):
    """Replay a series of requests the way the middleware records them (activity written only
    when due), then judge a last request ``wait`` seconds after the last one."""
    effective = Policy(idle_time=idle)
    resolution = activity_resolution(idle, configured)
    # Anywhere, or close to the two boundaries that matter.
    wait = data.draw(
        st.floats(min_value=0, max_value=200000, allow_nan=False)
        | st.floats(min_value=idle, max_value=idle + 2, exclude_min=True)
        | st.floats(min_value=max(0.0, idle - resolution - 2), max_value=idle - resolution)
    )
    login = now = 1_000_000.0
    recorded = login
    for gap in request_gaps:
        now += gap
        if judge(effective, now, login, recorded).expired:
            return  # the session ended on the way: nothing more to check for this series
        if activity_due(effective, now, recorded, configured):
            recorded = now
    last_request = now
    at = last_request + wait
    verdict = judge(effective, at, login, recorded)
    assert recorded <= last_request
    assert last_request - recorded < resolution or last_request == recorded
    # Stated on the instants themselves (``at - last_request``, not ``wait``): that is what the
    # app sees, and float rounding of epoch seconds makes the two differ below a microsecond.
    if at - last_request > idle:
        assert verdict.expired  # never late
    if at - last_request <= idle - resolution - 1e-6:
        assert not verdict.expired  # at most one resolution early


@given(st.floats(min_value=0.001, max_value=1e9, allow_nan=False), st.none() | durations)
def test_activity_resolution_never_exceeds_half_the_idle_limit(idle, configured):
    resolution = activity_resolution(idle, configured)
    assert 0 <= resolution <= idle / 2
    assert activity_resolution(None, configured) == math.inf


# --- the warm path's shortcuts agree with the general functions ---------------------------------

instants = st.floats(min_value=0.0, max_value=4e9, allow_nan=False)
maybe_revocation = st.none() | st.builds(Revocation, not_before=instants, scope=st.just("user"))


@given(
    idle=maybe_duration,
    session=maybe_duration,
    revocation=maybe_revocation,
    now=instants,
    login_back=st.floats(min_value=0.0, max_value=1e9) | st.sampled_from([0.0, 600.0, 3600.0]),
    activity_back=st.floats(min_value=0.0, max_value=1e9) | st.sampled_from([0.0, 600.0]),
)
@settings(max_examples=500)
def test_alive_is_exactly_judge_not_expired(idle, session, revocation, now, login_back,
                                             activity_back):  # fmt: skip
    """``alive`` (the warm path's check) says what ``judge`` says, at the boundaries too."""
    effective = Policy(idle_time=idle, session_time=session, revocation=revocation)
    login_at, activity_at = now - login_back, now - activity_back
    assert (
        alive(effective, now, login_at, activity_at)
        is not judge(effective, now, login_at, activity_at).expired
    )
    # Exactly at a limit: alive (a limit passes only when the elapsed time is greater).
    if idle is not None:
        exact = Policy(idle_time=idle)
        assert alive(exact, now, now, now - idle) is not judge(exact, now, now, now - idle).expired


@given(
    idle=st.none() | durations | st.sampled_from([1200.0, 1199.9, 20.0]),
    configured=st.none() | st.floats(min_value=0.0, max_value=1e6) | st.sampled_from([math.inf]),
    elapsed=st.floats(min_value=0.0, max_value=1e6) | st.sampled_from([60.0, 59.99, 1.0]),
)
def test_activity_due_is_the_elapsed_time_against_the_resolution(idle, configured, elapsed):
    """``activity_due`` (``activity_resolution`` inlined) against its definition."""
    now = 2e9
    activity_at = now - elapsed
    expected = idle is not None and now - activity_at >= activity_resolution(idle, configured)
    assert activity_due(Policy(idle_time=idle), now, activity_at, configured) is expected
