"""Fail fast, with a clear message, when the services of ``make test-services`` cannot be reached.

Reads the same environment variables as ``tests/settings.py``. Exit status 0 when PostgreSQL and
Redis both answer, 2 otherwise (with one line per unreachable service and what to do about it).

    python -m tests.services.precheck
"""

from __future__ import annotations

import os
import sys

TIMEOUT = 5


def postgres_target() -> dict[str, str]:
    return {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": os.environ.get("PGPORT", "5432"),
        "user": os.environ.get("PGUSER", "postgres"),
        "dbname": os.environ.get("PGDATABASE", "test"),
    }


def redis_url() -> str:
    return os.environ.get("LOGOUT_RULES_REDIS_URL", "redis://127.0.0.1:6379/1")


def check_postgres() -> str | None:
    target = postgres_target()
    where = "PostgreSQL at {host}:{port} (database {dbname!r}, user {user!r})".format(**target)
    try:
        import psycopg
    except ImportError:
        return f"{where}: psycopg is not installed (pip install -e '.[services]')"
    try:
        with psycopg.connect(connect_timeout=TIMEOUT, **target) as connection:
            connection.execute("select 1")
    except Exception as exc:
        return f"{where} cannot be reached: {exc}".strip()
    return None


def check_redis() -> str | None:
    url = redis_url()
    where = f"Redis at {url}"
    try:
        import redis
    except ImportError:
        return f"{where}: the redis client is not installed (pip install -e '.[services]')"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
        client.ping()
    except Exception as exc:
        return f"{where} cannot be reached: {exc}"
    return None


def main() -> int:
    problems = [problem for problem in (check_postgres(), check_redis()) if problem]
    if not problems:
        print("services: PostgreSQL and Redis are reachable")
        return 0
    for problem in problems:
        print(f"services: {problem}", file=sys.stderr)
    print(
        "services: start them (on this machine they run on 127.0.0.1:5432 and 127.0.0.1:6379) "
        "or point PGHOST/PGPORT/PGUSER/PGDATABASE and LOGOUT_RULES_REDIS_URL at them.",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
