"""The per-reader question cooldown, in time independent of how many readers there are.

discord.py's CooldownMapping checks every reader it knows on each call (about 1 ms a question at 20,000 readers a
minute, on the event loop). cachetools' TTLCache drops a reader's window when it expires, in amortised constant
time, and caps the memory: past MAX_READERS the least recently seen reader is forgotten (and so is, at worst,
let through early).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TTLCache

MAX_READERS = 100_000  # ~660 bytes each (measured, both caches): 66 MB at most; a process answers ~20,000 a minute


@dataclass(slots=True)
class _Window:
    start: float
    used: int


class QuestionCooldown:
    """Questions per user, counted across messages, /ask and suggestion buttons alike.

    A window opens at a reader's first question and lasts `per` seconds; within it `rate` questions are answered.
    A second cache allows one "slow down" note per window, so a reader who keeps typing in a channel is told
    once rather than answered with a wall of notes.
    """

    def __init__(self, rate: int, per: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.per, self._clock = rate, per, clock
        self._windows: TTLCache[int, _Window] = TTLCache(MAX_READERS, ttl=per, timer=clock)
        self._noticed: TTLCache[int, bool] = TTLCache(MAX_READERS, ttl=per, timer=clock)

    def retry_after(self, user_id: int) -> float | None:
        """Count one question; None when it may be answered, else the seconds to wait."""
        window = self._windows.get(user_id)
        if window is None:
            self._windows[user_id] = _Window(self._clock(), 1)  # the cache expires it `per` seconds from now
            return None
        if window.used < self.rate:
            window.used += 1
            return None
        return max(window.start + self.per - self._clock(), 0.001)

    def first_notice(self, user_id: int) -> bool:
        """Whether this user has not been told to slow down in the current window."""
        if user_id in self._noticed:
            return False
        self._noticed[user_id] = True
        return True

    def __len__(self) -> int:
        """Readers with an open window (expired ones are swept as the cache is used)."""
        self._windows.expire()
        return len(self._windows)
