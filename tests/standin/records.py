"""What the stand-in remembers: requests, violations, faults to inject, and what the bot said to whom."""

from __future__ import annotations

import asyncio
import fnmatch
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .limits import FLAG_EPHEMERAL

T = TypeVar("T")

# Kinds of bot output a reader can see; "defer" only acknowledges.
VISIBLE = frozenset({"message", "response", "followup", "edit", "autocomplete", "modal"})


class Signal:
    """Wakes waiters whenever something was recorded; waiters re-check their own condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def until(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        """The first truthy `check()`, or AssertionError naming `what` after `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout):
                while not (found := check()):
                    self._event.clear()
                    await self._event.wait()
                return found
        except TimeoutError:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}") from None


@dataclass(slots=True)
class Request:
    """One HTTP request the bot made; `body` is the JSON sent (the payload_json part of a multipart)."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    body: Any
    at: float
    status: int = 0
    answer: Any = None  # the JSON the stand-in answered with, if any

    @property
    def line(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class Violation:
    """Something the bot did that Discord would refuse (limit, protocol) or that we forbid (mention)."""

    kind: str  # "limit" | "mention" | "protocol" | "late" | "unknown-route" | "auth"
    where: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.where}: {self.detail}"


@dataclass(slots=True)
class Fault:
    """Answer the next `times` requests matching `match` (a glob on "METHOD /path") differently.

    status 429 → a rate limit with `retry_after`; 5xx → a server error; `delay` → answer late
    (then normally, if status is 200).
    """

    match: str
    status: int = 200
    retry_after: float = 0.5
    delay: float = 0.0
    times: int = 1
    hits: int = 0

    def take(self, line: str) -> bool:
        if self.hits >= self.times or not fnmatch.fnmatchcase(line, self.match):
            return False
        self.hits += 1
        return True


@dataclass(slots=True)
class Reply:
    """One thing the bot produced for an event: a message, an interaction callback, a followup or an edit."""

    kind: str  # "message" | "response" | "defer" | "followup" | "edit" | "autocomplete" | "modal"
    body: dict[str, Any]
    at: float
    message: dict[str, Any] | None = None  # the message object the stand-in created, if any

    @property
    def content(self) -> str:
        return str(self.body.get("content") or "")

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return list(self.body.get("embeds") or [])

    @property
    def components(self) -> list[dict[str, Any]]:
        return list(self.body.get("components") or [])

    @property
    def choices(self) -> list[dict[str, Any]]:
        return list(self.body.get("choices") or [])

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.body.get("flags") or 0) & FLAG_EPHEMERAL)

    @property
    def text(self) -> str:
        """Everything a reader sees as text (content, embed parts, button labels), for `in` assertions."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title"), embed.get("description"), (embed.get("footer") or {}).get("text")]
            parts += [(embed.get("author") or {}).get("name")]
            for f in embed.get("fields") or []:
                parts += [f.get("name"), f.get("value")]
        stack = list(self.components)
        while stack:
            c = stack.pop(0)
            parts += [c.get("label"), c.get("content"), c.get("placeholder")]
            stack += c.get("components") or []
        return "\n".join(p for p in parts if p)

    def custom_ids(self) -> list[str]:
        found, stack = [], list(self.components)
        while stack:
            c = stack.pop(0)
            if c.get("custom_id"):
                found.append(c["custom_id"])
            stack += c.get("components") or []
        return found


@dataclass(eq=False)
class Event:
    """Something a test made happen (a message, an interaction) and everything the bot answered to it."""

    kind: str  # "message" | "interaction"
    id: int
    channel_id: int
    at: float
    signal: Signal
    token: str | None = None
    interaction_type: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    replies: list[Reply] = field(default_factory=list)
    acknowledged: float | None = None  # when the first interaction callback arrived

    def add(self, reply: Reply) -> None:
        self.replies.append(reply)
        self.signal.notify()

    def visible(self) -> list[Reply]:
        return [r for r in self.replies if r.kind in VISIBLE]

    async def reply(self, timeout: float = 5.0) -> Reply:
        """The first reply a reader could see (a deferral alone does not count)."""
        return await self.signal.until(lambda: next(iter(self.visible()), None), timeout, f"a reply to {self}")

    async def no_reply(self, within: float = 0.5) -> None:
        """Assert the bot stays silent for `within` seconds."""
        await asyncio.sleep(within)
        assert not self.replies, f"expected no reply to {self}, got {[r.text for r in self.replies]}"

    @property
    def response_time(self) -> float | None:
        """Seconds from the interaction to its first callback."""
        return None if self.acknowledged is None else self.acknowledged - self.at

    def __str__(self) -> str:
        return f"{self.kind} {self.id} in channel {self.channel_id}"


def now() -> float:
    return time.monotonic()
