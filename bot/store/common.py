"""What every part of the store shares: its one error, and time as the database keeps it."""

from __future__ import annotations

from datetime import UTC, datetime

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class StoreUnavailable(RuntimeError):
    """The database cannot be used right now; the message says why, in one line, for people."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)
