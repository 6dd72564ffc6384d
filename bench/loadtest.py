"""``make loadtest``: a bounded load test against gunicorn + PostgreSQL + Redis, on 127.0.0.1 only.

Several client threads log in as users under strict limits and keep requesting pages, while an
editor client changes rules through the admin (over HTTP, like a person) and a rule set is
imported by ``manage.py logout_rules import`` in separate processes. Every response is checked:

* no 5xx, no connection error;
* every limit still enforced: a session older than the longest session limit the editor may set,
  or idle longer than the idle limit, is never served (it must get the redirect to the login);
* no early logout for users whose rules never limit them within the run;
* every admin edit propagates: probe clients keep asking the workers which policy they resolve for
  a user of the edited group (``tests/services/stamps.py``); the **propagation delay** of an edit
  is the time from its commit to the first request in another worker judged by it, and no request
  that started after the edit's invalidation completed may be judged by an older edit.

It prints requests served, errors, limit violations, p50/p99 latency and the propagation delays,
and exits non-zero when any check failed. It runs for a fixed duration and stops earlier at a fixed
request count.

It uses its own database (``--database``, created and dropped) and its own Redis key prefix
(``--redis-prefix``; only its keys are deleted), so it never touches the test databases.

    python bench/loadtest.py [--duration 20] [--max-requests 20000] [--clients 8] [--workers 4]
        [--database NAME] [--redis-url URL] [--redis-prefix PREFIX] [--notifications on|off]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATABASE = os.environ.get("LOGOUT_RULES_LOADTEST_DB", "logout_rules_loadtest")
REDIS_PREFIX = "logout_rules_loadtest"
PASSWORD = "load-test-pw"
#: The strict group's session limit moves between these (editor and import): the check uses the max.
STRICT_SESSION = (2, 3)
IDLE_LIMIT = 2
LOGIN_REDIRECT = "/accounts/login/?next=/private/"

os.environ.update(
    {
        "LOGOUT_RULES_TEST_DB": "postgresql",
        "LOGOUT_RULES_TEST_CACHE": "redis",
        "DJANGO_SETTINGS_MODULE": "tests.services.server_settings",
    }
)

from tests.services.http import Browser, Response  # noqa: E402
from tests.services.servers import Server, server_env, start  # noqa: E402


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)
    page_latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    early: list[str] = field(default_factory=list)
    logouts: Counter[str] = field(default_factory=Counter)
    edits: int = 0
    imports: int = 0
    #: Per admin edit: (message, worker pid, committed at, invalidated at), server clock.
    edit_stamps: list[tuple[str, int, float, float]] = field(default_factory=list)
    #: Per probe: (started at, worker pid, message resolved), server clock.
    probes: list[tuple[float, int, str]] = field(default_factory=list)

    def record(self, response: Response) -> None:
        with self.lock:
            self.latencies.append(response.seconds)
            self.statuses[response.status] += 1
            if response.status >= 500:
                self.errors.append(f"{response.status}: {response.text[:200]}")

    @property
    def served(self) -> int:
        return len(self.latencies)


class Budget:
    """The fixed duration and request count shared by every client."""

    def __init__(self, seconds: float, requests: int, stats: Stats) -> None:
        self.deadline = time.monotonic() + seconds
        self.requests = requests
        self.stats = stats

    def left(self) -> bool:
        return time.monotonic() < self.deadline and self.stats.served < self.requests

    def sleep(self, seconds: float) -> None:
        """Sleep, but no longer than the run lasts."""
        end = time.monotonic() + seconds
        while self.left() and time.monotonic() < end:
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))


# --- set-up -------------------------------------------------------------------------------------


def _maintenance(*statements: str) -> None:
    """Run statements on the maintenance database (the one the load test's database lives in)."""
    import psycopg

    target = {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": os.environ.get("PGPORT", "5432"),
        "user": os.environ.get("PGUSER", "postgres"),
        "dbname": os.environ.get("PGDATABASE", "test"),
    }
    with psycopg.connect(autocommit=True, **target) as connection:
        for statement in statements:
            connection.execute(statement)


def create_database() -> None:
    _maintenance(
        f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)', f'CREATE DATABASE "{DATABASE}"'
    )


def drop_database() -> None:
    _maintenance(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def manage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=ROOT,
        env=server_env(DATABASE),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@dataclass(frozen=True)
class Seeded:
    strict: list[str]
    idle: list[str]
    lax: list[str]
    strict_rule_id: int
    strict_group_id: int
    probed_user_id: int  # a member of the strict group only: its policy follows every edit


def delete_redis_keys(prefix: str) -> None:
    """Delete this run's keys (and only them) from the Redis of ``LOGOUT_RULES_REDIS_URL``."""
    from bench.run import delete_redis_keys as delete

    delete(os.environ["LOGOUT_RULES_REDIS_URL"], prefix)


def seed(users_per_kind: int) -> Seeded:
    """Users under a strict session limit, under a short idle limit, and under no short limit."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from logout_rules.models import GlobalLogoutRule, GroupLogoutRule

    delete_redis_keys(os.environ["LOGOUT_RULES_REDIS_PREFIX"])
    user_model = get_user_model()
    user_model.objects.create_superuser("editor", "editor@example.com", PASSWORD)
    strict = Group.objects.create(name="strict")
    idle = Group.objects.create(name="idle")
    lax = Group.objects.create(name="lax")
    strict_rule = GroupLogoutRule.objects.create(
        group=strict, priority=10, session_time=timedelta(seconds=max(STRICT_SESSION))
    )
    GroupLogoutRule.objects.create(group=idle, priority=10, idle_time=timedelta(seconds=IDLE_LIMIT))
    GroupLogoutRule.objects.create(group=lax, priority=50, message="Signed out.")
    GlobalLogoutRule.objects.update(
        session_time=timedelta(hours=1), idle_time=timedelta(minutes=30), enabled=True
    )
    names: dict[str, list[str]] = {"strict": [], "idle": [], "lax": []}
    for kind, group in (("strict", strict), ("idle", idle), ("lax", lax)):
        for number in range(users_per_kind):
            name = f"{kind}{number}"
            user = user_model.objects.create_user(name, f"{name}@example.com", PASSWORD)
            user.groups.add(group)
            names[kind].append(name)
    probed = user_model.objects.create_user("probed", "probed@example.com", PASSWORD)
    probed.groups.add(strict)
    from django.db import connections

    connections.close_all()
    return Seeded(
        names["strict"], names["idle"], names["lax"], strict_rule.pk, strict.pk, probed.pk
    )


# --- the clients ------------------------------------------------------------------------------


def log_in(browser: Browser, username: str, stats: Stats) -> float:
    """Log in; returns when the login response arrived (the session clock started before)."""
    page = browser.get("/accounts/login/")
    stats.record(page)
    token = browser.csrf_form_token("/accounts/login/")
    response = browser.post(
        "/accounts/login/",
        {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    stats.record(response)
    if response.status != 302:
        raise RuntimeError(f"login as {username}: {response.status}")
    return time.monotonic()


def user_client(port: int, kind: str, names: list[str], budget: Budget, stats: Stats) -> None:
    rng = random.Random(hash((kind, tuple(names))))
    while budget.left():
        username = rng.choice(names)
        browser = Browser("127.0.0.1", port)
        try:
            logged_in_at = log_in(browser, username, stats)
        except Exception as exc:
            with stats.lock:
                stats.errors.append(f"{username}: {exc!r}")
            continue
        last_answer = logged_in_at
        while budget.left():
            if kind == "idle" and rng.random() < 0.25:
                time.sleep(IDLE_LIMIT + 0.3)  # long enough: the next request must be refused
            else:
                time.sleep(rng.uniform(0, 0.02))
            sent = time.monotonic()
            try:
                response = browser.get("/private/")
            except Exception as exc:
                with stats.lock:
                    stats.errors.append(f"{username}: {exc!r}")
                break
            stats.record(response)
            with stats.lock:
                stats.page_latencies.append(response.seconds)
            session_age = sent - logged_in_at  # a lower bound of what the server measures
            idle_for = sent - last_answer  # likewise
            if response.status == 302 and response.location == LOGIN_REDIRECT:
                with stats.lock:
                    stats.logouts[kind] += 1
                    if kind == "lax":
                        stats.early.append(f"{username} logged out after {session_age:.2f} s")
                break
            if response.status == 200:
                if kind == "strict" and session_age > max(STRICT_SESSION):
                    with stats.lock:
                        stats.violations.append(
                            f"{username} served {session_age:.2f} s after login "
                            f"(limit at most {max(STRICT_SESSION)} s)"
                        )
                if kind == "idle" and idle_for > IDLE_LIMIT:
                    with stats.lock:
                        stats.violations.append(
                            f"{username} served after {idle_for:.2f} s idle (limit {IDLE_LIMIT} s)"
                        )
            last_answer = time.monotonic()


def editor_client(port: int, seeded: Seeded, budget: Budget, stats: Stats) -> None:
    """Edits rules through the admin, like a person, as fast as the admin answers (with a pause)."""
    browser = Browser("127.0.0.1", port)
    log_in(browser, "editor", stats)
    turn = 0
    while budget.left():
        turn += 1
        seconds = STRICT_SESSION[turn % len(STRICT_SESSION)]
        path = f"/admin/logout_rules/grouplogoutrule/{seeded.strict_rule_id}/change/"
        token = browser.csrf_form_token(path)
        response = browser.post(
            path,
            {
                "group": seeded.strict_group_id,
                "priority": 10,
                "idle_time": "",
                "session_time": f"00:00:{seconds:02d}",
                # Limits of seconds: the admin asks for this confirmation.
                "confirm_under_a_minute": "on",
                "warning_time": "",
                "message_mode": "custom",
                "message": f"Edited {turn} times.",
                "redirect_to_login_immediately": "unknown",
                "enabled": "on",
                "csrfmiddlewaretoken": token,
                "_save": "Save",
            },
        )
        stats.record(response)
        if response.status != 302:
            with stats.lock:
                stats.errors.append(f"editor: {response.status} {response.text[:300]}")
        else:
            committed = response.headers.get("x-committed-at")
            invalidated = response.headers.get("x-invalidated-at")
            with stats.lock:
                stats.edits += 1
                if committed and invalidated:
                    stats.edit_stamps.append(
                        (
                            f"Edited {turn} times.",
                            int(response.headers["x-worker-pid"]),
                            float(committed),
                            float(invalidated),
                        )
                    )
        time.sleep(0.3)


def probe_client(port: int, user_id: int, budget: Budget, stats: Stats) -> None:
    """Asks the workers, again and again, which policy they resolve for the probed user."""
    browser = Browser("127.0.0.1", port)
    while budget.left():
        try:
            response = browser.get(f"/probe/{user_id}/")
        except Exception as exc:
            with stats.lock:
                stats.errors.append(f"probe: {exc!r}")
            continue
        stats.record(response)
        if response.status == 200:
            answer = json.loads(response.body)
            with stats.lock:
                stats.probes.append((answer["at"], answer["pid"], answer["message"]))
        time.sleep(0.002)


@dataclass
class Propagation:
    delays: list[float] = field(default_factory=list)  # seconds, one per observed edit
    superseded: int = 0  # edits replaced before any other worker was asked
    stale: list[str] = field(default_factory=list)  # requests judged by an older edit


def propagation(stats: Stats) -> Propagation:
    """Per admin edit: the time from its commit to the first request in another worker judged by
    it; and every request that started after an edit's invalidation completed but was judged by
    an older edit (there must be none)."""
    result = Propagation()
    edits = sorted(stats.edit_stamps, key=lambda edit: edit[2])
    probes = sorted(stats.probes)
    number = {message: index for index, (message, *_rest) in enumerate(edits)}
    for index, (message, pid, committed, invalidated) in enumerate(edits):
        until = edits[index + 1][2] if index + 1 < len(edits) else math.inf
        first = next(
            (
                at
                for at, worker, seen in probes
                if committed <= at < until and worker != pid and seen == message
            ),
            None,
        )
        if first is None:
            result.superseded += 1
        else:
            result.delays.append(first - committed)
        for at, worker, seen in probes:
            if invalidated < at < until and number.get(seen, index) < index:
                result.stale.append(
                    f"worker {worker} at +{(at - invalidated) * 1000:.1f} ms after the "
                    f"invalidation of {message!r} still judged by {seen!r}"
                )
    return result


def importer_client(budget: Budget, stats: Stats, workdir: Path, pause: float) -> None:
    """Applies a rule set in a separate process every few seconds (``logout_rules import``)."""
    exported = manage("logout_rules", "export", "--format", "json")
    if exported.returncode != 0:
        with stats.lock:
            stats.errors.append(f"export: {exported.stderr[-500:]}")
        return
    ruleset = json.loads(exported.stdout)
    turn = 0
    while budget.left():
        turn += 1
        for row in ruleset["groups"]:
            text = json.dumps(row)
            if '"strict"' in text:
                row["session_time"] = f"00:00:{STRICT_SESSION[turn % 2]:02d}"
            if '"lax"' in text:
                row["message"] = f"Imported {turn} times."
        path = workdir / f"ruleset-{turn}.json"
        path.write_text(json.dumps(ruleset))
        result = manage("logout_rules", "import", str(path), "--user", "editor")
        with stats.lock:
            if result.returncode == 0:
                stats.imports += 1
            else:
                stats.errors.append(f"import: {result.stdout[-300:]} {result.stderr[-500:]}")
        budget.sleep(pause)


# --- the run ------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    global DATABASE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds (default 20)")
    parser.add_argument("--max-requests", type=int, default=20000, help="default 20000")
    parser.add_argument("--clients", type=int, default=8, help="user clients (default 8)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--users", type=int, default=10, help="users per kind (default 10)")
    parser.add_argument(
        "--import-pause", type=float, default=2.0, help="seconds between imports (default 2)"
    )
    parser.add_argument("--probes", type=int, default=2, help="probe clients (default 2)")
    parser.add_argument(
        "--database", default=DATABASE, help=f"the database to create and drop (default {DATABASE})"
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("LOGOUT_RULES_REDIS_URL", "redis://127.0.0.1:6379/1"),
        help="the Redis of the cache (default $LOGOUT_RULES_REDIS_URL or redis://127.0.0.1:6379/1)",
    )
    parser.add_argument(
        "--redis-prefix",
        default=REDIS_PREFIX,
        help=f"this run's key prefix (default {REDIS_PREFIX})",
    )
    parser.add_argument(
        "--notifications",
        choices=["on", "off"],
        default="on",
        help="LOGOUT_RULES_CACHE_NOTIFICATIONS of the workers (default on, the app's default)",
    )
    args = parser.parse_args()
    DATABASE = args.database
    os.environ.update(
        {
            "LOGOUT_RULES_SERVER_DB_NAME": DATABASE,
            "LOGOUT_RULES_REDIS_URL": args.redis_url,
            "LOGOUT_RULES_REDIS_PREFIX": args.redis_prefix,
            "LOGOUT_RULES_CACHE_NOTIFICATIONS": args.notifications,
        }
    )

    print(
        f"load test: database {DATABASE}, Redis {args.redis_url} (prefix {args.redis_prefix}), "
        f"gunicorn with {args.workers} sync workers, notifications {args.notifications}",
        flush=True,
    )
    create_database()
    server: Server | None = None
    try:
        migrated = manage("migrate", "--noinput")
        if migrated.returncode != 0:
            print(migrated.stdout, migrated.stderr, file=sys.stderr)
            return 2
        seeded = seed(args.users)
        with tempfile.TemporaryDirectory(prefix="logout-rules-load-") as tmp:
            workdir = Path(tmp)
            server = start("gunicorn", server_env(DATABASE), workdir, workers=args.workers)
            stats = Stats()
            budget = Budget(args.duration, args.max_requests, stats)
            kinds = ["strict", "idle", "lax"]
            threads = [
                threading.Thread(
                    target=user_client,
                    args=(server.port, kinds[i % 3], getattr(seeded, kinds[i % 3]), budget, stats),
                    name=f"client-{i}",
                )
                for i in range(args.clients)
            ]
            threads.append(
                threading.Thread(target=editor_client, args=(server.port, seeded, budget, stats))
            )
            threads.extend(
                threading.Thread(
                    target=probe_client,
                    args=(server.port, seeded.probed_user_id, budget, stats),
                    name=f"probe-{i}",
                )
                for i in range(args.probes)
            )
            threads.append(
                threading.Thread(
                    target=importer_client, args=(budget, stats, workdir, args.import_pause)
                )
            )
            started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
            server.stop()
            log = server.output()
            server = None
    finally:
        if server is not None:
            server.stop()
        from django.db import connections

        connections.close_all()
        drop_database()
        delete_redis_keys(args.redis_prefix)

    five_xx = sum(count for status, count in stats.statuses.items() if status >= 500)
    latencies_ms = [seconds * 1000 for seconds in stats.latencies]
    tracebacks = log.count("Traceback")
    limits = f"{args.duration:g} s or {args.max_requests} requests"
    print(f"duration           {elapsed:.1f} s (stops at {limits})")
    print(f"clients            {args.clients} users + 1 admin editor + 1 rule-set importer")
    print(f"requests served    {stats.served} ({stats.served / elapsed:.0f}/s)")
    print(f"status codes       {dict(sorted(stats.statuses.items()))}")
    print(f"5xx responses      {five_xx}")
    print(f"errors             {len(stats.errors)}")
    print(f"server tracebacks  {tracebacks}")
    print(f"limit violations   {len(stats.violations)}")
    print(f"early logouts      {len(stats.early)}")
    print(f"automatic logouts  {dict(stats.logouts)}")
    print(f"rule edits (admin) {stats.edits}")
    print(f"rule-set imports   {stats.imports}")
    for label, values in (
        ("latency, all", latencies_ms),
        ("latency, pages", [seconds * 1000 for seconds in stats.page_latencies]),
    ):
        if values:
            print(
                f"{label:<19}p50 {statistics.median(values):.1f} ms, "
                f"p99 {percentile(values, 0.99):.1f} ms, max {max(values):.1f} ms"
            )
    spread = propagation(stats)
    delays_ms = [seconds * 1000 for seconds in spread.delays]
    print(f"probe requests     {len(stats.probes)} ({args.probes} clients)")
    if delays_ms:
        print(
            f"propagation        p50 {statistics.median(delays_ms):.1f} ms, "
            f"p99 {percentile(delays_ms, 0.99):.1f} ms, max {max(delays_ms):.1f} ms "
            f"(admin edit's commit -> first request judged by it in another worker; "
            f"{len(delays_ms)} edits, {spread.superseded} replaced before any probe)"
        )
    print(f"stale after invalidation {len(spread.stale)}")
    for line in (stats.errors + stats.violations + stats.early + spread.stale)[:20]:
        print("  !", line)
    failed = five_xx or stats.errors or stats.violations or stats.early or tracebacks
    failed = failed or spread.stale or not delays_ms
    failed = failed or not stats.edits or not stats.imports or not stats.logouts["strict"]
    print("result             " + ("FAILED" if failed else "OK"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
