"""One retry schedule for everything that waits to try again: short at first, doubling, capped.

A fixed long wait (a minute) leaves a bot deaf or unrecorded long after the fault has passed; a short
doubling wait with a low cap notices recovery within `cap` seconds and costs one attempt per `cap` meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator


def delays(first: float, cap: float) -> Iterator[float]:
    """first, 2·first, 4·first, … up to cap, then cap for ever."""
    if not 0 < first <= cap:
        raise ValueError(f"a backoff needs 0 < first <= cap, not first={first}, cap={cap}")
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, cap)
