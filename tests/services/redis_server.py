"""A private ``redis-server`` for the tests that restart Redis or kill its connections: on a free
127.0.0.1 port, without persistence, bounded in time, stopped by the test. The shared Redis is
never touched."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from .servers import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def available() -> bool:
    try:
        import redis  # noqa: F401
    except ImportError:
        return False
    return Path(REDIS_SERVER).exists()


class PrivateRedis:
    """``start()``, ``stop()``, ``restart()`` (same port, empty) and ``kill_pubsub()``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self):  # -> redis.Redis
        import redis

        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=5, socket_connect_timeout=5
        )

    def start(self, timeout: float = 10.0) -> PrivateRedis:
        log = (self.directory / f"redis-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [
                REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.directory),
                "--protected-mode", "yes",
            ],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            try:
                if self.client().ping():
                    return self
            except Exception:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer within {timeout} s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def restart(self, down_for: float = 0.0) -> None:
        """Stop it, stay down ``down_for`` seconds, start it again on the same port (empty)."""
        self.stop()
        time.sleep(down_for)
        self.start()

    def kill_pubsub(self) -> int:
        """Close every subscriber's connection; returns how many were closed."""
        return int(self.client().execute_command("CLIENT", "KILL", "TYPE", "pubsub"))

    def subscribers(self, channel: str) -> int:
        return int(dict(self.client().pubsub_numsub(channel)).get(channel.encode(), 0))
