"""``make bench``: what logout_rules costs per request, side by side with the bare stack and with
django-auto-logout, in one process run.

Four variants of the same site, each its own handler with its own ``MIDDLEWARE``:

1. ``bare``: session + authentication + messages middlewares, no auto-logout;
2. ``django-auto-logout``: (1) + django-auto-logout 0.5.1 with the same ``AUTO_LOGOUT``;
3. ``rules: settings``: (1) + logout_rules, ``AUTO_LOGOUT`` only (the global rule disabled);
4. ``rules: db rules``: (1) + logout_rules, a global rule and a user in 20 groups with group
   rules and a user rule of their own;

for the ``db`` and the ``cache`` session engines, through the WSGI (sync view) and the ASGI
(async view) handlers. Every request is a logged-in ``GET`` of a page that reads the user, so the
bare stack pays for loading the session and the user too.

The warm path is measured once per cache section, each the ``default`` cache (the policies, and the
sessions of the ``cache`` engine): the local-memory cache, then, when Redis answers (``--redis``),
Redis with the notification channel (the default) and Redis without it
(``LOGOUT_RULES_CACHE_NOTIFICATIONS = False``: every request reads the tokens). Each section has
its own bare stack, so its ratios compare like with like.

The variants take turns request by request (in shuffled order), so they all meet the machine in
the same state; (3) and (4) need the global rule off and on, so each round has two phases, each
with the bare stack for the ratios. Each request's wall-clock time and the process's CPU time
(which leaves out the time the OS gave to other processes: the better number on a shared machine)
are recorded; a round keeps each variant's median request, and the table shows the median over
the rounds and the median of the per-round ratios against (1) of the same phase. Query counts
and session writes come from a separate, untimed pass.

Then: the cold path (a cache miss) for users in 1, 20 and 200 groups, and a large rule set
(100,000 user rules, 10,000 group rules): cold resolution, the admin changelists and their search,
and the import of 10,000 user rules when the rule-set import exists.

Numbers from different runs (or machines) are not comparable: only compare within one table.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

SESSION = "django.contrib.sessions.middleware.SessionMiddleware"
AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
MESSAGES = "django.contrib.messages.middleware.MessageMiddleware"
BASE_MIDDLEWARE = [SESSION, AUTH, MESSAGES]
AUTO_LOGOUT_MIDDLEWARE = "django_auto_logout.middleware.auto_logout"
RULES_MIDDLEWARE = "logout_rules.middleware.AutoLogoutMiddleware"
ENGINES = {
    "db": "django.contrib.sessions.backends.db",
    "cache": "django.contrib.sessions.backends.cache",
}


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    middleware: list[str]
    user: str
    #: Whether the global rule must be enabled (``None``: does not matter for this variant).
    global_rule: bool | None


VARIANTS = [
    Variant("bare", "(1) bare stack", BASE_MIDDLEWARE, "plain", None),
    Variant(
        "auto",
        "(2) django-auto-logout 0.5.1",
        [*BASE_MIDDLEWARE, AUTO_LOGOUT_MIDDLEWARE],
        "plain",
        None,
    ),
    Variant(
        "settings",
        "(3) logout_rules, settings",
        [*BASE_MIDDLEWARE, RULES_MIDDLEWARE],
        "plain",
        False,
    ),
    Variant(
        "rules", "(4) logout_rules, db rules", [*BASE_MIDDLEWARE, RULES_MIDDLEWARE], "ruled", True
    ),
]
#: ``--noop``: the floor any extra middleware pays (a middleware that does nothing).
NOOP_VARIANT = Variant(
    "noop",
    "(1+) bare + a no-op middleware",
    [*BASE_MIDDLEWARE, "bench.middleware.NoopMiddleware"],
    "plain",
    None,
)


# --- counting (queries and session writes, across threads) -------------------------------------


class Counter:
    def __init__(self) -> None:
        self.queries = 0
        self.session_writes = 0


@contextmanager
def counting(counter: Counter, queries: bool = True) -> Iterator[Counter]:
    """Count SQL queries (any thread) and session saves into ``counter`` while active."""
    from django.contrib.sessions.backends import cache as cache_sessions
    from django.contrib.sessions.backends import db as db_sessions
    from django.db.backends import utils

    patched: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, replacement: Any) -> None:
        patched.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, replacement)

    if queries:
        execute = utils.CursorWrapper.execute
        executemany = utils.CursorWrapper.executemany

        def counted_execute(self: Any, sql: Any, params: Any = None) -> Any:
            counter.queries += 1
            return execute(self, sql, params)

        def counted_executemany(self: Any, sql: Any, param_list: Any) -> Any:
            counter.queries += 1
            return executemany(self, sql, param_list)

        patch(utils.CursorWrapper, "execute", counted_execute)
        patch(utils.CursorWrapper, "executemany", counted_executemany)

    for module in (db_sessions, cache_sessions):
        store = module.SessionStore
        original = store.__dict__["save"]

        def counted_save(self: Any, must_create: bool = False, _original: Any = original) -> Any:
            counter.session_writes += 1
            return _original(self, must_create=must_create)

        patch(store, "save", counted_save)
    try:
        yield counter
    finally:
        for owner, name, original in reversed(patched):
            setattr(owner, name, original)


# --- cache sections ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    #: ``CACHES`` while the section runs (``None``: the settings' local-memory cache).
    caches: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    #: Keys of ``VARIANTS`` measured in this section.
    variants: tuple[str, ...] = ("bare", "auto", "settings", "rules")


LOCMEM_SECTION = Section("locmem", "local-memory cache")


def redis_sections(url: str, prefix: str) -> list[Section]:
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
        }
    }
    return [
        Section(
            "redis",
            "Redis, notifications on (the default)",
            caches,
            {"LOGOUT_RULES_CACHE_HEARTBEAT": 1.0},
            ("bare", "settings", "rules"),
        ),
        Section(
            "redis-off",
            "Redis, notifications off (a round trip per request)",
            caches,
            {"LOGOUT_RULES_CACHE_NOTIFICATIONS": False},
            ("bare", "settings", "rules"),
        ),
    ]


def redis_answers(url: str) -> str | None:
    """``None`` when the Redis at ``url`` answers a PING within half a second, else why not."""
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def section_settings(section: Section) -> dict[str, Any]:
    """The settings a section overrides (nothing for the settings' own cache)."""
    return {**({"CACHES": section.caches} if section.caches else {}), **section.settings}


def wait_for_the_channel(timeout: float = 10.0) -> None:
    """Before timing a section with notifications: the channel is subscribed and trusted."""
    from logout_rules import cache as policy_cache

    memo = policy_cache.token_memo()
    if memo is None or not memo.publishes:
        return
    deadline = time.monotonic() + timeout
    while memo.begin() is None:
        if time.monotonic() > deadline:
            raise SystemExit("the cache notification channel did not become healthy")
        time.sleep(0.01)


# --- driving the handlers ----------------------------------------------------------------------


def _ignore(status: str, headers: Any, exc_info: Any = None) -> None:
    return None


class Target:
    """One variant, session engine and handler: its own handler, session and timings."""

    def __init__(self, variant: Variant, engine: str, path: str, cookie: str) -> None:
        from django.core.handlers.asgi import ASGIHandler
        from django.core.handlers.wsgi import WSGIHandler
        from django.test.utils import override_settings

        self.variant = variant
        self.engine = engine
        self.path = path
        #: Per round (and phase): the median request's wall-clock and CPU time (seconds), and
        #: their ratios to the bare stack's median in the same round and phase.
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.wall_ratio: list[float] = []
        self.cpu_ratio: list[float] = []
        self.counter = Counter()
        with override_settings(MIDDLEWARE=variant.middleware, SESSION_ENGINE=ENGINES[engine]):
            self.handler: Any = WSGIHandler() if path == "wsgi" else ASGIHandler()
        url = "/page/" if path == "wsgi" else "/apage/"
        self.environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": url,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "bench",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "bench",
            "HTTP_COOKIE": cookie,
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": url,
            "raw_path": url.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"bench"), (b"cookie", cookie.encode())],
            "client": ("127.0.0.1", 40000),
            "server": ("bench", 80),
        }

    # One request, returning (status, body): used to check the set-up.
    def request_once(self, loop: asyncio.AbstractEventLoop) -> tuple[int, bytes]:
        if self.path == "wsgi":
            statuses: list[str] = []

            def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
                statuses.append(status)

            environ = dict(self.environ, **{"wsgi.input": io.BytesIO(b"")})
            response = self.handler(environ, start_response)
            body = b"".join(response)
            response.close()
            return int(statuses[0].split()[0]), body
        sent = loop.run_until_complete(self.asgi_request())
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    def wsgi_request(self) -> None:
        response = self.handler(dict(self.environ, **{"wsgi.input": io.BytesIO(b"")}), _ignore)
        for _chunk in response:
            pass
        response.close()  # sends request_finished, as a WSGI server does

    async def asgi_request(self) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        received = False
        never = asyncio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await never.wait()  # the client stays connected (cancelled after the response)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.handler(dict(self.scope), receive, send)
        return sent

    def run(self, count: int, loop: asyncio.AbstractEventLoop) -> None:
        """Serve ``count`` requests (untimed: warm-up and counting)."""
        if self.path == "wsgi":
            for _ in range(count):
                self.wsgi_request()
            return

        async def batch() -> None:
            for _ in range(count):
                await self.asgi_request()

        loop.run_until_complete(batch())


Timings = dict[Target, tuple[list[float], list[float]]]
_ORDER = random.Random(5)  # the turns' order: shuffled, the same from run to run


def interleaved(targets: list[Target], count: int, loop: asyncio.AbstractEventLoop) -> Timings:
    """``count`` timed requests to each target, taking turns request by request in a shuffled
    order, so that every variant meets the same machine at the same moment and follows each of
    the others equally often (a request after django-auto-logout's session write is slower).

    Each request's wall-clock and CPU time: CPU time is the whole process's (``process_time``),
    so it includes the ASGI handler's worker threads and leaves out the time the OS gave to other
    processes.
    """
    timings: Timings = {target: ([], []) for target in targets}
    perf = time.perf_counter
    process = time.process_time
    shuffle = _ORDER.shuffle
    turns = []
    for _ in range(count):
        turn = list(targets)
        shuffle(turn)
        turns.append(turn)
    if targets[0].path == "wsgi":
        for index in range(count):
            for target in turns[index]:
                wall, cpu = timings[target]
                start_cpu = process()
                start = perf()
                target.wsgi_request()
                wall.append(perf() - start)
                cpu.append(process() - start_cpu)
        return timings

    async def batch() -> None:
        for index in range(count):
            for target in turns[index]:
                wall, cpu = timings[target]
                start_cpu = process()
                start = perf()
                await target.asgi_request()
                wall.append(perf() - start)
                cpu.append(process() - start_cpu)

    loop.run_until_complete(batch())
    return timings


# --- data --------------------------------------------------------------------------------------


def set_global_rule(enabled: bool) -> None:
    from logout_rules.models import GlobalLogoutRule

    rule = GlobalLogoutRule.objects.get(pk=GlobalLogoutRule.singleton_instance_id)
    if rule.enabled != enabled:
        rule.enabled = enabled
        rule.save()  # invalidates every cached policy (after commit)


def make_user(username: str, groups: int = 0, user_rule: bool = False) -> Any:
    from django.contrib.auth.models import Group, User

    from logout_rules.models import GroupLogoutRule, UserLogoutRule

    user = User.objects.create_user(username, f"{username}@example.com", "pw")
    created = []
    for index in range(groups):
        group = Group.objects.create(name=f"{username}-group-{index:03d}")
        GroupLogoutRule.objects.create(
            group=group,
            priority=10 + index % 5,
            idle_time=timedelta(minutes=20 + index),
            message=f"Signed out ({group.name}).",
        )
        created.append(group)
    user.groups.add(*created)
    if user_rule:
        UserLogoutRule.objects.create(user=user, session_time=timedelta(hours=8))
    return user


def login_cookie(user: Any, engine: str) -> str:
    from django.conf import settings
    from django.test import Client
    from django.test.utils import override_settings

    with override_settings(SESSION_ENGINE=ENGINES[engine]):
        client = Client()
        client.force_login(user)
        return (
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )


# --- reporting ---------------------------------------------------------------------------------


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def print_table(headers: list[str], rows: list[list[str]], align: str | None = None) -> None:
    """A Markdown table (pastes into the README as is)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    align = align or "l" * len(headers)

    def line(cells: list[str]) -> str:
        parts = [
            cell.ljust(width) if a == "l" else cell.rjust(width)
            for cell, width, a in zip(cells, widths, align, strict=True)
        ]
        return "| " + " | ".join(parts) + " |"

    print(line(headers))
    print(
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if a == "r" else ("-" * (w + 2))
            for w, a in zip(widths, align, strict=True)
        )
        + "|"
    )
    for row in rows:
        print(line(row))
    sys.stdout.flush()


# --- the sections ------------------------------------------------------------------------------


def make_bench_users() -> dict[str, Any]:
    """The two users of the warm path, and the global rule variant (4) enables."""
    from logout_rules.models import GlobalLogoutRule

    users = {
        "plain": make_user("plain"),
        "ruled": make_user("ruled", groups=20, user_rule=True),
    }
    GlobalLogoutRule.objects.filter(pk=GlobalLogoutRule.singleton_instance_id).update(
        idle_time=timedelta(minutes=30), session_time=timedelta(hours=12), message="Signed out."
    )
    return users


def warm_path(
    args: argparse.Namespace,
    loop: asyncio.AbstractEventLoop,
    users: dict[str, Any],
    section: Section = LOCMEM_SECTION,
) -> list[Target]:
    paths = [p for p in ("wsgi", "asgi") if p in args.paths]
    variants = [v for v in VARIANTS if v.key in section.variants]
    if args.noop:
        variants.insert(1, NOOP_VARIANT)
    groups: list[list[Target]] = []
    for path in paths:
        for engine in args.engines:
            groups.append(
                [Target(v, engine, path, login_cookie(users[v.user], engine)) for v in variants]
            )
    targets = [t for g in groups for t in g]

    def prepare(target: Target) -> None:
        if target.variant.global_rule is not None:
            set_global_rule(target.variant.global_rule)
        target.run(args.warmup, loop)

    # Check the set-up: every target serves the logged-in page.
    for target in targets:
        prepare(target)
        status, body = target.request_once(loop)
        expected = f"hello {target.variant.user}".encode()
        if status != 200 or body != expected:
            raise SystemExit(
                f"bad set-up for {target.variant.key}/{target.engine}/{target.path}: "
                f"{status} {body[:80]!r}"
            )

    # Queries and session writes per request, in an untimed pass.
    for target in targets:
        prepare(target)
        counter = Counter()
        with counting(counter):
            target.run(args.count, loop)
        target.counter.queries = counter.queries
        target.counter.session_writes = counter.session_writes

    wait_for_the_channel()
    if not args.rounds:
        return targets
    print(
        f"\nWarm path, {section.label}: {args.rounds} rounds x {args.batch} (WSGI) / "
        f"{args.asgi_batch} (ASGI) requests per variant (+{args.warmup} warm-up), interleaved",
        flush=True,
    )
    gc.collect()
    gc.freeze()
    started = time.perf_counter()
    for round_index in range(args.rounds):
        for group in groups:
            bare = group[0]
            # Phase "global rule disabled": every variant but (4); phase "enabled": (4), with the
            # bare stack (and the no-op middleware) again for its ratios.
            for enabled in (False, True):
                phase = [
                    t
                    for t in group
                    if t.variant.key in ("bare", "noop")
                    or (t.variant.global_rule is True) == enabled
                ]
                set_global_rule(enabled)
                for target in phase:
                    target.run(args.warmup, loop)
                wait_for_the_channel()
                batch = args.batch if group[0].path == "wsgi" else args.asgi_batch
                timings = interleaved(phase, batch, loop)
                # A request that the OS preempted for another process is an outlier of its
                # batch, not a shift of the median.
                bare_wall = statistics.median(timings[bare][0])
                bare_cpu = statistics.median(timings[bare][1])
                for target, (wall, cpu) in timings.items():
                    target.wall.append(statistics.median(wall))
                    target.cpu.append(statistics.median(cpu))
                    target.wall_ratio.append(target.wall[-1] / bare_wall)
                    target.cpu_ratio.append(target.cpu[-1] / bare_cpu)
        if args.verbose:
            print(f"  round {round_index + 1}/{args.rounds} done", flush=True)
    gc.unfreeze()
    print(f"({time.perf_counter() - started:.0f} s)\n")

    rows = []
    for group in groups:
        bare = group[0]
        for target in group:
            queries = target.counter.queries / args.count
            extra = queries - bare.counter.queries / args.count
            rows.append(
                [
                    target.path.upper(),
                    target.engine,
                    target.variant.label,
                    fmt_us(statistics.median(target.wall)),
                    f"{statistics.median(target.wall_ratio):.3f}",
                    fmt_us(statistics.median(target.cpu)),
                    f"{statistics.median(target.cpu_ratio):.3f}",
                    f"{queries:g}",
                    f"{extra:+g}",
                    f"{target.counter.session_writes / args.count:g}",
                ]
            )
    print_table(
        [
            "handler",
            "sessions",
            "variant",
            "wall/request",
            "wall vs (1)",
            "CPU/request",
            "CPU vs (1)",
            "queries/req",
            "extra",
            "session writes/req",
        ],
        rows,
        "lllrrrrrrr",
    )
    return targets


class FakeClock:
    def __init__(self, value: float) -> None:
        self.value = value

    def now(self) -> float:
        return self.value


def simulated_writes(targets: list[Target], loop: asyncio.AbstractEventLoop) -> None:
    """Session writes of logout_rules over 10 simulated minutes of requests, 1 every 0.6 s."""
    from logout_rules import clock
    from logout_rules.conf import conf
    from logout_rules.policy import activity_resolution
    from logout_rules.resolver import get_policy

    real_now = clock.now
    rows = []
    for target in targets:
        if target.variant.key not in ("settings", "rules") or target.path != "wsgi":
            continue
        set_global_rule(bool(target.variant.global_rule))
        target.run(2, loop)
        fake = FakeClock(real_now())
        clock.now = fake.now
        counter = Counter()
        try:
            with counting(counter, queries=False):
                for _ in range(1000):
                    fake.value += 0.6
                    target.run(1, loop)
        finally:
            clock.now = real_now
        from django.contrib.auth.models import User

        user_id = User.objects.get(username=target.variant.user).pk
        resolution = activity_resolution(get_policy(user_id).idle_time, conf.ACTIVITY_RESOLUTION)
        rows.append(
            [
                target.engine,
                target.variant.label,
                "1,000 over 600 s",
                f"{resolution:g} s",
                str(counter.session_writes),
                f"≤ {int(600 // resolution) + 1}",
            ]
        )
    print("\nSession writes over 10 simulated minutes (WSGI):\n")
    print_table(
        ["sessions", "variant", "requests", "activity resolution", "session writes", "bound"],
        rows,
        "lllrrr",
    )


def cold_path(args: argparse.Namespace) -> None:
    from logout_rules import cache as policy_cache
    from logout_rules.resolver import get_policy

    rows = []
    for groups in (1, 20, 200):
        user = make_user(f"cold{groups}", groups=groups, user_rule=True)
        times = []
        counter = Counter()
        for _ in range(args.cold_reps):
            policy_cache.invalidate_users([user.pk])
            start = time.perf_counter()
            get_policy(user.pk)
            times.append(time.perf_counter() - start)
        policy_cache.invalidate_users([user.pk])
        with counting(counter):
            get_policy(user.pk)
        warm = Counter()
        with counting(warm):
            get_policy(user.pk)
        rows.append(
            [
                str(groups),
                str(counter.queries),
                fmt_ms(statistics.median(times)),
                str(warm.queries),
            ]
        )
    print("\nCold path (policy not cached), `resolver.get_policy`:\n")
    print_table(
        ["groups of the user", "queries (cold)", "time (cold, median)", "queries (warm)"],
        rows,
        "rrrr",
    )


@dataclass
class AdminPage:
    label: str
    url: str
    rows_before: int = 0
    queries_before: int = 0
    queries: int = 0
    times: list[float] = field(default_factory=list)


def admin_measure(client: Any, url: str, reps: int) -> tuple[int, float, int]:
    """(queries, median seconds, rows shown) for one admin page, after one untimed request (the
    admin's own policy was invalidated by the bulk writes)."""
    client.get(url)
    counter = Counter()
    with counting(counter):
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    shown = response.content.count(b'name="_selected_action"')  # one checkbox per row shown
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - start)
    return counter.queries, statistics.median(times) if times else 0.0, shown


def populate(users: int, groups: int, memberships: int) -> None:
    from django.contrib.auth.models import Group, User
    from django.db import transaction

    from logout_rules.models import GroupLogoutRule, UserLogoutRule

    rng = random.Random(5)
    with transaction.atomic():
        User.objects.bulk_create(
            (
                User(username=f"scale{i:06d}", email=f"scale{i:06d}@example.com", password="!")
                for i in range(users)
            ),
            batch_size=5000,
        )
        Group.objects.bulk_create(
            (Group(name=f"scale-group-{i:05d}") for i in range(groups)), batch_size=5000
        )
        user_ids = list(
            User.objects.filter(username__startswith="scale").values_list("pk", flat=True)
        )
        group_ids = list(
            Group.objects.filter(name__startswith="scale-group-").values_list("pk", flat=True)
        )
        GroupLogoutRule.objects.bulk_create(
            (
                GroupLogoutRule(
                    group_id=gid,
                    priority=rng.randint(1, 200),
                    idle_time=timedelta(minutes=rng.randint(5, 120)),
                )
                for gid in group_ids
            ),
            batch_size=5000,
        )
        UserLogoutRule.objects.bulk_create(
            (
                UserLogoutRule(user_id=uid, session_time=timedelta(hours=rng.randint(1, 24)))
                for uid in user_ids
            ),
            batch_size=5000,
        )
        through = User.groups.through
        through.objects.bulk_create(
            (
                through(user_id=uid, group_id=gid)
                for uid in user_ids
                for gid in rng.sample(group_ids, memberships)
            ),
            batch_size=10000,
        )


def scale(args: argparse.Namespace) -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    from logout_rules import cache as policy_cache
    from logout_rules.models import GroupLogoutRule, UserLogoutRule
    from logout_rules.resolver import get_policy

    admin_user = User.objects.create_superuser("benchadmin", "admin@example.com", "pw")
    client = Client()
    client.force_login(admin_user)
    pages = [
        AdminPage("user rules, page 1", "/admin/logout_rules/userlogoutrule/"),
        AdminPage("user rules, page 2", "/admin/logout_rules/userlogoutrule/?p=2"),
        AdminPage(
            "user rules, search username", "/admin/logout_rules/userlogoutrule/?q=scale000123"
        ),
        AdminPage("group rules, page 1", "/admin/logout_rules/grouplogoutrule/"),
        AdminPage("group rules, page 2", "/admin/logout_rules/grouplogoutrule/?p=2"),
        AdminPage(
            "group rules, search name", "/admin/logout_rules/grouplogoutrule/?q=scale-group-00123"
        ),
    ]
    # A small table first (what exists after the warm-path set-up, plus a few hundred rows), to
    # show that the changelists' query counts do not grow with the rows.
    populate(300, 150, 2)
    for page in pages:
        page.queries_before, _, page.rows_before = admin_measure(client, page.url, 0)
    counts_before = (UserLogoutRule.objects.count(), GroupLogoutRule.objects.count())

    print(
        f"\nLarge rule set: adding {args.scale_users:,} users with user rules and "
        f"{args.scale_groups:,} groups with group rules ({args.memberships} groups per user)…",
        flush=True,
    )
    start = time.perf_counter()
    User.objects.filter(username__startswith="scale").delete()
    from django.contrib.auth.models import Group

    Group.objects.filter(name__startswith="scale-group-").delete()
    populate(args.scale_users, args.scale_groups, args.memberships)
    print(f"(populated in {time.perf_counter() - start:.1f} s)\n")
    counts = (UserLogoutRule.objects.count(), GroupLogoutRule.objects.count())

    ids = list(User.objects.filter(username__startswith="scale").values_list("pk", flat=True))
    sample = random.Random(7).sample(ids, min(len(ids), args.cold_reps * 5))
    times = []
    for uid in sample:
        policy_cache.invalidate_users([uid])
        start = time.perf_counter()
        get_policy(uid)
        times.append(time.perf_counter() - start)
    times.sort()
    queries = set()
    for uid in sample[:20]:
        policy_cache.invalidate_users([uid])
        counter = Counter()
        with counting(counter):
            get_policy(uid)
        queries.add(counter.queries)
    print_table(
        ["cold resolutions", "queries each", "median", "p95", "max"],
        [
            [
                f"{len(sample)} random users",
                "/".join(str(q) for q in sorted(queries)),
                fmt_ms(times[len(times) // 2]),
                fmt_ms(times[int(len(times) * 0.95)]),
                fmt_ms(times[-1]),
            ]
        ],
        "lrrrr",
    )
    rows = []
    for page in pages:
        page.queries, median, shown = admin_measure(client, page.url, args.admin_reps)
        rows.append(
            [
                page.label,
                f"{page.queries_before} ({page.rows_before} rows)",
                f"{page.queries} ({shown} rows)",
                fmt_ms(median),
            ]
        )
    print(
        f"\nAdmin changelists ({counts_before[0]:,} user rules / {counts_before[1]:,} group rules, "
        f"then {counts[0]:,} / {counts[1]:,}):\n"
    )
    print_table(
        ["page", "queries, small table", "queries, large table", "time, large (median)"],
        rows,
        "lrrr",
    )


@contextmanager
def counting_invalidations() -> Iterator[list[str]]:
    """Record every policy-cache invalidation (``"all"`` or ``"users:<n>"``) while active."""
    from logout_rules import cache as policy_cache

    calls: list[str] = []
    invalidate_all = policy_cache.invalidate_all
    invalidate_users = policy_cache.invalidate_users

    def counted_all() -> None:
        calls.append("all")
        invalidate_all()

    def counted_users(user_ids: Any) -> None:
        ids = list(user_ids)
        calls.append(f"users:{len(ids)}")
        invalidate_users(ids)

    policy_cache.invalidate_all = counted_all
    policy_cache.invalidate_users = counted_users
    try:
        yield calls
    finally:
        policy_cache.invalidate_all = invalidate_all
        policy_cache.invalidate_users = invalidate_users


def import_rules(args: argparse.Namespace) -> None:
    """User rules through the rule-set import (``logout_rules.rulesets``), as
    ``manage.py logout_rules import --user …`` does it: time, queries, cache invalidations."""
    try:
        from logout_rules import rulesets
    except ImportError:
        print("\nImport: skipped (logout_rules.rulesets is not available).")
        return
    from django.contrib.auth.models import User

    count = args.import_rows
    User.objects.bulk_create(
        (User(username=f"imported{i:05d}", password="!") for i in range(count)), batch_size=5000
    )
    admin_user = User.objects.get(username="benchadmin")
    rows = [
        {
            "user": f"imported{i:05d}",
            "idle_time": "00:10:00",
            "session_time": 3600,
            "message": "Bye",
        }
        for i in range(count)
    ]
    document = {"users": rows}
    table = []
    for label, dry_run in (("new rules", False), ("the same file again (unchanged)", False)):
        counter = Counter()
        with counting(counter), counting_invalidations() as invalidations:
            start = time.perf_counter()
            report = rulesets.apply(
                rulesets.parse_document(document, "bench.json"),
                dry_run=dry_run,
                account=lambda: admin_user,
            )
            elapsed = time.perf_counter() - start
        table.append(
            [
                f"{count:,} user rules, {label}",
                f"{elapsed:.1f} s",
                f"{counter.queries:,}",
                str(len(report.changes)),
                ", ".join(invalidations) or "none",
            ]
        )
    print("\nRule-set import (`logout_rules.rulesets.apply`, with admin history):\n")
    print_table(["import", "time", "queries", "changes", "cache invalidations"], table, "lrrrl")


def profile(
    args: argparse.Namespace, targets: list[Target], loop: asyncio.AbstractEventLoop
) -> None:
    from pyinstrument import Profiler

    for target in targets:
        if (target.variant.key, target.engine, target.path) != (
            args.profile_variant,
            args.profile_engine,
            args.profile_path,
        ):
            continue
        if target.variant.global_rule is not None:
            set_global_rule(target.variant.global_rule)
        target.run(100, loop)
        profiler = Profiler(interval=0.0001)
        profiler.start()
        target.run(args.profile_requests, loop)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))


# --- main --------------------------------------------------------------------------------------


DEFAULT_REDIS = "redis://127.0.0.1:6379/15"


def delete_redis_keys(url: str, prefix: str) -> None:
    """Delete a run's keys (and only them): the bench's ``--redis``, the load test's prefix."""
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, a smaller rule set")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 12, quick 4)")
    parser.add_argument("--batch", type=int, help="timed WSGI requests per variant and round")
    parser.add_argument("--asgi-batch", type=int, help="timed ASGI requests per variant and round")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--count", type=int, default=100, help="requests of the counting pass")
    parser.add_argument("--paths", nargs="+", default=["wsgi", "asgi"], choices=["wsgi", "asgi"])
    parser.add_argument("--engines", nargs="+", default=["db", "cache"], choices=list(ENGINES))
    parser.add_argument("--no-scale", action="store_true", help="skip the large rule set")
    parser.add_argument("--noop", action="store_true", help="add a no-op middleware variant")
    parser.add_argument("--scale-users", type=int)
    parser.add_argument("--scale-groups", type=int)
    parser.add_argument("--memberships", type=int, default=3, help="groups per user (scale)")
    parser.add_argument("--import-rows", type=int, default=10_000, help="user rules to import")
    parser.add_argument("--profile", action="store_true", help="profile one warm path instead")
    parser.add_argument("--profile-variant", default="rules", choices=[v.key for v in VARIANTS])
    parser.add_argument("--profile-engine", default="cache", choices=list(ENGINES))
    parser.add_argument("--profile-path", default="wsgi", choices=["wsgi", "asgi"])
    parser.add_argument(
        "--profile-cache", default="locmem", choices=["locmem", "redis", "redis-off"]
    )
    parser.add_argument("--profile-requests", type=int, default=5000)
    parser.add_argument("--keep-db", action="store_true", help="keep the temporary database")
    parser.add_argument(
        "--redis",
        metavar="URL",
        default=os.environ.get("LOGOUT_RULES_BENCH_REDIS", DEFAULT_REDIS),
        help="the Redis of the Redis sections (default $LOGOUT_RULES_BENCH_REDIS or "
        f"{DEFAULT_REDIS}); they are skipped when it does not answer. Keys under a prefix of "
        "this run only, deleted at the end",
    )
    parser.add_argument("--no-redis", action="store_true", help="skip the Redis sections")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (4 if args.quick else 12)
    args.batch = args.batch or (50 if args.quick else 100)
    args.asgi_batch = args.asgi_batch or (20 if args.quick else 40)
    args.scale_users = args.scale_users or (10_000 if args.quick else 100_000)
    args.scale_groups = args.scale_groups or (1_000 if args.quick else 10_000)
    args.cold_reps = 20 if args.quick else 50
    args.admin_reps = 3 if args.quick else 5
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    directory = tempfile.mkdtemp(prefix="logout_rules_bench_")
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["LOGOUT_RULES_BENCH_DB"] = os.path.join(directory, "bench.sqlite3")
    prefix = f"logout_rules_bench_{os.getpid()}"
    sections = [LOCMEM_SECTION]
    redis_problem = "--no-redis" if args.no_redis else redis_answers(args.redis)
    if redis_problem is None:
        sections += redis_sections(args.redis, prefix)
    try:
        import django
        from django.core.management import call_command
        from django.test.utils import override_settings

        django.setup()
        call_command("migrate", verbosity=0, interactive=False, skip_checks=True)
        import django_auto_logout  # noqa: F401  (the bench extra must be installed)

        print(
            f"logout_rules benchmark — Python {platform.python_version()}, Django "
            f"{django.get_version()}, {os.cpu_count()} CPUs, SQLite on disk; caches: "
            + ", ".join(section.label for section in sections)
            + (f" (Redis sections skipped: {redis_problem})" if redis_problem else "")
        )
        loop = asyncio.new_event_loop()
        users = make_bench_users()
        if args.profile:
            args.rounds = 0
            chosen = [s for s in sections if s.key == args.profile_cache]
            if not chosen:
                raise SystemExit(f"--profile-cache {args.profile_cache}: {redis_problem}")
            with override_settings(**section_settings(chosen[0])):
                profile(args, warm_path(args, loop, users, chosen[0]), loop)
            return 0
        targets: list[Target] = []
        for section in sections:
            with override_settings(**section_settings(section)):
                measured = warm_path(args, loop, users, section)
            targets = targets or measured  # the local-memory section's, for what follows
        simulated_writes(targets, loop)
        cold_path(args)
        if not args.no_scale:
            scale(args)
            import_rules(args)
        loop.close()
    finally:
        if redis_problem is None:
            delete_redis_keys(args.redis, prefix)
        if args.keep_db:
            print(f"database kept in {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
    return 0
