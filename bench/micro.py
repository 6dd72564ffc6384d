"""A micro-benchmark of the warm request phase, piece by piece (guidance for the warm path's code).

``PYTHONPATH=. .venv/bin/python -m bench.micro [--redis redis://127.0.0.1:6379/11]``

Times, in a tight loop (``timeit``, best of several repeats, µs per call), what the middleware does
on a warm request of a logged-in user whose policy is cached: the whole request phase
(``check_request``), the response phase (``pending_activity``) and each piece of them. Two users
(``AUTO_LOGOUT`` only, and database rules: a user rule, 20 groups and a global rule), once on the
local-memory cache and, with ``--redis``, once on Redis with the notification channel. The session
is loaded before timing (the bare stack loads it anyway).

A tight loop keeps the CPU caches warm: the numbers are lower than in a real request, and only
comparable within one run on one machine. ``make bench`` is what measures the request.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import timeit
from collections.abc import Callable
from typing import Any


def _time(fn: Callable[[], object], number: int, repeat: int) -> float:
    """µs per call: the best of ``repeat`` runs of ``number`` calls."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def pieces(user: Any, request: Any) -> dict[str, Callable[[], object]]:
    """The warm path's pieces for this user and request (its session loaded)."""
    from django.http import HttpResponse

    from logout_rules import cache, clock, middleware, policy, resolver
    from logout_rules import session as session_store
    from logout_rules.conf import conf

    store = request.session
    user_id = session_store.user_id(store)
    now = clock.now()
    effective = resolver.get_policy(user_id)
    last_login = middleware._last_login(request)
    times = session_store.read_times(store, now, last_login)
    response = HttpResponse("ok")
    middleware.check_request(request)
    if middleware.get_state(request) is None:
        raise SystemExit(f"the request phase kept no state for {user}: not a warm request")
    memo = cache.token_memo()

    def channel_begin() -> object:
        return None if memo is None else memo.begin()

    found: dict[str, Callable[[], object]] = {}
    if hasattr(session_store, "stored_times"):  # (absent before the warm path's shortcuts)
        found["  session.stored_times"] = lambda: session_store.stored_times(store, now)
    if hasattr(policy, "alive"):
        found["  policy.alive"] = lambda: policy.alive(
            effective, now, times.login_at, times.activity_at
        )
    return {
        "check_request (whole request phase)": lambda: middleware.check_request(request),
        "pending_activity (response phase)": lambda: middleware.pending_activity(request, response),
        "  resolver.get_policy": lambda: resolver.get_policy(user_id),
        "    cache.has_pending_changes": cache.has_pending_changes,
        "    cache.cached_layer": lambda: cache.cached_layer(user_id),
        "    memo.begin (channel check)": channel_begin,
        "    conf.settings_rule (AUTO_LOGOUT)": lambda: conf.settings_rule,
        "    conf.ceilings": lambda: conf.ceilings,
        "  session.read_times": lambda: session_store.read_times(store, now, last_login),
        "  policy.judge": lambda: policy.judge(effective, now, times.login_at, times.activity_at),
        "  policy.activity_due": lambda: policy.activity_due(
            effective, now, times.activity_at, conf.ACTIVITY_RESOLUTION
        ),
        "  conf.ACTIVITY_RESOLUTION": lambda: conf.ACTIVITY_RESOLUTION,
        "  session.user_id": lambda: session_store.user_id(store),
        "  session.usable_user_id": lambda: session_store.usable_user_id(user_id),
        "  RequestState(...)": lambda: middleware.RequestState(
            user_id, effective, now, times.login_at, times.activity_at, False
        ),
        "  clock.now": clock.now,
        **found,
    }


def logged_in_request(user: Any) -> Any:
    """A GET with the user's session, loaded (as the bare stack leaves it)."""
    from django.conf import settings
    from django.test import Client, RequestFactory
    from django.utils.module_loading import import_string

    client = Client()
    client.force_login(user)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    request = RequestFactory().get("/page/")
    request.session = import_string(settings.SESSION_ENGINE + ".SessionStore")(key)
    request.session.keys()  # loads the session (as the bare stack does, to find the user)
    request.user = user
    return request


def run_section(label: str, users: dict[str, Any], number: int, repeat: int) -> None:
    from bench.run import set_global_rule

    print(f"\n{label} (µs per call, best of {repeat} runs of {number})")
    results: dict[str, dict[str, float]] = {}
    for key, global_rule in (("plain", False), ("ruled", True)):
        set_global_rule(global_rule)
        request = logged_in_request(users[key])
        for name, fn in pieces(users[key], request).items():
            fn()
            results.setdefault(name, {})[key] = _time(fn, number, repeat)
    width = max(len(name) for name in results)
    print(f"{'piece':<{width}}  {'settings':>9}  {'db rules':>9}")
    for name, row in results.items():
        print(f"{name:<{width}}  {row['plain']:>9.2f}  {row['ruled']:>9.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default="", help="also measure on this Redis (notifications)")
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    directory = tempfile.mkdtemp(prefix="logout_rules_micro_")
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["LOGOUT_RULES_BENCH_DB"] = os.path.join(directory, "micro.sqlite3")
    import django
    from django.core.management import call_command
    from django.test.utils import override_settings

    django.setup()
    call_command("migrate", verbosity=0, interactive=False, skip_checks=True)
    from bench.run import (
        delete_redis_keys,
        make_bench_users,
        redis_sections,
        section_settings,
        wait_for_the_channel,
    )

    users = make_bench_users()
    run_section("local-memory cache", users, args.number, args.repeat)
    if args.redis:
        prefix = f"logout_rules_micro_{os.getpid()}"
        section = redis_sections(args.redis, prefix)[0]
        try:
            with override_settings(**section_settings(section)):
                wait_for_the_channel()
                time.sleep(0.1)
                run_section("Redis, notifications on", users, args.number, args.repeat)
        finally:
            delete_redis_keys(args.redis, prefix)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
