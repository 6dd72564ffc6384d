"""Start and stop real server processes (gunicorn, uvicorn) on 127.0.0.1 for the multi-process
test and the load test. They run ``tests.services.server_settings`` against the database and the
Redis cache named by the environment (see ``tests/settings.py``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = "tests.services.server_settings"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    log_path: Path

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


def server_env(database_name: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "LOGOUT_RULES_SERVER_DB_NAME": database_name,
            "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


def command(kind: str, port: int, workers: int) -> list[str]:
    if kind == "gunicorn":
        return [
            sys.executable, "-m", "gunicorn", "tests.services.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "sync",
            "--timeout", "60", "--graceful-timeout", "5", "--log-level", "warning",
        ]  # fmt: skip
    if kind == "uvicorn":
        return [
            sys.executable, "-m", "uvicorn", "tests.services.asgi:application",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--log-level", "warning", "--no-access-log", "--lifespan", "off",
        ]  # fmt: skip
    raise ValueError(kind)


@contextmanager
def gunicorn_and_uvicorn(env: Mapping[str, str], log_dir: Path) -> Iterator[tuple[Server, Server]]:
    """Process A (gunicorn, one sync worker) and process B (uvicorn), both stopped at the end."""
    a = start("gunicorn", env, log_dir)
    try:
        b = start("uvicorn", env, log_dir)
    except BaseException:
        a.stop()
        raise
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def start(
    kind: str, env: Mapping[str, str], log_dir: Path, workers: int = 1, timeout: float = 60.0
) -> Server:
    """Start a server and wait until it answers (it fails loudly, with its output, if not)."""
    port = free_port()
    log_path = log_dir / f"{kind}-{port}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        command(kind, port, workers), cwd=ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT
    )
    server = Server(kind, port, process, log, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            server.stop()
            raise RuntimeError(f"{kind} exited with {process.returncode}:\n{server.output()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{kind} did not start listening within {timeout} s:\n{server.output()}")
