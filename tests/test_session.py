"""Reading and writing our session keys."""

from __future__ import annotations

import pytest

from logout_rules import session as s

NOW = 1_000_000.0


def test_read_times_of_a_normal_session():
    store = {s.LOGIN_KEY: NOW - 100, s.ACTIVITY_KEY: NOW - 10}
    assert s.read_times(store, NOW, lambda: None) == s.Times(NOW - 100, NOW - 10)


def test_activity_never_before_login():
    store = {s.LOGIN_KEY: NOW - 100, s.ACTIVITY_KEY: NOW - 500}
    assert s.read_times(store, NOW, lambda: None).activity_at == NOW - 100


def test_missing_activity_starts_now():
    times = s.read_times({s.LOGIN_KEY: NOW - 100}, NOW, lambda: None)
    assert times == s.Times(NOW - 100, NOW, adopted=True)


def test_legacy_session_uses_last_login_and_now():
    times = s.read_times({}, NOW, lambda: NOW - 50)
    assert times == s.Times(NOW - 50, NOW, adopted=True)
    assert s.read_times({}, NOW, lambda: None) == s.Times(NOW, NOW, adopted=True)
    assert s.read_times({}, NOW, lambda: NOW + 50).login_at == NOW


def test_legacy_django_auto_logout_activity():
    from datetime import datetime, timezone

    iso = datetime.fromtimestamp(NOW - 20, tz=timezone.utc).isoformat()
    times = s.read_times({s.LEGACY_ACTIVITY_KEY: iso}, NOW, lambda: NOW - 30)
    assert times == s.Times(NOW - 30, NOW - 20, adopted=True)
    for bad in ("garbage", "2020-01-01T00:00:00", 5):
        assert s.read_times({s.LEGACY_ACTIVITY_KEY: bad}, NOW, lambda: None).activity_at == NOW


def test_naive_legacy_activity_is_read_in_the_default_time_zone(settings):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    settings.USE_TZ = False
    settings.TIME_ZONE = "America/New_York"
    local = datetime.fromtimestamp(NOW - 20, tz=ZoneInfo("America/New_York"))
    naive = local.replace(tzinfo=None).isoformat()
    times = s.read_times({s.LEGACY_ACTIVITY_KEY: naive}, NOW, lambda: NOW - 30)
    assert times == s.Times(NOW - 30, NOW - 20, adopted=True)


def test_legacy_activity_before_the_login_starts_the_idle_clock_at_the_login():
    from datetime import datetime, timezone

    iso = datetime.fromtimestamp(NOW - 5000, tz=timezone.utc).isoformat()
    times = s.read_times({s.LEGACY_ACTIVITY_KEY: iso}, NOW, lambda: NOW - 30)
    assert times == s.Times(NOW - 30, NOW - 30, adopted=True)


def test_garbage_values():
    for bad in ("x", True, -1, NOW + 10_000, float("inf"), [1]):
        assert s.read_times({s.LOGIN_KEY: bad}, NOW, lambda: None).garbage
        assert s.read_times({s.LOGIN_KEY: NOW, s.ACTIVITY_KEY: bad}, NOW, lambda: None).garbage


def test_small_clock_skew_is_tolerated():
    times = s.read_times({s.LOGIN_KEY: NOW + 5, s.ACTIVITY_KEY: NOW + 5}, NOW, lambda: None)
    assert not times.garbage


def test_record_activity_never_moves_backwards():
    store: dict[str, object] = {s.ACTIVITY_KEY: NOW}
    s.record_activity(store, NOW - 5)
    assert store[s.ACTIVITY_KEY] == NOW
    s.record_activity(store, NOW + 5)
    assert store[s.ACTIVITY_KEY] == NOW + 5


def test_record_login_and_adopt_drop_the_legacy_key():
    store: dict[str, object] = {s.LEGACY_ACTIVITY_KEY: "x"}
    s.record_login(store, NOW)
    assert store == {s.LOGIN_KEY: NOW, s.ACTIVITY_KEY: NOW}
    store = {s.LEGACY_ACTIVITY_KEY: "x"}
    s.adopt(store, s.Times(NOW - 1, NOW))
    assert store == {s.LOGIN_KEY: NOW - 1, s.ACTIVITY_KEY: NOW}


STORED_VALUES = [
    NOW - 100,
    NOW - 10,
    NOW,
    0.0,
    -0.0,
    NOW + s.FUTURE_TOLERANCE,
    NOW + s.FUTURE_TOLERANCE + 1,
    -1.0,
    float("nan"),
    float("inf"),
    -float("inf"),
    int(NOW - 5),
    True,
    10**400,
    "1000000.0",
    None,
    [NOW],
]


@pytest.mark.parametrize("login", STORED_VALUES)
@pytest.mark.parametrize("activity", STORED_VALUES)
def test_stored_times_is_read_times_of_a_session_that_holds_both_times(login, activity):
    """The warm path's shortcut: for every pair of stored values it either agrees with
    ``read_times`` (nothing derived, nothing garbage) or leaves the decision to it (``None``)."""
    store = {key: value for key, value in ((s.LOGIN_KEY, login), (s.ACTIVITY_KEY, activity))
             if value is not None}  # fmt: skip
    times = s.read_times(dict(store), NOW, lambda: NOW - 7)
    found = s.stored_times(store, NOW)
    if found is not None:
        assert not times.adopted
        assert not times.garbage
        assert found == (times.login_at, times.activity_at)
    both_floats = type(login) is float and type(activity) is float
    if both_floats and not times.garbage:
        assert found is not None  # the common case takes the shortcut


def test_usable_user_ids_are_remembered_for_one_user_model_only(monkeypatch):
    """An id found usable is not checked again, until ``AUTH_USER_MODEL`` changes."""
    from django.core.signals import setting_changed

    assert s.usable_user_id("12")
    assert not s.usable_user_id("twelve")
    assert not s.usable_user_id(12)
    setting_changed.send(sender=None, setting="AUTH_USER_MODEL", value="x.Y", enter=True)
    assert s._usable_ids == set()

    def text_only(value: object) -> object:
        raise ValueError(value)  # a user model whose primary key "12" is not

    monkeypatch.setattr(s, "_pk_to_python", [text_only])
    assert not s.usable_user_id("12")
    setting_changed.send(sender=None, setting="AUTH_USER_MODEL", value="auth.User", enter=False)
    assert s.usable_user_id("12")
