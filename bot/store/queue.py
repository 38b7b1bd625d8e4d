"""Answer first, record after: a bounded queue of writes, drained by one background thread.

A reader's answer never waits for the database. The bot puts a write on the queue and
moves on; the thread writes it on its own connection. A write that fails for a reason that
may pass (the database is locked by another process, the disk is full, the server is down)
is logged in one line and retried with exponential backoff, in order. A write that can never
succeed (a bug, a constraint) is logged and dropped, so it cannot block the ones behind it.
When the queue is full the oldest waiting write is dropped and counted: memory stays bounded
however long the database is away. A thread (not an asyncio task) because both drivers we use
are blocking, and the CLI and the tests use the store without an event loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot import backoff

log = logging.getLogger(__name__)

MAX_WAITING = 50_000  # writes held while the database is away; a few MB at most
FIRST_RETRY = 0.05  # seconds before the first retry…
MAX_RETRY = 5.0  # …doubling up to this
DROP_LOG_EVERY = 1.0  # at most one "dropped" warning a second, with the running count


@dataclass(frozen=True, slots=True)
class Write:
    """One queued write: `run(connection)` inside a transaction; `what` names it in the log (never a reader id)."""

    what: str
    run: Callable[[Any], None]


class WriteQueue:
    """Runs queued writes in order on a connection of its own, in a daemon thread."""

    def __init__(
        self,
        *,
        connect: Callable[[], Any],
        transaction: Callable[[Any], Any],
        transient: tuple[type[BaseException], ...],
        periodic: Callable[[Any], None] | None = None,
        period: float = 3600.0,
        max_waiting: int = MAX_WAITING,
        name: str = "store writer",
    ) -> None:
        self._connect = connect
        self._transaction = transaction
        self._transient = transient
        self._periodic = periodic
        self._period = period
        self._max_waiting = max_waiting
        self._waiting: deque[Write] = deque()
        self._busy = False  # a write has been taken from the queue and is not finished yet
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self.dropped = 0  # writes dropped because the queue was full or they could never succeed
        self.failures = 0  # failed attempts, retried or not
        self._last_drop_log = 0.0
        self._thread = threading.Thread(target=self._drain, name=name, daemon=True)
        self._thread.start()

    def put(self, write: Write) -> None:
        """Queue one write; never blocks and never raises (the reader's answer is already on its way)."""
        with self._cond:
            if self._stopping.is_set():
                log.warning("store closed: %s not recorded", write.what)
                return
            if len(self._waiting) >= self._max_waiting:
                self._waiting.popleft()
                self.dropped += 1
                now = time.monotonic()
                if now - self._last_drop_log >= DROP_LOG_EVERY:
                    self._last_drop_log = now
                    log.warning("store queue full (%d waiting, the database is not keeping up): dropped the "
                                "oldest record; %d dropped so far", self._max_waiting, self.dropped)
            self._waiting.append(write)
            self._cond.notify_all()

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting) + self._busy

    def flush(self, timeout: float) -> bool:
        """Wait until every write queued so far is done (written or dropped); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._waiting or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float) -> int:
        """Flush for up to `timeout` seconds, then stop the thread; returns how many writes were not done."""
        self.flush(timeout)
        with self._cond:
            self._stopping.set()
            lost = len(self._waiting) + self._busy
            self._waiting.clear()
            self._cond.notify_all()
        self._thread.join(timeout=MAX_RETRY + 1)
        if lost:
            log.error("store closed with %d records not written (the database was unavailable)", lost)
        return lost

    # --- the thread ---------------------------------------------------------------

    def _next(self, wait: float) -> Write | None:
        with self._cond:
            if not self._waiting and not self._stopping.is_set():
                self._cond.wait(wait)
            if not self._waiting:
                return None
            self._busy = True
            return self._waiting.popleft()

    def _done(self) -> None:
        with self._cond:
            self._busy = False
            self._cond.notify_all()

    def _drain(self) -> None:
        conn: Any = None
        delays = backoff.delays(FIRST_RETRY, MAX_RETRY)
        next_periodic = time.monotonic() + min(60.0, self._period)
        write: Write | None = None
        while not self._stopping.is_set():
            if write is None:
                write = self._next(wait=max(0.0, min(1.0, next_periodic - time.monotonic())))
            try:
                if conn is None:
                    conn = self._connect()
                if write is not None:
                    with self._transaction(conn):
                        write.run(conn)
                elif self._periodic is not None and time.monotonic() >= next_periodic:
                    next_periodic = time.monotonic() + self._period
                    self._periodic(conn)
            except self._transient as exc:
                self.failures += 1
                delay = next(delays)
                log.warning("store: could not write %s, retrying in %.2f s: %s",
                            write.what if write else "maintenance", delay, _one_line(exc))
                conn = _reset(conn)
                self._stopping.wait(delay)
                continue
            except Exception as exc:
                self.failures += 1
                self.dropped += write is not None
                log.error("store: dropped %s, it cannot be written: %s",
                          write.what if write else "maintenance", _one_line(exc))
                conn = _reset(conn)
            delays = backoff.delays(FIRST_RETRY, MAX_RETRY)
            if write is not None:
                write = None
                self._done()
        if write is not None:
            self._done()
        _reset(conn)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"


def _reset(conn: Any) -> None:
    """Drop a connection after a failure: the next attempt starts from a clean one."""
    if conn is not None:
        try:
            conn.close()
        except Exception:  # a broken connection may fail to close; it is being thrown away anyway
            log.debug("closing a failed store connection failed", exc_info=True)
