"""The one clock of the app. Tests replace ``clock.now`` to control time."""

from __future__ import annotations

import time


def now() -> float:
    """The current time as epoch seconds."""
    return time.time()
